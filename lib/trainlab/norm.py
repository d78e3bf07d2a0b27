"""Normalisation layers as NumPy forward/backward pairs.

- batch norm (Ioffe & Szegedy 2015) for (N, D) and, per channel, for (N, C, H, W), with
  running statistics, the paper's inference statistics, the paper's step-by-step backward pass
  and the compact closed-form one;
- layer norm (Ba et al. 2016), instance norm (Ulyanov et al. 2016), group norm (Wu & He 2018);
- lp batch norm (Santurkar et al. 2018): the std replaced by an lp norm of the centred batch;
- weight norm (Salimans & Kingma 2016).

Every layer is a pair ``out, cache = xxx_forward(...)`` / ``grads = xxx_backward(dout, cache)``
returning the gradients in the order of the differentiable inputs, e.g. (dx, dgamma, dbeta).

Running-average convention (torch's, used here)::

    running = (1 - momentum) * running + momentum * batch_statistic      # momentum = 0.1

CS231n's assignments write ``running = momentum * running + (1 - momentum) * batch`` with
momentum = 0.9: the same average, with the name given to the other weight. As in torch, the
running variance averages the UNBIASED batch variance m / (m - 1) * sigma_B^2, the one the
paper's inference step uses, while the batch itself is normalised with the biased sigma_B^2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainlab.conventions import renamed
from trainlab.layers import (
    _as_float_array,
    _check_cache,
    _check_group_size,
    _check_in_range,
    _check_ndim,
    _check_positive,
    _check_real,
    _check_shape,
)

__all__ = [
    "RunningStats",
    "batchnorm_backward",
    "batchnorm_backward_paper",
    "batchnorm_forward",
    "groupnorm_backward",
    "groupnorm_forward",
    "instancenorm_backward",
    "instancenorm_forward",
    "layernorm_backward",
    "layernorm_forward",
    "lp_batchnorm_backward",
    "lp_batchnorm_forward",
    "population_stats",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "weightnorm_backward",
    "weightnorm_forward",
]

MODES = ("train", "eval")


# --------------------------------------------------------------------------------------------
# Running statistics
# --------------------------------------------------------------------------------------------

@dataclass
class RunningStats:
    """Running mean and variance of batch norm, shapes (D,), updated in place.

    ``count`` is the number of training batches seen (torch's ``num_batches_tracked``).
    :meth:`zeros` starts like torch: mean 0, variance 1, count 0.
    """

    mean: np.ndarray
    var: np.ndarray
    count: int = 0

    @classmethod
    def zeros(cls, num_features: int, dtype: Any = np.float64) -> RunningStats:
        """Fresh statistics for ``num_features`` features: mean = 0, var = 1 (torch's start)."""
        if isinstance(num_features, bool) or not isinstance(num_features, int | np.integer) \
                or num_features < 1:
            raise ValueError(f"num_features must be an int >= 1, got {num_features!r}")
        return cls(np.zeros(num_features, dtype), np.ones(num_features, dtype), 0)

    def update(self, batch_mean: np.ndarray, batch_var_unbiased: np.ndarray,
               momentum: float | None) -> None:
        """One training step, in place:
        running = (1 - momentum) running + momentum batch, with momentum = 1 / count when
        ``momentum`` is None (the cumulative average of all batches, as torch does)."""
        self.count += 1
        factor = 1.0 / self.count if momentum is None else momentum
        for run, batch in ((self.mean, batch_mean), (self.var, batch_var_unbiased)):
            run *= 1.0 - factor
            run += factor * batch


def _check_running(running: Any, d: int) -> RunningStats:
    if not isinstance(running, RunningStats):
        raise TypeError(f"running must be a RunningStats (or None), got "
                        f"{type(running).__name__}")
    for name in ("mean", "var"):
        arr = getattr(running, name)
        if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
            raise TypeError(f"running.{name} must be a float NumPy array, got "
                            f"{type(arr).__name__}")
        _check_shape(arr, f"running.{name}", (d,), "one entry per feature of x")
    if not (np.isfinite(running.mean).all() and np.isfinite(running.var).all()
            and (running.var >= 0).all()):
        raise ValueError(f"running must hold finite statistics with var >= 0, got mean "
                         f"{running.mean} and var {running.var}")
    return running


def population_stats(batches: Iterable[np.ndarray]) -> RunningStats:
    """The paper's inference statistics (Ioffe & Szegedy 2015, Algorithm 2, step 10).

    ``batches``: training mini-batches, each (m_b, D) with m_b >= 2. Returns
    E[x] = mean over batches of mu_B and Var[x] = mean over batches of m_b / (m_b - 1) sigma_B^2
    (with equal batch sizes m this is the paper's m / (m - 1) * E_B[sigma_B^2]).
    This is also what torch's running statistics hold with ``momentum=None``.
    """
    means, variances = [], []
    for i, batch in enumerate(batches):
        b = _as_float_array(batch, f"batches[{i}]")
        _check_ndim(b, f"batches[{i}]", 2, "(m, D)")
        if b.shape[0] < 2:
            raise ValueError(f"batches[{i}] must hold at least 2 examples for an unbiased "
                             f"variance, got shape {b.shape}")
        if means and b.shape[1] != means[0].shape[0]:
            raise ValueError(f"batches[{i}] has D = {b.shape[1]} features, batches[0] has "
                             f"{means[0].shape[0]}")
        means.append(b.mean(axis=0))
        variances.append(b.var(axis=0, ddof=1))
    if not means:
        raise ValueError("batches must hold at least one batch, got none")
    return RunningStats(np.mean(means, axis=0), np.mean(variances, axis=0), len(means))


# --------------------------------------------------------------------------------------------
# Shared checks and the standardisation used by layer, instance and group norm
# --------------------------------------------------------------------------------------------

def _check_mode(mode: Any) -> str:
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str, one of {MODES}, got {mode!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def _check_momentum(momentum: Any) -> float | None:
    if momentum is None:
        return None
    return _check_in_range(momentum, "momentum", 0.0, 1.0, "[0, 1] (or None for a cumulative "
                           "average)")


def _affine_params(gamma: Any, beta: Any, shape: tuple[int, ...],
                   why: str) -> tuple[np.ndarray, np.ndarray]:
    gamma = _as_float_array(gamma, "gamma")
    beta = _as_float_array(beta, "beta")
    _check_shape(gamma, "gamma", shape, why)
    _check_shape(beta, "beta", shape, why)
    return gamma, beta


def _check_dout(dout: Any, shape: tuple[int, ...]) -> np.ndarray:
    dout = _as_float_array(dout, "dout")
    _check_shape(dout, "dout", shape, "the shape of the forward output")
    return dout


def _check_var(var: np.ndarray, x: np.ndarray) -> None:
    """A finite x whose variance overflows would be normalised to 0 without a word: refuse it.
    (Non-finite x propagates, as in torch.)"""
    if not np.isfinite(var).all() and np.isfinite(x).all():
        raise ValueError(f"x is too large to normalise in {x.dtype}: its variance overflows to "
                         f"inf (largest |x| = {np.abs(x).max():.3g}); rescale x")


def _standardize(xr: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """x_hat = (x - mean) / sqrt(var + eps) along the last axis (biased var); returns
    (x_hat, inv_std) with inv_std keeping the reduced axis."""
    with np.errstate(over="ignore", invalid="ignore"):
        x_hat = xr - xr.mean(axis=-1, keepdims=True)
        var = np.mean(x_hat * x_hat, axis=-1, keepdims=True)
    _check_var(var, xr)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std
    return x_hat, inv_std


def _standardize_backward(dxhat: np.ndarray, x_hat: np.ndarray,
                          inv_std: np.ndarray) -> np.ndarray:
    """Gradient through x_hat = (x - mean) / sqrt(var + eps) along the last axis:
    dx = inv_std (dxhat - mean(dxhat) - x_hat mean(dxhat x_hat))."""
    dx = x_hat * -np.mean(dxhat * x_hat, axis=-1, keepdims=True)
    dx += dxhat
    dx -= dxhat.mean(axis=-1, keepdims=True)
    dx *= inv_std
    return dx


# --------------------------------------------------------------------------------------------
# Batch norm
# --------------------------------------------------------------------------------------------

_BN_FIX = "use mode='eval' with running statistics or a batch of at least 2"


def _batch_label(layer: str, m: int) -> str:
    """``layer`` with what its batch is: "(a batch of one)" or "(an empty batch)"."""
    return layer + (" (an empty batch)" if m == 0 else " (a batch of one)" if m == 1 else "")


def _check_batch_size(m: int, what: str, shape: tuple[int, ...],
                      layer: str = "training-mode batch norm") -> None:
    _check_group_size(m, shape, _batch_label(layer, m), what, _BN_FIX)


def _bn_forward_2d(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mode: str, eps: float,
                   momentum: float | None,
                   running: RunningStats | None) -> tuple[np.ndarray, dict]:
    """Batch norm of a validated (m, D) array, reducing over axis 0.

    The cache keeps the centred values x_mu = x - mu and inv_std = 1 / sqrt(var + eps) rather
    than x_hat = x_mu inv_std: y = x_mu (gamma inv_std) + beta then needs one pass over the
    data fewer, and x_hat is one multiplication away when a backward pass needs it.
    """
    m = x.shape[0]
    if mode == "train":
        with np.errstate(over="ignore", invalid="ignore"):
            mu = x.mean(axis=0)
            x_mu = x - mu
            var = np.einsum("ij,ij->j", x_mu, x_mu) / m
        _check_var(var, x)
        if running is not None:
            running.update(mu, var * (m / (m - 1)), momentum)
    else:
        dtype = np.result_type(x, gamma, beta)
        mu, var = running.mean.astype(dtype, copy=False), running.var.astype(dtype, copy=False)
        x_mu = x - mu
    inv_std = 1.0 / np.sqrt(var + eps)
    out = x_mu * (gamma * inv_std)
    out += beta
    cache = {"layer": "batchnorm", "mode": mode, "x": x, "mu": mu, "var": var, "eps": eps,
             "x_mu": x_mu, "inv_std": inv_std, "gamma": gamma}
    return out, cache


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *,
                      mode: str = "train", eps: float = 1e-5, momentum: float | None = 0.1,
                      running: RunningStats | None = None) -> tuple[np.ndarray, dict]:
    """Batch normalisation of fully connected activations (Ioffe & Szegedy 2015).

    Shapes: x (N, D), gamma (D,), beta (D,); out (N, D).

    mode="train" (the paper's Algorithm 1, statistics over the batch, per feature):
        mu_B = (1/N) sum_i x_i,   sigma_B^2 = (1/N) sum_i (x_i - mu_B)^2   (biased)
        x_hat_i = (x_i - mu_B) / sqrt(sigma_B^2 + eps),   y_i = gamma x_hat_i + beta
    and, if ``running`` is given, it is updated in place with torch's convention
        running.mean = (1 - momentum) running.mean + momentum mu_B
        running.var  = (1 - momentum) running.var  + momentum N/(N-1) sigma_B^2  (unbiased)
    (momentum = 0.1 as torch's default; CS231n's momentum = 0.9 weights the OLD value by 0.9,
    i.e. it is 1 - this momentum). momentum=None averages all batches equally, like torch.
    A batch of one is rejected: every x_hat would be 0.

    mode="eval": y = gamma (x - running.mean) / sqrt(running.var + eps) + beta, with
    ``running`` required (see :class:`RunningStats` and :func:`population_stats`; its
    statistics are cast to the dtype of x, gamma and beta, so float32 stays float32).
    Matches ``torch.nn.BatchNorm1d(D, eps, momentum)`` in train() and eval().
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, "x", 2, "(N, D) (use spatial_batchnorm_forward for (N, C, H, W))")
    gamma, beta = _affine_params(gamma, beta, (x.shape[1],), "(D,) with D = x.shape[1]")
    mode = _check_mode(mode)
    eps = _check_positive(eps, "eps", "it keeps 1/sqrt(var + eps) finite")
    momentum = _check_momentum(momentum)
    if running is not None:
        running = _check_running(running, x.shape[1])
    if mode == "train":
        _check_batch_size(x.shape[0], "N", x.shape)
    elif running is None:
        raise ValueError("running must be a RunningStats in mode='eval' (the statistics that "
                         "replace the batch's), got None")
    return _bn_forward_2d(x, gamma, beta, mode, eps, momentum, running)


def _bn_eval_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """In eval mode mean and variance are constants: y = gamma inv_std (x - mean) + beta."""
    dgamma = np.einsum("ij,ij->j", dout, cache["x_mu"]) * cache["inv_std"]
    return dout * (cache["gamma"] * cache["inv_std"]), dgamma, dout.sum(axis=0)


def _bn_cache(dout: Any, cache: Any) -> np.ndarray:
    _check_cache(cache, "batchnorm", ("mode", "x", "mu", "var", "eps", "x_mu", "inv_std",
                                      "gamma"))
    return _check_dout(dout, cache["x"].shape)


def batchnorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Compact closed-form batch-norm backward pass; returns (dx, dgamma, dbeta).

    Shapes: dout (N, D); dx (N, D), dgamma (D,), dbeta (D,). Training mode:
        dbeta = sum_i dout_i,   dgamma = sum_i dout_i x_hat_i,
        dx = gamma / (N sigma) (N dout - sum_i dout_i - x_hat sum_i dout_i x_hat_i),
    with sigma = sqrt(sigma_B^2 + eps). Equals :func:`batchnorm_backward_paper`.
    Eval mode (constant statistics): dx = gamma dout / sqrt(running.var + eps).
    """
    dout = _bn_cache(dout, cache)
    if cache["mode"] == "eval":
        return _bn_eval_backward(dout, cache)
    x_mu, inv_std = cache["x_mu"], cache["inv_std"]
    n = x_mu.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dout, x_mu) * inv_std
    dx = x_mu * (dgamma * (inv_std * (-1.0 / n)))
    dx += dout
    dx -= dbeta * (1.0 / n)
    dx *= cache["gamma"] * inv_std
    return dx, dgamma, dbeta


def batchnorm_backward_paper(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """Batch-norm backward pass following the chain rule of Ioffe & Szegedy 2015, step by step.

    Shapes: dout = dl/dy (m, D); returns (dl/dx (m, D), dl/dgamma (D,), dl/dbeta (D,)):
        dl/dx_hat_i = dl/dy_i * gamma
        dl/dvar     = sum_i dl/dx_hat_i (x_i - mu_B) (-1/2) (sigma_B^2 + eps)^(-3/2)
        dl/dmu      = sum_i dl/dx_hat_i (-1 / sqrt(sigma_B^2 + eps))
                      + dl/dvar * (1/m) sum_i -2 (x_i - mu_B)
        dl/dx_i     = dl/dx_hat_i / sqrt(sigma_B^2 + eps) + dl/dvar 2 (x_i - mu_B) / m
                      + dl/dmu / m
        dl/dgamma   = sum_i dl/dy_i x_hat_i,   dl/dbeta = sum_i dl/dy_i
    The second term of dl/dmu is zero (the centred values sum to 0) but kept as in the paper.
    Eval-mode caches use the constant-statistics gradient of :func:`batchnorm_backward`.
    """
    dl_dy = _bn_cache(dout, cache)
    if cache["mode"] == "eval":
        return _bn_eval_backward(dl_dy, cache)
    var, eps, gamma = cache["var"], cache["eps"], cache["gamma"]
    x_mu = cache["x_mu"]
    x_hat = x_mu / np.sqrt(var + eps)
    m = x_mu.shape[0]
    dl_dx_hat = dl_dy * gamma
    dl_dvar = np.sum(dl_dx_hat * x_mu * -0.5 * (var + eps) ** -1.5, axis=0)
    dl_dmu = (np.sum(dl_dx_hat * -1.0 / np.sqrt(var + eps), axis=0)
              + dl_dvar * np.mean(-2.0 * x_mu, axis=0))
    dl_dx = dl_dx_hat / np.sqrt(var + eps) + dl_dvar * 2.0 * x_mu / m + dl_dmu / m
    dl_dgamma = np.sum(dl_dy * x_hat, axis=0)
    dl_dbeta = np.sum(dl_dy, axis=0)
    return dl_dx, dl_dgamma, dl_dbeta


def _to_rows(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N H W, C): one row per pixel, one column per channel."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _from_rows(r: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n, c, h, w = shape
    return np.ascontiguousarray(r.reshape(n, h, w, c).transpose(0, 3, 1, 2))


def spatial_batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *,
                              mode: str = "train", eps: float = 1e-5,
                              momentum: float | None = 0.1,
                              running: RunningStats | None = None) -> tuple[np.ndarray, dict]:
    """Batch norm of convolutional activations: per-channel statistics over N, H and W.

    Shapes: x (N, C, H, W), gamma (C,), beta (C,); out (N, C, H, W). Exactly
    :func:`batchnorm_forward` applied to the (N H W, C) matrix of pixels, so m = N H W values
    per channel (the unbiased running variance uses m / (m - 1)). Matches
    ``torch.nn.BatchNorm2d(C, eps, momentum)``.
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, "x", 4, "(N, C, H, W)")
    n, c, h, w = x.shape
    gamma, beta = _affine_params(gamma, beta, (c,), "(C,) with C = x.shape[1]")
    mode = _check_mode(mode)
    eps = _check_positive(eps, "eps", "it keeps 1/sqrt(var + eps) finite")
    momentum = _check_momentum(momentum)
    if running is not None:
        running = _check_running(running, c)
    if mode == "train":
        _check_batch_size(n * h * w, "N * H * W", x.shape,
                          "training-mode spatial batch norm")
    elif running is None:
        raise ValueError("running must be a RunningStats in mode='eval', got None")
    out, cache = _bn_forward_2d(_to_rows(x), gamma, beta, mode, eps, momentum, running)
    return _from_rows(out, x.shape), {"layer": "spatial_batchnorm", "bn": cache,
                                      "shape": x.shape}


def spatial_batchnorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                        np.ndarray]:
    """Backward pass of :func:`spatial_batchnorm_forward`; returns (dx (N, C, H, W),
    dgamma (C,), dbeta (C,)) by the compact formula of :func:`batchnorm_backward` applied to
    the (N H W, C) matrix of pixels."""
    _check_cache(cache, "spatial_batchnorm", ("bn", "shape"))
    dout = _check_dout(dout, cache["shape"])
    dx, dgamma, dbeta = batchnorm_backward(_to_rows(dout), cache["bn"])
    return _from_rows(dx, cache["shape"]), dgamma, dbeta


# --------------------------------------------------------------------------------------------
# Layer, instance and group norm
# --------------------------------------------------------------------------------------------

def _group_forward(xr: np.ndarray, x_shape: tuple[int, ...], gamma: np.ndarray,
                   beta: np.ndarray, gshape: tuple[int, ...], eps: float,
                   kind: str) -> tuple[np.ndarray, dict]:
    """Standardise the rows of the reshaped ``xr`` along its last axis, then scale/shift with
    gamma/beta reshaped to ``gshape`` (broadcasting against x's shape)."""
    x_hat, inv_std = _standardize(xr, eps)
    x_hat = x_hat.reshape(x_shape)
    g = gamma.reshape(gshape)
    out = x_hat * g
    out += beta.reshape(gshape)
    cache = {"layer": kind, "x_hat": x_hat, "inv_std": inv_std, "gamma": gamma, "g": g,
             "rshape": xr.shape}
    return out, cache


def _group_backward(dout: Any, cache: dict,
                    kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dgamma/dbeta sum over every axis gamma does not have: the batch axis for layer norm
    (gamma of shape x.shape[1:]), the batch and spatial axes for instance and group norm."""
    _check_cache(cache, kind, ("x_hat", "inv_std", "gamma", "g", "rshape"))
    x_hat = cache["x_hat"]
    dout = _check_dout(dout, x_hat.shape)
    param_axes = (0,) if kind == "layernorm" else (0, *range(2, x_hat.ndim))
    gshape = cache["gamma"].shape
    dgamma = np.sum(dout * x_hat, axis=param_axes).reshape(gshape)
    dbeta = np.sum(dout, axis=param_axes).reshape(gshape)
    rshape = cache["rshape"]
    dx = _standardize_backward((dout * cache["g"]).reshape(rshape), x_hat.reshape(rshape),
                               cache["inv_std"])
    return dx.reshape(x_hat.shape), dgamma, dbeta


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *,
                      eps: float = 1e-5) -> tuple[np.ndarray, dict]:
    """Layer normalisation (Ba et al. 2016): each example normalised over all its features.

    Shapes: x (N, D) or (N, C, H, W) (any (N, *F)); gamma, beta of shape F = x.shape[1:]
    (one per feature, e.g. (D,) or (C, H, W)); out of x's shape. For each example n:
        mu_n = mean of x[n],  var_n = mean of (x[n] - mu_n)^2  (biased),
        y[n] = gamma (x[n] - mu_n) / sqrt(var_n + eps) + beta.
    Works for a batch of one and is identical in training and evaluation. Matches
    ``torch.nn.LayerNorm(x.shape[1:], eps)``, whose weight has the normalised shape too (see
    :mod:`trainlab.conventions`; gamma of shape (C,) for an image is group norm with G = 1).
    Raises a ValueError when an example has fewer than 2 features.
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, "x", ">=2", "(N, D) or (N, C, H, W)")
    _check_group_size(math.prod(x.shape[1:]), x.shape, "layer norm", "prod(x.shape[1:])")
    gamma, beta = _affine_params(gamma, beta, x.shape[1:],
                                 "x.shape[1:], one per normalised feature as in torch's "
                                 "nn.LayerNorm; for one per channel use "
                                 "groupnorm_forward(x, 1, gamma, beta)")
    eps = _check_positive(eps, "eps", "it keeps 1/sqrt(var + eps) finite")
    return _group_forward(x.reshape(x.shape[0], math.prod(x.shape[1:])), x.shape, gamma, beta,
                          x.shape[1:], eps, "layernorm")


def layernorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Backward pass of :func:`layernorm_forward`; returns (dx (N, *F), dgamma (F), dbeta (F)):
        dgamma = sum_n dout[n] x_hat[n],  dbeta = sum_n dout[n],
        dx[n] = (dxh - mean(dxh) - x_hat[n] mean(dxh x_hat[n])) / sqrt(var_n + eps)
    with dxh = gamma dout[n] and means over the features of example n."""
    return _group_backward(dout, cache, "layernorm")


def instancenorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *,
                         eps: float = 1e-5) -> tuple[np.ndarray, dict]:
    """Instance normalisation (Ulyanov et al. 2016): each example's channel normalised over
    its spatial positions.

    Shapes: x (N, C, H, W) (or (N, C, L), any (N, C, *S) with at least 2 positions);
    gamma, beta (C,); out of x's shape. For each n and c:
        mu_nc = mean_{h,w} x[n, c],  var_nc = mean_{h,w} (x[n, c] - mu_nc)^2  (biased),
        y[n, c] = gamma_c (x[n, c] - mu_nc) / sqrt(var_nc + eps) + beta_c.
    Matches ``torch.nn.InstanceNorm2d(C, eps, affine=True)``.
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, "x", ">=3", "(N, C, H, W)")
    n, c = x.shape[:2]
    gamma, beta = _affine_params(gamma, beta, (c,), "(C,) with C = x.shape[1]")
    eps = _check_positive(eps, "eps", "it keeps 1/sqrt(var + eps) finite")
    _check_group_size(math.prod(x.shape[2:]), x.shape, "instance norm",
                      "prod(x.shape[2:])")
    gshape = (1, c) + (1,) * (x.ndim - 2)
    return _group_forward(x.reshape(n, c, math.prod(x.shape[2:])), x.shape, gamma, beta,
                          gshape, eps, "instancenorm")


def instancenorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Backward pass of :func:`instancenorm_forward`; returns (dx (N, C, H, W), dgamma (C,),
    dbeta (C,)): the layer-norm formula with means over (h, w) of each (n, c)."""
    return _group_backward(dout, cache, "instancenorm")


@renamed(G="num_groups=", groups="num_groups=")
def groupnorm_forward(x: np.ndarray, num_groups: int, gamma: np.ndarray, beta: np.ndarray, *,
                      eps: float = 1e-5) -> tuple[np.ndarray, dict]:
    """Group normalisation (Wu & He 2018): the C channels split into G = num_groups groups of
    C/G consecutive channels; each example's group is normalised over its channels and
    positions. Arguments in the order of ``torch.nn.functional.group_norm(x, num_groups,
    weight, bias, eps)``.

    Shapes: x (N, C, H, W) (any (N, C, *S)), gamma, beta (C,); out of x's shape. For each
    example n and group k (channels kC/G ... (k+1)C/G - 1):
        y = gamma_c (x - mu_nk) / sqrt(var_nk + eps) + beta_c  (biased var).
    G = 1 is layer norm with per-channel gamma; G = C is instance norm. A group must hold at
    least 2 values (C/G * H * W >= 2), else a ValueError. Matches
    ``torch.nn.GroupNorm(G, C, eps)``.
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, "x", ">=2", "(N, C, H, W)")
    n, c = x.shape[:2]
    if isinstance(num_groups, np.ndarray | list | tuple):
        raise TypeError("groupnorm_forward takes (x, num_groups, gamma, beta) in torch's order "
                        "(F.group_norm(x, num_groups, weight, bias)); got an array for "
                        "num_groups - the order (x, gamma, beta, num_groups) is gone")
    if isinstance(num_groups, bool) or not isinstance(num_groups, int | np.integer):
        raise TypeError(f"num_groups must be an int, got {num_groups!r}")
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"num_groups G = {num_groups} must be >= 1 and divide the number of "
                         f"channels C = {c}")
    gamma, beta = _affine_params(gamma, beta, (c,), "(C,) with C = x.shape[1]")
    eps = _check_positive(eps, "eps", "it keeps 1/sqrt(var + eps) finite")
    g = int(num_groups)
    _check_group_size(math.prod(x.shape[1:]) // g, x.shape, f"group norm with G = {g}",
                      "C/G * prod(x.shape[2:])")
    gshape = (1, c) + (1,) * (x.ndim - 2)
    return _group_forward(x.reshape(n, g, math.prod(x.shape[1:]) // g), x.shape, gamma, beta,
                          gshape, eps, "groupnorm")


def groupnorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Backward pass of :func:`groupnorm_forward`; returns (dx (N, C, H, W), dgamma (C,),
    dbeta (C,)): the layer-norm formula with means over each (example, group)."""
    return _group_backward(dout, cache, "groupnorm")


# --------------------------------------------------------------------------------------------
# lp batch norm
# --------------------------------------------------------------------------------------------

def _check_p(p: Any) -> float:
    v = _check_real(p, "p")
    if not v >= 1:
        raise ValueError(f"p must be a number >= 1 or inf (Santurkar et al. use 1, 2 and inf), "
                         f"got {p!r}")
    return v


def lp_batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, p: float = 2, *,
                         eps: float = 1e-5) -> tuple[np.ndarray, dict]:
    """lp batch norm (Santurkar et al. 2018), training mode: the std replaced by an lp norm.

    Shapes: x (N, D), gamma (D,), beta (D,); out (N, D). Per feature, with c_i = x_i - mu_B:
        s_p = ( (1/N) sum_i |c_i|^p )^(1/p)          (p >= 1; p = inf: s_p = max_i |c_i|)
        y_i = gamma c_i / sqrt(s_p^2 + eps) + beta
    The 1/N inside the root makes p = 2 the (biased) std and eps sits under the square root
    as in batch norm, so p = 2 is training-mode batch norm exactly. p = 1 is the mean absolute
    deviation, p = inf the largest deviation. Same convention as
    :class:`trainlab.modules.LpBatchNorm`. A batch of one is rejected (ValueError).
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, "x", 2, "(N, D)")
    gamma, beta = _affine_params(gamma, beta, (x.shape[1],), "(D,) with D = x.shape[1]")
    p = _check_p(p)
    eps = _check_positive(eps, "eps", "it keeps 1/s finite")
    _check_group_size(x.shape[0], x.shape, _batch_label("lp batch norm", x.shape[0]), "N")
    with np.errstate(over="ignore", invalid="ignore"):
        c = x - x.mean(axis=0)
    a = np.abs(c)
    idx = None
    if math.isinf(p):
        idx = np.argmax(a, axis=0)
        s0 = a[idx, np.arange(x.shape[1])]
    elif p == 1:
        s0 = a.mean(axis=0)
    elif p == 2:
        s0 = np.sqrt(np.mean(c * c, axis=0))
    else:
        s0 = _scaled_lp_norm(a, p)
    _check_var(s0, x)
    with np.errstate(over="ignore"):
        s = np.sqrt(s0 * s0 + eps)
    _check_var(s, x)
    x_hat = c / s
    out = x_hat * gamma
    out += beta
    cache = {"layer": "lp_batchnorm", "c": c, "s0": s0, "s": s, "x_hat": x_hat,
             "gamma": gamma, "p": p, "idx": idx}
    return out, cache


