"""Checks for the exercises of lesson 01 (activation functions): the first layers of the
course's assignment track, in CS231n's ``layers.py`` API (every forward pass returns
``(out, cache)``, every backward pass takes ``(dout, cache)``), which lesson 08 assembles into
a network.

Each ``check_*`` calls the learner's function on fresh inputs drawn from ``seed`` and compares
the answer with :mod:`trainlab.activations`; a wrong answer raises
:class:`~trainlab.checks.ExerciseError`, with a hint when it matches a common slip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainlab.checks import (
    ExerciseError,
    call_student,
    expect_close,
    reference,
    result_tuple,
    seeded_rng,
    shape_arg,
)
from trainlab.checks.capstone import check_affine

__all__ = ["check_activation_layer", "check_affine", "check_maxout"]

LAYERS = ("relu", "leaky_relu", "sigmoid", "tanh")


def _layer_pair(forward: Callable[..., Any], x: np.ndarray, kind: str,
                alpha: float) -> tuple[np.ndarray, Any]:
    x_in = x.copy()
    args = (x_in, alpha) if kind == "leaky_relu" else (x_in,)
    out, cache = result_tuple(call_student(forward, *args), 2, f"{kind}_forward")
    if not np.array_equal(x_in, x):
        raise ExerciseError(f"{kind}_forward changed its input x in place; build a new array "
                            "(e.g. with np.where) instead")
    return out, cache


def check_activation_layer(forward: Callable[..., Any], backward: Callable[..., Any],
                           kind: str, seed: int = 0, shape: tuple[int, ...] = (6, 7),
                           alpha: float = 0.1) -> None:
    """Check one activation layer: ``forward(x) -> (out, cache)`` (``forward(x, alpha)`` for
    leaky ReLU) and ``backward(dout, cache) -> dx``, for ``kind`` in "relu", "leaky_relu",
    "sigmoid", "tanh", on inputs of any ``shape`` (wide enough to reach the saturated tails).
    """
    if kind not in LAYERS:
        raise ValueError(f"kind must be one of {', '.join(LAYERS)}, got {kind!r}")
    rng = seeded_rng(seed)
    x = rng.normal(0.0, 3.0, shape_arg(shape))
    dout = rng.standard_normal(shape)
    out, cache = _layer_pair(forward, x, kind, alpha)
    if kind == "relu":
        expect_close(out, np.maximum(x, 0), "relu_forward")
        expect_close(call_student(backward, dout.copy(), cache), dout * (x > 0), "relu dx",
                     hints={"multiply the upstream gradient dout by the 0/1 gate":
                            (x > 0).astype(float),
                            "the gate is x > 0, the input's sign, not dout's": dout * (dout > 0)})
    elif kind == "leaky_relu":
        expect_close(out, reference.leaky_relu(x, alpha), "leaky_relu_forward", hints={
            "that is a plain ReLU: negative inputs must give alpha * x, not 0": np.maximum(x, 0),
            "the slope alpha belongs to the negative side; positive inputs pass unchanged":
                np.where(x > 0, alpha * x, x)})
        expect_close(call_student(backward, dout.copy(), cache),
                     reference.leaky_relu_backward(dout, x, alpha), "leaky_relu dx", hints={
            "that is ReLU's backward: where x <= 0 the gradient is alpha * dout, not 0":
                np.where(x > 0, dout, 0.0),
            "multiply by the upstream gradient dout": np.where(x > 0, 1.0, alpha),
            "the local slope is alpha where x <= 0, so dx = alpha * dout there (not alpha * x)":
                np.where(x > 0, dout, alpha * x)})
    elif kind == "sigmoid":
        s = reference.sigmoid(x)
        expect_close(out, s, "sigmoid_forward")
        expected = reference.sigmoid_backward(dout, x)
        expect_close(call_student(backward, dout.copy(), cache), expected, "sigmoid dx", hints={
            "multiply the local gradient s(1 - s) by the upstream gradient dout": s * (1 - s),
            "the local gradient is s(1 - s) with s = sigmoid(x), not x(1 - x)":
                dout * x * (1 - x),
            "the local gradient is s(1 - s), not s": dout * s,
            "sigmoid'(x) = s(1 - s) is always positive: check the sign": -expected})
    else:
        t = np.tanh(x)
        expect_close(out, t, "tanh_forward")
        expect_close(call_student(backward, dout.copy(), cache), dout * (1 - t * t), "tanh dx",
                     hints={"tanh'(x) = 1 - tanh(x)^2, not 1 - x^2": dout * (1 - x * x),
                            "tanh'(x) = 1 - tanh(x)^2, not tanh(x)(1 - tanh(x))":
                                dout * t * (1 - t),
                            "multiply by the upstream gradient dout": 1 - t * t})


def check_maxout(forward: Callable[..., Any], backward: Callable[..., Any], seed: int = 0,
                 pieces: int = 3) -> None:
    """Maxout (Goodfellow et al. 2013) with ``pieces`` linear pieces per unit, in the layout
    of the lesson's helper :func:`trainlab.activations.maxout_forward`:
    ``forward(x, w, b) -> (out, cache)`` with x (N, D_in), w (D_in, D_out, k), b (D_out, k),
    out (N, D_out) the largest of each unit's k pieces; ``backward(dout, cache) -> (dx, dw,
    db)`` of x's, w's and b's shapes: the gradient flows only through the winning piece."""
    from trainlab import activations

    rng = seeded_rng(seed)
    n, d, h = (int(v) for v in rng.integers(3, 7, size=3))
    x, w = rng.normal(size=(n, d)), rng.normal(size=(d, h, pieces))
    b = rng.normal(size=(h, pieces))
    x_in = x.copy()
    out, cache = result_tuple(call_student(forward, x_in, w.copy(), b.copy()), 2,
                              "maxout_forward")
    ref, ref_cache = activations.maxout_forward(x, w, b)
    z = np.einsum("nd,dhk->nhk", x, w) + b
    expect_close(out, ref, "maxout forward (N, D_out)", hints={
        "take the maximum over the k pieces (the last axis of w and b), not the sum":
            z.sum(-1),
        "add each piece's bias before taking the maximum":
            np.einsum("nd,dhk->nhk", x, w).max(-1),
        "that is the mean of the pieces; maxout keeps the largest": z.mean(-1)})
    if not np.array_equal(x_in, x):
        raise ExerciseError("maxout_forward changed x in place; return a new array")
    dout = rng.normal(size=(n, h))
    got = result_tuple(call_student(backward, dout.copy(), cache), 3, "maxout_backward")
    dx, dw, db = activations.maxout_backward(dout, ref_cache)
    every = np.broadcast_to(dout[..., None], (n, h, pieces))
    expect_close(got[2], db, "db (D_out, k)", hints={
        "only the winning piece gets the gradient; you sent dout to every piece":
            every.sum(0)})
    expect_close(got[1], dw, "dw (D_in, D_out, k)", hints={
        "only the winning piece gets the gradient; you sent dout to every piece":
            np.einsum("nd,nhk->dhk", x, every)})
    expect_close(got[0], dx, "dx (N, D_in)", hints={
        "dx sums over the winning pieces only": np.einsum("nhk,dhk->nd", every, w)})
