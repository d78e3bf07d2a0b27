"""Run the course on a Colab-like stack, installed the way the Colab set-up cell installs it.

    python scripts/colab_check.py            # what `make colab-check` runs
    python scripts/colab_check.py --rebuild  # rebuild the cached venv first
    python scripts/colab_check.py --jobs 1   # lessons and widget tests one at a time

1. A venv ``.colab-venv/`` on Colab's Python (``major.minor``) with Colab's versions of the
   packages trainlab cares about, both read from ``scripts/colab-runtime.json`` (Colab's runtime
   list and its date, refreshed by ``scripts/colab_runtime.py``; deviations recorded there),
   installed by uv (the lock's version; its download cache ``.uv-cache/`` or
   ``$TRAINLAB_UV_CACHE``) and cached: it is rebuilt only when the pins, tools, uv or Python
   change. The interpreter is
   ``$TRAINLAB_COLAB_PYTHON``, else ``pythonX.Y`` on ``PATH``, else pyenv's newest ``X.Y.*``.
   Anything a previous run added to it (trainlab, missing requirements) is removed first.
2. trainlab is installed by the lessons' own generated set-up cell (run as a script with
   ``TRAINLAB_SIMULATE_COLAB=1`` and ``TRAINLAB_INSTALL_SOURCE`` pointing at a wheel built from
   this checkout), timed; it may use at most :data:`SETUP_LIMIT_S` seconds of CPU (the wall
   time is printed too, but on a shared 2-core machine it measures the load, not the cell).
3. Every lesson is executed with nbclient in a kernel of that venv (outputs are not compared:
   versions differ from the lock, so printed digits may too) and must raise no error, with
   ``TRAINLAB_STRICT_CLAIMS=1`` so that a claim whose verdict is false there raises
   (:mod:`trainlab.claims`: digits may differ, conclusions may not), and no explorer may show
   an ``error:`` status; the widget tests run there under pytest. Lessons and widget test
   files are independent processes, run ``--jobs`` at a time (default: one per core, at most
   2; ``make colab-check`` passes ``--jobs $(JOBS)``, one per core, at most 4; each lesson's
   kernel uses one thread), the widget tests first (the longest).
4. No package installed in step 1 may have changed version, and every pin must still hold.

Exit status 0 when all of that holds; prints the measured times.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# $TRAINLAB_COLAB_VENV keeps it outside the checkout (a CI cache): with torch's CUDA build
# on Python 3.13 it holds about 5 GB
VENV = Path(os.environ.get("TRAINLAB_COLAB_VENV", ROOT / ".colab-venv")).resolve()
STAMP = VENV / ".colab-stamp"
BASE_FREEZE = VENV / ".colab-base.json"
SETUP_LIMIT_S = 30.0
WIDGET_TESTS = ("tests/test_widgets.py", "tests/test_robustness_widgets.py")

sys.path.insert(0, str(ROOT / "scripts"))
import colab_runtime  # noqa: E402

RUNTIME = colab_runtime.load()
COLAB_PINS = colab_runtime.pins(RUNTIME)  # Colab's versions, deviations applied
COLAB_PYTHON = colab_runtime.python_minor(RUNTIME)  # e.g. "3.13"
TOOLS = ("nbclient>=0.7", "nbformat>=5.7", "pytest>=8")  # to execute and test; Colab has them
try:  # uv installs the venvs; requirements-lock.txt pins it
    UV_VERSION: str | None = importlib.metadata.version("uv")
except importlib.metadata.PackageNotFoundError:
    UV_VERSION = None


def _py() -> str:
    return str(VENV / "bin" / "python")


def find_python(minor: str = COLAB_PYTHON) -> str:
    """An interpreter of Python ``minor`` (e.g. "3.13"), or SystemExit saying how to get one."""
    def version(exe: str) -> str:
        out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True)
        return out.stdout.strip()

    given = os.environ.get("TRAINLAB_COLAB_PYTHON")
    candidates = [given] if given else []
    if not given:
        on_path = shutil.which(f"python{minor}")
        candidates += [on_path] if on_path else []
        root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
        found = glob.glob(os.path.join(root, "versions", f"{minor}.*", "bin", f"python{minor}"))
        candidates += sorted(found, key=lambda p: [int(x) if x.isdigit() else -1 for x in
                                                   Path(p).parents[1].name.split(".")],
                             reverse=True)
    for exe in candidates:
        if os.access(exe, os.X_OK) and version(exe) == minor:
            return exe
    raise SystemExit(
        f"colab-check: FAIL no Python {minor} found (Colab's runtime is Python "
        f"{RUNTIME['python']}, scripts/colab-runtime.json of {RUNTIME['date']}). Install it "
        f"(`pyenv install {minor}` or your system's python{minor}) or set "
        f"TRAINLAB_COLAB_PYTHON=/path/to/python{minor}"
        + (f"; TRAINLAB_COLAB_PYTHON={given} is not Python {minor}" if given else ""))


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def uv_cache() -> Path:
    """uv's download cache: ``$TRAINLAB_UV_CACHE``, else ``.uv-cache/`` in the checkout (on the
    venvs' file system uv hard-links from it instead of copying)."""
    return Path(os.environ.get("TRAINLAB_UV_CACHE", ROOT / ".uv-cache")).resolve()


