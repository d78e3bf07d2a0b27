"""Checks for the "check yourself" exercises of lesson 07 (alternatives to batch norm).

Every check draws fresh inputs from ``seed``, calls the learner's function and compares the
result with trainlab's reference (:mod:`trainlab.norm`). When an answer matches a common slip
(normalising over the wrong axes, the unbiased variance, eps outside the square root, the
weight normalised along the wrong axis...) the error message names it.

:func:`check_group_norm`, :func:`check_layer_norm`, :func:`check_reduce_axes`,
:func:`check_weightnorm_weight`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainlab.checks import ExerciseError, call_student, expect_close, reference, seeded_rng

__all__ = [
    "check_layer_norm_backward",
    "REDUCE_AXES",
    "check_group_norm",
    "check_layer_norm",
    "check_reduce_axes",
    "check_weightnorm_weight",
]

REDUCE_AXES: dict[str, tuple[int, ...]] = {
    "batch": (0, 2, 3),
    "layer": (1, 2, 3),
    "instance": (2, 3),
    "group": (2, 3, 4),
}
"""The axes each method averages over: of an (N, C, H, W) tensor for batch, layer and instance
norm; of the (N, G, C/G, H, W) reshaped tensor for group norm."""




def _standardise(x: np.ndarray, axes: tuple[int, ...], eps: float, ddof: int = 0,
                 eps_inside: bool = True) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) over ``axes`` (keepdims); the slips flip ddof/eps_inside."""
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    return (x - mu) / (np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps)


