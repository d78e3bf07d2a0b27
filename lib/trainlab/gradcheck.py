"""Numeric gradient checking with centred differences.

The centred difference ``(f(x + h) - f(x - h)) / 2h`` has error O(h^2), so with float64 and
``h = 1e-6`` a correct analytic gradient agrees to a relative error of about 1e-8 or better.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def as_real_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 array of real numbers, else a TypeError naming ``name`` (shared
    by every function that takes numbers from a learner or a plot call)."""
    try:
        arr = np.asarray(value)
    except ValueError as err:
        raise TypeError(f"{name} must be a real number or array, got a ragged "
                        f"{type(value).__name__}") from err
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number or array, got dtype {arr.dtype} "
                        f"({type(value).__name__})")
    return arr.astype(np.float64)


def rel_error(x: Any, y: Any, eps: float = 1e-12) -> float:
    """Largest relative error ``|x - y| / max(eps, |x| + |y|)`` over all entries (0 to 1).

    The one ``rel_error`` of the course: notebooks, tests and homework all import this one.
    ``x`` and ``y`` are real numbers or arrays of one shape. Equal entries (equal infinities
    included) count 0, an infinity against anything else 1; a NaN entry makes the result NaN
    (so ``rel_error(...) < tol`` fails). The quotient is computed on halves, which is exact and
    cannot overflow for |x|, |y| near the largest float.
    """
    x = as_real_array(x, "x")
    y = as_real_array(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs arrays of one shape, got {x.shape} and {y.shape}")
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < np.inf:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    if x.size == 0:
        return 0.0
    hx, hy = x / 2, y / 2
    with np.errstate(invalid="ignore"):
        err = np.abs(hx - hy) / np.maximum(eps / 2, np.abs(hx) + np.abs(hy))
    err = np.where(np.isinf(x) | np.isinf(y), (x != y).astype(np.float64), err)
    err = np.where(np.isnan(x) | np.isnan(y), np.nan, err)
    return float(np.max(err))


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
    if isinstance(h, bool) or not isinstance(h, int | float) or not 0 < h < np.inf:
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
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
        analytic = dict(zip(names, grads, strict=False))
    report = GradCheckReport(tol=tol)
    for name, grad in analytic.items():
        def f(z: np.ndarray, name: str = name) -> np.ndarray:
            args = {**inputs, name: z}
            return forward(**args, **kwargs)[0]

        numeric = numeric_gradient_array(f, inputs[name], dout, h)
        report.errors[name] = rel_error(grad, numeric)
    return report
