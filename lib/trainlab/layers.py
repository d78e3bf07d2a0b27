"""Fully connected layer and the two losses of the course, as NumPy forward/backward pairs.

Every layer follows one contract (CS231n style)::

    out, cache = xxx_forward(x, params..., *, options)
    grads = xxx_backward(dout, cache)      # tuple in the order of the differentiable inputs

Weights follow the NumPy convention: ``w`` has shape (D_in, D_out) and ``out = x @ w + b``
(``torch.nn.Linear`` stores the transpose, shape (D_out, D_in)). Everything works in float32
and float64; the output dtype is NumPy's result type of the inputs.

This module also holds the input checks shared by ``activations``, ``norm`` and ``dropout``:
bad input raises a ``ValueError``/``TypeError`` naming the argument, the value and the valid
range instead of failing deep inside NumPy.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

__all__ = [
    "affine_backward",
    "affine_forward",
    "mse_loss",
    "softmax_cross_entropy",
]


# --------------------------------------------------------------------------------------------
# Input checks shared by the layer modules
# --------------------------------------------------------------------------------------------

def _as_float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a float32/float64 NumPy array: those pass unchanged, ints/bools/lists become
    float64; float16 (its squares overflow above 256, so batch statistics silently break),
    complex, object and string arrays are a TypeError naming ``name``. An ``np.matrix``
    becomes a plain array (its ``*`` is a matrix product, which would silently turn every
    elementwise backward into a wrong one)."""
    if isinstance(x, np.matrix):
        x = np.asarray(x)
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.dtype != np.float16:
        return x
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real-valued array, got {type(x).__name__}") from err
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype == np.float16:
        raise TypeError(f"{name} must be float32 or float64, got float16 (half precision "
                        f"overflows above 65504; cast with {name}.astype(np.float32))")
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a real floating-point array (float32 or float64), "
                        f"got dtype {arr.dtype}")
    return arr


def _check_ndim(x: np.ndarray, name: str, allowed: int | tuple[int, ...] | str,
                layout: str = "") -> None:
    """Raise a ValueError unless ``x.ndim`` is allowed (an int, a tuple, or ">=k")."""
    if isinstance(allowed, str):
        ok = x.ndim >= int(allowed[2:])
        wanted = f"{allowed[2:]} or more dimensions"
    else:
        choices = (allowed,) if isinstance(allowed, int) else allowed
        ok = x.ndim in choices
        wanted = " or ".join(f"{k}-D" for k in choices)
    if not ok:
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{name} must be {wanted}{hint}, got shape {x.shape} ({x.ndim}-D)")


def _check_shape(a: np.ndarray, name: str, shape: tuple[int, ...], why: str) -> None:
    """Raise a ValueError unless ``a.shape == shape``; ``why`` says where the shape comes from."""
    if a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} ({why}), got {a.shape}")


def _check_real(value: Any, name: str) -> float:
    """``value`` as a Python float; TypeError for non-numbers (bools included)."""
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    return float(value)


def _check_positive(value: Any, name: str, why: str = "") -> float:
    """A finite float > 0, else a ValueError naming ``name`` and the valid range."""
    v = _check_real(value, name)
    if not (v > 0 and math.isfinite(v)):
        extra = f" ({why})" if why else ""
        raise ValueError(f"{name} must be a finite number > 0{extra}, got {value!r}")
    return v


def _check_in_range(value: Any, name: str, lo: float, hi: float, interval: str) -> float:
    """A float with ``lo <= value <= hi`` (NaN fails), else a ValueError naming the interval."""
    v = _check_real(value, name)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def _check_group_size(values: int, shape: tuple[int, ...], layer: str, count: str,
                      fix: str = "") -> None:
    """The one error of every normalisation (NumPy and torch) for a group of fewer than 2
    values: its mean is the value itself, so every normalised value would be 0.

    ``count`` names the group size in terms of the shape (e.g. ``"N"``, ``"H * W"``)."""
    if values >= 2:
        return
    what = "an empty group" if values == 0 else "a group of one value"
    raise ValueError(f"{layer} got {what} ({count} = {values}) in x of shape {tuple(shape)}: "
                     f"it needs {count} >= 2 values per normalisation group, otherwise every "
                     f"normalised value would be 0 (x equals its group's mean)"
                     + (f"; {fix}" if fix else ""))


