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


def rel_error(x: Any, y: Any, eps: float = 1e-12, *, per_entry: bool = True) -> float:
    """Relative error of ``x`` against ``y`` (0 to 1); the one ``rel_error`` of the course.

    ``per_entry=True`` (default): the largest ``|x - y| / max(eps, |x| + |y|)`` over all
    entries, strict about every entry (an entry near 0 in both counts fully).
    ``per_entry=False``: ``||x - y|| / max(eps, ||x|| + ||y||)`` with Euclidean norms over
    all entries: the error relative to the array's overall scale, so entries that are 0 up
    to round-off cannot dominate it (what :func:`check_layer` uses).

    Notebooks, tests and homework all import this one. ``x`` and ``y`` are real numbers or
    arrays of one shape. Equal entries (equal infinities included) count 0, an infinity
    against anything else 1; a NaN entry makes the result NaN (so ``rel_error(...) < tol``
    fails). The quotients are computed on scaled values, which is exact enough and cannot
    overflow for |x|, |y| near the largest float.
    """
    x = as_real_array(x, "x")
    y = as_real_array(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs arrays of one shape, got {x.shape} and {y.shape}")
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < np.inf:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    if not isinstance(per_entry, bool):
        raise TypeError(f"per_entry must be a bool, got {per_entry!r}")
    if x.size == 0:
        return 0.0
    if not per_entry:
        return _norm_rel_error(x, y, eps)
    hx, hy = x / 2, y / 2
    with np.errstate(invalid="ignore"):
        err = np.abs(hx - hy) / np.maximum(eps / 2, np.abs(hx) + np.abs(hy))
    err = np.where(np.isinf(x) | np.isinf(y), (x != y).astype(np.float64), err)
    err = np.where(np.isnan(x) | np.isnan(y), np.nan, err)
    return float(np.max(err))


def _norm_rel_error(x: np.ndarray, y: np.ndarray, eps: float) -> float:
    """``||x - y|| / max(eps, ||x|| + ||y||)``, computed on x, y divided by their largest
    magnitude so that the squares neither overflow nor underflow."""
    if np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    if np.isinf(x).any() or np.isinf(y).any():
        return float(not np.array_equal(x, y))
    m = max(float(np.abs(x).max()), float(np.abs(y).max()))
    if m == 0:
        return 0.0
    xs, ys = x / m, y / m
    with np.errstate(over="ignore"):
        floor = eps / m
    return float(np.linalg.norm(xs - ys) / max(floor, np.linalg.norm(xs) + np.linalg.norm(ys)))


def _check_float64(x: np.ndarray, name: str = "x") -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(f"{name} must be float64 for a reliable numeric gradient, got {x.dtype}")


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                     h: float = 1e-6) -> np.ndarray:
    """d f / d x of a scalar function by centred differences, one entry at a time:
    ``(f(x + h e_i) - f(x - h e_i)) / (2 h)``, where ``2 h`` is the step as stored (for a
    large ``|x_i|``, ``x_i + h`` rounds, and dividing by the nominal ``2 h`` would add an
    error of ``eps |x_i| / h``).

    ``x`` (float64, any shape) is changed in place during the evaluation and restored.
    Returns an array of ``x``'s shape.
    """
    _check_float64(x)
    if isinstance(h, bool) or not isinstance(h, int | float) or not 0 < h < np.inf:
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
    return _centred_and_one_sided(f, x, h)[0]


def numeric_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                           dout: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x``: the vector-Jacobian product
    that a layer's backward pass must return for the upstream gradient ``dout``."""
    dout = np.asarray(dout, dtype=np.float64)
    return numeric_gradient(lambda z: float(np.sum(f(z) * dout)), x, h)


@dataclass(frozen=True)
class GradCheck:
    """One input's comparison: the norms of the analytic and numeric gradients, the norm of
    their difference, and ``precision``, the estimated round-off of the numeric gradient."""

    analytic_norm: float
    numeric_norm: float
    diff_norm: float
    precision: float

    def limited(self, tol: float) -> bool:
        """The gradients are so small (or the numeric one so imprecise) that a relative error
        below ``tol`` cannot be resolved: the difference is judged against ``precision``."""
        return self.analytic_norm + self.numeric_norm < self.precision / tol


