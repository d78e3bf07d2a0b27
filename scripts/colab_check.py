"""Run the course on a Colab-like stack, installed the way the Colab set-up cell installs it.

    python scripts/colab_check.py            # what `make colab-check` runs
    python scripts/colab_check.py --rebuild  # rebuild the cached venv first

1. A venv ``.colab-venv/`` with Colab's versions of the packages trainlab cares about
   (:data:`COLAB_PINS`), cached: it is rebuilt only when the pins, tools or Python change.
   Anything a previous run added to it (trainlab, missing requirements) is removed first.
2. trainlab is installed by the lessons' own generated set-up cell (run as a script with
   ``TRAINLAB_SIMULATE_COLAB=1`` and ``TRAINLAB_INSTALL_SOURCE`` pointing at a wheel built from
   this checkout), timed; it may use at most :data:`SETUP_LIMIT_S` seconds of CPU (the wall
   time is printed too, but on a shared 2-core machine it measures the load, not the cell).
3. Every lesson is executed with nbclient in a kernel of that venv (outputs are not compared:
   versions differ from the lock, so printed digits may too) and must raise no error, with
   ``TRAINLAB_STRICT_CLAIMS=1`` so that a claim whose verdict is false there raises
   (:mod:`trainlab.claims`: digits may differ, conclusions may not), and no explorer may show
   an ``error:`` status; then the widget tests run there under pytest.
4. No package installed in step 1 may have changed version, and every pin must still hold.

Exit status 0 when all of that holds; prints the measured times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".colab-venv"
STAMP = VENV / ".colab-stamp"
BASE_FREEZE = VENV / ".colab-base.json"
SETUP_LIMIT_S = 30.0
WIDGET_TESTS = ("tests/test_widgets.py", "tests/test_robustness_widgets.py")

COLAB_PINS = {  # Google Colab's versions, as measured for issue 16
    "ipywidgets": "7.7.1",
    "ipykernel": "6.17.1",
    "jupyter-client": "7.4.9",
    "notebook": "6.5.7",
    "numpy": "2.0.2",
    "matplotlib": "3.10.9",
    "scikit-learn": "1.6.1",
    "torch": "2.13.0",
    "ipython": "7.34.0",
}
TOOLS = ("nbclient>=0.7", "nbformat>=5.7", "pytest>=8")  # to execute and test; Colab has them


def _py() -> str:
    return str(VENV / "bin" / "python")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def _stamp_text() -> str:
    return json.dumps({"pins": COLAB_PINS, "tools": TOOLS, "python": sys.version.split()[0]},
                      sort_keys=True)


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
    shutil.rmtree(VENV, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(VENV)])
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("".join(f"{k}=={v}\n" for k, v in COLAB_PINS.items()))
    try:
        _run([_py(), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c",
              pins.name, *(f"{k}=={v}" for k, v in COLAB_PINS.items()), *TOOLS])
    finally:
        os.unlink(pins.name)
    BASE_FREEZE.write_text(json.dumps(_freeze(), indent=1, sort_keys=True))
    STAMP.write_text(_stamp_text())
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


def execute_lessons() -> float:
    env = colab_env()
    start = time.perf_counter()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        _run([_py(), "-c", EXECUTE, str(path), str(path.parent)], env=env)
    return time.perf_counter() - start


def widget_tests() -> None:
    _run([_py(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
          *WIDGET_TESTS], cwd=ROOT)


def changed_packages(base: dict[str, str], now: dict[str, str]) -> list[str]:
    """Packages of ``base`` whose version differs in ``now`` (or that are gone)."""
    return [f"{k} {v} -> {now.get(k, 'removed')}" for k, v in sorted(base.items())
            if now.get(k) != v]


def main(argv: list[str]) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rebuild", action="store_true", help="rebuild the cached venv")
    opts = args.parse_args(argv)
    total = time.perf_counter()
    built = build_venv(opts.rebuild)
    print("colab-check: venv " + (f"built in {built:.0f} s" if built else "cached"))
    removed = reset_venv()
    if removed:
        print(f"colab-check: removed what the last run added: {', '.join(removed)}")
    base = json.loads(BASE_FREEZE.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = run_setup_cell(build_wheel(Path(tmp)))
    print(f"colab-check: set-up cell {wall:.1f} s wall, {cpu:.1f} s CPU (install, data, "
          f"import torch, seed)")
    if cpu > SETUP_LIMIT_S:
        print(f"colab-check: FAIL set-up cell used {cpu:.1f} s CPU > {SETUP_LIMIT_S:.0f} s")
        return 1
    lessons_s = execute_lessons()
    widget_tests()
    now = _freeze()
    changed = changed_packages(base, now)
    pins = [f"{k}=={v} but {now.get(k)}" for k, v in COLAB_PINS.items()
            if now.get(k) != v and not now.get(k, "").startswith(v + "+")]
    if changed or pins:
        print("colab-check: FAIL pip changed installed packages: " + "; ".join(changed + pins))
        return 1
    added = sorted(set(now) - set(base))
    print(f"colab-check: lessons {lessons_s:.0f} s; added {', '.join(added)}; "
          f"no installed package changed; total {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
