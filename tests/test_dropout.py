"""Dropout: inverted vs the paper's formulation, torch's mask and scaling, gradients, seeds and
bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from trainlab import dropout as dr
from trainlab.gradcheck import check_layer

FAST = settings(max_examples=25, deadline=None)
X = np.random.default_rng(0).standard_normal((6, 7)) + 3


@pytest.mark.parametrize(("forward", "backward"), [
    (dr.dropout_forward, dr.dropout_backward),
    (dr.standard_dropout_forward, dr.standard_dropout_backward),
])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_backward_matches_numeric_gradient(forward, backward, mode):
    # an int seed draws the same mask on every forward call of the numeric check
    report = check_layer(forward, backward, {"x": X}, {"keep_prob": 0.6, "mode": mode,
                                                       "rng": 3}, seed=1)
    assert report.passed, report.table()


def test_inverted_dropout_scales_kept_units_and_stores_the_mask():
    out, cache = dr.dropout_forward(X, 0.75, rng=1)
    mask = cache["mask"]
    assert mask.dtype == bool and mask.shape == X.shape
    np.testing.assert_allclose(out, np.where(mask, X / 0.75, 0.0), rtol=1e-15)
    out_eval, _ = dr.dropout_forward(X, 0.75, mode="eval")
    np.testing.assert_array_equal(out_eval, X)


def test_standard_dropout_keeps_units_unscaled_and_scales_at_test_time():
    out, cache = dr.standard_dropout_forward(X, 0.75, rng=1)
    np.testing.assert_array_equal(out, np.where(cache["mask"], X, 0.0))
    out_eval, _ = dr.standard_dropout_forward(X, 0.75, mode="eval")
    np.testing.assert_allclose(out_eval, 0.75 * X, rtol=1e-15)
    same_mask, _ = dr.dropout_forward(X, 0.75, mask=cache["mask"])
    np.testing.assert_allclose(same_mask * 0.75, out, rtol=1e-15)


@pytest.mark.parametrize("forward", [dr.dropout_forward, dr.standard_dropout_forward])
def test_expected_training_output_equals_the_test_output(forward):
    x = np.tile(np.linspace(1, 2, 10), (20_000, 1))
    outs, _ = forward(x, 0.3, rng=5)
    expected, _ = forward(x[0], 0.3, mode="eval")
    # std of the mean of 20 000 draws: sqrt(0.7 / 0.3 / 2e4) ~ 1.1% of x for inverted dropout
    np.testing.assert_allclose(outs.mean(axis=0), expected, rtol=0.05)


def test_kept_fraction_is_keep_prob():
    _, cache = dr.dropout_forward(np.ones(200_000), 0.3, rng=7)
    # binomial std of the fraction: sqrt(0.3 * 0.7 / 2e5) ~ 1e-3
    assert abs(cache["mask"].mean() - 0.3) < 5e-3


def test_seeds_and_generators_reproduce_the_mask():
    a = dr.dropout_forward(X, 0.5, rng=11)[1]["mask"]
    b = dr.dropout_forward(X, 0.5, rng=np.random.default_rng(11))[1]["mask"]
    c = dr.dropout_forward(X, 0.5, rng=12)[1]["mask"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_mask_reproduces_torch_dropout(dtype):
    keep_prob = 0.8
    xt = torch.tensor(X, dtype=dtype, requires_grad=True)
    torch.manual_seed(0)
    out_t = F.dropout(xt, p=1 - keep_prob, training=True)
    mask = (out_t != 0).numpy()
    kept = out_t.detach().numpy()[mask]
    np.testing.assert_allclose(kept, X[mask] / keep_prob, rtol=1e-6)  # torch scales by 1/(1-p)
    x = xt.detach().numpy()
    out, cache = dr.dropout_forward(x, keep_prob, mask=mask)
    assert out.dtype == x.dtype
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-6 if dtype == torch.float32
                               else 1e-14)
    dout = np.random.default_rng(1).standard_normal(X.shape)
    out_t.backward(torch.tensor(dout, dtype=dtype))
    np.testing.assert_allclose(dr.dropout_backward(dout, cache)[0], xt.grad.numpy(), rtol=1e-6)


def test_a_broadcast_mask_drops_whole_channels():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 4))
    mask = np.array([1, 0, 1], dtype=float).reshape(1, 3, 1, 1)
    out, cache = dr.dropout_forward(x, 0.5, mask=mask)
    np.testing.assert_array_equal(out[:, 1], 0)
    np.testing.assert_allclose(out[:, [0, 2]], 2 * x[:, [0, 2]])
    (dx,) = dr.dropout_backward(np.ones_like(x), cache)
    assert dx.shape == x.shape and np.all(dx[:, 1] == 0)


def test_keep_prob_one_is_the_identity():
    out, cache = dr.dropout_forward(X, 1.0, rng=0)
    np.testing.assert_array_equal(out, X)
    np.testing.assert_array_equal(dr.dropout_backward(X, cache)[0], X)


@FAST
@given(array_shapes(max_dims=3, max_side=6), st.floats(0.05, 1.0), st.integers(0, 2**16),
       st.sampled_from([np.float32, np.float64]))
def test_outputs_are_zero_or_rescaled_inputs(shape, keep_prob, seed, dtype):
    x = (np.random.default_rng(seed).standard_normal(shape) * 1e4).astype(dtype)
    out, cache = dr.dropout_forward(x, keep_prob, rng=seed)
    assert out.dtype == dtype and out.shape == x.shape
    scale = dtype(1) / dtype(keep_prob)
    np.testing.assert_array_equal(out, np.where(cache["mask"], x * scale, dtype(0)))
    (dx,) = dr.dropout_backward(np.ones_like(x), cache)
    np.testing.assert_array_equal(dx, np.where(cache["mask"], scale, dtype(0)))


@pytest.mark.parametrize(("call", "error", "name"), [
    (lambda: dr.dropout_forward(X, 0.0), ValueError, r"keep_prob must be in \(0, 1\]"),
    (lambda: dr.dropout_forward(X, 1.5), ValueError, "keep_prob"),
    (lambda: dr.dropout_forward(X, -0.2), ValueError, "keep_prob"),
    (lambda: dr.dropout_forward(X, float("nan")), ValueError, "keep_prob"),
    (lambda: dr.dropout_forward(X, "0.5"), TypeError, "keep_prob"),
    (lambda: dr.dropout_forward(X, True), TypeError, "keep_prob"),
    (lambda: dr.standard_dropout_forward(X, 2.0), ValueError, "keep_prob"),
    (lambda: dr.dropout_forward(X, 0.5, rng="seed"), TypeError, "rng"),
    (lambda: dr.dropout_forward(X, 0.5, rng=-1), ValueError, "rng"),
    (lambda: dr.dropout_forward(X, 0.5, mask=np.ones((6, 6))), ValueError, "mask"),
    (lambda: dr.dropout_forward(X, 0.5, mask=np.full(X.shape, 2.0)), ValueError, "mask"),
    (lambda: dr.dropout_forward(X, 0.5, mode="yes"), ValueError, "mode"),
    (lambda: dr.dropout_forward(X, 0.5, train=True), TypeError, "takes mode='train'"),
    (lambda: dr.standard_dropout_forward(X, 0.5, train=False), TypeError, "instead of train="),
    (lambda: dr.dropout_forward(X.astype(complex), 0.5), TypeError, "x"),
    (lambda: dr.dropout_backward(np.ones(3), dr.dropout_forward(X, 0.5, rng=0)[1]),
     ValueError, "dout"),
    (lambda: dr.dropout_backward(X, dr.standard_dropout_forward(X, 0.5, rng=0)[1]),
     TypeError, "cache"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_keep_prob_error_explains_torch_convention():
    with pytest.raises(ValueError, match="1 - keep_prob"):
        dr.dropout_forward(X, 1.5)


def test_dropout_benefit_shapes_and_label_noise():
    from trainlab.dropout import dropout_benefit
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8))
    y = rng.integers(0, 10, size=60)
    res = dropout_benefit(x[:40], y[:40], x[40:], y[40:], keep_probs=(1.0, 0.5), seeds=(0, 1),
                          hidden=(8,), steps=20, batch_size=10, record_every=10)
    assert set(res) == {1.0, 0.5}
    for r in res.values():
        assert list(r["step"]) == [0, 10, 19] and r["val_acc"].shape == (2, 3)
    with pytest.raises(ValueError, match="label_noise"):
        dropout_benefit(x, y, x, y, label_noise=1.5)


@pytest.mark.parametrize("backward", [dr.dropout_backward, dr.standard_dropout_backward])
def test_backward_returns_a_tuple_like_every_backward(backward):
    forward = dr.dropout_forward if backward is dr.dropout_backward else \
        dr.standard_dropout_forward
    _, cache = forward(X, 0.5, rng=0)
    grads = backward(np.ones_like(X), cache)
    assert isinstance(grads, tuple) and len(grads) == 1 and grads[0].shape == X.shape


def test_early_stopping_benefit_is_the_lessons_loop():
    """The helper equals lesson 06's plain loop (digits, label noise, best-validation
    checkpoint, test split), here at a tiny size."""
    from sklearn.datasets import load_digits

    from trainlab import models, train

    torch.set_default_dtype(torch.float64)
    try:
        res = dr.early_stopping_benefit(hidden=(16,), steps=30, record_every=10, seeds=(0, 1))
        digits = load_digits()
        X, yd = digits.data / 16.0, digits.target
        order = np.random.default_rng(0).permutation(len(X))
        tr, va, te = order[:300], order[600:1000], order[1000:]
        for kp in (1.0, 0.5):
            for i, seed in enumerate((0, 1)):
                rng = np.random.default_rng(100 + seed)
                labels = yd[tr].copy()
                flip = rng.random(len(labels)) < 0.3
                labels[flip] = rng.integers(0, 10, int(flip.sum()))
                model = models.mlp(64, [16], 10, keep_prob=kp, seed=seed)
                hist = train.train(model, (X[tr], labels), (X[va], yd[va]), steps=30,
                                   batch_size=50, lr=1e-3, optimizer="adam", record_every=10,
                                   stats=False, seed=seed, progress=False,
                                   restore_best="val_acc")
                assert res[kp]["best"][i] == train.evaluate(model, X[te], yd[te])[1]
                assert res[kp]["step"][i] == hist.best_step
        assert set(res) == {1.0, 0.5} and res[1.0]["last"].shape == (2,)
        noisy_val = dr.early_stopping_benefit(hidden=(16,), steps=30, record_every=10,
                                              seeds=(0,), clean_val=False)
        assert noisy_val[1.0]["last"][0] == res[1.0]["last"][0]   # same training, same end
    finally:
        torch.set_default_dtype(torch.float32)
    with pytest.raises(ValueError, match="n_train"):
        dr.early_stopping_benefit(n_train=700)
    with pytest.raises(ValueError, match="label_noise"):
        dr.early_stopping_benefit(label_noise=-0.1)
