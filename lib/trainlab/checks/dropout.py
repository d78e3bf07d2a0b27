"""Checks for the "check yourself" exercises of lesson 06 (dropout, dropout as ridge).

Each ``check_*`` calls the learner's function on fresh inputs drawn from ``seed`` and compares
the answer with :mod:`trainlab.dropout` / :mod:`trainlab.ridge`; a wrong answer raises
:class:`~trainlab.checks.ExerciseError`, with a hint when it matches a common slip.

``keep_prob`` is the probability of KEEPING a unit (torch's ``nn.Dropout(p)`` drops with
probability p = 1 - keep_prob). The checks refuse ``keep_prob = 0.5``, where dividing by
``1 - keep_prob`` instead of ``keep_prob`` would go unnoticed.
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
    seeded_rng,
    shape_arg,
)

__all__ = [
    "check_dropout_sampling",
    "check_dropout_backward",
    "check_dropout_forward",
    "check_expected_loss",
    "check_ridge_lambda",
]






def _check_keep_prob(keep_prob: float) -> float:
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, int | float) \
            or not 0.0 < keep_prob < 1.0 or keep_prob == 0.5:
        raise ValueError(f"keep_prob must be in (0, 1) and not 0.5 (where keep and drop "
                         f"probabilities coincide), got {keep_prob!r}")
    return float(keep_prob)


def _mask_and_x(seed: int, shape: tuple[int, ...], keep_prob: float
                ) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    rng = seeded_rng(seed)
    x = rng.standard_normal(shape_arg(shape))
    mask = rng.random(shape) < keep_prob
    mask.flat[0], mask.flat[-1] = True, False
    return rng, x, mask


def _unchanged(name: str, given: np.ndarray, original: np.ndarray) -> None:
    if not np.array_equal(given, original):
        raise ExerciseError(f"{name} changed an input array in place; return a new array")


def check_dropout_forward(fn: Callable[[np.ndarray, float, np.ndarray], np.ndarray],
                          seed: int = 0, shape: tuple[int, ...] = (4, 6),
                          keep_prob: float = 0.8) -> None:
    """Check ``fn(x, keep_prob, mask) -> out`` for training-mode inverted dropout.

    ``out = x * mask / keep_prob`` (mask: bool, x's shape, True = keep); the reference is
    :func:`trainlab.dropout.dropout_forward` with the same mask.
    """
    kp = _check_keep_prob(keep_prob)
    _, x, mask = _mask_and_x(seed, shape, kp)
    expected = reference.dropout(x, kp, mask)
    x_in, mask_in = x.copy(), mask.copy()
    got = call_student(fn, x_in, kp, mask_in)
    name = getattr(fn, "__name__", "dropout_forward")
    _unchanged(name, x_in, x)
    expect_close(got, expected, name, hints={
        "inverted dropout divides the kept values by keep_prob (here 1/"
        f"{kp} = {1 / kp:.3g}), so that the expected output equals x": x * mask,
        "divide by keep_prob, the probability of KEEPING a unit, not by 1 - keep_prob "
        "(torch's p is the drop probability)": x * mask / (1 - kp),
        "divide by keep_prob, don't multiply (multiplying is the paper's TEST-time rule)":
            x * mask * kp,
        "the mask is True where a unit is KEPT; you zeroed the kept units": x * ~mask / kp,
        "apply the mask: dropped units must output 0": x / kp,
    })


def check_dropout_backward(fn: Callable[[np.ndarray, np.ndarray, float], np.ndarray],
                           seed: int = 0, shape: tuple[int, ...] = (5, 3),
                           keep_prob: float = 0.7) -> None:
    """Check ``fn(dout, mask, keep_prob) -> dx`` for inverted dropout in training mode.

    ``dx = dout * mask / keep_prob`` (the forward is linear in x with that diagonal factor);
    the reference is :func:`trainlab.dropout.dropout_backward`.
    """
    kp = _check_keep_prob(keep_prob)
    rng, x, mask = _mask_and_x(seed, shape, kp)
    dout = rng.standard_normal(shape)
    expected = reference.dropout(dout, kp, mask)
    dout_in = dout.copy()
    got = call_student(fn, dout_in, mask.copy(), kp)
    name = getattr(fn, "__name__", "dropout_backward")
    _unchanged(name, dout_in, dout)
    expect_close(got, expected, name, hints={
        "the forward pass divided by keep_prob, so the gradient is divided by it too":
            dout * mask,
        "dropped units got no input to their output: their gradient is 0 (multiply by the "
        "mask)": dout / kp,
        "divide by keep_prob, not by 1 - keep_prob": dout * mask / (1 - kp),
        "the mask is True where a unit is KEPT": dout * ~mask / kp,
    })


def check_expected_loss(fn: Callable[[np.ndarray, np.ndarray, np.ndarray, float], float],
                        seed: int = 0, n: int = 30, d: int = 4,
                        keep_prob: float = 0.7) -> None:
    """Check ``fn(X, y, w, p) -> float``: the closed form of ``E_R ||y - (R * X) w||^2``.

    ``||y - p X w||^2 + p (1 - p) ||Gamma w||^2`` with ``Gamma = diag(X^T X)^(1/2)``; X (n, d)
    has columns on different scales so that forgetting Gamma shows. The reference is
    :func:`trainlab.ridge.expected_dropout_loss`.
    """
    p = _check_keep_prob(keep_prob)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2 or \
            isinstance(d, bool) or not isinstance(d, int) or d < 2:
        raise ValueError(f"n and d must be ints >= 2, got n={n!r}, d={d!r}")
    rng = seeded_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.3, 3.0, d)
    w = rng.standard_normal(d)
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    expected = reference.expected_dropout_loss(X, y, w, p)
    got = call_student(fn, X.copy(), y.copy(), w.copy(), p)
    if np.ndim(got) != 0:
        raise ExerciseError(f"expected_loss must return one number, got shape {np.shape(got)}")
    g2w2 = np.sum(X ** 2, axis=0) * w ** 2
    fit = np.sum((y - p * X @ w) ** 2)
    expect_close(float(got), expected, "expected_loss", hints={
        "that is the lecture's slip ||y - Xw||^2 + (1 - q)||w||^2 (q = keep_prob): keep the "
        "factor q in front of Xw and weight the penalty by Gamma^2 = diag(X^T X)":
            np.sum((y - X @ w) ** 2) + (1 - p) * np.sum(w ** 2),
        "the mean of (R * X) w is q X w (q = keep_prob): the data term is ||y - q X w||^2":
            np.sum((y - X @ w) ** 2) + p * (1 - p) * np.sum(g2w2),
        "the penalty is q(1 - q)||Gamma w||^2 with Gamma^2 = diag(X^T X), not ||w||^2":
            fit + p * (1 - p) * np.sum(w ** 2),
        "Gamma = diag(X^T X)^(1/2), so ||Gamma w||^2 = sum_j (X^T X)_jj w_j^2 (squares of "
        "the column norms, not the norms)": fit + p * (1 - p) * np.sum(np.sqrt(g2w2) * np.abs(w)),
        "the variance of a Bernoulli(q) variable is q(1 - q), not (1 - q)":
            fit + (1 - p) * np.sum(g2w2),
    })


def check_ridge_lambda(fn: Callable[[int, float], float], seed: int = 0,
                       trials: int = 4) -> None:
    """Check ``fn(n, keep_prob) -> lambda`` with ``lambda = (1 - p) / p * n``.

    The plain-ridge strength, in the ``w~ = p w`` parameterisation, of dropout with keep
    probability p on n standardised examples (:func:`trainlab.ridge.standardised_ridge_lambda`).
    Tried at ``trials`` random (n, p) pairs.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be an int >= 1, got {trials!r}")
    rng = seeded_rng(seed)
    for _ in range(trials):
        n = int(rng.integers(10, 5000))
        p = float(rng.choice([0.2, 0.3, 0.6, 0.75, 0.8, 0.9]))
        expected = reference.ridge_lambda(n, p)
        got = call_student(fn, n, p)
        if np.ndim(got) != 0:
            raise ExerciseError(f"ridge_lambda must return one number, got shape "
                                f"{np.shape(got)}")
        expect_close(float(got), expected, f"ridge_lambda(n={n}, keep_prob={p})", hints={
            "that is q(1 - q) n, the coefficient before the reparameterisation; divide the "
            "whole objective by q^2 to get the penalty on w~ = q w": p * (1 - p) * n,
            "Gamma^2 = n I for standardised features: lambda grows with n": (1 - p) / p,
            "that is the lecture's slip (1 - q), q = keep_prob; the factor 1/q and "
            "Gamma^2 = n I are missing": 1 - p,
            "(1 - q) / q, not q / (1 - q): keep_prob q is the probability of KEEPING":
                p / (1 - p) * n,
            "divide by q: the reparameterisation w~ = q w scales the penalty by 1/q^2":
                (1 - p) * n,
        })


def check_dropout_sampling(fn: Callable[..., Any], seed: int = 0, keep_prob: float = 0.7
                           ) -> np.ndarray:
    """Check ``fn(x, keep_prob, seed) -> (out, mask)``: inverted dropout that samples its own
    boolean mask (True = keep) from ``np.random.default_rng(seed)``, keeping each unit with
    probability keep_prob; the same seed gives the same mask, another seed another mask.
    Returns the learner's mask."""
    kp = _check_keep_prob(keep_prob)
    rng = seeded_rng(seed)
    x = rng.normal(size=(200, 50)) + 2.0
    draw = 11 + int(rng.integers(0, 1000))

    def masked(s: int) -> tuple[Any, np.ndarray]:
        result = call_student(fn, x.copy(), kp, s)
        if not isinstance(result, tuple | list) or len(result) != 2:
            raise ExerciseError("dropout_forward must return (out, mask)")
        return result[0], np.asarray(result[1])

    out, mask = masked(draw)
    if mask.shape != x.shape or mask.dtype != bool:
        raise ExerciseError(f"dropout_forward: the mask must be a bool array of shape {x.shape},"
                            f" got {mask.dtype} {mask.shape}")
    kept, sd = mask.mean(), np.sqrt(kp * (1 - kp) / mask.size)
    if abs(kept - kp) > 5 * sd:
        hint = " (that is 1 - keep_prob: True must mean KEEP)" \
            if abs(kept - (1 - kp)) < 5 * sd else ""
        raise ExerciseError(f"dropout_forward kept a fraction {kept:.3f} of the units, expected "
                            f"about keep_prob = {kp}{hint}")
    expect_close(out, reference.dropout(x, kp, mask), "dropout_forward output", hints={
        "inverted dropout divides the kept units by keep_prob": x * mask,
        "divide by keep_prob, not by 1 - keep_prob": x * mask / (1 - kp)})
    if not np.array_equal(masked(draw)[1], mask):
        raise ExerciseError("dropout_forward gave two masks for the same seed: draw them from "
                            "np.random.default_rng(seed)")
    if np.array_equal(masked(draw + 1)[1], mask):
        raise ExerciseError("dropout_forward gave the same mask for two seeds")
    return mask
