"""The config schema moved to :mod:`ehimpact.config`; this name is kept so existing imports work."""

from ehimpact.config import *  # noqa: F403
from ehimpact.config import (  # noqa: F401 - re-exported names used by callers
    DEFAULT_STEPS,
    MAX_BOOTSTRAP,
    MAX_COST_DRAWS,
    BatchConfig,
    DataSources,
    Design,
    Disclosure,
    EvaluationConfig,
    Intervention,
    Outcome,
    RunConfig,
    StatutoryFiles,
    _friendly,
    load_config,
)
