"""Tests for trainlab.init: gains, fans, stds and draws against torch.nn.init; LSUV."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from trainlab import init

RANDOM_SCHEMES = ("normal", "xavier_fan_in", "xavier_normal", "xavier_uniform",
                  "kaiming_normal", "kaiming_uniform", "lecun_normal")


# --- gain -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in init.NONLINEARITIES if n != "leaky_relu"])
def test_gain_matches_torch(name: str) -> None:
    assert init.gain(name) == pytest.approx(nn.init.calculate_gain(name), rel=1e-12)


@pytest.mark.parametrize("slope", [None, 0.0, 0.2, 1.0, 3])
def test_gain_leaky_relu_matches_torch(slope: float | None) -> None:
    expected = nn.init.calculate_gain("leaky_relu", slope)
    assert init.gain("leaky_relu", slope) == pytest.approx(expected, rel=1e-12)


def test_gain_values_from_the_lecture() -> None:
    assert init.gain("tanh") == pytest.approx(5 / 3)
    assert init.gain("relu") == pytest.approx(math.sqrt(2))
    assert init.gain("selu") == pytest.approx(0.75)


def test_gain_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="nonlinearity must be one of.*got 'swish'"):
        init.gain("swish")
    with pytest.raises(ValueError, match="param"):
        init.gain("leaky_relu", float("nan"))
    with pytest.raises(ValueError, match="param"):
        init.gain("tanh", 0.1)


# --- fans -------------------------------------------------------------------------------------

def test_fans_numpy_layout_is_din_dout() -> None:
    assert init.fans((3, 7)) == (3, 7)
    assert init.fans((3, 7), layout="numpy") == (3, 7)


@pytest.mark.parametrize("shape", [(7, 3), (8, 4, 5), (8, 4, 3, 3), (16, 2, 3, 5)])
def test_fans_torch_layout_matches_torch(shape: tuple[int, ...]) -> None:
    expected = nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fans(shape, layout="torch") == expected


def test_fans_conv_kernel_is_the_torch_layout_and_numpy_means_2d() -> None:
    assert init.fans((8, 4, 3, 3), layout="torch") == (4 * 9, 8 * 9)
    with pytest.raises(ValueError, match=r"layout='numpy' is a 2-D.*layout='maxout'"):
        init.fans((8, 4, 3, 3), layout="numpy")


def test_fans_of_a_maxout_weight_need_the_explicit_layout() -> None:
    """Issue 19: a 3-D maxout weight (D_in, D_out, k) was read as a conv kernel."""
    assert init.fans((100, 30, 4), layout="maxout") == (100, 30)
    with pytest.raises(ValueError, match=r"layout='maxout' for \(D_in, D_out, k\)"):
        init.fans((100, 30, 4))
    with pytest.raises(ValueError, match="layout='maxout' is a 3-D"):
        init.fans((100, 30), layout="maxout")
    w = init.init_weights((1000, 300, 3), "xavier_normal", layout="maxout", rng=0)
    assert w.std() == pytest.approx(math.sqrt(2 / 1300), rel=0.02)


def test_fans_errors() -> None:
    with pytest.raises(ValueError, match=r"shape must have at least 2 dims.*\(5,\)"):
        init.fans((5,))
    with pytest.raises(ValueError, match="layout must be one of numpy, maxout, torch, got 'tf'"):
        init.fans((2, 3), layout="tf")
    with pytest.raises(ValueError, match="shape must hold positive integers"):
        init.fans((0, 3))


# --- init_std: the analytic formulas ----------------------------------------------------------

def _torch_std(scheme: str, shape: tuple[int, ...], nonlinearity: str, mode: str,
               a: float) -> float:
    """The std each torch.nn.init function implies, from torch's own helpers."""
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    if scheme.startswith("xavier"):
        return math.sqrt(2.0 / (fan_in + fan_out))
    fan = nn.init._calculate_correct_fan(torch.empty(shape), mode)
    param = a if nonlinearity == "leaky_relu" else None
    return nn.init.calculate_gain(nonlinearity, param) / math.sqrt(fan)


