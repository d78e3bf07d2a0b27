"""`make portability` (scripts/portability.py): the kernel matrix really changes float results,
so a stored output that depends on the CPU kernel fails it, and a robust one passes."""

from __future__ import annotations

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
    "numpy": "print(repr(float((a.astype(np.float32) @ b.astype(np.float32)).sum())))",
    "torch": "A, B = torch.from_numpy(a).float(), torch.from_numpy(b).float()\n"
             "print(repr(float((A @ B).sum())), repr(float(torch.tanh(A).sum())))",
}
ROBUST = {  # the same quantities in float64, printed to the digits that carry meaning
    "numpy": "print(f'{(a @ b).sum():.6g}')",
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