def uv_pip_install(python: str, args: list[str], env: dict[str, str] | None = None,
                   cwd: Path | None = None) -> None:
    """``uv pip install ARGS`` into the venv of ``python``, with uv from the project's own venv
    (the lock pins it): pip needed about 20 minutes for torch's 4.5 GB CUDA build on Python
    3.13 on a loaded 2-core machine, uv 30-45 s from an empty cache. pip's options as pip.conf
    and ``PIP_FIND_LINKS`` give them (uv reads neither): ``--find-links`` for the wheels
    folder, and pip's choice among indexes (the best version on any of them). Unlike pip, uv
    compiles no bytecode (``--compile-bytecode`` compiles all of torch's CUDA build: minutes
    of CPU); :data:`WARM_UP` compiles what the lessons import."""
    if UV_VERSION is None:
        raise SystemExit(f"FAIL uv is not installed in {sys.prefix}: `make install` installs "
                         "the version requirements-lock.txt pins")
    env = dict(os.environ if env is None else env)
    env["UV_CACHE_DIR"] = str(uv_cache())
    links = [f"--find-links={d}" for d in env.get("PIP_FIND_LINKS", "").split() if d]
    _run([sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", python,
          "--index-strategy", "unsafe-best-match", *links, *args], env=env, cwd=cwd)


# On Colab the packages were installed by pip, which writes their bytecode; uv does not, and
# without this the set-up cell's CPU time would count compiling torch (19.8 s instead of ~8).
# Importing what the lessons import writes the bytecode of just those modules.
WARM_UP = ("import torch, numpy, matplotlib.pyplot, sklearn.datasets, sklearn.linear_model, "
           "ipywidgets, IPython, "
           "ipykernel.kernelapp, nbclient, nbformat, pytest")


def _stamp_text() -> str:
    return json.dumps({"pins": COLAB_PINS, "tools": TOOLS, "python": COLAB_PYTHON,
                       "installer": UV_VERSION}, sort_keys=True)


def _freeze() -> dict[str, str]:
    code = ("import json, importlib.metadata as m\n"
            "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version "
            "for d in m.distributions()}))")
    out = _run([_py(), "-c", code], capture_output=True, text=True).stdout
    return json.loads(out)


