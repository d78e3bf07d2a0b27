"""The checks' own reference answers, in plain NumPy.

The checks compare a learner's code with these, not with the rest of trainlab, so that a
change of trainlab's API (or of torch) cannot change what an exercise expects, and grading
needs neither. ``tests/test_checks_*.py`` compares each reference with trainlab and torch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray


def sigmoid(x: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def sigmoid_backward(dout: Array, x: Array) -> Array:
    s = sigmoid(x)
    return dout * s * (1.0 - s)


def leaky_relu(x: Array, alpha: float) -> Array:
    return np.where(x > 0, x, alpha * x)


def leaky_relu_backward(dout: Array, x: Array, alpha: float) -> Array:
    return np.where(x > 0, dout, alpha * dout)


def maxout(x: Array, w: Array, b: Array) -> Array:
    """Maxout of x (N, D) with k pieces: w (k, D, H), b (k, H) -> (N, H)."""
    return np.max(np.einsum("nd,kdh->knh", x, w) + b[:, None, :], axis=0)


def maxout_backward(dout: Array, x: Array, w: Array, b: Array) -> tuple[Array, Array, Array]:
    z = np.einsum("nd,kdh->knh", x, w) + b[:, None, :]
    winner = np.argmax(z, axis=0)
    pick = (np.arange(w.shape[0])[:, None, None] == winner[None]).astype(float)
    dz = pick * dout[None]
    return np.einsum("knh,kdh->nd", dz, w), np.einsum("nd,knh->kdh", x, dz), dz.sum(axis=1)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}


def xavier_std(fan_in: int, fan_out: int) -> float:
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_std(fan_in: int, negative_slope: float = 0.0) -> float:
    return float(np.sqrt(2.0 / ((1.0 + negative_slope**2) * fan_in)))


def batchnorm(x: Array, gamma: Array, beta: Array, eps: float) -> Array:
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta


def batchnorm_backward(dout: Array, x: Array, gamma: Array,
                       eps: float) -> tuple[Array, Array, Array]:
    inv_std = 1.0 / np.sqrt(x.var(0) + eps)
    x_hat = (x - x.mean(0)) * inv_std
    dbeta, dgamma = dout.sum(0), (dout * x_hat).sum(0)
    dx = gamma * inv_std * (dout - dbeta / len(x) - x_hat * dgamma / len(x))
    return dx, dgamma, dbeta


def running_update(mean: Array, var: Array, x: Array, momentum: float) -> tuple[Array, Array]:
    """torch's convention: new = (1 - momentum) old + momentum batch, unbiased batch var."""
    return ((1 - momentum) * mean + momentum * x.mean(0),
            (1 - momentum) * var + momentum * x.var(0, ddof=1))


def fold_batchnorm(w: Array, b: Array, gamma: Array, beta: Array, mean: Array, var: Array,
                   eps: float) -> tuple[Array, Array]:
    k = gamma / np.sqrt(var + eps)
    return w * k, (b - mean) * k + beta


def loss_along_gradient(f: Callable[[Array], float], grad: Callable[[Array], Array], x: Array,
                        etas: Array) -> tuple[Array, Array]:
    """Losses f(x - eta g) and gradient changes ||g - grad(x - eta g)|| per eta."""
    g = grad(x)
    steps = [x - eta * g for eta in etas]
    return (np.array([f(s) for s in steps]),
            np.array([np.linalg.norm(g - grad(s)) for s in steps]))


def lipschitz_1d(f: Callable[[Array], Array], lo: float, hi: float, n: int) -> float:
    t = np.linspace(lo, hi, n)
    return float(np.max(np.abs(np.diff(f(t))) / np.diff(t)))


def dropout(x: Array, keep_prob: float, mask: Array) -> Array:
    return x * mask / keep_prob


def expected_dropout_loss(x: Array, y: Array, w: Array, p: float) -> float:
    return float(np.sum((y - p * x @ w) ** 2) + p * (1 - p) * np.sum((x**2).sum(0) * w**2))


def groupnorm(x: Array, gamma: Array, beta: Array, groups: int, eps: float) -> Array:
    n, c = x.shape[:2]
    xg = x.reshape(n, groups, -1)
    x_hat = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + eps))
    shape = (1, c) + (1,) * (x.ndim - 2)
    return gamma.reshape(shape) * x_hat.reshape(x.shape) + beta.reshape(shape)


def layernorm(x: Array, gamma: Array, beta: Array, eps: float) -> Array:
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def layernorm_backward(dout: Array, x: Array, gamma: Array,
                       eps: float) -> tuple[Array, Array, Array]:
    inv_std = 1.0 / np.sqrt(x.var(1, keepdims=True) + eps)
    x_hat = (x - x.mean(1, keepdims=True)) * inv_std
    dx_hat = dout * gamma
    d = x.shape[1]
    dx = inv_std * (dx_hat - dx_hat.sum(1, keepdims=True) / d
                    - x_hat * (dx_hat * x_hat).sum(1, keepdims=True) / d)
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def standardise(x_train: Array, x_test: Array) -> tuple[Array, Array]:
    mu, sd = x_train.mean(0), x_train.std(0)
    return (x_train - mu) / sd, (x_test - mu) / sd


def covariance_eigenvalues(x: Array) -> Array:
    xc = x - x.mean(0)
    return np.linalg.eigvalsh(xc.T @ xc / len(x))
