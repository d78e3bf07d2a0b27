"""Activation functions as NumPy forward/backward pairs, plus a registry for plotting curves.

Each elementwise activation is a pair ``out, cache = f_forward(x, ...)`` /
``(dx,) = f_backward(dout, cache)`` for arrays of any shape (float32 or float64); like every
backward pass of the course it returns a tuple, one gradient per differentiable input
(:mod:`trainlab.conventions`). At a kink the
derivative follows torch's autograd: ReLU'(0) = 0, LeakyReLU'(0) = alpha, ELU'(0) = alpha.

References: Maas et al. 2013 (leaky ReLU); Clevert et al. 2016 (ELU); Klambauer et al. 2017
(SELU); Goodfellow et al. 2013 (maxout).

``ACTIVATIONS`` maps a name to ``(f, f')``, two elementwise functions of x, and
:func:`curve` evaluates both, e.g. to draw an activation next to its derivative::

    y, dy = curve("tanh", np.linspace(-4, 4, 201))
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from trainlab.layers import (
    _as_float_array,
    _check_cache,
    _check_ndim,
    _check_real,
    _check_shape,
)

__all__ = [
    "ACTIVATIONS",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "curve",
    "elu_backward",
    "elu_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "maxout_backward",
    "maxout_forward",
    "relu_backward",
    "relu_forward",
    "selu_backward",
    "selu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softplus_backward",
    "softplus_forward",
    "tanh_backward",
    "tanh_forward",
]

SELU_ALPHA = 1.6732632423543772
"""alpha of SELU (Klambauer et al. 2017, the published constant alpha_01)."""
SELU_LAMBDA = 1.0507009873554805
"""lambda (scale) of SELU (Klambauer et al. 2017, the published constant lambda_01)."""


def _upstream(dout: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    dout = _as_float_array(dout, "dout")
    _check_shape(dout, "dout", shape, "the shape of the forward output")
    return dout


def _check_alpha(alpha: float) -> float:
    a = _check_real(alpha, "alpha")
    if not 0 <= a < np.inf:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    return a


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Logistic sigmoid ``out = 1 / (1 + exp(-x))``, any shape.

    Computed without overflow as exp(min(x, 0)) / (1 + exp(-|x|)).
    """
    x = _as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1, e) / (1 + e)
    out = out.astype(x.dtype, copy=False)
    return out, {"layer": "sigmoid", "out": out}


def sigmoid_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """dx = dout * s (1 - s) with s = sigmoid(x) from the forward pass; shape of x."""
    _check_cache(cache, "sigmoid", ("out",))
    s = cache["out"]
    return (_upstream(dout, s.shape) * s * (1 - s),)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Hyperbolic tangent ``out = tanh(x) = 2 sigmoid(2x) - 1``, any shape."""
    x = _as_float_array(x, "x")
    out = np.tanh(x)
    return out, {"layer": "tanh", "out": out}


def tanh_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """dx = dout * (1 - tanh(x)^2); shape of x."""
    _check_cache(cache, "tanh", ("out",))
    t = cache["out"]
    return (_upstream(dout, t.shape) * (1 - t * t),)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Rectified linear unit ``out = max(x, 0)``, any shape."""
    x = _as_float_array(x, "x")
    return np.maximum(x, 0), {"layer": "relu", "x": x}


def relu_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """dx = dout * [x > 0] (the derivative at 0 is taken as 0, as in torch)."""
    _check_cache(cache, "relu", ("x",))
    x = cache["x"]
    dout = _upstream(dout, x.shape)
    return (np.where(x > 0, dout, 0).astype(np.result_type(dout, x)),)


def leaky_relu_forward(x: np.ndarray, alpha: float = 0.01) -> tuple[np.ndarray, dict]:
    """Leaky ReLU ``out = x if x > 0 else alpha x``, any shape (alpha >= 0; torch's
    ``negative_slope``, default 0.01)."""
    x = _as_float_array(x, "x")
    alpha = _check_alpha(alpha)
    out = np.where(x > 0, x, x * alpha)
    return out, {"layer": "leaky_relu", "x": x, "alpha": alpha}


