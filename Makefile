# ehimpact: every target sets up its own virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
OUT    ?= outputs

.PHONY: all setup demo test test-slow test-all bench lint clean

all: test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)

## demo: synthetic region -> batch of ten-step write-ups -> regional summary
demo: $(STAMP)
	MPLBACKEND=Agg $(VENV)/bin/ehimpact demo --out $(OUT)

## test: the default suite (< 15 min on 2 cores)
test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -n 2 --timeout 900 -q

## test-slow: long simulations and big-data tests only
test-slow: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -n 2 -m slow --timeout 3600 -q

test-all: test test-slow

## bench: speed and memory side by side with peer libraries (peers in their own venvs)
bench: $(STAMP)
	MPLBACKEND=Agg $(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check ehimpact tests benchmarks notebooks

clean:
	rm -rf $(VENV) .venv-bench-* build dist *.egg-info .pytest_cache
