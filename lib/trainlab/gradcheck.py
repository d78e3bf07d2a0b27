"""Numeric gradient checking with centred differences.

The centred difference ``(f(x + h) - f(x - h)) / 2h`` has error O(h^2), so with float64 and
``h = 1e-6`` a correct analytic gradient agrees to a relative error of about 1e-8 or better.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def rel_error(x: Any, y: Any, eps: float = 1e-12) -> float:
    """Largest relative error ``|x - y| / max(eps, |x| + |y|)`` over all entries.

    The one ``rel_error`` of the course: notebooks, tests and homework all import this one.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs arrays of one shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(eps, np.abs(x) + np.abs(y))))


def _check_float64(x: np.ndarray, name: str = "x") -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(f"{name} must be float64 for a reliable numeric gradient, got {x.dtype}")


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                     h: float = 1e-6) -> np.ndarray:
    """d f / d x of a scalar function by centred differences, one entry at a time.

    ``x`` (float64, any shape) is changed in place during the evaluation and restored.
    Returns an array of ``x``'s shape.
    """
    _check_float64(x)
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numeric_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                           dout: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x``: the vector-Jacobian product
    that a layer's backward pass must return for the upstream gradient ``dout``."""
    dout = np.asarray(dout, dtype=np.float64)
    return numeric_gradient(lambda z: float(np.sum(f(z) * dout)), x, h)


@dataclass
class GradCheckReport:
    """Per-input relative errors of an analytic gradient against the numeric one."""

    errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-7

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error < self.tol

    def table(self) -> str:
        width = max([5, *(len(k) for k in self.errors)])
        lines = [f"{'input':<{width}}  rel. error  verdict", "-" * (width + 21)]
        for name, err in self.errors.items():
            verdict = "ok" if err < self.tol else "WRONG"
            lines.append(f"{name:<{width}}  {err:10.1e}  {verdict}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython display
        p.text(self.table())


def check_layer(forward: Callable[..., tuple[np.ndarray, Any]],
                backward: Callable[[np.ndarray, Any], Any],
                inputs: Mapping[str, np.ndarray],
                kwargs: Mapping[str, Any] | None = None,
                dout: np.ndarray | None = None,
                seed: int = 0, h: float = 1e-6, tol: float = 1e-7) -> GradCheckReport:
    """Check a ``forward(**inputs, **kwargs) -> (out, cache)`` /
    ``backward(dout, cache) -> grads`` pair against centred differences.

    ``grads`` is a tuple in the order of ``inputs`` (CS231n style), a dict keyed by the input
    names, or a single array when there is one input. ``dout`` defaults to a seeded standard
    normal array of the output's shape. Inputs must be float64. Returns a report whose
    ``table()`` lists one relative error per input.
    """
    kwargs = dict(kwargs or {})
    inputs = {k: np.array(v, dtype=np.float64, copy=True) if np.asarray(v).dtype != np.float64
              else np.array(v, copy=True) for k, v in inputs.items()}
    if not inputs:
        raise ValueError("inputs must name at least one array to check")
    out, cache = forward(**inputs, **kwargs)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(np.shape(out))
    grads = backward(dout, cache)
    names = list(inputs)
    if isinstance(grads, Mapping):
        analytic = {k: grads[k] for k in names if k in grads}
    elif isinstance(grads, np.ndarray):
        analytic = {names[0]: grads}
    else:
        grads = tuple(grads)
        if len(grads) < len(names):
            raise ValueError(f"backward returned {len(grads)} gradients for {len(names)} inputs "
                             f"{names}")
        analytic = dict(zip(names, grads))
    report = GradCheckReport(tol=tol)
    for name, grad in analytic.items():
        def f(z: np.ndarray, name: str = name) -> np.ndarray:
            args = {**inputs, name: z}
            return forward(**args, **kwargs)[0]

        numeric = numeric_gradient_array(f, inputs[name], dout, h)
        report.errors[name] = rel_error(grad, numeric)
    return report
