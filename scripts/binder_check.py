"""Check the Binder configuration (``binder/``) as far as it can be checked without Docker.

    python scripts/binder_check.py             # what `make binder-check` runs
    python scripts/binder_check.py --rebuild   # a new venv even if binder/ and the lock are as
                                               # they were when the cached one was built

1. **repo2docker resolves what we intend.** ``repo2docker --no-build --no-run`` (jupyter-
   repo2docker from PyPI, :data:`R2D`, in a cached tool venv installed by uv) prints the
   Dockerfile it would build without needing a Docker daemon. It must use ``binder/`` (not the conda
   ``environment.yml`` at the top), Python from ``binder/runtime.txt``, install
   ``binder/requirements.txt`` (the lock plus torch's CPU wheel), run ``binder/postBuild``
   (``pip install -e .`` and the course data) and start kernels through ``binder/start``.
2. **The same install commands give a kernel that runs a lesson.** A new venv on that Python
   (``.binder-check/venv``), ``binder/requirements.txt`` installed into it by uv (the lock's
   version, with pip's choice among indexes: it resolves the same file as repo2docker's pip
   and took 145 s from an empty cache where pip took 17-20 minutes here, under load; its cache
   is colab-check's, ``.uv-cache/``), ``binder/postBuild`` (pip, as in the image) with that
   venv first on ``PATH``, then a lesson (default 00) executed with nbclient in the
   venv's ``python3`` kernel, which must report the venv's prefix and torch's CPU build. The
   venv is built from nothing whenever ``binder/requirements.txt``, ``binder/runtime.txt``, the
   lock or the interpreter changed (a stamp of them), else reused; postBuild and the lesson
   run every time.
   Where ``download.pytorch.org`` does not resolve (this project's machines reach only
   package registries), its ``--extra-index-url`` line is left out and uv takes the same
   ``torch 2.13.0+cpu`` wheel from ``PIP_FIND_LINKS``; the script says so.

What it cannot check: building and running the image (no Docker daemon here), mybinder.org
itself (not reachable), and the download from download.pytorch.org.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
WORK = ROOT / ".binder-check"
R2D = "jupyter-repo2docker==2026.4.0"
HUB = ("jupyterhub==5.5.4", "dockerspawner==14.0.0")  # what deploy/jupyterhub_config.py targets
sys.path.insert(0, str(ROOT / "scripts"))


def runtime_python() -> str:
    text = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+\.\d+)", text)
    if not m:
        raise SystemExit(f"binder-check: FAIL binder/runtime.txt says {text!r}, not python-X.Y")
    return m.group(1)


from colab_check import UV_VERSION, uv_pip_install  # noqa: E402


def find_python(minor: str) -> str:
    from colab_check import find_python as find

    os.environ.pop("TRAINLAB_COLAB_PYTHON", None)
    try:
        return find(minor)
    except SystemExit as e:
        raise SystemExit(str(e).replace("colab-check", "binder-check")) from None


def _venv(path: Path, python: str) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def _clean_env() -> dict[str, str]:
    """The environment without a checkout's PYTHONPATH (it would leak trainlab into the tools)."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "MPLBACKEND", "VIRTUAL_ENV")}


def repo2docker_dockerfile() -> str:
    tool = WORK / "repo2docker"
    py = tool / "bin" / "python"
    stamp = tool / ".stamp"
    if not (stamp.exists() and stamp.read_text() == " ".join((R2D, *HUB))):
        start = time.perf_counter()
        _venv(tool, sys.executable)
        uv_pip_install(str(py), [R2D, *HUB], env=_clean_env())
        stamp.write_text(" ".join((R2D, *HUB)))
        print(f"binder-check: {' '.join((R2D, *HUB))} installed by uv in a tool venv: "
              f"{time.perf_counter() - start:.0f} s")
    out = subprocess.run([str(tool / "bin" / "repo2docker"), "--no-build", "--no-run",
                          str(ROOT)], capture_output=True, text=True, env=_clean_env())
    if out.returncode:
        raise SystemExit(f"binder-check: FAIL repo2docker --no-build:\n{out.stderr}")
    return out.stdout + "\n" + out.stderr


HUB_CONFIG = """
import sys
from traitlets.config.loader import PyFileConfigLoader
from jupyterhub.app import JupyterHub
from jupyterhub.auth import Authenticator, DummyAuthenticator
from dockerspawner import DockerSpawner
classes = {c.__name__: c for c in (JupyterHub, Authenticator, DummyAuthenticator, DockerSpawner)}
cfg = PyFileConfigLoader("jupyterhub_config.py", path=sys.argv[1]).load_config()
print(" ".join(f"{s}.{k}" for s, v in cfg.items() for k in v
               if s not in classes or not classes[s].class_traits().get(k)))
"""


def check_hub_config() -> list[str]:
    """Settings of deploy/jupyterhub_config.py that JupyterHub 5 / DockerSpawner do not have."""
    out = subprocess.run([str(WORK / "repo2docker" / "bin" / "python"), "-c", HUB_CONFIG,
                          str(ROOT / "deploy")], capture_output=True, text=True, check=True,
                         env=_clean_env())
    return out.stdout.split()


