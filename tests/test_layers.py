"""Affine layer and losses: gradients vs centred differences and torch, stability, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from torch_compare import close, t
from trainlab import layers
from trainlab.gradcheck import check_layer, numeric_gradient

FAST = settings(max_examples=25, deadline=None)




RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5))
W = RNG.standard_normal((5, 3))
B = RNG.standard_normal(3)
X4 = RNG.standard_normal((2, 3, 2, 2))
W4 = RNG.standard_normal((12, 3))


@pytest.mark.parametrize(("x", "w"), [(X, W), (X4, W4)])
def test_affine_matches_numeric_gradient_and_torch(x, w):
    report = check_layer(layers.affine_forward, layers.affine_backward,
                         {"x": x, "w": w, "b": B}, seed=1)
    assert report.passed, report.table()
    out, cache = layers.affine_forward(x, w, B)
    xt, wt, bt = t(x, True), t(w, True), t(B, True)
    out_t = F.linear(xt.reshape(x.shape[0], -1), wt.T, bt)
    close(out, out_t)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    out_t.backward(t(dout))
    for ours, ref in zip(layers.affine_backward(dout, cache), (xt.grad, wt.grad, bt.grad),
                         strict=True):
        close(ours, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_keeps_dtype(dtype):
    out, cache = layers.affine_forward(X.astype(dtype), W.astype(dtype), B.astype(dtype))
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in layers.affine_backward(np.ones_like(out), cache))


def test_softmax_cross_entropy_matches_torch_and_numeric_gradient():
    scores = RNG.standard_normal((6, 4)) * 3
    y = np.array([0, 3, 1, 1, 2, 0])
    loss, dscores = layers.softmax_cross_entropy(scores, y)
    st_ = t(scores, True)
    loss_t = F.cross_entropy(st_, torch.tensor(y))
    loss_t.backward()
    close(loss, loss_t)
    close(dscores, st_.grad)
    numeric = numeric_gradient(lambda s: layers.softmax_cross_entropy(s, y)[0], scores.copy())
    close(dscores, numeric, tol=1e-7)


def test_softmax_cross_entropy_is_stable_for_huge_scores():
    scores = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]])
    y = np.array([0, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dscores = layers.softmax_cross_entropy(scores, y)
    st_ = t(scores, True)
    loss_t = F.cross_entropy(st_, torch.tensor(y))
    loss_t.backward()
    close(loss, loss_t)
    close(dscores, st_.grad)


def test_mse_loss_matches_torch_and_numeric_gradient():
    pred, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    loss, dpred = layers.mse_loss(pred, y)
    pt = t(pred, True)
    loss_t = F.mse_loss(pt, t(y))
    loss_t.backward()
    close(loss, loss_t)
    close(dpred, pt.grad)
    close(dpred, numeric_gradient(lambda p: layers.mse_loss(p, y)[0], pred.copy()), tol=1e-7)


@FAST
@given(st.integers(1, 6), st.integers(1, 40), st.integers(1, 5), st.integers(0, 2**16))
def test_affine_and_losses_match_torch_on_generated_shapes(n, d_in, d_out, seed):
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, d_in)) * 10 ** g.uniform(-2, 4)
    w, b = g.standard_normal((d_in, d_out)), g.standard_normal(d_out)
    out, _ = layers.affine_forward(x, w, b)
    close(out, F.linear(t(x), t(w).T, t(b)))
    y = g.integers(0, d_out, n)
    loss, dscores = layers.softmax_cross_entropy(out, y)
    ot = t(out, True)
    loss_t = F.cross_entropy(ot, torch.tensor(y))
    loss_t.backward()
    close(loss, loss_t, tol=1e-9)
    close(dscores, ot.grad, tol=1e-9)


@FAST
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4)),
              elements=st.floats(-1e4, 1e4)))
def test_softmax_gradient_rows_sum_to_zero_and_loss_is_finite(scores):
    y = np.zeros(scores.shape[0], dtype=int)
    loss, dscores = layers.softmax_cross_entropy(scores, y)
    assert np.isfinite(loss) and loss >= 0
    close(dscores.sum(axis=1), np.zeros(scores.shape[0]), tol=1e-12)


@pytest.mark.parametrize(("call", "error", "name"), [
    (lambda: layers.affine_forward(X, W[None], B), ValueError, "w"),
    (lambda: layers.affine_forward(X, W[:4], B), ValueError, "D_in"),
    (lambda: layers.affine_forward(X, W, B[:2]), ValueError, "b"),
    (lambda: layers.affine_forward(X[0], W, B), ValueError, "x"),
    (lambda: layers.affine_forward(X.astype(complex), W, B), TypeError, "x"),
    (lambda: layers.affine_forward("x", W, B), TypeError, "x"),
    (lambda: layers.affine_backward(np.ones((4, 2)), layers.affine_forward(X, W, B)[1]),
     ValueError, "dout"),
    (lambda: layers.affine_backward(np.ones((4, 3)), None), TypeError, "cache"),
    (lambda: layers.softmax_cross_entropy(X, np.array([0, 1, 2, 5])), ValueError, "y"),
    (lambda: layers.softmax_cross_entropy(X, np.array([0, 1, -1, 2])), ValueError, "y"),
    (lambda: layers.softmax_cross_entropy(X, np.zeros(4)), TypeError, "y"),
    (lambda: layers.softmax_cross_entropy(X, np.zeros(3, dtype=int)), ValueError, "y"),
    (lambda: layers.softmax_cross_entropy(X[0], np.zeros(1, dtype=int)), ValueError, "scores"),
    (lambda: layers.mse_loss(X, X[:2]), ValueError, "y"),
    (lambda: layers.mse_loss(np.ones(0), np.ones(0)), ValueError, "pred"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()