@pytest.mark.parametrize("scheme", ["xavier_normal", "xavier_uniform"])
@pytest.mark.parametrize("shape", [(30, 50), (16, 8, 3, 3)])
def test_xavier_std_equals_torch_formula(scheme: str, shape: tuple[int, ...]) -> None:
    fi, fo = init.fans(shape, layout="torch")
    got = init.init_std(scheme, fi, fo)
    assert got == pytest.approx(_torch_std(scheme, shape, "linear", "fan_in", 0.0))
    assert init.init_std(scheme, fi, fo, scale=init.gain("tanh")) == pytest.approx(5 / 3 * got)


@pytest.mark.parametrize("scheme", ["xavier_normal", "xavier_uniform", "xavier_fan_in",
                                    "lecun_normal", "normal", "orthogonal"])
def test_only_kaiming_takes_an_activation_gain(scheme: str) -> None:
    """Issue 19: init="xavier_normal" silently applied the activation's gain (Xavier + ReLU =
    Kaiming); a gain is now explicit (scale=) and the error says how."""
    with pytest.raises(ValueError, match=r"kaiming schemes only.*scale=init.gain\('relu'\)"):
        init.init_std(scheme, 30, 50, nonlinearity="relu")


@pytest.mark.parametrize("scheme", ["kaiming_normal", "kaiming_uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize(("nonlinearity", "a"), [("relu", 0.0), ("leaky_relu", 0.2),
                                                  ("linear", 0.0), ("tanh", 0.0)])
def test_kaiming_std_equals_torch_formula(scheme: str, mode: str, nonlinearity: str,
                                          a: float) -> None:
    shape = (16, 8, 3, 3)
    fi, fo = init.fans(shape, layout="torch")
    got = init.init_std(scheme, fi, fo, nonlinearity=nonlinearity, mode=mode, a=a)
    assert got == pytest.approx(_torch_std(scheme, shape, nonlinearity, mode, a))


def test_init_std_simple_schemes() -> None:
    assert init.init_std("zeros", 10, 20) == 0.0
    assert init.init_std("constant", 10, 20, scale=0.3) == 0.0
    assert init.init_std("normal", 10, 20, scale=0.01) == pytest.approx(0.01)
    assert init.init_std("xavier_fan_in", 100, 7) == pytest.approx(0.1)
    assert init.init_std("lecun_normal", 100, 7) == pytest.approx(0.1)
    assert init.init_std("kaiming_normal", 512, 512) == pytest.approx(math.sqrt(2 / 512))
    assert init.init_std("orthogonal", 100, 400, scale=math.sqrt(2)) == pytest.approx(
        math.sqrt(2) / 20)


@pytest.mark.parametrize("scheme", RANDOM_SCHEMES)
def test_scale_multiplies_the_std(scheme: str) -> None:
    base = init.init_std(scheme, 40, 60)
    assert init.init_std(scheme, 40, 60, scale=2.5) == pytest.approx(2.5 * base)


def test_init_std_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="scheme must be one of zeros, constant, normal.*'he'"):
        init.init_std("he", 3, 4)
    with pytest.raises(ValueError, match="scale must be > 0.*'normal'.*got 0"):
        init.init_std("normal", 3, 4, scale=0)
    with pytest.raises(ValueError, match="scale must be > 0.*got -1"):
        init.init_std("kaiming_normal", 3, 4, scale=-1.0)
    with pytest.raises(ValueError, match="mode must be one of fan_in, fan_out, got 'avg'"):
        init.init_std("kaiming_normal", 3, 4, mode="avg")
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        init.init_std("kaiming_normal", 3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="fan_in must be a positive integer, got 0"):
        init.init_std("xavier_normal", 0, 4)
    assert init.init_std("constant", 3, 4, scale=-2.0) == 0.0


# --- empirical draws ----------------------------------------------------------------------------