def build_venv(rebuild: bool = False) -> float:
    """Create the cached Colab-like venv unless its stamp is current; returns seconds spent."""
    start = time.perf_counter()
    if not rebuild and STAMP.exists() and STAMP.read_text() == _stamp_text():
        return 0.0
    python = find_python()
    shutil.rmtree(VENV, ignore_errors=True)
    # a venv with pip in it: the set-up cell installs trainlab with pip, as on Colab
    _run([python, "-m", "venv", str(VENV)])
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("".join(f"{k}=={v}\n" for k, v in COLAB_PINS.items()))
    try:
        uv_pip_install(_py(), ["-c", pins.name, *(f"{k}=={v}" for k, v in COLAB_PINS.items()),
                               *TOOLS])
    finally:
        os.unlink(pins.name)
    installed = time.perf_counter()
    _run([_py(), "-c", WARM_UP], env={**colab_env(), "MPLBACKEND": "Agg"})
    BASE_FREEZE.write_text(json.dumps(_freeze(), indent=1, sort_keys=True))
    STAMP.write_text(_stamp_text())
    print(f"colab-check: venv installed by uv in {installed - start:.0f} s, bytecode of what "
          f"the lessons import written in {time.perf_counter() - installed:.0f} s")
    return time.perf_counter() - start


def reset_venv() -> list[str]:
    """Uninstall whatever a previous run added to the venv; returns the names removed."""
    base = json.loads(BASE_FREEZE.read_text())
    extra = sorted(set(_freeze()) - set(base))
    if extra:
        _run([_py(), "-m", "pip", "uninstall", "-q", "-y", *extra])
    return extra


def build_wheel(out: Path) -> Path:
    """A wheel of this checkout (what ``pip install git+REPO_URL`` would build)."""
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(out), str(ROOT)], capture_output=True)
    return next(out.glob("trainlab-*.whl"))


def setup_cell_source() -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    from nbtools import SETUP_CODE

    return SETUP_CODE