def leaky_relu_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """dx = dout * (1 if x > 0 else alpha); shape of x."""
    _check_cache(cache, "leaky_relu", ("x", "alpha"))
    x = cache["x"]
    dout = _upstream(dout, x.shape)
    return (np.where(x > 0, dout, dout * cache["alpha"]),)


def elu_forward(x: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, dict]:
    """Exponential linear unit (Clevert et al. 2016), any shape:
    ``out = x if x > 0 else alpha (exp(x) - 1)`` with alpha >= 0 (default 1)."""
    x = _as_float_array(x, "x")
    alpha = _check_alpha(alpha)
    neg = alpha * np.expm1(np.minimum(x, 0))
    out = np.where(x > 0, x, neg)
    return out, {"layer": "elu", "x": x, "alpha": alpha, "scale": 1.0}


def elu_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """dx = dout * (1 if x > 0 else alpha exp(x)); shape of x."""
    _check_cache(cache, "elu", ("x", "alpha", "scale"))
    x = cache["x"]
    dout = _upstream(dout, x.shape)
    slope = np.where(x > 0, 1, cache["alpha"] * np.exp(np.minimum(x, 0)))
    return ((dout * (cache["scale"] * slope)).astype(np.result_type(dout, x), copy=False),)


def selu_forward(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Scaled ELU (Klambauer et al. 2017), any shape:
    ``out = lambda * (x if x > 0 else alpha (exp(x) - 1))`` with the published constants
    alpha = 1.6732632423543772 and lambda = 1.0507009873554805 (the fixed point with mean 0
    and variance 1 for standard-normal inputs)."""
    out, cache = elu_forward(x, SELU_ALPHA)
    cache["scale"] = SELU_LAMBDA
    cache["layer"] = "selu"
    return out * out.dtype.type(SELU_LAMBDA), cache


def selu_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """dx = dout * lambda * (1 if x > 0 else alpha exp(x)); shape of x."""
    _check_cache(cache, "selu", ("x", "alpha", "scale"))
    return elu_backward(dout, {**cache, "layer": "elu"})


def softplus_forward(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Softplus ``out = log(1 + exp(x))``, a smooth ReLU; any shape.

    Computed without overflow as max(x, 0) + log1p(exp(-|x|)).
    """
    x = _as_float_array(x, "x")
    out = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return out, {"layer": "softplus", "x": x}


def softplus_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """dx = dout * sigmoid(x); shape of x."""
    _check_cache(cache, "softplus", ("x",))
    x = cache["x"]
    return (_upstream(dout, x.shape) * sigmoid_forward(x)[0],)


def maxout_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, dict]:
    """Maxout unit (Goodfellow et al. 2013): the largest of k affine pieces.

    Shapes: x (N, D_in), w (D_in, D_out, k), b (D_out, k); out (N, D_out) with
    out[n, j] = max_p ( sum_i x[n, i] w[i, j, p] + b[j, p] ).
    """
    x = _as_float_array(x, "x")
    w = _as_float_array(w, "w")
    b = _as_float_array(b, "b")
    _check_ndim(x, "x", 2, "(N, D_in)")
    _check_ndim(w, "w", 3, "(D_in, D_out, k)")
    d_in, d_out, k = w.shape
    if k < 1:
        raise ValueError(f"w must hold at least one affine piece (k >= 1 in (D_in, D_out, k)), "
                         f"got shape {w.shape}")
    if x.shape[1] != d_in:
        raise ValueError(f"x has D_in = {x.shape[1]} features but w expects D_in = {d_in} "
                         f"(w shape {w.shape}, convention (D_in, D_out, k))")
    _check_shape(b, "b", (d_out, k), "(D_out, k) from w")
    z = (x @ w.reshape(d_in, d_out * k)).reshape(x.shape[0], d_out, k)
    z += b
    idx = np.argmax(z, axis=2)
    out = np.take_along_axis(z, idx[..., None], axis=2)[..., 0]
    return out, {"layer": "maxout", "x": x, "w": w, "idx": idx}