TORCH_FNS = {
    "xavier_normal": lambda w, g: nn.init.xavier_normal_(w, gain=5 / 3, generator=g),
    "xavier_uniform": lambda w, g: nn.init.xavier_uniform_(w, gain=5 / 3, generator=g),
    "kaiming_normal": lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),
    "kaiming_uniform": lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="relu",
                                                             generator=g),
}


@pytest.mark.parametrize("scheme", sorted(TORCH_FNS))
def test_torch_draws_have_the_analytic_std_and_equal_torch(scheme: str) -> None:
    shape = (256, 128, 3, 3)
    kw = {"scale": init.gain("tanh")} if scheme.startswith("xavier") else \
        {"nonlinearity": "relu"}
    expected = init.init_std(scheme, *init.fans(shape, "torch"), **kw)
    ours = init.init_tensor_(torch.empty(shape), scheme, rng=torch.Generator().manual_seed(3),
                             **kw)
    theirs = TORCH_FNS[scheme](torch.empty(shape), torch.Generator().manual_seed(3))
    assert float(ours.std()) == pytest.approx(expected, rel=0.02)
    assert float(theirs.std()) == pytest.approx(expected, rel=0.02)
    torch.testing.assert_close(ours, theirs)


def test_torch_orthogonal_equals_torch() -> None:
    ours = init.init_tensor_(torch.empty(30, 50), "orthogonal", scale=math.sqrt(2), rng=1)
    theirs = nn.init.orthogonal_(torch.empty(30, 50), gain=math.sqrt(2),
                                 generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(ours @ ours.T, 2 * torch.eye(30), atol=1e-5, rtol=0)


@pytest.mark.parametrize("scheme", RANDOM_SCHEMES)
def test_numpy_draws_have_the_analytic_std(scheme: str) -> None:
    shape = (400, 600)
    kw = {"nonlinearity": "tanh"} if scheme.startswith("kaiming") else {}
    w = init.init_weights(shape, scheme, scale=0.5, rng=0, **kw)
    expected = init.init_std(scheme, 400, 600, scale=0.5, **kw)
    assert w.shape == shape and w.dtype == np.float64
    assert abs(w.mean()) < 0.01 * expected
    assert w.std() == pytest.approx(expected, rel=0.02)
    if scheme.endswith("uniform"):
        bound = math.sqrt(3) * expected
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.99 * bound


def test_numpy_layout_uses_din_as_fan_in() -> None:
    w = init.init_weights((100, 1000), "kaiming_normal", nonlinearity="relu", rng=1)
    assert w.std() == pytest.approx(math.sqrt(2 / 100), rel=0.02)
    w_out = init.init_weights((100, 1000), "kaiming_normal", mode="fan_out", rng=1)
    assert w_out.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)


def test_numpy_deterministic_schemes_dtype_and_seed() -> None:
    assert not init.init_weights((3, 4), "zeros").any()
    np.testing.assert_array_equal(init.init_weights((3, 4), "constant", scale=0.25),
                                  np.full((3, 4), 0.25))
    a = init.init_weights((5, 6), "xavier_normal", rng=7, dtype=np.float32)
    b = init.init_weights((5, 6), "xavier_normal", rng=np.random.default_rng(7),
                          dtype=np.float32)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, init.init_weights((5, 6), "xavier_normal", rng=8,
                                                   dtype=np.float32))


@pytest.mark.parametrize("shape", [(20, 50), (50, 20)])
def test_numpy_orthogonal(shape: tuple[int, int]) -> None:
    w = init.init_weights(shape, "orthogonal", rng=0)
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_init_weights_errors() -> None:
    with pytest.raises(ValueError, match="shape must have at least 2 dims"):
        init.init_weights((10,), "xavier_normal")
    with pytest.raises(TypeError, match="rng must be"):
        init.init_weights((3, 3), "normal", rng="seed")
    with pytest.raises(ValueError, match="scheme must be one of"):
        init.init_weights((3, 3), "glorot")


# --- torch modules ------------------------------------------------------------------------------

def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(300, 400), nn.ReLU(), nn.Linear(400, 200), nn.ReLU(),
                         nn.Linear(200, 10))


