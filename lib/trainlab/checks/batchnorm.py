"""Checks for the "check yourself" exercises of lessons 04 (batch norm) and 05 (why it works).

Every check draws fresh inputs from ``seed``, calls the learner's function and compares the
result with trainlab's reference (:mod:`trainlab.norm`, :mod:`trainlab.modules`,
:mod:`trainlab.landscape`). When an answer matches a common slip (the unbiased variance in the
forward pass, the mean term missing from the backward pass, CS231n's momentum convention, a
step taken uphill...) the error message names it.

Lesson 04: :func:`check_bn_forward`, :func:`check_bn_backward`, :func:`check_running_update`,
:func:`check_fold_linear`. Lesson 05: :func:`check_loss_variation`,
:func:`check_lipschitz_estimate`, :func:`check_quadratic_beta`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainlab.checks import ExerciseError, call_student, expect_close, reference
from trainlab.checks.reference import lipschitz_1d, loss_along_gradient

__all__ = [
    "check_spatial_bn",
    "check_bn_eval",
    "check_bn_backward",
    "check_bn_forward",
    "check_fold_linear",
    "check_lipschitz_estimate",
    "check_loss_variation",
    "check_quadratic_beta",
    "check_running_update",
    "quadratic",
]


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng(int(seed))


def _tuple(result: Any, n: int, what: str) -> tuple[Any, ...]:
    if not isinstance(result, tuple | list) or len(result) != n:
        raise ExerciseError(f"{what}: expected a tuple of {n} arrays, got {type(result).__name__}"
                            + (f" of length {len(result)}" if isinstance(result, tuple | list)
                               else ""))
    return tuple(result)


def _batch(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, ...]:
    """x (n, d) with per-feature offsets and scales far from (0, 1), and gamma, beta (d,)."""
    x = rng.normal(rng.uniform(-3, 3, d), rng.uniform(0.5, 4, d), size=(n, d))
    return x, rng.uniform(0.5, 2.0, d), rng.normal(0, 1, d)


# --------------------------------------------------------------------------------------------
# Lesson 04, exercise 1: the forward pass in training mode
# --------------------------------------------------------------------------------------------
def check_bn_forward(fn: Callable[..., np.ndarray], seed: int = 0) -> None:
    """Check ``fn(x, gamma, beta, eps) -> y`` (x (N, D), y (N, D)) against Algorithm 1 of
    Ioffe & Szegedy (2015): y = gamma (x - mu_B) / sqrt(sigma_B^2 + eps) + beta with the
    batch mean and *biased* batch variance per feature (reference:
    :func:`trainlab.norm.batchnorm_forward`)."""
    rng = _rng(seed)
    for n, d in ((int(rng.integers(4, 9)), int(rng.integers(3, 7))), (2, 3)):
        x, gamma, beta = _batch(rng, n, d)
        eps = float(rng.choice([1e-5, 1e-3, 0.5]))
        got = call_student(fn, x.copy(), gamma.copy(), beta.copy(), eps)
        expected = reference.batchnorm(x, gamma, beta, eps)
        mu, var = x.mean(0), x.var(0)
        hints = {
            "you divided by the unbiased variance (ddof=1, 1/(N-1)); Algorithm 1 normalises "
            "with the biased one, 1/N":
                gamma * (x - mu) / np.sqrt(x.var(0, ddof=1) + eps) + beta,
            "you normalised each example over its features (axis=1: that is layer norm); batch "
            "norm averages over the batch, axis=0":
                gamma * (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
                + beta,
            "the scale and shift are missing: return gamma * x_hat + beta":
                (x - mu) / np.sqrt(var + eps),
            "eps goes under the square root, sqrt(var + eps)":
                gamma * (x - mu) / (np.sqrt(var) + eps) + beta,
        }
        expect_close(got, expected, f"bn_forward on x of shape {x.shape} (eps={eps:g})",
                     hints=hints)


# --------------------------------------------------------------------------------------------
# Lesson 04, exercise 2: the backward pass
# --------------------------------------------------------------------------------------------
def check_bn_backward(fn: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]],
                      seed: int = 0) -> None:
    """Check ``fn(dout, x, gamma, eps) -> (dx, dgamma, dbeta)`` for training-mode batch norm
    (x, dout (N, D); gamma (D,)) against :func:`trainlab.norm.batchnorm_backward`."""
    rng = _rng(seed)
    for n, d in ((int(rng.integers(4, 9)), int(rng.integers(3, 7))), (3, 2)):
        x, gamma, beta = _batch(rng, n, d)
        dout = rng.normal(size=(n, d))
        eps = 1e-5
        got = _tuple(call_student(fn, dout.copy(), x.copy(), gamma.copy(), eps), 3,
                     "bn_backward")
        dx, dgamma, dbeta = reference.batchnorm_backward(dout, x, gamma, eps)
        inv_std = 1.0 / np.sqrt(x.var(0) + eps)
        x_hat = (x - x.mean(0)) * inv_std
        expect_close(got[2], dbeta, "dbeta", hints={
            "dbeta sums dout over the batch (axis 0)": dout.mean(0)})
        expect_close(got[1], dgamma, "dgamma", hints={
            "dgamma multiplies dout by x_hat (the normalised input), not by x":
                (dout * x).sum(0)})
        hints = {
            "the mean term is missing: mu_B depends on every x_i, so dx needs "
            "- mean_i(dx_hat_i) (the dl/dmu_B path)":
                gamma * inv_std * (dout - x_hat * (dout * x_hat).mean(0)),
            "the variance term is missing: sigma_B^2 depends on every x_i, so dx needs "
            "- x_hat * mean_i(dx_hat_i x_hat_i) (the dl/dsigma_B^2 path)":
                gamma * inv_std * (dout - dout.mean(0)),
            "you treated mu_B and sigma_B^2 as constants (that is the eval-mode gradient); in "
            "training mode they depend on x": gamma * inv_std * dout,
            "gamma is missing: dl/dx_hat = dout * gamma":
                inv_std * (dout - dout.mean(0) - x_hat * (dout * x_hat).mean(0)),
        }
        expect_close(got[0], dx, f"dx on a batch of shape {x.shape}", hints=hints)


# --------------------------------------------------------------------------------------------
# Lesson 04, exercise 3: running averages with torch's momentum convention
# --------------------------------------------------------------------------------------------
def check_running_update(fn: Callable[..., tuple[np.ndarray, np.ndarray]],
                         seed: int = 0) -> None:
    """Check ``fn(running_mean, running_var, x, momentum) -> (new_mean, new_var)``:
    new = (1 - momentum) old + momentum batch, where the batch variance is the unbiased one,
    m/(m-1) sigma_B^2 (torch's convention; reference :class:`trainlab.norm.RunningStats`)."""
    rng = _rng(seed)
    for momentum in (0.1, float(rng.uniform(0.02, 0.3))):
        n, d = int(rng.integers(4, 9)), int(rng.integers(2, 6))
        x, _, _ = _batch(rng, n, d)
        mean0, var0 = rng.normal(size=d), rng.uniform(0.5, 2.0, d)
        got = _tuple(call_student(fn, mean0.copy(), var0.copy(), x.copy(), momentum), 2,
                     "update_running")
        ref_mean, ref_var = reference.running_update(mean0, var0, x, momentum)
        cs231n = "you used CS231n's convention (old value weighted by momentum); torch " \
                 "weights the NEW batch statistic by momentum: (1 - m) old + m batch"
        expect_close(got[0], ref_mean, f"new running mean (momentum={momentum:.3f})", hints={
            cs231n: momentum * mean0 + (1 - momentum) * x.mean(0)})
        expect_close(got[1], ref_var, f"new running var (momentum={momentum:.3f})", hints={
            "the running variance averages the UNBIASED batch variance m/(m-1) sigma_B^2 "
            "(np.var(x, axis=0, ddof=1))": (1 - momentum) * var0 + momentum * x.var(0),
            cs231n: momentum * var0 + (1 - momentum) * x.var(0, ddof=1)})


# --------------------------------------------------------------------------------------------
# Lesson 04, exercise 4: folding batch norm into the linear layer before it
# --------------------------------------------------------------------------------------------
def check_fold_linear(fn: Callable[..., tuple[np.ndarray, np.ndarray]], seed: int = 0) -> None:
    """Check ``fn(w, b, gamma, beta, mean, var, eps) -> (w2, b2)`` with w (D_in, D_out) (NumPy
    layout, out = x @ w + b) and the eval-mode BN parameters (D_out,): x @ w2 + b2 must equal
    gamma (x @ w + b - mean) / sqrt(var + eps) + beta, i.e. w2 = w k, b2 = (b - mean) k + beta
    with k = gamma / sqrt(var + eps) (reference :func:`trainlab.modules.fold_batchnorm`)."""
    rng = _rng(seed)
    d_in, d_out = int(rng.integers(3, 6)), int(rng.integers(6, 9))
    w, b = rng.normal(size=(d_in, d_out)), rng.normal(size=d_out)
    gamma, beta = rng.uniform(0.5, 2, d_out), rng.normal(size=d_out)
    mean, var, eps = rng.normal(size=d_out), rng.uniform(0.01, 3, d_out), 1e-3
    got = _tuple(call_student(fn, w.copy(), b.copy(), gamma.copy(), beta.copy(), mean.copy(),
                              var.copy(), eps), 2, "fold_bn_into_linear")
    w2, b2 = reference.fold_batchnorm(w, b, gamma, beta, mean, var, eps)
    k = gamma / np.sqrt(var + eps)
    expect_close(got[0], w2, "folded weight w2 (shape (D_in, D_out))", hints={
        "each output column j of w is scaled by k_j = gamma_j / sqrt(var_j + eps); you "
        "divided by the std without gamma": w / np.sqrt(var + eps),
        "eps goes under the square root": w * gamma / (np.sqrt(var) + eps)})
    expect_close(got[1], b2, "folded bias b2", hints={
        "the running mean must be subtracted before scaling: b2 = (b - mean) k + beta":
            b * k + beta,
        "beta (the shift) is missing from b2": (b - mean) * k,
        "scale (b - mean) by k before adding beta": b - mean + beta})
    x = rng.normal(size=(5, d_in))
    bn_out = gamma * (x @ w + b - mean) / np.sqrt(var + eps) + beta
    expect_close(x @ np.asarray(got[0]) + np.asarray(got[1]), bn_out,
                 "x @ w2 + b2 against bn(x @ w + b)")


# --------------------------------------------------------------------------------------------
# Lesson 05: loss landscape exercises
# --------------------------------------------------------------------------------------------
def quadratic(a: np.ndarray, b: np.ndarray) -> tuple[Callable[[np.ndarray], float],
                                                     Callable[[np.ndarray], np.ndarray]]:
    """f(x) = 1/2 x^T A x - b^T x and its gradient A x - b for a symmetric A (D, D), b (D,)."""
    return (lambda x: float(0.5 * x @ a @ x - b @ x)), (lambda x: a @ x - b)


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (q * rng.uniform(0.2, 5.0, d)) @ q.T


def check_loss_variation(fn: Callable[..., np.ndarray], seed: int = 0) -> None:
    """Check ``fn(a, b, x, etas) -> losses`` (K,): losses[k] = f(x - eta_k grad f(x)) for
    f(x) = 1/2 x^T A x - b^T x (reference :func:`trainlab.landscape.loss_along_gradient`)."""
    rng = _rng(seed)
    for d in (int(rng.integers(2, 6)), 1):
        a, b, x = _spd(rng, d), rng.normal(size=d), rng.normal(size=d)
        etas = np.sort(rng.uniform(0.05, 0.4, 4))
        got = call_student(fn, a.copy(), b.copy(), x.copy(), etas.copy())
        f, grad = quadratic(a, b)
        expected, _ = loss_along_gradient(f, grad, x, etas)
        g = grad(x)
        expect_close(got, expected, f"losses along the gradient (D={d})", hints={
            "you stepped uphill, x + eta g; gradient descent moves to x - eta g":
                [f(x + e * g) for e in etas],
            "the gradient of 1/2 x^T A x - b^T x is A x - b (the -b is missing)":
                [f(x - e * (a @ x)) for e in etas],
            "return the loss f(x - eta g), not its change from f(x)":
                [f(x - e * g) - f(x) for e in etas]})


def check_lipschitz_estimate(fn: Callable[..., float], seed: int = 0) -> None:
    """Check ``fn(f, lo, hi, n) -> L``: the largest slope |f(t_{i+1}) - f(t_i)| / (t_{i+1} - t_i)
    over an even grid of n points of [lo, hi] (reference
    :func:`trainlab.landscape.lipschitz_constant_1d`), on f(t) = c sin(w t) + s t."""
    rng = _rng(seed)
    for _ in range(2):
        c, w, s = rng.uniform(0.5, 2), rng.uniform(1, 4), rng.uniform(-1, 1)

        def f(t: np.ndarray, c: float = c, w: float = w, s: float = s) -> np.ndarray:
            return c * np.sin(w * t) + s * t

        lo, hi, n = -float(rng.uniform(1, 3)), float(rng.uniform(1, 3)), 2001
        raw = call_student(fn, f, lo, hi, n)
        got = np.asarray(raw, dtype=np.float64)
        if got.size != 1:
            raise ExerciseError(f"lipschitz_estimate: expected one number, got {raw!r}")
        t = np.linspace(lo, hi, n)
        expect_close(got.reshape(()), lipschitz_1d(f, lo, hi, n),
                     f"Lipschitz estimate of {c:.2f} sin({w:.2f} t) + {s:.2f} t on "
                     f"[{lo:.2f}, {hi:.2f}]", tol=1e-8, hints={
                         "divide each difference by the grid step (a slope, not a jump)":
                             np.max(np.abs(np.diff(f(t)))),
                         "the constant bounds the slope |f(t) - f(s)| / |t - s|, not the "
                         "value |f|": np.max(np.abs(f(t))),
                         "take the absolute value: a steep descent counts as much as a "
                         "steep ascent": np.max(np.diff(f(t)) / np.diff(t))})


def check_quadratic_beta(fn: Callable[..., float], seed: int = 0) -> None:
    """Check ``fn(a, x, etas) -> beta``: the effective beta-smoothness of f(x) = 1/2 x^T A x
    along the gradient, max_k ||g - grad f(x - eta_k g)|| / ||eta_k g||, which for a quadratic
    equals ||A g|| / ||g|| (at most the largest eigenvalue of A)."""
    rng = _rng(seed)
    for d in (int(rng.integers(2, 6)), 3):
        a, x = _spd(rng, d), rng.normal(size=d)
        etas = np.sort(rng.uniform(0.05, 0.4, 5))
        raw = call_student(fn, a.copy(), x.copy(), etas.copy())
        got = np.asarray(raw, dtype=np.float64)
        if got.size != 1:
            raise ExerciseError(f"quadratic_beta: expected one number, got {raw!r}")
        f, grad = quadratic(a, np.zeros(d))
        _, changes = loss_along_gradient(f, grad, x, etas)
        g_norm = np.linalg.norm(a @ x)
        expected = float(np.max(changes / (etas * g_norm)))
        expect_close(got.reshape(()), expected, f"effective beta-smoothness (D={d})", hints={
            "divide the gradient change by the distance moved, ||eta g||, not just by eta":
                np.max(changes / etas),
            "divide by the distance moved ||eta g||; you returned the largest gradient change "
            "itself": np.max(changes)})


# --------------------------------------------------------------------------------------------
# Lesson 04, exercises 5 and 6: evaluation mode and spatial batch norm
# --------------------------------------------------------------------------------------------
def check_bn_eval(fn: Callable[..., np.ndarray], seed: int = 0) -> None:
    """Check ``fn(x, gamma, beta, running_mean, running_var, eps) -> out``: eval-mode batch
    norm of x (N, D) with the running statistics (D,), the same for a batch of one."""
    rng = _rng(seed)
    for n in (int(rng.integers(4, 9)), 1):
        d = int(rng.integers(3, 7))
        x, gamma, beta = _batch(rng, n, d)
        mean, var, eps = rng.normal(size=d), rng.uniform(0.5, 3, d), 1e-5
        got = call_student(fn, x.copy(), gamma.copy(), beta.copy(), mean.copy(), var.copy(), eps)
        expected = gamma * (x - mean) / np.sqrt(var + eps) + beta
        hints = {"eval mode uses the RUNNING statistics, not those of the batch":
                 reference.batchnorm(x, gamma, beta, eps)} if n > 1 else {}
        expect_close(got, expected, f"eval-mode batch norm of a batch of {n}", hints=hints)


def check_spatial_bn(fn: Callable[..., np.ndarray], seed: int = 0) -> None:
    """Check ``fn(x, gamma, beta, eps) -> out``: training-mode batch norm of images x
    (N, C, H, W), one mean and variance per channel over N, H and W; gamma, beta (C,)."""
    rng = _rng(seed)
    n, c, h, w = 3, int(rng.integers(2, 5)), 4, 5
    x = rng.normal(rng.uniform(-3, 3, (1, c, 1, 1)), rng.uniform(0.5, 3, (1, c, 1, 1)),
                   size=(n, c, h, w))
    gamma, beta, eps = rng.uniform(0.5, 2, c), rng.normal(size=c), 1e-5
    got = call_student(fn, x.copy(), gamma.copy(), beta.copy(), eps)
    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)
    expected = reference.batchnorm(flat, gamma, beta, eps).reshape(n, h, w, c).transpose(0, 3, 1, 2)
    g4, b4 = gamma.reshape(1, c, 1, 1), beta.reshape(1, c, 1, 1)
    expect_close(got, expected, f"spatial batch norm of x {x.shape}", hints={
        "average over N, H and W (axes 0, 2, 3): every position of a channel shares one mean":
            g4 * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + b4,
        "that normalises each example (layer norm); batch norm pools the batch per channel":
            g4 * (x - x.mean((1, 2, 3), keepdims=True))
            / np.sqrt(x.var((1, 2, 3), keepdims=True) + eps) + b4})
