# trainlab — every target bootstraps .venv from the pinned lock first and is idempotent.
#   make lab   create the venv, install, fetch data, open JupyterLab on the course
#   make test  ruff + unit tests + nbval on every notebook
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.trainlab-installed
export TRAINLAB_NO_PROGRESS ?= 1
export PYTHONHASHSEED := 0
# A kernel started with MPLBACKEND=Agg would show no inline figures: never pass it on.
unexport MPLBACKEND
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
NBVAL := $(PY) -m pytest -p no:cacheprovider --nbval --nbval-current-env \
         --nbval-sanitize-with nbval-sanitize.cfg --timeout 300

.PHONY: install lab test lint unit robustness nbval execute data bench sync reproduce homework \
        slides clean portability

install: $(STAMP)

$(STAMP): requirements-lock.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-lock.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

data: install
	$(PY) -m trainlab.data fetch

lab: install
	-$(PY) -m trainlab.data fetch
	TRAINLAB_NO_PROGRESS=0 $(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks/

lint: install
	$(VENV)/bin/ruff check lib tests benchmarks scripts

unit: install
	$(PY) -m pytest -p no:cacheprovider -m "not twice" tests/

robustness: install
	$(PY) -m pytest -p no:cacheprovider -m twice tests/

nbval: install
	$(NBVAL) $(NOTEBOOKS)

test: install
	$(MAKE) --no-print-directory data
	$(MAKE) --no-print-directory lint
	$(PY) scripts/nbtools.py check
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory nbval

# nbval under native, ATEN_CPU_CAPABILITY=default, MKL_CBWR=COMPATIBLE,
# OPENBLAS_CORETYPE=Sandybridge and all three: stored outputs must not depend on CPU kernels.
portability: install
	$(PY) scripts/portability.py $(if $(CONFIG),--config $(CONFIG),)

execute: install
	$(PY) scripts/nbtools.py sync
	$(PY) scripts/execute_notebooks.py $(NOTEBOOKS)

sync: install
	$(PY) scripts/nbtools.py sync

bench: install
	$(PY) benchmarks/run_all.py

homework: install
	$(PY) scripts/homework.py build

slides: install
	$(PY) scripts/slides.py

reproduce: install
	$(PY) -m trainlab.reproduce

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis homework slides results test-artifacts