@dataclass
class GradCheckReport:
    """Per-input relative errors of an analytic gradient against the numeric one.

    ``errors[name]`` is ``||analytic - numeric|| / max(||analytic|| + ||numeric||,
    precision / tol)`` (:func:`rel_error` with ``per_entry=False``): relative to the gradient's
    overall scale, so entries that are 0 up to round-off cannot raise a false alarm, and a
    gradient that is itself 0 up to the numeric precision is compared absolutely. An input
    passes when its error is below ``tol``. ``details[name]`` holds the norms behind it.
    """

    errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-7
    details: dict[str, GradCheck] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def verdict(self, name: str) -> str:
        """``"ok"``, ``"kink"`` (right, with entries at a kink checked against the one-sided
        slopes), ``"float32"`` (cannot tell: the forward computes in float32) or ``"WRONG"``."""
        if name in self.verdicts:
            return self.verdicts[name]
        return "ok" if self.errors[name] < self.tol else "WRONG"

    @property
    def passed(self) -> bool:
        return all(self.verdict(k) in ("ok", "kink") for k in self.errors)

    def _note(self, name: str) -> str:
        d = self.details.get(name)
        if d is None or not d.limited(self.tol):
            return ""
        return (f"the numeric gradient's round-off (~{d.precision:.0e}) is too large for a "
                f"relative error of {self.tol:.0e} at |analytic| = {d.analytic_norm:.0e}, "
                f"|numeric| = {d.numeric_norm:.0e}: the error is |analytic - numeric| = "
                f"{d.diff_norm:.0e} divided by round-off / tol = {d.precision / self.tol:.0e}")

    def table(self) -> str:
        """One row per input: its error and verdict. Errors below tol / 10 are shown as
        ``< tol/10``: at that level they are round-off, whose digits differ between CPUs."""
        width = max([5, *(len(k) for k in self.errors)])
        lines = [f"{'input':<{width}}  rel. error  verdict", "-" * (width + 21)]
        notes = []
        for name, err in self.errors.items():
            verdict = self.verdict(name)
            note = self.reasons.get(name) or self._note(name)
            mark = " *" if note else ""
            shown = f"< {self.tol / 10:.0e}" if err < self.tol / 10 else f"{err:.1e}"
            lines.append(f"{name:<{width}}  {shown:>10}  {verdict}{mark}")
            if note:
                notes.append(f"* {name}: {note}")
        return "\n".join(lines + notes)

    def explain(self) -> str:
        """The table preceded by what the error measures and the tolerance."""
        return (f"rel. error = |analytic - numeric| / (|analytic| + |numeric|) with norms over "
                f"the whole gradient (entries near 0 cannot dominate it); ok below "
                f"{self.tol:.0e}.\n{self.table()}")

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython display
        p.text(self.table())


DOUT_STREAM = 0x67726164
"""Mixed into ``seed`` for the default ``dout`` of :func:`check_layer`, so that it is drawn
from a stream independent of ``np.random.default_rng(seed)``, which a learner may have used
for ``x`` (with ``dout = x`` the true dx of a normalisation is 0 and only round-off is left)."""

_PRECISION_FACTOR = 10.0


