"""Public bug reports of torch and scikit-learn replayed against trainlab (issue 30): at each
edge trainlab behaves as its oracle does, or refuses with a message naming the argument."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from trainlab import activations, gradcheck, init, layers, norm, preprocess


# ---------------------------------------------------------------- Kaiming's a (torch's meaning)
@pytest.mark.parametrize("a", [0.0, 0.2, 1.0, math.sqrt(5)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_a_is_torchs_leaky_relu_slope(a, mode):
    fan_in, fan_out = 1000, 250
    expected = math.sqrt(2.0 / (1.0 + a * a)) / math.sqrt(fan_in if mode == "fan_in" else fan_out)
    assert init.init_std("kaiming_normal", fan_in, fan_out, a=a, mode=mode) == \
        pytest.approx(expected, rel=1e-12)
    # torch draws with the same std and bound
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    torch.nn.init.kaiming_normal_(w, a=a, mode=mode, generator=torch.Generator().manual_seed(0))
    ours = init.init_tensor_(torch.empty(fan_out, fan_in, dtype=torch.float64), "kaiming_normal",
                             a=a, mode=mode, rng=0)
    assert torch.equal(w, ours)
    torch.nn.init.kaiming_uniform_(w, a=a, mode=mode,
                                   generator=torch.Generator().manual_seed(1))
    ours = init.init_tensor_(torch.empty(fan_out, fan_in, dtype=torch.float64),
                             "kaiming_uniform", a=a, mode=mode, rng=1)
    assert torch.allclose(w, ours, rtol=0, atol=1e-15)


def test_torchs_linear_default_init_bound():
    """pytorch/pytorch#15314: nn.Linear's default is kaiming_uniform_(a=sqrt(5)), bound
    1/sqrt(fan_in)."""
    w = init.init_tensor_(torch.empty(250, 1000), "kaiming_uniform", a=math.sqrt(5), rng=0)
    bound = 1 / math.sqrt(1000)
    assert w.abs().max().item() <= bound + 1e-7 and w.abs().max().item() > 0.99 * bound
    lin = torch.nn.Linear(1000, 250)
    assert lin.weight.abs().max().item() <= bound + 1e-7


def test_a_is_refused_where_torch_would_ignore_it():
    with pytest.raises(ValueError, match=r"a=0.2 is a leaky ReLU's negative slope but "
                                         r"nonlinearity='relu' has none"):
        init.init_std("kaiming_normal", 100, 10, a=0.2, nonlinearity="relu")
    with pytest.raises(ValueError, match=r"a=0.2 .* applies to the kaiming schemes only"):
        init.init_weights((10, 10), "xavier_normal", a=0.2)
    with pytest.raises(ValueError, match="a .* must be a finite number"):
        init.init_std("kaiming_normal", 100, 10, a=float("inf"))
    # explicit leaky_relu with a keeps torch's meaning
    assert init.init_std("kaiming_normal", 100, 10, nonlinearity="leaky_relu", a=0.2) == \
        pytest.approx(math.sqrt(2 / 1.04) / 10)


def test_orthogonal_maxout_std_matches_init_std():
    w = init.init_weights((100, 30, 4), "orthogonal", layout="maxout", rng=0)
    for j in range(4):                      # each piece has orthonormal columns
        np.testing.assert_allclose(w[:, :, j].T @ w[:, :, j], np.eye(30), atol=1e-12)
    assert w.std() == pytest.approx(init.init_std("orthogonal", 100, 30), rel=0.02)


# ---------------------------------------------------------------- round-off "constant" features
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standardizer_treats_round_off_constant_features_as_scikit_learn(dtype):
    """scikit-learn#17794: a column of one repeated value has a float std of ~1e-15."""
    x = np.full((1000, 1), 14.62, dtype=dtype)
    ours = preprocess.Standardizer().fit(x)
    theirs = StandardScaler().fit(x)
    new = np.array([[15.62]], dtype=dtype)
    np.testing.assert_allclose(ours.transform(new), theirs.transform(new), rtol=1e-6)
    assert ours.constant_.tolist() == [True]
    module = ours.to_torch()
    out = module(torch.tensor(new))
    assert out.item() == pytest.approx(1.0, rel=1e-5)
    back = preprocess.Standardizer.from_state_dict(ours.state_dict())
    np.testing.assert_allclose(back.transform(new), ours.transform(new))