def _cnn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(16, 64, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64 * 4 * 4, 10))


@pytest.mark.parametrize("make", [_mlp, _cnn])
@pytest.mark.parametrize("scheme", ["kaiming_normal", "xavier_uniform"])
def test_init_module_sets_every_layer(make, scheme: str) -> None:
    model = make()
    kw = {"nonlinearity": "relu"} if scheme.startswith("kaiming") else {}
    out = init.init_module_(model, scheme, bias=0.1, rng=torch.Generator().manual_seed(0), **kw)
    assert out is model
    layers = [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    for layer in layers:
        fi, fo = init.fans(tuple(layer.weight.shape), layout="torch")
        expected = init.init_std(scheme, fi, fo, **kw)
        assert float(layer.weight.detach().std()) == pytest.approx(expected, rel=0.1)
        torch.testing.assert_close(layer.bias, torch.full_like(layer.bias, 0.1))


def test_init_module_is_reproducible_and_keeps_bias_when_asked() -> None:
    a, b = _cnn(), _cnn()
    bias_before = b[0].bias.detach().clone()
    init.init_module_(a, "kaiming_uniform", rng=torch.Generator().manual_seed(5))
    init.init_module_(b, "kaiming_uniform", bias=None, rng=5)
    torch.testing.assert_close(a[2].weight, b[2].weight)
    torch.testing.assert_close(b[0].bias, bias_before)


def test_init_module_errors() -> None:
    with pytest.raises(ValueError, match="module must contain at least one nn.Linear"):
        init.init_module_(nn.Sequential(nn.ReLU()), "xavier_normal")
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        init.init_module_(np.zeros((3, 3)), "xavier_normal")
    with pytest.raises(ValueError, match="scale must be > 0"):
        init.init_module_(_mlp(), "xavier_normal", scale=0.0)
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor"):
        init.init_tensor_(np.zeros((3, 3)), "xavier_normal")


# --- LSUV -------------------------------------------------------------------------------------

def _layer_output_variances(model: nn.Module, x: torch.Tensor) -> list[float]:
    variances: list[float] = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: variances.append(float(o.var())))
             for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return variances


@pytest.mark.parametrize(("make", "shape"), [(_mlp, (256, 300)), (_cnn, (64, 16, 4, 4))])
def test_lsuv_gives_unit_output_variance(make, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = make().train()
    x = 3.0 * torch.randn(shape)
    out = init.lsuv_(model, x, tol=0.02, rng=torch.Generator().manual_seed(1))
    assert out is model and model.training
    variances = _layer_output_variances(model, x)
    assert variances == pytest.approx([1.0] * len(variances), abs=0.02)
    record = model.lsuv_record
    assert [r.name for r in record] == [n for n, m in model.named_modules()
                                        if isinstance(m, nn.Linear | nn.Conv2d)]
    assert [r.variance_after for r in record] == pytest.approx(variances)
    assert all(r.iterations >= 1 for r in record)
    assert abs(record[0].variance_before - 1.0) > 0.5


def test_lsuv_errors() -> None:
    x = torch.randn(8, 300)
    with pytest.raises(ValueError, match="tol must be in"):
        init.lsuv_(_mlp(), x, tol=0.0)
    with pytest.raises(ValueError, match="max_iter must be a positive int"):
        init.lsuv_(_mlp(), x, max_iter=0)
    with pytest.raises(ValueError, match="output variance 0"):
        init.lsuv_(_mlp(), torch.zeros(8, 300))


@pytest.mark.parametrize("call", [
    lambda: init.init_tensor_(torch.empty(3, 4), "normal", generator=torch.Generator()),
    lambda: init.init_module_(_mlp(), "normal", generator=torch.Generator()),
    lambda: init.lsuv_(_mlp(), torch.randn(8, 300), generator=torch.Generator()),
])
def test_generator_is_renamed_rng_in_torch_functions_too(call) -> None:
    with pytest.raises(TypeError, match="takes rng= instead of generator="):
        call()
