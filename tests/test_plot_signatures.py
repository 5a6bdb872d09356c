"""Every public plot method of every result class takes ``ax`` as its first, positional argument
(issue 14 item 5; `ITSResult.plot(ax)` raised TypeError), like CausalPy's signature test but the other
way round: ours are called as ``result.plot(ax)`` inside a figure grid."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

import ehimpact.costs  # noqa: E402
import ehimpact.estimators  # noqa: E402


def _result_classes() -> list[type]:
    out = []
    for pkg in (ehimpact.estimators, ehimpact.costs):
        for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and any(
                        n.startswith("plot") or n.endswith("_plot") for n in vars(cls)):
                    out.append(cls)
    return out


CLASSES = _result_classes()


def test_the_walk_finds_the_result_classes() -> None:
    names = {c.__name__ for c in CLASSES}
    assert {"Estimate", "ITSResult", "SyntheticControlResult"} <= names, names
    assert len(CLASSES) >= 8


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_plot_methods_take_ax_first_and_positionally(cls: type) -> None:
    for name, fn in vars(cls).items():
        if not callable(fn) or name.startswith("_") or not (name.startswith("plot") or name.endswith("_plot")):
            continue
        params = list(inspect.signature(fn).parameters.values())[1:]
        assert params, f"{cls.__name__}.{name} takes no axes"
        first = params[0]
        assert first.name == "ax", f"{cls.__name__}.{name}: first argument is {first.name!r}, not ax"
        assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, \
            f"{cls.__name__}.{name}: ax must be accepted positionally"
        assert first.default is None, f"{cls.__name__}.{name}: ax must default to None (a new figure)"


def test_its_result_plots_into_a_given_axes() -> None:
    import matplotlib.pyplot as plt

    import ehimpact as eh
    from ehimpact.estimators.its import _example

    data, kwargs = _example()
    res = eh.its(data, **kwargs)
    fig, (a, b) = plt.subplots(1, 2)
    assert res.plot(a) is a and res.plot_acf(b) is b
    plt.close(fig)