def colab_env() -> dict[str, str]:
    """Environment of the simulated Colab: data cached inside the venv, fetched from the mirror
    (``TRAINLAB_DATA_MIRROR``, default ``../shared/data`` as in CI) or the official URLs."""
    env = {**os.environ, "TRAINLAB_SIMULATE_COLAB": "1", "TRAINLAB_NO_PROGRESS": "1",
           # a lesson's claim that fails on Colab's stack raises: digits may differ, verdicts not
           "TRAINLAB_STRICT_CLAIMS": "1",
           "TRAINLAB_DATA_DIR": str(VENV / "data"), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    mirror = ROOT.parent / "shared" / "data"
    if "TRAINLAB_DATA_MIRROR" not in env and mirror.is_dir():
        env["TRAINLAB_DATA_MIRROR"] = str(mirror)
    env.pop("MPLBACKEND", None)
    # Colab has no PYTHONPATH: a checkout's lib/ on it would hide the set-up cell's install
    env.pop("PYTHONPATH", None)
    return env


def run_setup_cell(wheel: Path) -> tuple[float, float]:
    """Run the generated set-up cell in the venv as Colab would; returns its wall time and the
    CPU time of it and its subprocesses (pip), in seconds."""
    shutil.rmtree(VENV / "data", ignore_errors=True)
    env = {**colab_env(), "TRAINLAB_INSTALL_SOURCE": str(wheel), "MPLBACKEND": "Agg"}
    start, cpu = time.perf_counter(), _children_cpu()
    _run([_py(), "-c", setup_cell_source()], env=env, cwd=ROOT / "notebooks")
    return time.perf_counter() - start, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


EXECUTE = """
import sys, time, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
          if o.get("output_type") == "error"]
assert not errors, errors
texts = [o.get("text", "") if o.get("output_type") == "stream" else
         "".join(o.get("data", {}).get("text/plain", "")) for c in nb.cells
         if c.cell_type == "code" for o in c.get("outputs", [])]
broken = [t for t in map(str, texts) if "|  error: " in t or t.startswith("error: ")]
assert not broken, f"an explorer's status is an error: {broken}"
print(f"{path.rsplit('/', 1)[-1]:<36} {time.perf_counter() - start:6.1f} s", flush=True)
"""


def checks() -> list[tuple[str, list[str], dict[str, str] | None]]:
    """(name, command, environment) of every check that runs in the venv: each widget test
    file under pytest (first: they take longest) and each lesson executed by :data:`EXECUTE`
    in the simulated Colab's environment."""
    widget = [(f"widget tests {test}", [_py(), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                       "-o", "addopts=", test], None) for test in WIDGET_TESTS]
    env = colab_env()
    lessons = [(path.name, [_py(), "-c", EXECUTE, str(path), str(path.parent)], env)
               for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    return widget + lessons


def run_checks(jobs: int) -> tuple[float, list[str]]:
    """Every check of :func:`checks`, ``jobs`` at a time, each one's output printed whole when
    it ends; returns the wall time and the names of those that failed."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    lock = threading.Lock()

    def run(check: tuple[str, list[str], dict[str, str] | None]) -> str | None:
        name, cmd, env = check
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=False)
        with lock:
            print(proc.stdout, end="" if proc.stdout.endswith("\n") or not proc.stdout else "\n")
            if proc.returncode:
                print(f"colab-check: FAIL {name} (exit status {proc.returncode})")
        return name if proc.returncode else None

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        failed = [name for name in pool.map(run, checks()) if name]
    return time.perf_counter() - start, failed


def changed_packages(base: dict[str, str], now: dict[str, str]) -> list[str]:
    """Packages of ``base`` whose version differs in ``now`` (or that are gone)."""
    return [f"{k} {v} -> {now.get(k, 'removed')}" for k, v in sorted(base.items())
            if now.get(k) != v]


def main(argv: list[str]) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rebuild", action="store_true", help="rebuild the cached venv")
    args.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                      help="lessons and widget test files run at once (default: %(default)s)")
    opts = args.parse_args(argv)
    if opts.jobs < 1:
        args.error(f"--jobs must be >= 1, got {opts.jobs}")
    sys.stdout.reconfigure(line_buffering=True)  # in order with pip's output in CI logs
    total = time.perf_counter()
    built = build_venv(opts.rebuild)
    version = _run([_py(), "-c", "import sys; print(sys.version.split()[0])"],
                   capture_output=True, text=True).stdout.strip()
    devs = "; ".join(f"{k} {d['used']} instead of Colab's {d['colab']}"
                     for k, d in RUNTIME.get("deviations", {}).items())
    base = json.loads(BASE_FREEZE.read_text())
    print(f"colab-check: Colab runtime list of {RUNTIME['date']} (Python {RUNTIME['python']}); "
          f"venv on Python {version} "
          + (f"built by uv {UV_VERSION} in {built:.0f} s" if built else "cached")
          + f"; torch {base.get('torch')}" + (f"; deviation: {devs}" if devs else ""))
    removed = reset_venv()
    if removed:
        print(f"colab-check: removed what the last run added: {', '.join(removed)}")
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = run_setup_cell(build_wheel(Path(tmp)))
    print(f"colab-check: set-up cell {wall:.1f} s wall, {cpu:.1f} s CPU (install, data, "
          f"import torch, seed)")
    if cpu > SETUP_LIMIT_S:
        print(f"colab-check: FAIL set-up cell used {cpu:.1f} s CPU > {SETUP_LIMIT_S:.0f} s")
        return 1
    checks_s, failed = run_checks(opts.jobs)
    if failed:
        print(f"colab-check: FAIL {len(failed)} check(s): {', '.join(failed)}")
        return 1
    now = _freeze()
    changed = changed_packages(base, now)
    pins = [f"{k}=={v} but {now.get(k)}" for k, v in COLAB_PINS.items()
            if now.get(k) != v and not now.get(k, "").startswith(v + "+")]
    if changed or pins:
        print("colab-check: FAIL pip changed installed packages: " + "; ".join(changed + pins))
        return 1
    added = sorted(set(now) - set(base))
    print(f"colab-check: lessons and widget tests {checks_s:.0f} s ({opts.jobs} at a time); "
          f"added {', '.join(added)}; "
          f"no installed package changed; total {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