def _scaled_lp_norm(a: np.ndarray, p: float) -> np.ndarray:
    """((1/N) sum_i a_i^p)^(1/p) per column, computed as m ((1/N) sum_i (a_i / m)^p)^(1/p)
    with m = max_i a_i, so that a^p neither overflows nor underflows for large p."""
    m = a.max(axis=0)
    safe = np.where(m > 0, m, 1)
    return m * np.mean((a / safe) ** p, axis=0) ** (1.0 / p)


def _lp_norm_grad(c: np.ndarray, s0: np.ndarray, p: float,
                  idx: np.ndarray | None) -> np.ndarray:
    """d s0 / d c_i for s0 = ((1/N) sum |c_i|^p)^(1/p): |c_i|^(p-1) sign(c_i) / (N s0^(p-1));
    for p = inf the subgradient sign(c_k) at k = argmax |c_i| (0 elsewhere)."""
    if idx is not None:
        g = np.zeros_like(c)
        cols = np.arange(c.shape[1])
        g[idx, cols] = np.sign(c[idx, cols])
        return g
    n = c.shape[0]
    if p == 1:
        return np.sign(c) / n
    safe = np.where(s0 > 0, s0, 1)
    return (np.abs(c) / safe) ** (p - 1) * np.sign(c) / n


