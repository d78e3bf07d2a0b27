"""Checks for the exercises of lesson 07 (alternatives to batch norm).

Every check draws fresh inputs from ``seed``, calls the learner's function and compares the
result with trainlab's reference (:mod:`trainlab.norm`). When an answer matches a common slip
(normalising over the wrong axes, the unbiased variance, eps outside the square root, the
weight normalised along the wrong axis...) the error message names it.

:func:`check_group_norm`; the track's layer norm, :func:`check_layernorm_layer`
(``layernorm_forward(x, gamma, beta, ln_param) -> (out, cache)``) and
:func:`check_layernorm_layer_backward` (``layernorm_backward(dout, cache)``, with the learner's
own cache); the experiment of batch norm against group norm as the batch shrinks,
:func:`check_batch_noise`.
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
)
from trainlab.gradcheck import rel_error

__all__ = [
    "check_batch_noise",
    "check_group_norm",
    "check_layernorm_layer",
    "check_layernorm_layer_backward",
]

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
# Exercises 2 and 3: the track's layer norm, forward and backward
# --------------------------------------------------------------------------------------------
def _ln_forward(fn: Callable[..., Any], x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                ln_param: dict[str, Any]) -> tuple[np.ndarray, Any]:
    name = getattr(fn, "__name__", "layernorm_forward")
    x_in = x.copy()
    out, cache = result_tuple(call_student(fn, x_in, gamma.copy(), beta.copy(),
                                           dict(ln_param)), 2, name)
    if not np.array_equal(x_in, x):
        raise ExerciseError(f"{name} changed x in place; return a new array")
    return np.asarray(out, dtype=np.float64), cache


def check_layernorm_layer(fn: Callable[..., Any], seed: int = 0) -> None:
    """Check the track's ``fn(x, gamma, beta, ln_param) -> (out, cache)`` for x (N, D),
    gamma, beta (D,), ln_param {"eps"} (1e-5 when absent) against
    :func:`trainlab.norm.layernorm_forward` (Ba et al. 2016): each example normalised over its
    D features, y = gamma (x - mu_n) / sqrt(var_n + eps) + beta; a batch of one included."""
    rng = seeded_rng(seed)
    name = getattr(fn, "__name__", "layernorm_forward")
    for n, d, eps in ((int(rng.integers(3, 8)), int(rng.integers(4, 9)), 0.5), (1, 5, 1e-2),
                      (6, 6, None)):
        x = _activations(rng, (n, d)) * (0.01 if eps is None else 1.0)  # small: eps shows
        gamma, beta = rng.uniform(0.5, 2.0, d), rng.normal(size=d)
        got, _ = _ln_forward(fn, x, gamma, beta, {} if eps is None else {"eps": eps})
        e = 1e-5 if eps is None else eps
        hints = {
            "you averaged over the batch (axis=0: that is batch norm); layer norm averages "
            "each example over its features, axis=1 with keepdims=True":
                gamma * _standardise(x, (0,), e) + beta,
            "you used the unbiased variance (ddof=1); layer norm divides by D, ddof=0":
                gamma * _standardise(x, (1,), e, ddof=1) + beta,
            "eps goes under the square root, sqrt(var + eps)":
                gamma * _standardise(x, (1,), e, eps_inside=False) + beta,
            "the scale and shift are missing: return gamma * x_hat + beta":
                _standardise(x, (1,), e),
        }
        if eps is None:
            hints["without 'eps' in ln_param use eps = 1e-5"] = \
                gamma * _standardise(x, (1,), 0.0) + beta
        what = f"{name} on x of shape {x.shape} with ln_param " + \
            ("{} (eps = 1e-5)" if eps is None else f"{{'eps': {eps:g}}}")
        expect_close(got, reference.layernorm(x, gamma, beta, e), what, hints=hints)


def check_layernorm_layer_backward(forward: Callable[..., Any], backward: Callable[..., Any],
                                   seed: int = 0) -> None:
    """Check ``backward(dout, cache) -> (dx (N, D), dgamma (D,), dbeta (D,))`` with the cache of
    the learner's own ``forward(x, gamma, beta, ln_param)`` against the reference gradients
    of layer norm (each example's mean and variance depend on all of its features)."""
    rng = seeded_rng(seed)
    name = getattr(backward, "__name__", "layernorm_backward")
    n, d = int(rng.integers(3, 7)), int(rng.integers(4, 9))
    x = rng.normal(rng.uniform(-3, 3, (n, 1)), rng.uniform(0.5, 3, (n, 1)), size=(n, d))
    gamma, beta, eps = rng.uniform(0.5, 2, d), rng.normal(size=d), 1e-5
    dout = rng.normal(size=(n, d))
    out, cache = _ln_forward(forward, x, gamma, beta, {"eps": eps})
    if rel_error(out, reference.layernorm(x, gamma, beta, eps)) > 1e-6:
        raise ExerciseError("your layernorm_forward does not pass its check yet: fix "
                            "exercise 2 first")
    dout_in = dout.copy()
    got = result_tuple(call_student(backward, dout_in, cache), 3, name)
    if not np.array_equal(dout_in, dout):
        raise ExerciseError(f"{name} changed dout in place; return new arrays")
    dx, dgamma, dbeta = reference.layernorm_backward(dout, x, gamma, eps)
    inv_std = 1.0 / np.sqrt(x.var(1, keepdims=True) + eps)
    expect_close(got[0], dx, f"{name}: dx", hints={
        "the statistics of layer norm are per EXAMPLE (axis 1); you used batch norm's "
        "per-feature backward": reference.batchnorm_backward(dout, x, gamma, eps)[0],
        "the mean and variance depend on x: their terms are missing": gamma * dout * inv_std,
        "gamma is missing: the gradient reaching x_hat is dout * gamma":
            reference.layernorm_backward(dout, x, np.ones(d), eps)[0]})
    expect_close(got[1], dgamma, f"{name}: dgamma", hints={
        "dgamma = sum over the batch of dout * x_hat (x_hat, not x)": (dout * x).sum(0)})
    expect_close(got[2], dbeta, f"{name}: dbeta", hints={"sum over the batch (axis 0)":
                                                           dout.sum(1)})


# --------------------------------------------------------------------------------------------
# Exercise 4: batch norm against group norm as the batch shrinks
# --------------------------------------------------------------------------------------------
NOISE_KEYS = ("bn_vs_population", "bn_batchmates", "gn_batchmates", "bn_values", "gn_values")


def _batch_noise(x: np.ndarray, b: int, g: int, seed: int, *, ddof: int = 0,
                 spatial_stats: bool = True, undo: bool = True) -> dict[str, float]:
    """The reference of :func:`check_batch_noise`; the keywords make its slips."""
    n, c = x.shape[:2]
    spatial = tuple(range(2, x.ndim))
    pooled = spatial if spatial_stats else ()

    def standardise(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return _standardise(a, axes, 1e-5, ddof=ddof)

    def bn(a: np.ndarray) -> np.ndarray:
        ghost = a.reshape((n // b, b) + a.shape[1:])
        return standardise(ghost, tuple(k + 1 for k in (0,) + pooled)).reshape(a.shape)

    def gn(a: np.ndarray) -> np.ndarray:
        return standardise(a.reshape(n, g, -1), (2,)).reshape(a.shape)

    perm = np.random.default_rng(seed).permutation(n)
    back = np.argsort(perm) if undo else np.arange(n)
    positions = int(np.prod(x.shape[2:]))
    return {"bn_vs_population": float(np.abs(bn(x) - standardise(x, (0,) + pooled)).mean()),
            "bn_batchmates": float(np.abs(bn(x) - bn(x[perm])[back]).mean()),
            "gn_batchmates": float(np.abs(gn(x) - gn(x[perm])[back]).mean()),
            "bn_values": float(b * positions), "gn_values": float(c // g * positions)}


def check_batch_noise(fn: Callable[..., Any], seed: int = 0) -> None:
    """Check ``fn(x, batch_size, num_groups, seed) -> dict`` of exercise 4 on activations of
    both layouts, (N, C) and (N, C, H, W), at two batch sizes: BN_B normalises each run of
    ``batch_size`` consecutive examples with that run's per-channel mean and biased variance
    (over the examples and, for images, the positions), BN_all with all N examples, group norm
    each example's group of C/G consecutive channels (gamma = 1, beta = 0, eps = 1e-5);
    "bn_batchmates" / "gn_batchmates" compare each example's output with its output when the
    examples are reordered by ``np.random.default_rng(seed).permutation(N)`` (and put back)."""
    rng = seeded_rng(seed)
    name = getattr(fn, "__name__", "batch_noise")
    cases = (((24, 6), 2, 3), ((24, 6), 8, 2), ((16, 4, 3, 3), 2, 2), ((16, 4, 3, 3), 4, 4))
    for shape, b, g in cases:
        x = _activations(rng, shape)
        s = int(rng.integers(0, 10_000))
        x_in = x.copy()
        got = call_student(fn, x_in, b, g, s)
        if not np.array_equal(x_in, x):
            raise ExerciseError(f"{name} changed x in place")
        if not isinstance(got, dict) or not set(NOISE_KEYS) <= set(got):
            raise ExerciseError(f"{name} must return a dict with the keys {list(NOISE_KEYS)}")
        want = _batch_noise(x, b, g, s)
        slips = {"you used the unbiased variance (ddof=1); batch and group norm divide by the "
                 "number of values": _batch_noise(x, b, g, s, ddof=1),
                 "batch norm of an image pools the positions too: one mean per channel over "
                 "the examples AND H, W": _batch_noise(x, b, g, s, spatial_stats=False),
                 "put the reordered outputs back in the original order (index with "
                 "np.argsort(perm)) before comparing": _batch_noise(x, b, g, s, undo=False)}
        for key in NOISE_KEYS:
            what = f"{name}(x of shape {shape}, batch_size={b}, num_groups={g})[{key!r}]"
            if np.ndim(got[key]) != 0:
                raise ExerciseError(f"{what} must be one number, got shape "
                                    f"{np.shape(got[key])}")
            if want[key] == 0.0:  # group norm ignores the batch-mates: exactly 0 up to rounding
                if abs(float(got[key])) > 1e-9:
                    raise ExerciseError(f"{what} is {float(got[key]):.3g}, expected 0: group norm "
                                        "normalises each example with its own statistics")
                continue
            expect_close(float(got[key]), want[key], what, tol=1e-6,
                         hints={h: v[key] for h, v in slips.items() if v[key] != want[key]})
