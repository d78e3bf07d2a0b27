"""Activations: gradients vs centred differences and torch autograd, forwards vs
torch.nn.functional, SELU's fixed point, maxout, the plotting registry and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from torch_compare import close, t
from trainlab import activations as act
from trainlab.gradcheck import check_layer

FAST = settings(max_examples=25, deadline=None)




# name -> (forward, backward, kwargs, torch function)
CASES = {
    "sigmoid": (act.sigmoid_forward, act.sigmoid_backward, {}, torch.sigmoid),
    "tanh": (act.tanh_forward, act.tanh_backward, {}, torch.tanh),
    "relu": (act.relu_forward, act.relu_backward, {}, F.relu),
    "leaky_relu": (act.leaky_relu_forward, act.leaky_relu_backward, {"alpha": 0.2},
                   lambda x: F.leaky_relu(x, 0.2)),
    "elu": (act.elu_forward, act.elu_backward, {"alpha": 0.7}, lambda x: F.elu(x, 0.7)),
    "selu": (act.selu_forward, act.selu_backward, {}, F.selu),
    "softplus": (act.softplus_forward, act.softplus_backward, {}, F.softplus),
}
X = np.random.default_rng(0).standard_normal((4, 5)) * 2
X_WITH_KINK = np.array([-3.0, -1e-3, 0.0, 1e-3, 2.0])


@pytest.mark.parametrize("name", CASES)
def test_backward_matches_numeric_gradient(name):
    forward, backward, kwargs, _ = CASES[name]
    report = check_layer(forward, backward, {"x": X}, kwargs, seed=1)
    assert report.passed, report.table()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("x", [X, X_WITH_KINK], ids=["random", "kink"])
def test_forward_and_backward_match_torch(name, x):
    forward, backward, kwargs, torch_fn = CASES[name]
    out, cache = forward(x, **kwargs)
    xt = t(x, True)
    out_t = torch_fn(xt)
    close(out, out_t, tol=1e-12)
    dout = np.random.default_rng(2).standard_normal(x.shape)
    out_t.backward(t(dout))
    close(backward(dout, cache)[0], xt.grad, tol=1e-12)


@FAST
@given(arrays(np.float64, array_shapes(max_dims=3, max_side=5), elements=st.floats(-1e4, 1e4)))
def test_activations_match_torch_without_overflow_on_generated_values(x):
    for forward, backward, kwargs, torch_fn in CASES.values():
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out, cache = forward(x, **kwargs)
            (dx,) = backward(np.ones_like(x), cache)
        xt = t(x, True)
        out_t = torch_fn(xt)
        out_t.sum().backward()
        # 1e-8: torch's softplus returns x (derivative 1) above x = 20, where the exact
        # values differ by sigmoid(-20) ~ 2e-9
        close(out, out_t, tol=1e-8)
        close(dx, xt.grad, tol=1e-8)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(name, dtype):
    forward, backward, kwargs, torch_fn = CASES[name]
    x = X.astype(dtype)
    out, cache = forward(x, **kwargs)
    (dx,) = backward(np.ones_like(out), cache)
    assert out.dtype == dtype and dx.dtype == dtype
    close(out, torch_fn(torch.from_numpy(x)).numpy(), tol=1e-6)


def test_selu_constants_and_self_normalising_fixed_point():
    assert act.SELU_ALPHA == 1.6732632423543772
    assert act.SELU_LAMBDA == 1.0507009873554805
    z = np.random.default_rng(3).standard_normal(2_000_000)
    out, _ = act.selu_forward(z)
    assert abs(out.mean()) < 3e-3
    assert abs(out.var() - 1) < 3e-3


def test_maxout_matches_numeric_gradient_and_torch():
    g = np.random.default_rng(4)
    x, w, b = g.standard_normal((5, 4)), g.standard_normal((4, 3, 2)), g.standard_normal((3, 2))
    report = check_layer(act.maxout_forward, act.maxout_backward, {"x": x, "w": w, "b": b},
                         seed=5)
    assert report.passed, report.table()
    out, cache = act.maxout_forward(x, w, b)
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    out_t = (torch.einsum("ni,ijk->njk", xt, wt) + bt).amax(dim=2)
    close(out, out_t)
    dout = g.standard_normal(out.shape)
    out_t.backward(t(dout))
    for ours, ref in zip(act.maxout_backward(dout, cache), (xt.grad, wt.grad, bt.grad),
                         strict=True):
        close(ours, ref)


def test_maxout_with_one_piece_is_affine_and_relu_is_a_maxout():
    g = np.random.default_rng(6)
    x, w, b = g.standard_normal((3, 4)), g.standard_normal((4, 2, 1)), g.standard_normal((2, 1))
    close(act.maxout_forward(x, w, b)[0], x @ w[..., 0] + b[:, 0])
    pieces = np.concatenate([w, np.zeros_like(w)], axis=2)
    close(act.maxout_forward(x, pieces, np.zeros((2, 2)))[0],
          act.relu_forward(x @ w[..., 0])[0])


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_curve_derivative_matches_centred_differences(name):
    x = np.linspace(-4, 4, 81) + 0.013
    y, dy = act.curve(name, x)
    h = 1e-6
    numeric = (act.curve(name, x + h)[0] - act.curve(name, x - h)[0]) / (2 * h)
    assert y.shape == dy.shape == x.shape
    close(dy, numeric, tol=1e-7)


def test_curve_passes_parameters_to_the_layer():
    x = np.linspace(-3, 3, 13) + 0.1
    xt = torch.tensor(x, requires_grad=True)
    F.leaky_relu(xt, 0.3).sum().backward()
    y, dy = act.curve("leaky_relu", x, alpha=0.3)
    close(y, F.leaky_relu(torch.tensor(x), 0.3))
    close(dy, xt.grad)
    close(act.curve("elu", x, alpha=1.0)[1], act.curve("elu", x)[1])


def test_curve_agrees_with_the_layers():
    y, dy = act.curve("tanh", X)
    close(y, np.tanh(X), tol=1e-15)
    close(dy, 1 - np.tanh(X) ** 2, tol=1e-15)
    _, dy = act.curve("relu", X_WITH_KINK)
    close(dy, [0, 0, 0, 1, 1], tol=0)


@pytest.mark.parametrize(("call", "error", "name"), [
    (lambda: act.leaky_relu_forward(X, alpha=-0.1), ValueError, "alpha"),
    (lambda: act.elu_forward(X, alpha=np.inf), ValueError, "alpha"),
    (lambda: act.elu_forward(X, alpha="1"), TypeError, "alpha"),
    (lambda: act.relu_forward(np.array(["a"])), TypeError, "x"),
    (lambda: act.tanh_backward(np.ones(3), act.tanh_forward(X)[1]), ValueError, "dout"),
    (lambda: act.tanh_backward(X, act.relu_forward(X)[1]), TypeError, "cache"),
    (lambda: act.maxout_forward(X, np.ones((5, 3)), np.ones((3, 2))), ValueError, "w"),
    (lambda: act.maxout_forward(X, np.ones((4, 3, 2)), np.ones((3, 2))), ValueError, "D_in"),
    (lambda: act.maxout_forward(X, np.ones((5, 3, 2)), np.ones(3)), ValueError, "b"),
    (lambda: act.maxout_forward(X[0], np.ones((5, 3, 2)), np.ones((3, 2))), ValueError, "x"),
    (lambda: act.curve("swish", X), ValueError, "name"),
    (lambda: act.curve("linear", X, alpha=0.1), TypeError, "linear"),
    (lambda: act.curve("relu", X, alpha=0.1), TypeError, "alpha"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_backward_returns_a_tuple(name):
    """One convention (trainlab.conventions): a backward pass returns a tuple of gradients,
    (dx,) for a one-input layer, like batch norm's (dx, dgamma, dbeta)."""
    forward, backward, kwargs, _ = CASES[name]
    out, cache = forward(X, **kwargs)
    grads = backward(np.ones_like(out), cache)
    assert isinstance(grads, tuple) and len(grads) == 1 and grads[0].shape == X.shape
