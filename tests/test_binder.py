"""binder/ (repo2docker) agrees with the lock; binder/start gives students their notebooks once;
scripts/binder_check.py recognises repo2docker's plan (the full check is `make binder-check`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
sys.path.insert(0, str(ROOT / "scripts"))
import binder_check  # noqa: E402


def test_requirements_are_the_lock_with_torch_cpu():
    lines = [s.strip() for s in (BINDER / "requirements.txt").read_text().splitlines()
             if s.strip() and not s.startswith("#")]
    assert "-r ../requirements-lock.txt" in lines
    lock = (ROOT / "requirements-lock.txt").read_text().splitlines()
    torch = next(s for s in lock if s.startswith("torch=="))
    assert f"{torch}+cpu" in lines
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines


def test_runtime_is_the_python_of_the_lock():
    assert binder_check.runtime_python() == "3.11"  # the stored outputs' Python (README)


def test_post_build_installs_trainlab_and_the_data():
    text = (BINDER / "postBuild").read_text()
    assert "pip install" in text and "-e ." in text and "trainlab.data fetch" in text
    assert os.access(BINDER / "postBuild", os.X_OK) and os.access(BINDER / "start", os.X_OK)


def test_start_copies_student_notebooks_once(tmp_path):
    home = tmp_path / "home"
    (home / "work" / "trainlab").mkdir(parents=True)
    mine = home / "work" / "trainlab" / "06_dropout.ipynb"
    mine.write_text("my work")
    env = {**os.environ, "HOME": str(home), "REPO_DIR": str(ROOT)}
    out = subprocess.run([str(BINDER / "start"), "sh", "-c", "echo $PYTHONHASHSEED"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"
    copied = sorted(p.name for p in (home / "work" / "trainlab").glob("*.ipynb"))
    assert copied == sorted(p.name for p in (ROOT / "notebooks" / "student").glob("*.ipynb"))
    assert mine.read_text() == "my work"


def test_check_dockerfile_flags_what_is_not_intended():
    good = ("Building conda environment for python=3.11\n"
            'RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r '
            '"binder/requirements.txt"\nRUN ./binder/postBuild\n'
            'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"\n')
    assert binder_check.check_dockerfile(good, "3.11") == []
    conda = "Building conda environment for python=3.11\nCOPY environment.yml\n"
    problems = binder_check.check_dockerfile(conda, "3.11")
    assert "binder/requirements.txt installed" in problems
    assert any("environment.yml" in p for p in problems)
    assert binder_check.check_dockerfile(good, "3.13") == ["Python 3.13 from binder/runtime.txt"]