def test_standardizer_still_scales_a_real_tiny_spread():
    rng = np.random.default_rng(0)
    x = 14.62 + 1e-9 * rng.standard_normal((1000, 2))
    ours, theirs = preprocess.Standardizer(eps=0.0).fit(x), StandardScaler().fit(x)
    assert not ours.constant_.any()
    np.testing.assert_allclose(ours.transform(x[:5]), theirs.transform(x[:5]), rtol=1e-6)


# ---------------------------------------------------------------- gradient check at a kink
def test_check_layer_at_relu_kink_is_right_with_a_reason():
    """pytorch/pytorch#114234: ReLU at 0 is not differentiable; the check must not say WRONG."""
    report = gradcheck.check_layer(activations.relu_forward, activations.relu_backward,
                                   {"x": np.zeros((1, 4))})
    assert report.passed and report.verdict("x") == "kink"
    assert "4 of 4 entries lie within h = 1e-06 of a kink" in report.table()


def test_check_layer_near_kink_and_wrong_backward_told_apart():
    x = np.random.default_rng(3).standard_normal((5, 6))
    x[0, :3] = [0.0, 4e-7, -9e-7]
    ok = gradcheck.check_layer(activations.relu_forward, activations.relu_backward, {"x": x})
    assert ok.passed and ok.verdict("x") == "kink" and "3 of 30 entries" in ok.table()

    def scaled(dout, cache):
        (dx,) = activations.relu_backward(dout, cache)
        return (1.1 * dx,)

    def wrong_at_kink(dout, cache):
        (dx,) = activations.relu_backward(dout, cache)
        dx = dx.copy()
        dx[0, 0] = 5.0 + abs(dout[0, 0])
        return (dx,)

    for bad in (scaled, wrong_at_kink):
        report = gradcheck.check_layer(activations.relu_forward, bad, {"x": x})
        assert not report.passed and report.verdict("x") == "WRONG", report.table()
        assert "the backward is wrong" in report.table()


def test_check_layer_tells_a_float32_forward_apart():
    def forward32(x):
        out, cache = activations.tanh_forward(x.astype(np.float32))
        return out.astype(np.float64), cache

    x = np.random.default_rng(0).standard_normal((4, 5))
    report = gradcheck.check_layer(forward32, activations.tanh_backward, {"x": x})
    assert not report.passed and report.verdict("x") == "float32"
    assert "check the layer in float64" in report.table()


@pytest.mark.parametrize("seed", range(40))
def test_check_layer_stays_right_for_random_inputs(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 5))
    for fwd, bwd in ((activations.relu_forward, activations.relu_backward),
                     (activations.leaky_relu_forward, activations.leaky_relu_backward),
                     (activations.tanh_forward, activations.tanh_backward)):
        assert gradcheck.check_layer(fwd, bwd, {"x": x}, seed=seed).verdict("x") == "ok"


# ---------------------------------------------------------------- smaller edges
def test_relu_backward_accepts_a_list_dout_like_every_backward():
    out, cache = activations.relu_forward(np.array([[1.0, -1.0]]))
    (dx,) = activations.relu_backward([[2.0, 3.0]], cache)
    np.testing.assert_array_equal(dx, [[2.0, 0.0]])
    with pytest.raises(ValueError, match="dout"):
        activations.relu_backward([[2.0, 3.0, 4.0]], cache)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "relu"])
def test_np_matrix_inputs_give_elementwise_gradients(name):
    fwd = getattr(activations, f"{name}_forward")
    bwd = getattr(activations, f"{name}_backward")
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    dout = np.array([[1.0, 2.0], [3.0, 4.0]])
    out_m, cache_m = fwd(np.matrix(x))
    (dx_m,) = bwd(np.matrix(dout), cache_m)
    out, cache = fwd(x)
    (dx,) = bwd(dout, cache)
    assert type(out_m) is np.ndarray and type(dx_m) is np.ndarray
    np.testing.assert_allclose(dx_m, dx)
    out_a, _ = layers.affine_forward(np.matrix(x), np.eye(2), np.zeros(2))
    assert type(out_a) is np.ndarray


def test_batchnorm_empty_batch_message_says_empty():
    with pytest.raises(ValueError, match=r"training-mode batch norm \(an empty batch\) got an "
                                         r"empty group \(N = 0\)"):
        norm.batchnorm_forward(np.zeros((0, 3)), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(a batch of one\) got a group of one value"):
        norm.batchnorm_forward(np.zeros((1, 3)), np.ones(3), np.zeros(3))