def lp_batchnorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Backward pass of :func:`lp_batchnorm_forward`; returns (dx (N, D), dgamma (D,),
    dbeta (D,)). With dxh = gamma dout, s = sqrt(s0^2 + eps) and x_hat = c / s:
        dc_i = dxh_i / s - (sum_j dxh_j x_hat_j / s) (s0 / s) d s0/d c_i,
        dx = dc - mean_i dc_i,
    where d s0/d c_i = |c_i|^(p-1) sign(c_i) / (N s0^(p-1)) (p = 1: sign(c_i) / N,
    p = 2: c_i / (N s0)); for p = inf the subgradient is sign(c_k) at the argmax k of |c|.
    """
    _check_cache(cache, "lp_batchnorm", ("c", "s0", "s", "x_hat", "gamma", "p", "idx"))
    c, s, x_hat = cache["c"], cache["s"], cache["x_hat"]
    dout = _check_dout(dout, c.shape)
    dxh = dout * cache["gamma"]
    ds = -np.sum(dxh * x_hat, axis=0) / s * (cache["s0"] / s)
    dc = dxh / s
    dc += ds * _lp_norm_grad(c, cache["s0"], cache["p"], cache["idx"])
    dc -= dc.mean(axis=0)
    return dc, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)


# --------------------------------------------------------------------------------------------
# Weight norm
# --------------------------------------------------------------------------------------------

def _column_norms(v: np.ndarray) -> np.ndarray:
    """||v[:, j]|| computed as m_j ||v[:, j] / m_j|| with m_j = max_i |v[i, j]|, so that the
    squares neither overflow (|v| > 1e154) nor underflow to a zero norm (|v| < 1e-154)."""
    m = np.abs(v).max(axis=0, initial=0)
    safe = np.where(m > 0, m, 1)
    u = v / safe
    return m * np.sqrt(np.einsum("ij,ij->j", u, u))


def weightnorm_forward(x: np.ndarray, v: np.ndarray, g: np.ndarray,
                       b: np.ndarray) -> tuple[np.ndarray, dict]:
    """Weight-normalised affine layer (Salimans & Kingma 2016).

    Shapes: x (N, D_in), v (D_in, D_out), g (D_out,), b (D_out,); out (N, D_out).
        w[:, j] = g_j v[:, j] / ||v[:, j]||   (each column has norm |g_j|),
        out = x @ w + b.
    Matches ``torch.nn.utils.parametrizations.weight_norm(nn.Linear(D_in, D_out), dim=0)``
    (torch's weight is w.T, so its per-row norm is our per-column norm).
    """
    x = _as_float_array(x, "x")
    v = _as_float_array(v, "v")
    g = _as_float_array(g, "g")
    b = _as_float_array(b, "b")
    _check_ndim(x, "x", 2, "(N, D_in)")
    _check_ndim(v, "v", 2, "(D_in, D_out)")
    if x.shape[1] != v.shape[0]:
        raise ValueError(f"x has D_in = {x.shape[1]} features but v expects D_in = "
                         f"{v.shape[0]} (v shape {v.shape}, convention (D_in, D_out))")
    _check_shape(g, "g", (v.shape[1],), "(D_out,) from v")
    _check_shape(b, "b", (v.shape[1],), "(D_out,) from v")
    norm = _column_norms(v)
    if np.any(norm == 0):
        raise ValueError(f"v must have no all-zero column (its direction is undefined), got "
                         f"zero columns {np.flatnonzero(norm == 0).tolist()}")
    w = v * (g / norm)
    out = x @ w
    out += b
    return out, {"layer": "weightnorm", "x": x, "v": v, "g": g, "norm": norm, "w": w}


def weightnorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray, np.ndarray]:
    """Backward pass of :func:`weightnorm_forward`; returns (dx, dv, dg, db) with
        dw = x.T @ dout,  dx = dout @ w.T,  db = sum_n dout[n],
        dg_j = (dw[:, j] . v[:, j]) / ||v[:, j]||,
        dv[:, j] = g_j / ||v[:, j]|| dw[:, j] - g_j dg_j / ||v[:, j]||^2 v[:, j]
    (Salimans & Kingma 2016, eq. 3). Shapes as in the forward pass.
    """
    _check_cache(cache, "weightnorm", ("x", "v", "g", "norm", "w"))
    x, v, g, norm, w = (cache[k] for k in ("x", "v", "g", "norm", "w"))
    dout = _check_dout(dout, (x.shape[0], v.shape[1]))
    dw = x.T @ dout
    dg = np.einsum("ij,ij->j", dw, v) / norm
    dv = (g / norm) * (dw - (v / norm) * dg)
    return dout @ w.T, dv, dg, dout.sum(axis=0)