def _activations(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Activations with per-channel offsets and scales far from (0, 1)."""
    c = shape[1]
    loc = rng.uniform(-3, 3, (1, c) + (1,) * (len(shape) - 2))
    scale = rng.uniform(0.5, 4, (1, c) + (1,) * (len(shape) - 2))
    return loc + scale * rng.normal(size=shape)


# --------------------------------------------------------------------------------------------
# Exercise 1: group norm forward
# --------------------------------------------------------------------------------------------
def _group_norm_slips(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, g: int,
                      eps: float) -> dict[str, np.ndarray]:
    """What the common wrong group-norm answers return for x (N, C, H, W): hint -> output."""
    n, c, h, w = x.shape
    gs, bs = gamma.reshape(1, c, 1, 1), beta.reshape(1, c, 1, 1)
    xg = x.reshape(n, g, c // g, h, w)

    def affine(x_hat: np.ndarray) -> np.ndarray:
        return gs * x_hat.reshape(x.shape) + bs

    return {
        "each channel was normalised on its own (that is instance norm, G = C); group norm "
        "pools the C/G channels of a group: reshape to (N, G, C/G, H, W) and average over "
        "axes (2, 3, 4)": affine(_standardise(x, (2, 3), eps)),
        "every channel of an example was pooled (that is layer norm, G = 1); pool only the "
        "C/G channels of each group": affine(_standardise(x, (1, 2, 3), eps)),
        "the batch axis was included in the statistics; group norm never looks at the "
        "other examples: average over axes (2, 3, 4) of (N, G, C/G, H, W), not over axis 0":
            affine(_standardise(xg, (0, 2, 3, 4), eps)),
        "the groups were formed by reshaping to (N, C/G, G, H, W), which puts channels "
        "c, c + G, c + 2G... together; a group is C/G CONSECUTIVE channels: reshape to "
        "(N, G, C/G, H, W)": affine(_standardise(x.reshape(n, c // g, g, h, w), (1, 3, 4),
                                                 eps)),
        "you used the unbiased variance (ddof=1); group norm divides by the number of "
        "values, ddof=0": affine(_standardise(xg, (2, 3, 4), eps, ddof=1)),
        "eps goes under the square root, sqrt(var + eps)":
            affine(_standardise(xg, (2, 3, 4), eps, eps_inside=False)),
        "the scale and shift are missing: return gamma * x_hat + beta with gamma, beta "
        "of shape (1, C, 1, 1)": _standardise(xg, (2, 3, 4), eps).reshape(x.shape),
    }


def check_group_norm(fn: Callable[..., np.ndarray], seed: int = 0) -> None:
    """Check ``fn(x, num_groups, gamma, beta, eps) -> y`` (torch's argument order, as
    :func:`trainlab.norm.groupnorm_forward`) for x (N, C, H, W), gamma, beta (C,)
    against :func:`trainlab.norm.groupnorm_forward` (Wu & He 2018): per example and group of
    C/G consecutive channels, y = gamma_c (x - mu_ng) / sqrt(var_ng + eps) + beta_c."""
    rng = seeded_rng(seed)
    for n, c, g in ((int(rng.integers(2, 5)), 6, 3), (3, 8, 2)):
        h, w = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        x = _activations(rng, (n, c, h, w))
        gamma, beta = rng.uniform(0.5, 2.0, c), rng.normal(size=c)
        eps = float(rng.choice([1e-5, 1e-2, 0.5]))
        got = call_student(fn, x.copy(), g, gamma.copy(), beta.copy(), eps)
        expected = reference.groupnorm(x, gamma, beta, g, eps)
        hints = _group_norm_slips(x, gamma, beta, g, eps)
        expect_close(got, expected, f"group_norm on x of shape {x.shape} with G = {g} "
                     f"(eps={eps:g})", hints=hints)


# --------------------------------------------------------------------------------------------
# Exercise 2: layer norm forward
# --------------------------------------------------------------------------------------------
def check_layer_norm(fn: Callable[..., np.ndarray], seed: int = 0) -> None:
    """Check ``fn(x, gamma, beta, eps) -> y`` for x (N, D), gamma, beta (D,) against
    :func:`trainlab.norm.layernorm_forward` (Ba et al. 2016): each example normalised over its
    D features, y = gamma (x - mu_n) / sqrt(var_n + eps) + beta."""
    rng = seeded_rng(seed)
    for n, d in ((int(rng.integers(3, 8)), int(rng.integers(4, 9))), (1, 5), (6, 6)):
        x = _activations(rng, (n, d))
        gamma, beta = rng.uniform(0.5, 2.0, d), rng.normal(size=d)
        eps = float(rng.choice([1e-5, 1e-2, 0.5]))
        got = call_student(fn, x.copy(), gamma.copy(), beta.copy(), eps)
        expected = reference.layernorm(x, gamma, beta, eps)
        hints = {
            "you averaged over the batch (axis=0: that is batch norm); layer norm averages "
            "each example over its features, axis=1 with keepdims=True":
                gamma * _standardise(x, (0,), eps) + beta,
            "you used the unbiased variance (ddof=1); layer norm divides by D, ddof=0":
                gamma * _standardise(x, (1,), eps, ddof=1) + beta,
            "eps goes under the square root, sqrt(var + eps)":
                gamma * _standardise(x, (1,), eps, eps_inside=False) + beta,
            "the scale and shift are missing: return gamma * x_hat + beta":
                _standardise(x, (1,), eps),
        }
        expect_close(got, expected, f"layer_norm on x of shape {x.shape} (eps={eps:g})",
                     hints=hints)


# --------------------------------------------------------------------------------------------
# Exercise 3: which axes each method reduces over
# --------------------------------------------------------------------------------------------
_AXES_HINTS: dict[str, dict[tuple[int, ...], str]] = {
    "batch": {
        (0,): "for an (N, C, H, W) tensor batch norm also pools the spatial positions: one "
              "mean per channel over N, H and W (the (0,) of the (N, D) case is not enough)",
        (1, 2, 3): "that is layer norm; batch norm keeps the channel axis and pools N, H, W",
        (2, 3): "that is instance norm; batch norm also pools the batch axis 0",
    },
    "layer": {
        (0, 2, 3): "that is batch norm; layer norm keeps the batch axis and pools C, H, W",
        (1,): "layer norm of an image pools the spatial positions too: axes C, H and W",
        (0, 1, 2, 3): "averaging over everything leaves one number for the whole batch; layer "
                      "norm keeps one mean per example (axis 0 stays)",
    },
    "instance": {
        (1, 2, 3): "that is layer norm; instance norm keeps both N and C: one mean per "
                   "(example, channel)",
        (0, 2, 3): "that is batch norm; instance norm never pools the batch axis",
    },
    "group": {
        (1, 2, 3, 4): "averaging over the group axis 1 pools every channel: that is layer norm; "
                      "keep axes 0 (example) and 1 (group)",
        (3, 4): "only the spatial axes: that is instance norm; also pool the C/G channels of "
                "the group (axis 2)",
        (0, 2, 3, 4): "group norm never pools the batch axis 0",
    },
}


def check_reduce_axes(fn: Callable[[str], tuple[int, ...]]) -> None:
    """Check ``fn(method) -> axes``: the axes the mean and variance are taken over, for
    ``method`` in "batch", "layer", "instance" (axes of an (N, C, H, W) tensor) and "group"
    (axes of the (N, G, C/G, H, W) reshaped tensor). Order does not matter; see
    :data:`REDUCE_AXES`."""
    for method, expected in REDUCE_AXES.items():
        got = call_student(fn, method)
        if isinstance(got, int | np.integer) and not isinstance(got, bool):
            got = (int(got),)
        if not isinstance(got, tuple | list) or not all(
                isinstance(a, int | np.integer) and not isinstance(a, bool) for a in got):
            raise ExerciseError(f"reduce_axes({method!r}) must return a tuple of ints, got "
                                f"{got!r}")
        axes = tuple(sorted(int(a) for a in got))
        if axes == expected:
            continue
        message = (f"reduce_axes({method!r}) returned {tuple(got)}, which is not the set of "
                   f"axes {method} norm averages over")
        hint = _AXES_HINTS[method].get(axes)
        if hint:
            message += f". Hint: {hint}"
        raise ExerciseError(message)


# --------------------------------------------------------------------------------------------
# Exercise 4: the effective weight of weight norm
# --------------------------------------------------------------------------------------------
def check_weightnorm_weight(fn: Callable[..., np.ndarray], seed: int = 0) -> None:
    """Check ``fn(v, g) -> w`` for v (D_in, D_out), g (D_out,) (NumPy layout, out = x @ w):
    w[:, j] = g_j v[:, j] / ||v[:, j]|| (Salimans & Kingma 2016), against the weight
    :func:`trainlab.norm.weightnorm_forward` uses."""
    rng = seeded_rng(seed)
    for d_in, d_out in ((int(rng.integers(3, 7)), int(rng.integers(2, 6))), (4, 4)):
        v = rng.normal(size=(d_in, d_out)) * rng.uniform(0.2, 5.0, d_out)
        g = rng.uniform(0.5, 3.0, d_out)
        got = call_student(fn, v.copy(), g.copy())
        expected = reference.weightnorm_weight(v, g)
        col = np.linalg.norm(v, axis=0)
        row = np.linalg.norm(v, axis=1, keepdims=True)
        hints = {
            "each OUTPUT unit j has its own weight vector, the COLUMN v[:, j] in the NumPy "
            "layout (D_in, D_out): divide by np.linalg.norm(v, axis=0), not axis=1 "
            "(torch's nn.Linear stores the transpose, where it is a row)":
                g * v / row,
            "you divided by the norm of the whole matrix; each column gets its own norm":
                g * v / np.linalg.norm(v),
            "g is missing: w = g * v / ||v||": v / col,
            "divide by the norm ||v[:, j]||, not by its square": g * v / col**2,
        }
        expect_close(got, expected, f"weight-norm weight for v of shape {v.shape}",
                     hints=hints)


def check_layer_norm_backward(fn: Callable[..., Any], seed: int = 0) -> None:
    """Check ``fn(dout, x, gamma, eps) -> (dx (N, D), dgamma (D,), dbeta (D,))`` for layer
    norm of x (N, D) (each example normalised over its D features)."""
    rng = seeded_rng(seed)
    n, d = int(rng.integers(3, 7)), int(rng.integers(4, 9))
    x = rng.normal(rng.uniform(-3, 3, (n, 1)), rng.uniform(0.5, 3, (n, 1)), size=(n, d))
    gamma, eps = rng.uniform(0.5, 2, d), 1e-5
    dout = rng.normal(size=(n, d))
    got = call_student(fn, dout.copy(), x.copy(), gamma.copy(), eps)
    if not isinstance(got, tuple | list) or len(got) != 3:
        raise ExerciseError("layer_norm_backward must return (dx, dgamma, dbeta)")
    dx, dgamma, dbeta = reference.layernorm_backward(dout, x, gamma, eps)
    inv_std = 1.0 / np.sqrt(x.var(1, keepdims=True) + eps)
    expect_close(got[0], dx, "dx", hints={
        "the statistics of layer norm are per EXAMPLE (axis 1); you used batch norm's "
        "per-feature backward": reference.batchnorm_backward(dout, x, gamma, eps)[0],
        "the mean and variance depend on x: their terms are missing": gamma * dout * inv_std})
    expect_close(got[1], dgamma, "dgamma")
    expect_close(got[2], dbeta, "dbeta", hints={"sum over the batch (axis 0)": dout.sum(1)})
