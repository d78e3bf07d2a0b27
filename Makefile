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
        slides slides-check colab-check clean grade portability claims explorers \
        explorers-check explorers-export

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

# nbval also logs every figure's legibility problems (trainlab.figcheck); any fails the target
FIGLOG := test-artifacts/figcheck.jsonl
nbval: install
	@mkdir -p test-artifacts && rm -f $(FIGLOG)
	TRAINLAB_FIGCHECK_LOG=$(abspath $(FIGLOG)) $(NBVAL) $(NOTEBOOKS)
	$(PY) scripts/figcheck.py $(FIGLOG)

test: install
	$(MAKE) --no-print-directory data
	$(MAKE) --no-print-directory lint
	$(PY) scripts/nbtools.py check
	$(PY) scripts/claims.py check
	$(PY) -m trainlab.explorers check
	$(PY) scripts/homework.py check
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory nbval

# nbval natively, under ATEN_CPU_CAPABILITY=default, MKL_CBWR=COMPATIBLE,
# OPENBLAS_CORETYPE=Sandybridge, NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4" and all four together:
# the stored outputs must not depend on the CPU's float kernels.
portability: install
	$(PY) scripts/portability.py $(if $(CONFIG),--config $(CONFIG),)

execute: install
	$(PY) scripts/nbtools.py sync
	$(PY) scripts/execute_notebooks.py $(NOTEBOOKS)

# every claim holds, every summary line points at one, every number in prose is printed
claims: install
	$(PY) scripts/claims.py check

# every explorer's precomputed grid (data/explorers/*.json.gz, committed; see README)
explorers: install
	$(PY) -m trainlab.explorers precompute $(NAMES)

# fails if a stored grid was made by other code (version, code hash); ARGS=--all: or is missing
explorers-check: install
	$(PY) -m trainlab.explorers check $(ARGS)

# the kernel-free viewers: EXPORT/<name>/index.html and EXPORT/index.json
EXPORT ?= site/explorers
explorers-export: install
	$(PY) -m trainlab.explorers export $(EXPORT)

sync: install
	$(PY) scripts/nbtools.py sync

bench: install
	$(PY) benchmarks/run_all.py

homework: install
	$(PY) scripts/homework.py release

# make grade SUBMISSIONS=path/to/folder [OUT=homework/graded] [WORKERS=2] [TIMEOUT=60]
SUBMISSIONS ?= submissions
OUT ?= homework/graded
WORKERS ?= 2
TIMEOUT ?= 60
grade: install
	$(PY) scripts/homework.py grade $(SUBMISSIONS) --out $(OUT) --workers $(WORKERS) \
	    --timeout $(TIMEOUT)

slides: install
	$(PY) scripts/slides.py

# every deck in Chromium at 1280x720: offline, formulas typeset, no slide taller than the screen
slides-check: install
	$(PY) -m pytest -p no:cacheprovider tests/test_slides.py

# the lessons and widget tests on Colab's versions, installed as the Colab set-up cell does
colab-check: install
	$(PY) scripts/colab_check.py

reproduce: install
	$(PY) -m trainlab.reproduce

clean:
	rm -rf $(VENV) .colab-venv .pytest_cache .ruff_cache .hypothesis homework slides results test-artifacts