def check_dockerfile(text: str, minor: str) -> list[str]:
    """What is wrong with repo2docker's plan (empty when it is what we intend)."""
    want = {
        f"Python {minor} from binder/runtime.txt":
            f"Building conda environment for python={minor}",
        "binder/requirements.txt installed":
            'pip install --no-cache-dir -r "binder/requirements.txt"',
        "binder/postBuild run": "RUN ./binder/postBuild",
        "binder/start as the entrypoint": '/binder/start"',
    }
    problems = [what for what, needle in want.items() if needle not in text]
    if "environment.yml" in text:
        problems.append("the top-level environment.yml is used (conda) instead of binder/")
    return problems


def requirements_here() -> tuple[Path, list[str]]:
    """binder/requirements.txt, minus index URLs whose host does not resolve here."""
    lines, dropped = [], []
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        m = re.match(r"\s*--(?:extra-)?index-url[ =](\S+)", line)
        if m:
            host = urlparse(m.group(1)).hostname or ""
            try:
                socket.getaddrinfo(host, 443)
            except OSError:
                dropped.append(host)
                continue
        lines.append(line)
    path = BINDER / ".requirements-here.txt"  # beside the original: its -r ../ still resolves
    path.write_text("\n".join(lines) + "\n")
    return path, dropped


PROBE = ("import sys, torch, trainlab\n"
         "print('PROBE', sys.prefix, torch.__version__, trainlab.__file__)")

EXECUTE = """
import sys, time, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(sys.argv[3]))
start = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
print(out.strip())
print(f"lesson executed in {time.perf_counter() - start:.1f} s")
"""


def _stamp_text(python: str) -> str:
    h = hashlib.sha256(f"{python_version(Path(python))} uv {UV_VERSION}".encode())
    for f in (BINDER / "requirements.txt", BINDER / "runtime.txt", ROOT / "requirements-lock.txt"):
        h.update(f.read_bytes())
    return h.hexdigest()


def install_and_run(python: str, lesson: str, rebuild: bool) -> None:
    venv = WORK / "venv"
    py = venv / "bin" / "python"
    stamp = WORK / "venv.stamp"
    env = _clean_env()
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    env.setdefault("TRAINLAB_NO_PROGRESS", "1")
    if rebuild or not (py.exists() and stamp.exists()
                       and stamp.read_text() == _stamp_text(python)):
        start = time.perf_counter()
        stamp.unlink(missing_ok=True)
        _venv(venv, python)
        reqs, dropped = requirements_here()
        if dropped:
            print(f"binder-check: {', '.join(dropped)} does not resolve here: its index line "
                  "left out, torch's CPU wheel taken from PIP_FIND_LINKS "
                  f"({os.environ.get('PIP_FIND_LINKS', 'unset')})")
        try:
            uv_pip_install(str(py), ["-r", str(reqs)], env=env, cwd=BINDER)
        finally:
            reqs.unlink()
        stamp.write_text(_stamp_text(python))
        print(f"binder-check: uv pip install -r binder/requirements.txt in a new Python "
              f"{python_version(py)} venv: {time.perf_counter() - start:.0f} s")
    else:
        print("binder-check: venv cached (binder/, the lock and Python unchanged since it was "
              "built from nothing; --rebuild builds it again)")
    start = time.perf_counter()
    subprocess.run([str(BINDER / "postBuild")], check=True, env=env, cwd=ROOT)
    print(f"binder-check: binder/postBuild (pip install -e ., data): "
          f"{time.perf_counter() - start:.0f} s")
    path = ROOT / "notebooks" / lesson
    out = subprocess.run([str(py), "-c", EXECUTE, str(path), str(path.parent), PROBE],
                         check=True, env=env, capture_output=True, text=True).stdout
    probe = next(line for line in out.splitlines() if line.startswith("PROBE"))
    _, prefix, torch_version, trainlab_file = probe.split()
    problems = []
    if Path(prefix).resolve() != venv.resolve():
        problems.append(f"the kernel ran in {prefix}, not the venv")
    if not torch_version.endswith("+cpu"):
        problems.append(f"torch {torch_version} is not the CPU build")
    if not Path(trainlab_file).resolve().is_relative_to(ROOT / "lib"):
        problems.append(f"trainlab imported from {trainlab_file}, not the editable install")
    if problems:
        raise SystemExit("binder-check: FAIL " + "; ".join(problems))
    print(f"binder-check: {lesson} ran in the venv's kernel (torch {torch_version}, "
          f"trainlab from lib/): {out.splitlines()[-1]}")


def python_version(py: Path) -> str:
    return subprocess.run([str(py), "-c", "import sys; print(sys.version.split()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lesson", default="00_welcome.ipynb")
    ap.add_argument("--rebuild", action="store_true", help="build the venv from nothing")
    opts = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # in order with pip's output in CI logs
    total = time.perf_counter()
    WORK.mkdir(exist_ok=True)
    minor = runtime_python()
    python = find_python(minor)
    problems = check_dockerfile(repo2docker_dockerfile(), minor)
    if problems:
        print("binder-check: FAIL repo2docker --no-build: " + "; ".join(problems))
        return 1
    print(f"binder-check: repo2docker --no-build ({R2D}) resolves binder/: Python {minor}, "
          "binder/requirements.txt, postBuild, start")
    unknown = check_hub_config()
    if unknown:
        print("binder-check: FAIL deploy/jupyterhub_config.py sets what "
              f"{' and '.join(HUB)} do not have: {', '.join(unknown)}")
        return 1
    print(f"binder-check: deploy/jupyterhub_config.py sets only traits of {' and '.join(HUB)}")
    install_and_run(python, opts.lesson, opts.rebuild)
    print(f"binder-check: ok ({time.perf_counter() - total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
