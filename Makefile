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
# Processes at once for make unit, nbval, portability and colab-check: one per core, at most 4
# (CI has 2 and 60 minutes). unit and nbval spread test files over pytest-xdist workers, each
# file whole on one worker (--dist loadfile: a lesson's cells in order in one kernel, a module's
# fixtures built once). JOBS=1 runs everything in one process, as before.
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))
XDIST = $(if $(filter-out 0 1,$(JOBS)),-n $(JOBS) --dist loadfile,)
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
NBVAL := $(PY) -m pytest -p no:cacheprovider --nbval --nbval-current-env \
         --nbval-sanitize-with nbval-sanitize.cfg --timeout 300

.PHONY: install lab test lint unit robustness nbval execute data bench sync reproduce homework \
        slides slides-check colab-check binder-check bench-class clean grade gradescope \
        portability claims site site-check explorers explorers-check explorers-export

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
	$(PY) -m pytest -p no:cacheprovider $(XDIST) -m "not twice" tests/

robustness: install
	$(PY) -m pytest -p no:cacheprovider -m twice tests/

# nbval also logs every figure's legibility problems (trainlab.figcheck); any fails the target
FIGLOG := test-artifacts/figcheck.jsonl
nbval: install
	@mkdir -p test-artifacts && rm -f $(FIGLOG)
	TRAINLAB_FIGCHECK_LOG=$(abspath $(FIGLOG)) $(NBVAL) $(XDIST) $(NOTEBOOKS)
	$(PY) scripts/figcheck.py $(FIGLOG)

test: install
	$(MAKE) --no-print-directory data
	$(MAKE) --no-print-directory lint
	$(PY) scripts/nbtools.py check
	$(PY) scripts/claims.py check
	$(PY) -m trainlab.explorers check --all
	$(PY) scripts/homework.py check
	$(PY) scripts/homework.py giveaways
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory nbval

# nbval natively, under ATEN_CPU_CAPABILITY=default, MKL_CBWR=COMPATIBLE,
# OPENBLAS_CORETYPE=Sandybridge, NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4" and all four together:
# the stored outputs must not depend on the CPU's float kernels.
portability: install
	$(PY) scripts/portability.py --jobs $(JOBS) $(if $(CONFIG),--config $(CONFIG),)

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
EXPORT ?= build/explorers
explorers-export: install
	$(PY) -m trainlab.explorers export $(EXPORT)

sync: install
	$(PY) scripts/nbtools.py sync

bench: install
	$(PY) benchmarks/run_all.py

homework: install
	$(PY) scripts/homework.py release

# make grade SUBMISSIONS=path/to/folder [OUT=homework/graded] [WORKERS=2] [TIMEOUT=60]
#            [LMS=moodle|canvas|any] [SECRET=path/to/term-secret] [UNSAFE=1]
#            (TIMEOUT: seconds per exercise)
SUBMISSIONS ?= submissions
OUT ?= homework/graded
WORKERS ?= 2
TIMEOUT ?= 60
grade: install
	$(PY) scripts/homework.py grade $(SUBMISSIONS) --out $(OUT) --workers $(WORKERS) \
	    --timeout $(TIMEOUT) $(if $(LMS),--lms $(LMS),) $(if $(SECRET),--secret-file $(SECRET)) \
	    $(if $(UNSAFE),--unsafe)

# make gradescope [LESSON=06_dropout] [SECRET=path/to/term-secret]: the Gradescope autograder zip, homework/gradescope.zip
gradescope: install
	$(PY) scripts/gradescope.py build --out homework/gradescope.zip \
	    $(if $(LESSON),--lesson $(LESSON),) $(if $(SECRET),--secret-file $(SECRET))

slides: install
	$(PY) scripts/slides.py

# every deck in Chromium at 1280x720: offline, formulas typeset, no slide taller than the screen
slides-check: install
	$(PY) -m pytest -p no:cacheprovider tests/test_slides.py

# the lessons and widget tests on Colab's versions (scripts/colab-runtime.json: Colab's Python
# and runtime list), installed as the Colab set-up cell does
colab-check: install
	$(PY) scripts/colab_check.py --jobs $(JOBS)

# Binder without Docker: repo2docker --no-build resolves binder/, and binder/'s install commands
# in a new venv give a kernel that runs lesson 00
binder-check: install
	$(PY) scripts/binder_check.py

# how many students' kernels a machine holds (benchmarks/bench_class.py; N=1,2,4,... at once)
bench-class: install
	$(PY) benchmarks/bench_class.py

reproduce: install
	$(PY) -m trainlab.reproduce

clean:
	rm -rf $(VENV) .colab-venv .binder-check .uv-cache .site-venv .pytest_cache .ruff_cache .hypothesis homework slides results test-artifacts

# the course website: Sphinx + myst-nb + sphinx-book-theme in their own venv (requirements-site.txt),
# lessons with their stored outputs (nothing executed), offline (MathJax from npm), into build/site/html
SITE_VENV ?= .site-venv
SITE_STAMP := $(SITE_VENV)/.trainlab-site-installed
$(SITE_STAMP): requirements-site.txt
	@test -x $(SITE_VENV)/bin/python || $(PYTHON) -m venv $(SITE_VENV)
	$(SITE_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-site.txt
	@touch $(SITE_STAMP)

# the explorers' kernel-free viewers are exported first (trainlab.explorers.export, from the
# stored grids) and embedded in the lesson pages and decks
SITE_EXPLORERS ?= build/explorers
site: install $(SITE_STAMP)
	@if $(PY) -c "import trainlab.explorers.export" 2>/dev/null; then \
	    $(PY) -m trainlab.explorers export $(SITE_EXPLORERS); fi
	$(PY) scripts/build_site.py --sphinx $(SITE_VENV)/bin/sphinx-build --explorers $(SITE_EXPLORERS)

# the built site in Chromium at 1280x800 and 390x844: console, overflow, images, math, explorers,
# axe-core; screenshots and page weights in test-artifacts/
site-check: site
	$(PY) -m pytest -p no:cacheprovider tests/test_site.py
