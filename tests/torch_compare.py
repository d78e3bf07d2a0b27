"""Helpers shared by the tests that compare NumPy layers with torch."""

from __future__ import annotations

import numpy as np
import torch


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    """A float64 torch copy of ``a`` (optionally requiring a gradient)."""
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def close(actual: np.ndarray, expected: np.ndarray | torch.Tensor, tol: float = 1e-10) -> None:
    """Equal up to a tolerance relative to the largest entry of ``expected``."""
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)