def maxout_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of maxout: only the winning piece p*(n, j) receives dout[n, j].

    With dz[n, j, p] = dout[n, j] [p = p*(n, j)]: dx = sum_{j,p} dz[n, j, p] w[:, j, p] (N, D_in),
    dw[i, j, p] = sum_n x[n, i] dz[n, j, p] (D_in, D_out, k), db = sum_n dz (D_out, k).
    Returns (dx, dw, db).
    """
    _check_cache(cache, "maxout", ("x", "w", "idx"))
    x, w, idx = cache["x"], cache["w"], cache["idx"]
    d_in, d_out, k = w.shape
    dout = _upstream(dout, idx.shape)
    dz = np.zeros((x.shape[0], d_out, k), dtype=np.result_type(dout, w))
    np.put_along_axis(dz, idx[..., None], dout[..., None], axis=2)
    dz2 = dz.reshape(x.shape[0], d_out * k)
    dx = dz2 @ w.reshape(d_in, d_out * k).T
    dw = (x.T @ dz2).reshape(d_in, d_out, k)
    return dx, dw, dz.sum(axis=0)


# --------------------------------------------------------------------------------------------
# Registry of elementwise curves
# --------------------------------------------------------------------------------------------

ElementwiseFn = Callable[[np.ndarray], np.ndarray]


def _value(forward: Callable[..., tuple[np.ndarray, dict]], x: np.ndarray) -> np.ndarray:
    return forward(x)[0]


def _derivative(forward: Callable[..., tuple[np.ndarray, dict]],
                backward: Callable[[np.ndarray, dict], tuple[np.ndarray]],
                x: np.ndarray) -> np.ndarray:
    out, cache = forward(x)
    return backward(np.ones_like(out), cache)[0]


def _pair(forward: Callable[..., tuple[np.ndarray, dict]],
          backward: Callable[[np.ndarray, dict], tuple[np.ndarray]]) -> tuple[ElementwiseFn,
                                                                       ElementwiseFn]:
    return partial(_value, forward), partial(_derivative, forward, backward)


def _identity(x: np.ndarray) -> np.ndarray:
    return _as_float_array(x, "x").copy()


def _ones(x: np.ndarray) -> np.ndarray:
    return np.ones_like(_as_float_array(x, "x"))


_LAYERS: dict[str, tuple[Callable[..., tuple[np.ndarray, dict]],
                         Callable[[np.ndarray, dict], tuple[np.ndarray]]]] = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "elu": (elu_forward, elu_backward),
    "selu": (selu_forward, selu_backward),
    "softplus": (softplus_forward, softplus_backward),
}

ACTIVATIONS: dict[str, tuple[ElementwiseFn, ElementwiseFn]] = {
    "linear": (_identity, _ones),
    **{name: _pair(fwd, bwd) for name, (fwd, bwd) in _LAYERS.items()},
}
"""name -> (f, f') for elementwise activations with their default parameters; both map an
array of any shape to an array of that shape. The derivative is the backward pass with
dout = 1, so the curve and the layer can never disagree."""


def curve(name: str, x: np.ndarray, **params: float) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate activation ``name`` and its derivative at ``x`` (any shape): returns
    (f(x), f'(x)), both of x's shape. ``name`` is a key of :data:`ACTIVATIONS`; ``params``
    go to the forward function, e.g. ``curve("leaky_relu", x, alpha=0.1)``."""
    if name not in ACTIVATIONS:
        raise ValueError(f"name must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    if not params:
        f, df = ACTIVATIONS[name]
        return f(x), df(x)
    if name not in _LAYERS:
        raise TypeError(f"activation {name!r} takes no parameters, got {sorted(params)}")
    forward, backward = _LAYERS[name]
    out, cache = forward(x, **params)
    return out, backward(np.ones_like(out), cache)[0]