def default_dout(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """The standard-normal upstream gradient :func:`check_layer` uses when none is given:
    drawn from ``np.random.default_rng([seed, DOUT_STREAM])``, a stream independent of
    ``default_rng(seed)``."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng([int(seed), DOUT_STREAM]).standard_normal(shape)


def _numeric_precision(out: np.ndarray, dout: np.ndarray, conditioning: float, size: int,
                       h: float) -> float:
    """Estimated round-off norm of a centred-difference gradient of f = sum(out * dout) with
    ``size`` entries. f itself is off by about eps (sum|out * dout| + conditioning), where
    ``conditioning`` = sqrt(sum_j (z_j df/dz_j)^2) over every input entry z_j is how much
    rounding the inputs (and the values computed from them) moves f; each entry of the
    gradient divides that by 2h. A safety factor of 10 covers the round-off inside the
    forward pass."""
    terms = float(np.sum(np.abs(np.asarray(out, dtype=np.float64) * dout))) + conditioning
    eps = np.finfo(np.float64).eps
    return _PRECISION_FACTOR * eps * max(terms, np.finfo(np.float64).tiny) / h * np.sqrt(size)


def check_layer(forward: Callable[..., tuple[np.ndarray, Any]],
                backward: Callable[[np.ndarray, Any], Any],
                inputs: Mapping[str, np.ndarray],
                kwargs: Mapping[str, Any] | None = None,
                dout: np.ndarray | None = None,
                seed: int = 0, h: float = 1e-6, tol: float = 1e-7) -> GradCheckReport:
    """Check a ``forward(**inputs, **kwargs) -> (out, cache)`` /
    ``backward(dout, cache) -> grads`` pair against centred differences.

    A verdict comes with its reason: ``"ok"``; ``"kink"`` — right, though some entries lie
    within ``h`` of a point where the layer is not differentiable (ReLU at 0: the centred
    difference averages the two one-sided slopes, so it cannot match any backward there); the
    analytic value at those entries is checked to lie between the one-sided slopes and the
    others to agree to ``tol``; ``"float32"`` — cannot tell, the forward computes in float32;
    ``"WRONG"`` otherwise.

    ``grads`` is a tuple in the order of ``inputs`` (CS231n style), a dict keyed by the input
    names, or a single array when there is one input. ``dout`` defaults to
    :func:`default_dout` (standard normal, from a stream independent of
    ``np.random.default_rng(seed)``). Inputs must be float64.

    For each input the error is ``||analytic - numeric|| / max(||analytic|| + ||numeric||,
    precision / tol)`` (:func:`rel_error` with ``per_entry=False`` and ``eps = precision /
    tol``), where ``precision`` = 10 sqrt(n) eps_64 sum|out * dout| / h estimates the round-off
    of the numeric gradient: a correct backward pass gets about 1e-9 whatever the input, a
    gradient that is 0 up to round-off is compared absolutely (and the table says so), while
    a missing term of the formula gives an error of order 0.1-1. Returns a
    :class:`GradCheckReport`; ``table()`` lists one error per input.
    """
    kwargs = dict(kwargs or {})
    inputs = {k: np.array(v, dtype=np.float64, copy=True) if np.asarray(v).dtype != np.float64
              else np.array(v, copy=True) for k, v in inputs.items()}
    if not inputs:
        raise ValueError("inputs must name at least one array to check")
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    out, cache = forward(**inputs, **kwargs)
    dout = default_dout(np.shape(out), seed) if dout is None else \
        np.asarray(dout, dtype=np.float64)
    if dout.shape != np.shape(out):
        raise ValueError(f"dout must have the forward output's shape {np.shape(out)}, got "
                         f"{dout.shape}")
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
    numeric: dict[str, np.ndarray] = {}
    slopes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in analytic:
        def f(z: np.ndarray, name: str = name) -> float:
            args = {**inputs, name: z}
            return float(np.sum(forward(**args, **kwargs)[0] * dout))

        numeric[name], slopes[name] = _centred_and_one_sided(f, inputs[name], h)
    conditioning = float(np.sqrt(sum(np.sum((numeric[k] * inputs[k]) ** 2) for k in numeric)))
    report = GradCheckReport(tol=tol)
    low_precision = _float32_forward(out, inputs)
    for name, grad in analytic.items():
        grad = as_real_array(grad, f"the gradient of {name}")
        num = numeric[name]
        if grad.shape != num.shape:
            raise ValueError(f"backward's gradient of {name} has shape {grad.shape}, the input "
                             f"has {num.shape}")
        precision = _numeric_precision(out, dout, conditioning, num.size, h)
        report.errors[name] = rel_error(grad, num, eps=precision / tol, per_entry=False)
        report.details[name] = GradCheck(float(np.linalg.norm(grad)), float(np.linalg.norm(num)),
                                         float(np.linalg.norm(grad - num)), precision)
        if report.errors[name] < tol:
            continue
        if low_precision:
            report.verdicts[name] = "float32"
            report.reasons[name] = (
                f"cannot tell: the forward computes in {low_precision}, whose round-off "
                f"(~1e-7 relative) swamps centred differences with h = {h:g}; check the layer "
                f"in float64 (or use h ~ 1e-3 and tol ~ 1e-2 for a rough check)")
            continue
        _judge_kinks(report, name, grad, num, *slopes[name], precision, tol, h)
    return report


KINK_GAP = 0.1
"""An entry is at a kink when its two one-sided slopes differ by more than this fraction of
their size: a smooth function's differ by about h |f''| (1e-6 relative), a kink's by O(1)."""


def _centred_and_one_sided(f: Callable[[np.ndarray], float], x: np.ndarray, h: float
                           ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The centred-difference gradient of scalar ``f`` at ``x`` and, from the same
    evaluations plus ``f(x)``, each entry's forward and backward one-sided slopes."""
    f0 = float(f(x))
    grad, fwd, bwd = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        z_plus, f_plus = x[i], float(f(x))
        x[i] = old - h
        z_minus, f_minus = x[i], float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (z_plus - z_minus)
        fwd[i] = (f_plus - f0) / (z_plus - old)
        bwd[i] = (f0 - f_minus) / (old - z_minus)
    return grad, (fwd, bwd)


def _float32_forward(out: Any, inputs: Mapping[str, np.ndarray]) -> str:
    """``"float32"`` (or the dtype's name) when the forward computes in less than float64:
    its output has a lower dtype, or every output entry is exactly a float32 value although
    the float64 inputs are not (the layer cast them down inside). ``""`` otherwise."""
    arr = np.asarray(out)
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        return str(arr.dtype)
    if arr.dtype != np.float64 or arr.size == 0:
        return ""
    def exact32(a: np.ndarray) -> bool:
        finite = a[np.isfinite(a)]
        return bool(np.all(finite.astype(np.float32).astype(np.float64) == finite))
    nontrivial = arr[(arr != 0) & np.isfinite(arr)]
    if nontrivial.size == 0 or not exact32(nontrivial):
        return ""
    if all(exact32(np.asarray(v, dtype=np.float64)) for v in inputs.values()):
        return ""
    return "float32"


def _judge_kinks(report: GradCheckReport, name: str, grad: np.ndarray, num: np.ndarray,
                 fwd: np.ndarray, bwd: np.ndarray, precision: float, tol: float,
                 h: float) -> None:
    """The whole-gradient error failed: tell entries within ``h`` of a kink (one-sided
    slopes disagree) from a wrong backward. Right = the other entries agree to ``tol`` and the
    analytic value at each kink lies between its two one-sided slopes (a valid one-sided
    derivative or subgradient, as ReLU's 0 at 0)."""
    gap = np.abs(fwd - bwd)
    floor = precision / np.sqrt(max(num.size, 1))
    kink = (gap > KINK_GAP * (np.abs(fwd) + np.abs(bwd))) & (gap > floor)
    n_kink = int(kink.sum())
    if n_kink == 0:
        report.verdicts[name] = "WRONG"
        return
    smooth = ~kink
    err = rel_error(grad[smooth], num[smooth], eps=precision / tol, per_entry=False) \
        if smooth.any() else 0.0
    lo, hi = np.minimum(fwd, bwd)[kink], np.maximum(fwd, bwd)[kink]
    slack = 1e-6 * (np.abs(lo) + np.abs(hi)) + floor
    between = (grad[kink] >= lo - slack) & (grad[kink] <= hi + slack)
    where = f"{n_kink} of {num.size} entries lie within h = {h:g} of a kink"
    if err < tol and between.all():
        shown = f"< {tol / 10:.0e}" if err < tol / 10 else f"{err:.1e}"
        report.errors[name] = err
        report.verdicts[name] = "kink"
        report.reasons[name] = (
            f"{where} (their one-sided slopes differ, so the centred difference averages "
            f"them); there the analytic value lies between the two slopes, and the other "
            f"entries agree (error {shown}). "
            f"Move the input away from the kink for a strict check")
        return
    report.verdicts[name] = "WRONG"
    if err >= tol:
        report.reasons[name] = (f"{where}, but the other entries disagree too (error "
                                f"{err:.1e}): the backward is wrong")
    else:
        report.reasons[name] = (f"{where}; elsewhere the gradient agrees, but at "
                                f"{int((~between).sum())} kink entries the analytic value is "
                                f"outside both one-sided slopes: the backward is wrong there")

