"""Dropout on the inputs of linear regression is ridge regression (Srivastava et al. 2014, §9.1).

Notation (shapes in brackets): data ``X`` (n, d), targets ``y`` (n,), weights ``w`` (d,),
``keep_prob`` = p, the probability of KEEPING an input entry (torch's ``nn.Dropout(p_drop)``
has ``p_drop = 1 - keep_prob``). Dropout multiplies ``X`` elementwise by a mask
``R`` (n, d) with independent entries ``R_ij ~ Bernoulli(p)``; the dropped-out loss is

    L_R(w) = ||y - (R * X) w||^2.

Its expectation over the masks has the closed form (:func:`expected_dropout_loss`)

    E_R L_R(w) = ||y - p X w||^2 + p (1 - p) ||Gamma w||^2,   Gamma = diag(X^T X)^(1/2),

so minimising it is a ridge regression whose penalty on ``w_j`` is weighted by the norm of
feature ``j`` (:func:`gamma_diag`). In the parameterisation ``w~ = p w`` (the weights an
*inverted*-dropout network learns, used unchanged at test time) the minimiser is
(:func:`dropout_ridge_solution`)

    w~ = (X^T X + (1 - p) / p * Gamma^2)^(-1) X^T y,

and for standardised features (column mean 0, population std 1: ``Gamma^2 = n I``) it is plain
ridge with ``lambda = (1 - p) / p * n`` (:func:`standardised_ridge_lambda`).
:func:`dropout_losses` samples ``L_R(w)`` for Monte Carlo checks and :func:`sgd_dropout_regression`
minimises the dropped-out objective by SGD with a fresh mask every step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trainlab.dropout import make_rng

__all__ = [
    "dropout_losses",
    "dropped_out_loss",
    "expected_dropout_loss",
    "gamma_diag",
    "ridge_solution",
    "dropout_ridge_solution",
    "sgd_dropout_regression",
    "standardised_ridge_lambda",
]


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _matrix(X: Any) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be a real numeric array, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have shape (n, d) with n, d >= 1, got shape {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite, got NaN or inf entries")
    return X


def _vector(v: Any, name: str, length: int, what: str) -> np.ndarray:
    v = np.asarray(v)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {v.dtype}")
    if v.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},) ({what}), got shape {v.shape}")
    v = v.astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite, got NaN or inf entries")
    return v


def _data(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = _matrix(X)
    return X, _vector(y, "y", X.shape[0], "one target per row of X")


def _keep_prob(keep_prob: Any) -> float:
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, int | float | np.number):
        raise TypeError(f"keep_prob must be a real number, got {type(keep_prob).__name__}")
    p = float(keep_prob)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r} (the probability of "
                         f"KEEPING an entry; torch's p = 1 - keep_prob)")
    return p


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def _positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------------
def gamma_diag(X: np.ndarray) -> np.ndarray:
    """The diagonal of ``Gamma = diag(X^T X)^(1/2)``: ``gamma_j = ||X[:, j]||_2``; shape (d,).

    X: (n, d). For standardised columns (mean 0, population std 1) every ``gamma_j = sqrt(n)``.
    """
    return np.sqrt(np.sum(_matrix(X) ** 2, axis=0))


def expected_dropout_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                          keep_prob: float) -> float:
    """Closed form of ``E_R ||y - (R * X) w||^2`` with ``R_ij ~ Bernoulli(keep_prob)``.

    X: (n, d), y: (n,), w: (d,); returns the float

        ||y - p X w||^2 + p (1 - p) ||Gamma w||^2,   p = keep_prob, Gamma = diag(X^T X)^(1/2).

    Derivation: ``((R * X) w)_i`` has mean ``p (X w)_i`` and variance
    ``p (1 - p) sum_j X_ij^2 w_j^2``; the expected squared error is squared bias plus variance,
    summed over the n rows.
    """
    X, y = _data(X, y)
    w = _vector(w, "w", X.shape[1], "one weight per column of X")
    p = _keep_prob(keep_prob)
    residual = y - p * (X @ w)
    return float(residual @ residual + p * (1.0 - p) * np.sum((gamma_diag(X) * w) ** 2))


def dropped_out_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                     mask: np.ndarray) -> float:
    """``||y - (R * X) w||^2`` for one given mask ``R`` (n, d) of 0/1 or bool (1 = keep).

    X: (n, d), y: (n,), w: (d,); returns a float. This is the paper's (non-inverted) dropout:
    kept entries are not rescaled.
    """
    X, y = _data(X, y)
    w = _vector(w, "w", X.shape[1], "one weight per column of X")
    R = np.asarray(mask)
    if R.shape != X.shape:
        raise ValueError(f"mask must have X's shape {X.shape}, got {R.shape}")
    if R.dtype.kind not in "biuf" or not np.all((R == 0) | (R == 1)):
        raise ValueError("mask must hold only 0 and 1 (or False/True; 1 = keep)")
    residual = y - (R * X) @ w
    return float(residual @ residual)


def dropout_losses(X: np.ndarray, y: np.ndarray, w: np.ndarray, keep_prob: float,
                   n_masks: int, *, rng: np.random.Generator | int | None = None,
                   chunk: int = 256) -> np.ndarray:
    """``n_masks`` independent samples of ``||y - (R * X) w||^2``, ``R_ij ~ Bernoulli(p)``.

    X: (n, d), y: (n,), w: (d,); returns shape (n_masks,). Their mean is a Monte Carlo estimate
    of :func:`expected_dropout_loss` (``np.cumsum(out) / np.arange(1, n_masks + 1)`` is the
    running estimate). Masks are drawn with ``rng`` (Generator or int seed), ``chunk`` masks
    (a (chunk, n, d) array) at a time to bound memory; a seed and ``chunk`` fix the result.
    """
    X, y = _data(X, y)
    w = _vector(w, "w", X.shape[1], "one weight per column of X")
    p = _keep_prob(keep_prob)
    n_masks = _positive_int(n_masks, "n_masks")
    chunk = _positive_int(chunk, "chunk")
    gen = make_rng(rng)
    out = np.empty(n_masks)
    for start in range(0, n_masks, chunk):
        k = min(chunk, n_masks - start)
        R = gen.random((k, *X.shape)) < p
        residual = y - np.einsum("knd,d->kn", R * X, w)
        out[start:start + k] = np.sum(residual ** 2, axis=1)
    return out


# --------------------------------------------------------------------------------------------
# solutions
# --------------------------------------------------------------------------------------------
def ridge_solution(X: np.ndarray, y: np.ndarray, penalty: float | np.ndarray) -> np.ndarray:
    """Minimiser of ``||y - X w||^2 + sum_j penalty_j w_j^2``; shape (d,).

    X: (n, d), y: (n,), ``penalty`` a scalar lambda >= 0 (plain ridge) or a (d,) vector of
    per-weight penalties >= 0 (weighted ridge). Solves ``(X^T X + diag(penalty)) w = X^T y``;
    raises ValueError when that matrix is singular (e.g. penalty 0 and rank(X) < d).
    """
    X, y = _data(X, y)
    d = X.shape[1]
    pen = np.asarray(penalty, dtype=np.float64)
    if pen.ndim == 0:
        pen = np.full(d, float(pen))
    pen = _vector(pen, "penalty", d, "a scalar or one penalty per column of X")
    if np.any(pen < 0):
        raise ValueError(f"penalty must be >= 0, got min {pen.min()!r}")
    A = X.T @ X + np.diag(pen)
    try:
        return np.linalg.solve(A, X.T @ y)
    except np.linalg.LinAlgError as err:
        raise ValueError("X^T X + diag(penalty) is singular: use a penalty > 0 or X of full "
                         "column rank") from err


def dropout_ridge_solution(X: np.ndarray, y: np.ndarray, keep_prob: float) -> np.ndarray:
    """Minimiser ``w~`` (d,) of the expected dropout loss, in the ``w~ = p w`` parameterisation.

    X: (n, d), y: (n,). ``w* = argmin_w ||y - p X w||^2 + p (1 - p) ||Gamma w||^2`` satisfies
    ``(p X^T X + (1 - p) Gamma^2) w* = X^T y``, i.e.

        w~ = p w* = (X^T X + (1 - p) / p * Gamma^2)^(-1) X^T y,

    a weighted ridge with penalty ``(1 - p) / p * ||X[:, j]||^2`` on ``w~_j``. ``w~`` is what an
    inverted-dropout model learns and uses at test time; the paper's model learns ``w*`` and
    multiplies it by p at test time: the same predictor ``X w~``.
    """
    p = _keep_prob(keep_prob)
    return ridge_solution(X, y, (1.0 - p) / p * gamma_diag(X) ** 2)


def standardised_ridge_lambda(n: int, keep_prob: float) -> float:
    """``lambda = (1 - p) / p * n``: the plain-ridge strength equal to dropout with keep_prob p.

    For n examples whose features are standardised (mean 0, population std 1), ``Gamma^2 = n I``
    and :func:`dropout_ridge_solution` is ``Ridge(alpha=lambda, fit_intercept=False)``'s
    solution (``||y - X w~||^2 + lambda ||w~||^2``). Not ``(1 - p) ||w||^2``: that slip drops
    both the factor p in front of X w and the data-dependent Gamma.
    """
    n = _positive_int(n, "n")
    p = _keep_prob(keep_prob)
    return (1.0 - p) / p * n


def sgd_dropout_regression(X: np.ndarray, y: np.ndarray, keep_prob: float, *, steps: int,
                           lr: float, batch_size: int | None = None, inverted: bool = True,
                           average_from: float = 0.5,
                           rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Minimise the dropped-out objective by SGD with a fresh mask each step; returns (d,).

    X: (n, d), y: (n,). Each step draws ``batch_size`` rows (all n when None) and a mask
    ``R ~ Bernoulli(keep_prob)`` of the batch's shape, and takes a gradient step on the mean
    of ``(y_i - (x~_i . w))^2`` with ``x~ = R * x / p`` (``inverted=True``; the weights are then
    ``w~``, directly comparable with :func:`dropout_ridge_solution`) or ``x~ = R * x``
    (``inverted=False``; the paper's ``w``, multiply by p for test time). Gradient:
    ``-(2 / B) X~^T (y - X~ w)``. The step size decays as ``lr / (1 + t / (steps / 10))`` and
    the returned weights are the average of the iterates after ``average_from * steps``
    (Polyak-Ruppert averaging), which removes most of the mask noise. Starts from w = 0.
    """
    X, y = _data(X, y)
    p = _keep_prob(keep_prob)
    steps = _positive_int(steps, "steps")
    lr = _positive_float(lr, "lr")
    n, d = X.shape
    batch = n if batch_size is None else _positive_int(batch_size, "batch_size")
    if batch > n:
        raise ValueError(f"batch_size must be in [1, {n}] (the number of rows of X), got {batch}")
    if not isinstance(inverted, bool):
        raise TypeError(f"inverted must be a bool, got {inverted!r}")
    if isinstance(average_from, bool) or not isinstance(average_from, int | float) \
            or not 0.0 <= average_from < 1.0:
        raise ValueError(f"average_from must be in [0, 1), got {average_from!r}")
    gen = make_rng(rng)
    scale = 1.0 / p if inverted else 1.0
    w = np.zeros(d)
    total, count = np.zeros(d), 0
    first_avg = int(average_from * steps)
    for t in range(steps):
        rows = gen.choice(n, size=batch, replace=False) if batch < n else slice(None)
        Xt = X[rows] * (gen.random((batch, d)) < p) * scale
        grad = -2.0 / batch * Xt.T @ (y[rows] - Xt @ w)
        w = w - lr / (1.0 + 10.0 * t / steps) * grad
        if t >= first_avg:
            total += w
            count += 1
    return total / count
