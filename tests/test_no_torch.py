"""The NumPy half of trainlab imports and runs without torch (issue 16).

Each check runs in a fresh interpreter whose meta-path starts with a finder that refuses
``torch``, as on a machine where torch is not installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

NUMPY_MODULES = (
    "trainlab", "trainlab.activations", "trainlab.layers", "trainlab.norm", "trainlab.dropout",
    "trainlab.gradcheck", "trainlab.init", "trainlab.preprocess", "trainlab.ridge",
    "trainlab.style", "trainlab.data", "trainlab.plots", "trainlab.diagrams",
    "trainlab.checks", "trainlab.checks.activations", "trainlab.checks.init",
    "trainlab.checks.dropout", "trainlab.checks.normalisation",
    "trainlab.checks.preprocessing",
)

BLOCK_TORCH = textwrap.dedent("""
    import importlib.abc
    import sys

    class _NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, _NoTorch())
    for _name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        del sys.modules[_name]
""")


def _run_without_torch(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120,
                          env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})


def test_blocker_really_blocks_torch() -> None:
    proc = _run_without_torch("import torch")
    assert proc.returncode != 0
    assert "blocked by the test" in proc.stderr


def test_torch_modules_fail_without_torch() -> None:
    proc = _run_without_torch("import trainlab.modules")
    assert proc.returncode != 0 and "blocked by the test" in proc.stderr


@pytest.mark.parametrize("module", NUMPY_MODULES)
def test_numpy_module_imports_without_torch(module: str) -> None:
    proc = _run_without_torch(f"import {module}\nassert 'torch' not in sys.modules")
    assert proc.returncode == 0, proc.stderr


def test_numpy_parts_run_without_torch() -> None:
    proc = _run_without_torch("""
        import numpy as np
        from trainlab import init, norm, preprocess
        w = init.init_weights((64, 32), "kaiming_normal", rng=np.random.default_rng(0))
        assert w.shape == (64, 32)
        x = np.random.default_rng(1).normal(3.0, 2.0, size=(100, 4))
        z = preprocess.Standardizer().fit(x).transform(x)
        assert abs(z.mean()) < 1e-9
        out, _ = norm.batchnorm_forward(x, np.ones(4), np.zeros(4))
        assert out.shape == x.shape
        try:
            preprocess.as_torch_module(np.zeros(3))
        except ImportError as err:
            assert "torch" in str(err)
        else:
            raise AssertionError("as_torch_module worked without torch")
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
