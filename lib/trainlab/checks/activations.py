"""Checks for the "check yourself" exercises of lesson 01 (activation functions).

Each ``check_*`` calls the learner's function on fresh inputs drawn from ``seed`` and compares
the answer with :mod:`trainlab.activations`; a wrong answer raises
:class:`~trainlab.checks.ExerciseError`, with a hint when it matches a common slip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainlab import activations
from trainlab.checks import (
    ExerciseError,
    call_student,
    expect_close,
    result_tuple,
    seeded_rng,
    shape_arg,
)

__all__ = [
    "check_dead_fraction",
    "check_graph_gradients",
    "check_leaky_relu",
    "check_sigmoid_backward",
    "dead_fraction_reference",
]








def check_graph_gradients(fn: Callable[[float, float, float], Any], seed: int = 0,
                          trials: int = 3) -> None:
    """Check ``fn(x, y, z) -> (f, df_dx, df_dy, df_dz)`` for ``f = (x + y) z``.

    Forward: ``q = x + y``, ``f = q z``. Backward: ``df/dz = q``, ``df/dq = z`` and, through
    the add gate, ``df/dx = df/dy = z``. Tried at the lecture's point (-2, 5, -4) and at
    ``trials`` random points.
    """
    rng = seeded_rng(seed)
    points = [(-2.0, 5.0, -4.0), *[tuple(rng.uniform(-5, 5, 3).round(3)) for _ in range(trials)]]
    for x, y, z in points:
        got = result_tuple(call_student(fn, x, y, z), 4, "graph_gradients")
        q = x + y
        expected = (q * z, z, z, q)
        where = f"at (x, y, z) = ({x}, {y}, {z})"
        expect_close(got[0], expected[0], f"f {where}")
        swapped = "df/dx is df/dq * dq/dx = z * 1; df/dz is q = x + y (not z)"
        expect_close(got[1], expected[1], f"df/dx {where}", hints={swapped: q})
        expect_close(got[2], expected[2], f"df/dy {where}", hints={swapped: q})
        expect_close(got[3], expected[3], f"df/dz {where}",
                     hints={swapped: z, "df/dz is q = x + y; you multiplied by z again":
                            q * z})


def check_sigmoid_backward(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], seed: int = 0,
                           shape: tuple[int, ...] = (4, 5)) -> None:
    """Check ``fn(dout, x) -> dx`` for the sigmoid: ``dx = dout * s (1 - s)``, s = sigmoid(x).

    ``dout`` and ``x`` have shape ``shape``; the reference is
    :func:`trainlab.activations.sigmoid_backward`.
    """
    rng = seeded_rng(seed)
    x = rng.normal(0.0, 3.0, shape_arg(shape))
    dout = rng.standard_normal(shape)
    s, cache = activations.sigmoid_forward(x)
    (expected,) = activations.sigmoid_backward(dout, cache)
    got = call_student(fn, dout.copy(), x.copy())
    expect_close(got, expected, "sigmoid_backward", hints={
        "multiply the local gradient s(1 - s) by the upstream gradient dout": s * (1 - s),
        "the local gradient is s(1 - s) with s = sigmoid(x), not x(1 - x)": dout * x * (1 - x),
        "the local gradient is s(1 - s), not s": dout * s,
        "the local gradient is s(1 - s), not (1 - s)": dout * (1 - s),
        "sigmoid'(x) = s(1 - s) is always positive: check the sign": -expected,
    })


def check_leaky_relu(forward: Callable[..., np.ndarray], backward: Callable[..., np.ndarray],
                     seed: int = 0, shape: tuple[int, ...] = (6, 7), alpha: float = 0.1) -> None:
    """Check ``forward(x, alpha) -> out`` and ``backward(dout, x, alpha) -> dx`` of leaky ReLU.

    ``out = x`` where ``x > 0`` and ``alpha x`` elsewhere; ``dx = dout`` where ``x > 0`` and
    ``alpha dout`` elsewhere. Also checks that ``forward`` leaves ``x`` unchanged.
    """
    rng = seeded_rng(seed)
    x = rng.standard_normal(shape_arg(shape))
    dout = rng.standard_normal(shape)
    ref_out, cache = activations.leaky_relu_forward(x, alpha)
    (ref_dx,) = activations.leaky_relu_backward(dout, cache)
    x_in = x.copy()
    out = call_student(forward, x_in, alpha)
    if not np.array_equal(x_in, x):
        raise ExerciseError("leaky_relu_forward changed its input x in place; build a new array "
                            "(e.g. with np.where) instead")
    expect_close(out, ref_out, "leaky_relu_forward", hints={
        "that is a plain ReLU: negative inputs must give alpha * x, not 0": np.maximum(x, 0),
        "the slope alpha belongs to the negative side; positive inputs pass unchanged":
            np.where(x > 0, alpha * x, x),
    })
    dx = call_student(backward, dout.copy(), x.copy(), alpha)
    expect_close(dx, ref_dx, "leaky_relu_backward", hints={
        "that is ReLU's backward: where x <= 0 the gradient is alpha * dout, not 0":
            np.where(x > 0, dout, 0.0),
        "multiply by the upstream gradient dout": np.where(x > 0, 1.0, alpha),
        "the local slope is alpha where x <= 0, so dx = alpha * dout there (not alpha * x)":
            np.where(x > 0, dout, alpha * x),
        "the slope alpha belongs to the negative side": np.where(x > 0, alpha * dout, dout),
    })


def dead_fraction_reference(h: np.ndarray) -> float:
    """Fraction of units (columns of ``h``, shape (N, H)) that are 0 on every one of N inputs."""
    h = np.asarray(h)
    if h.ndim != 2 or h.shape[1] == 0:
        raise ValueError(f"h must have shape (N, H) with H >= 1, got {h.shape}")
    return float(np.mean(np.all(h <= 0, axis=0)))


def check_dead_fraction(fn: Callable[[np.ndarray], float], seed: int = 0, n: int = 50,
                        units: int = 40) -> None:
    """Check ``fn(h) -> fraction`` on post-ReLU activations ``h`` of shape (n, units).

    A unit is dead when it outputs 0 for *every* input row; the answer is the fraction of such
    columns. The test matrix mixes dead units, rarely active ones and ordinary ones.
    """
    rng = seeded_rng(seed)
    if n < 2 or units < 4:
        raise ValueError(f"n must be >= 2 and units >= 4, got n={n}, units={units}")
    bias = rng.choice([-50.0, -2.5, 0.0], size=units, p=[0.3, 0.3, 0.4])
    h = np.maximum(rng.standard_normal((n, units)) + bias, 0.0)
    expected = dead_fraction_reference(h)
    got = call_student(fn, h.copy())
    if np.ndim(got) != 0:
        raise ExerciseError(f"dead_fraction must return one number, got shape {np.shape(got)}")
    expect_close(float(got), expected, "dead_fraction", hints={
        "you counted zero entries; a unit is dead only if its whole column is zero":
            float(np.mean(h <= 0)),
        "a unit is dead if it is zero for ALL inputs, not for at least one":
            float(np.mean(np.any(h <= 0, axis=0))),
        "return a fraction of units (between 0 and 1), not a count":
            float(np.sum(np.all(h <= 0, axis=0))),
        "units are columns (axis 0 runs over inputs)": float(np.mean(np.all(h <= 0, axis=1))),
    })
