"""`make portability` (scripts/portability.py): the kernel matrix really changes float results,
so a stored output that depends on the CPU kernel fails it, and a robust one passes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import portability  # noqa: E402

SETUP = """import numpy as np, torch
from threadpoolctl import threadpool_limits
torch.set_num_threads(1); threadpool_limits(1)
rng = np.random.default_rng(0)
a, b = rng.standard_normal((64, 300)), rng.standard_normal((300, 64))"""

FRAGILE = {  # every digit of float32 results: each kernel variable changes one of them
    "numpy": "print(repr(float((a.astype(np.float32) @ b.astype(np.float32)).sum())), "
             "repr(float(np.tanh(a).sum())))",
    "torch": "A, B = torch.from_numpy(a).float(), torch.from_numpy(b).float()\n"
             "print(repr(float((A @ B).sum())), repr(float(torch.tanh(A).sum())))",
}
ROBUST = {  # the same quantities in float64, printed to the digits that carry meaning
    "numpy": "print(f'{(a @ b).sum():.6g} {np.tanh(a).sum():.6g}')",
    "torch": "A, B = torch.from_numpy(a), torch.from_numpy(b)\n"
             "print(f'{float((A @ B).sum()):.6g} {float(torch.tanh(A).sum()):.6g}')",
}


def executed_notebook(folder: Path, name: str, cells: dict[str, str]) -> Path:
    """A notebook of SETUP + cells, executed natively (no kernel variable set) and stored."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(src)
                                                      for src in cells.values()]
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    client.execute(env=portability.config_env("native"))
    path = folder / name
    nbformat.write(nb, path)
    return path


def run_matrix(path: Path, *configs: str) -> subprocess.CompletedProcess:
    args = [arg for c in configs for arg in ("--config", c)]
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "portability.py"), *args,
                           "--log-dir", str(path.parent / "logs"), str(path)],
                          capture_output=True, text=True, timeout=600, check=False)


def test_native_configuration_clears_the_kernel_variables(monkeypatch):
    monkeypatch.setenv("MKL_CBWR", "AVX2")
    env = portability.config_env("native")
    assert not set(portability.KERNEL_VARIABLES) & set(env)
    combined = portability.config_env("combined")
    assert {k: combined[k] for k in portability.KERNEL_VARIABLES} == \
        portability.KERNEL_VARIABLES


def test_the_matrix_has_each_variable_alone_and_all_together():
    single = [c for c in portability.CONFIGS.values() if len(c) == 1]
    assert sorted(k for c in single for k in c) == sorted(portability.KERNEL_VARIABLES)
    assert portability.CONFIGS["combined"] == portability.KERNEL_VARIABLES
    assert portability.CONFIGS["native"] == {}


def test_failures_are_read_from_pytest_output():
    out = ("FAILED notebooks/04_batchnorm.ipynb::Cell 13\nFAILED notebooks/x.ipynb::Cell 2\n"
           "2 failed, 30 passed in 80.0s\n")
    assert portability.failures(out) == ["notebooks/04_batchnorm.ipynb::Cell 13",
                                         "notebooks/x.ipynb::Cell 2"]
    assert portability.summary_line(out) == "2 failed, 30 passed in 80.0s"


@pytest.mark.slow
def test_kernel_dependent_outputs_fail_the_matrix_and_robust_ones_pass(tmp_path):
    fragile = executed_notebook(tmp_path, "fragile.ipynb", FRAGILE)
    robust = executed_notebook(tmp_path, "robust.ipynb", ROBUST)
    assert run_matrix(fragile, "native").returncode == 0
    result = run_matrix(fragile, "combined")
    assert result.returncode == 1, result.stdout
    assert "FAIL  combined" in result.stdout and "0 of 1 configurations pass" in result.stdout
    result = run_matrix(robust, "native", "combined")
    assert result.returncode == 0, result.stdout
    assert "2 of 2 configurations pass" in result.stdout


def test_jobs_left_idle_by_the_configurations_become_xdist_workers():
    assert portability.workers_per_config(jobs=2, configs=1, notebooks=9) == 2  # CI: combined
    assert portability.workers_per_config(jobs=2, configs=6, notebooks=9) == 1  # the matrix
    assert portability.workers_per_config(jobs=4, configs=2, notebooks=9) == 2
    assert portability.workers_per_config(jobs=2, configs=1, notebooks=1) == 1  # one lesson
    assert "-n" not in portability.nbval_command(["a.ipynb"], 1)
    cmd = portability.nbval_command(["a.ipynb", "b.ipynb"], 2)
    assert cmd[cmd.index("-n") + 1] == "2" and cmd[cmd.index("--dist") + 1] == "loadfile"
    with pytest.raises(ValueError, match="workers must be an int >= 1, got 0"):
        portability.nbval_command(["a.ipynb"], 0)


@pytest.mark.slow
def test_one_configuration_over_two_workers_names_the_failing_lesson_only(tmp_path):
    # inside the checkout, as the lessons are: xdist reports a notebook outside pytest's
    # rootdir without its path ("::Cell 1")
    folder = ROOT / "test-artifacts" / f"portability-{tmp_path.name}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fragile = executed_notebook(folder, "fragile.ipynb", FRAGILE)
        robust = executed_notebook(folder, "robust.ipynb", ROBUST)
        result = subprocess.run([sys.executable, str(ROOT / "scripts" / "portability.py"),
                                 "--config", "combined", "--jobs", "2",
                                 "--log-dir", str(tmp_path / "logs"),
                                 str(fragile.relative_to(ROOT)), str(robust.relative_to(ROOT))],
                                capture_output=True, text=True, timeout=600, check=False)
    finally:
        shutil.rmtree(folder)
    assert "each over 2 pytest-xdist workers" in result.stdout, result.stdout
    assert result.returncode == 1 and "0 of 1 configurations pass" in result.stdout
    cells = [ln.strip() for ln in result.stdout.splitlines() if "::Cell" in ln]
    assert cells == [f"{fragile.relative_to(ROOT)}::Cell {k}" for k in (1, 2)], result.stdout
    log = (tmp_path / "logs" / "combined.log").read_text()
    assert "bringing up nodes" in log and "2 failed, 4 passed" in log, log  # xdist ran it
