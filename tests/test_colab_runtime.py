"""The Colab runtime data file and its refresh from a pip-freeze.txt (scripts/colab_runtime.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import colab_runtime  # noqa: E402

# A small freeze in the two forms googlecolab/backend-info's pip-freeze.txt uses
SAMPLE = """\
# a comment
absl-py==1.4.0
ipykernel==6.17.2
ipython==7.34.0
ipywidgets==7.7.1
jupyter_client==7.4.9
matplotlib==3.10.1
notebook==6.5.7
numpy==2.2.0
scikit_learn==1.6.1
torch @ https://download.pytorch.org/whl/cpu/torch-2.12.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl
-e git+https://example.org/x.git#egg=x
"""


def test_parse_freeze_reads_both_forms():
    got = colab_runtime.parse_freeze(SAMPLE)
    assert got["torch"] == "2.12.0" and got["scikit-learn"] == "1.6.1"
    assert got["jupyter-client"] == "7.4.9" and got["absl-py"] == "1.4.0"
    assert "x" not in got


def test_the_data_file_is_consistent():
    import re

    data = colab_runtime.load()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["date"]) and data["source"]
    assert re.fullmatch(r"3\.\d+\.\d+", data["python"])
    assert set(data["watch"]) == set(data["packages"])
    pins = colab_runtime.pins(data)
    for name, version in data["packages"].items():
        dev = data["deviations"].get(name)
        # a deviation names Colab's version (refresh keeps it current) and says why
        assert pins[name] == (dev["used"] if dev else version)
        assert not dev or (dev["colab"] == version and dev["why"])
    # colab-check installs Colab's own torch release (PyPI's build of it: see "builds")
    assert pins["torch"] == data["packages"]["torch"] and "torch" in data["builds"]


def test_refresh_rewrites_versions_date_and_python(tmp_path):
    data = tmp_path / "colab-runtime.json"
    original = colab_runtime.load()
    original["deviations"] = {"torch": {"colab": original["packages"]["torch"],
                                        "used": "2.13.0", "why": "a test's reason"}}
    data.write_text(json.dumps(original))
    freeze = tmp_path / "pip-freeze.txt"
    freeze.write_text(SAMPLE)
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "colab_runtime.py"),
                          "refresh", str(freeze), "--date", "2027-01-02", "--python", "3.13.20",
                          "--data", str(data)], capture_output=True, text=True, check=True).stdout
    assert "numpy 2.1.3 -> 2.2.0" in out and "Python 3.13.15 -> 3.13.20" in out
    assert "deviation torch: Colab now has 2.12.0" in out
    new = json.loads(data.read_text())
    assert new["date"] == "2027-01-02" and new["python"] == "3.13.20"
    assert new["packages"]["matplotlib"] == "3.10.1" and "absl-py" not in new["packages"]
    pins = colab_runtime.pins(new)
    assert pins["torch"] == "2.13.0" and new["deviations"]["torch"]["colab"] == "2.12.0"
    assert new["builds"] == original["builds"]  # kept, like the deviations
    assert colab_runtime.python_minor(new) == "3.13"


def test_refresh_refuses_a_freeze_without_the_watched_packages(tmp_path):
    data = tmp_path / "colab-runtime.json"
    shutil.copy(colab_runtime.DATA, data)
    with pytest.raises(SystemExit, match="ipykernel"):
        colab_runtime.refresh("numpy==2.2.0\n", "2027-01-02", None, data)
    assert data.read_text() == colab_runtime.DATA.read_text()


def test_colab_check_takes_its_pins_and_python_from_the_data_file(monkeypatch, tmp_path):
    import colab_check

    assert colab_check.COLAB_PINS == colab_runtime.pins()
    assert colab_check.COLAB_PYTHON == colab_runtime.python_minor()
    monkeypatch.setenv("TRAINLAB_COLAB_PYTHON", str(tmp_path / "nope"))
    with pytest.raises(SystemExit, match=r"no Python 3\.13 found.*TRAINLAB_COLAB_PYTHON"):
        colab_check.find_python("3.13")
    monkeypatch.setenv("TRAINLAB_COLAB_PYTHON", sys.executable)
    minor = "{}.{}".format(*sys.version_info[:2])
    assert colab_check.find_python(minor) == sys.executable


def test_ipywidgets_floor_excludes_the_releases_that_fail_at_import():
    from packaging.requirements import Requirement

    text = (ROOT / "pyproject.toml").read_text()
    line = next(s.strip().strip('",') for s in text.splitlines()
                if s.strip().startswith('"ipywidgets>='))
    spec = Requirement(line).specifier
    assert not any(spec.contains(v) for v in ("7.5.1", "7.6.0", "7.6.1", "7.6.2", "7.6.3"))
    assert all(spec.contains(v) for v in ("7.6.4", "7.7.1", "8.1.9"))


def test_uv_installs_with_pips_wheel_folder_cache_and_bytecode(monkeypatch, tmp_path):
    import colab_check

    calls = []
    monkeypatch.setattr(colab_check, "_run", lambda cmd, **kw: calls.append((cmd, kw)))
    monkeypatch.setenv("TRAINLAB_UV_CACHE", str(tmp_path / "cache"))
    env = {"PIP_FIND_LINKS": "/opt/a /opt/b", "PATH": "/bin"}
    colab_check.uv_pip_install("/v/bin/python", ["-r", "reqs.txt"], env=env)
    (cmd, kw), = calls
    assert cmd[:5] == [sys.executable, "-m", "uv", "pip", "install"]
    assert cmd[cmd.index("--python") + 1] == "/v/bin/python" and cmd[-2:] == ["-r", "reqs.txt"]
    assert "--find-links=/opt/a" in cmd and "--find-links=/opt/b" in cmd
    assert cmd[cmd.index("--index-strategy") + 1] == "unsafe-best-match"  # pip's index choice
    assert kw["env"]["UV_CACHE_DIR"] == str(tmp_path / "cache") and kw["env"]["PATH"] == "/bin"
    # the lock pins the uv that colab-check and binder-check run
    lock = (ROOT / "requirements-lock.txt").read_text().splitlines()
    assert f"uv=={colab_check.UV_VERSION}" in lock


def test_colab_checks_run_two_at_a_time_and_every_failure_is_named(monkeypatch, capsys,
                                                                    tmp_path):
    import colab_check

    names = [name for name, _, _ in colab_check.checks()]
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert names == [f"widget tests {t}" for t in colab_check.WIDGET_TESTS] + lessons
    # checks 0 and 1, then 2 and 3, each wait for its partner to have started: one at a time,
    # each would give up (exit status 5) after 60 s; the odd ones then fail (exit status 1)
    pair = ("import pathlib, sys, time\n"
            "k = int(sys.argv[2]); d = pathlib.Path(sys.argv[1]); (d / str(k)).touch()\n"
            "end = time.monotonic() + 60\n"
            "while not (d / str(k ^ 1)).exists():\n"
            "    if time.monotonic() > end: sys.exit(5)\n"
            "    time.sleep(0.05)\n"
            "print(f'out{k}'); sys.exit(k % 2)")
    fake = [(f"c{k}", [sys.executable, "-c", pair, str(tmp_path), str(k)], None)
            for k in range(4)]
    monkeypatch.setattr(colab_check, "checks", lambda: fake)
    _, failed = colab_check.run_checks(2)
    out = capsys.readouterr().out
    assert failed == ["c1", "c3"], out
    assert all(f"out{k}\n" in out for k in range(4))
    assert "FAIL c1 (exit status 1)" in out and "FAIL c3 (exit status 1)" in out
    with pytest.raises(ValueError, match="jobs must be an int >= 1, got 0"):
        colab_check.run_checks(0)