def _rows(x: np.ndarray) -> np.ndarray:
    """(N, d_1, ..., d_k) -> (N, d_1 * ... * d_k); also for N = 0, where ``reshape(N, -1)``
    cannot infer the width."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def _check_cache(cache: Any, kind: str, keys: tuple[str, ...]) -> None:
    """A backward pass needs the cache of the matching forward pass."""
    if not isinstance(cache, dict) or cache.get("layer") != kind or any(k not in cache
                                                                        for k in keys):
        raise TypeError(f"cache must be the cache returned by {kind}_forward, "
                        f"got {type(cache).__name__}")


# --------------------------------------------------------------------------------------------
# Affine layer
# --------------------------------------------------------------------------------------------

def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, dict]:
    """Fully connected layer ``out = x @ w + b``.

    Shapes: x (N, D_in) -- or (N, d_1, ..., d_k) with d_1 * ... * d_k = D_in, flattened per
    example -- w (D_in, D_out), b (D_out,); out (N, D_out).
    """
    x = _as_float_array(x, "x")
    w = _as_float_array(w, "w")
    b = _as_float_array(b, "b")
    _check_ndim(w, "w", 2, "(D_in, D_out)")
    _check_ndim(x, "x", ">=2", "(N, D_in) or (N, d_1, ..., d_k)")
    x2 = _rows(x)
    if x2.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x2.shape[1]} features per example (shape {x.shape}) but w "
                         f"expects D_in = {w.shape[0]} (w shape {w.shape}, convention (D_in, "
                         f"D_out))")
    _check_shape(b, "b", (w.shape[1],), "(D_out,) with D_out from w")
    out = x2 @ w
    out += b
    return out, {"layer": "affine", "x": x, "w": w}


def affine_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the affine layer for the upstream gradient ``dout`` (N, D_out).

    dx = dout @ w.T (reshaped to x's shape), dw = x.T @ dout (D_in, D_out),
    db = sum over the batch of dout (D_out,). Returns (dx, dw, db).
    """
    _check_cache(cache, "affine", ("x", "w"))
    x, w = cache["x"], cache["w"]
    dout = _as_float_array(dout, "dout")
    _check_shape(dout, "dout", (x.shape[0], w.shape[1]), "the shape of the forward output")
    dx = (dout @ w.T).reshape(x.shape)
    dw = _rows(x).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------

def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of class scores and its gradient.

    Shapes: scores (N, C) unnormalised log-probabilities, y (N,) integer labels in [0, C).
    loss = -(1/N) sum_i log softmax(scores_i)[y_i], computed stably by subtracting the row
    maximum: log softmax(s)_j = (s_j - max s) - log sum_k exp(s_k - max s).
    dscores = (softmax(scores) - onehot(y)) / N, shape (N, C).
    Matches ``torch.nn.functional.cross_entropy(scores, y)`` (reduction="mean").
    """
    scores = _as_float_array(scores, "scores")
    _check_ndim(scores, "scores", 2, "(N, C)")
    n, c = scores.shape
    if n == 0 or c == 0:
        raise ValueError(f"scores must hold at least one row and one class (N >= 1, C >= 1), "
                         f"got shape {scores.shape}")
    y = _check_labels(y, n, c)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = float(-log_probs[rows, y].mean())
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1
    dscores /= n
    return loss, dscores


def _check_labels(y: Any, n: int, c: int) -> np.ndarray:
    y_arr = np.asarray(y)
    if y_arr.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {y_arr.dtype}")
    _check_shape(y_arr, "y", (n,), "one label per row of scores")
    if n and (y_arr.min() < 0 or y_arr.max() >= c):
        raise ValueError(f"y must hold labels in [0, {c - 1}] (C = {c} classes), got values in "
                         f"[{y_arr.min()}, {y_arr.max()}]")
    return y_arr


def mse_loss(pred: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all entries and its gradient.

    Shapes: pred and y of one shape (any). loss = mean((pred - y)^2) over all entries (as
    ``torch.nn.functional.mse_loss`` with reduction="mean"; no 1/2 factor),
    dpred = 2 (pred - y) / pred.size, shape of pred.
    """
    pred = _as_float_array(pred, "pred")
    y = _as_float_array(y, "y")
    _check_shape(y, "y", pred.shape, "the shape of pred")
    if pred.size == 0:
        raise ValueError("pred must hold at least one entry, got an empty array")
    diff = pred - y
    loss = float(np.mean(diff * diff))
    diff *= 2.0 / pred.size
    return loss, diff
