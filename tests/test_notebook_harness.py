"""The notebook harness: nbval really compares outputs, generated cells are in sync, and the
Colab setup cell works in a fresh environment where trainlab is not installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import nbtools  # noqa: E402


def run_nbval(path: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval",
           "--nbval-current-env", "--nbval-sanitize-with", str(ROOT / "nbval-sanitize.cfg"),
           str(path)]
    env = {**os.environ, "TRAINLAB_NO_PROGRESS": "1"}
    env.pop("MPLBACKEND", None)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=path.parent, env=env,
                          timeout=300)


def first_stored_number(nb: nbformat.NotebookNode) -> tuple[int, int, str]:
    """Locate a printed number in a stored stream output: (cell index, output index, number)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        for j, out in enumerate(cell.get("outputs", [])):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                match = re.search(r"\d+\.\d+", out["text"])
                if match:
                    return i, j, match.group(0)
    raise AssertionError("no stored printed number found")


@pytest.fixture(scope="module")
def welcome(tmp_path_factory) -> Path:
    src = ROOT / "notebooks" / "00_welcome.ipynb"
    if not src.exists():
        pytest.fail("notebooks/00_welcome.ipynb is missing")
    dst = tmp_path_factory.mktemp("nb") / src.name
    shutil.copy(src, dst)
    return dst


@pytest.mark.slow
def test_nbval_fails_when_a_stored_number_changes(welcome: Path):
    nb = nbformat.read(welcome, as_version=4)
    i, j, number = first_stored_number(nb)
    last = str((int(number[-1]) + 1) % 10)
    changed = number[:-1] + last
    out = nb.cells[i].outputs[j]
    out["text"] = out["text"].replace(number, changed, 1)
    nbformat.write(nb, welcome)
    result = run_nbval(welcome)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "failed" in result.stdout
    assert number in result.stdout and changed in result.stdout


def test_every_notebook_has_up_to_date_generated_cells():
    assert NOTEBOOKS, "no notebooks found"
    assert nbtools.run("check") == 0


def test_no_deck_shows_the_answer_of_an_exercise():
    """Every nbgrader solution cell (model code, model written answer) is a presenter's note in
    the decks; the exercise's statement and its check stay on the slides; nbtools check fails on
    a solution cell shown on a slide."""
    answers = 0
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                answers += 1
                assert cell.metadata["slideshow"] == {"slide_type": "notes"}, path.name
    assert answers >= 30           # 38 on 2026-12-07
    shown = nbformat.v4.new_code_cell("x = 1", metadata={
        "nbgrader": {"solution": True}, "slideshow": {"slide_type": "subslide"}})
    nbtools.hide_answer(shown)
    assert shown.metadata["slideshow"] == {"slide_type": "notes"}


def test_setup_cell_installs_from_the_one_repository_url():
    from trainlab._meta import INSTALL_SPEC, REPO_URL

    assert INSTALL_SPEC.endswith(REPO_URL)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        setup = [c for c in nb.cells if c.metadata.get("trainlab") == "setup"]
        assert len(setup) == 1, path.name
        assert setup[0].source == nbtools.SETUP_CODE
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code.metadata.get("trainlab") == "setup", path.name
        assert "colab.research.google.com" in nb.cells[0].source
        assert nb.cells[-1].metadata.get("trainlab") == "nav"


def test_no_stored_error_outputs_and_every_code_cell_executed():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            assert cell.execution_count is not None, f"{path.name}: unexecuted cell"
            kinds = {o.get("output_type") for o in cell.get("outputs", [])}
            assert "error" not in kinds, f"{path.name}: stored error output"


def test_nbval_ignore_marker_only_on_timing_progress_or_widget_cells():
    allowed = re.compile(r"time|perf_counter|timeit|_seconds|widgets\.|explorer|progress",
                         re.I)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" in cell.source:
                assert allowed.search(cell.source), \
                    f"{path.name}: NBVAL_IGNORE_OUTPUT on a cell that neither times, " \
                    f"shows progress nor displays a widget:\n{cell.source[:300]}"


@pytest.mark.slow
def test_colab_setup_cell_works_in_a_fresh_environment(tmp_path: Path):
    """Run the generated setup cell in a new venv where trainlab is not importable, with the
    install source pointed at a wheel built from this checkout and the data mirror set."""
    mirror = Path(os.environ.get("TRAINLAB_DATA_MIRROR", ROOT.parent / "shared" / "data"))
    if not (mirror / "mnist").is_dir():
        pytest.skip(f"no data mirror at {mirror}")
    wheel_dir, src = tmp_path / "wheel", tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "lib", src / "lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheel_dir), str(src)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(wheel_dir.glob("trainlab-*.whl"))
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # Third-party packages stay visible (as Colab has them); trainlab itself does not: a path
    # listed in a .pth file is not scanned for further .pth files, so the editable install's
    # own .pth hook in the project venv is not loaded.
    site = subprocess.run([str(py), "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    project_site = next(p for p in sys.path if p.endswith("site-packages"))
    Path(site, "project_deps.pth").write_text(project_site + "\n")
    # The new venv's own old setuptools would shadow the project's (torch needs a newer one).
    subprocess.run([str(py), "-m", "pip", "uninstall", "-q", "-y", "setuptools"],
                   capture_output=True, check=False)
    probe = subprocess.run([str(py), "-c", "import trainlab"], capture_output=True, text=True)
    assert probe.returncode != 0, "trainlab must not be importable before the setup cell runs"
    cell = nbtools.SETUP_CODE + "\nprint('trainlab from', trainlab.__file__)\n"
    env = {**os.environ, "TRAINLAB_SIMULATE_COLAB": "1",
           "TRAINLAB_INSTALL_SOURCE": str(wheel), "TRAINLAB_DATA_MIRROR": str(mirror),
           "TRAINLAB_DATA_DIR": str(tmp_path / "cache"), "PIP_NO_INDEX": "1",
           "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(py), "-c", cell], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert str(env_dir) in result.stdout
    cached = {p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    assert any("t10k-images" in name for name in cached), cached


def test_stored_notebooks_are_valid_json_with_kernel_metadata():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        nbformat.validate(nbformat.from_dict(nb))
        assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", path.name
