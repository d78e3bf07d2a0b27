"""Tests of trainlab.models: layer sequences, shapes, initialisation and argument checks."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from trainlab import modules
from trainlab.models import (
    ACTIVATIONS,
    CNN_NORMS,
    MLP_NORMS,
    LinearActivation,
    activation_name,
    cnn,
    mlp,
)

EXPECTED_MLP_BLOCK = {
    "none": ["fc", "act"],
    "bn": ["fc", "norm", "act"],
    "bn_after": ["fc", "act", "norm"],
    "ln": ["fc", "norm", "act"],
    "gn": ["fc", "norm", "act"],
    "lp_bn": ["fc", "norm", "act"],
    "noisy_bn": ["fc", "norm", "act"],
    "bn_scratch": ["fc", "norm", "act"],
    "wn": ["fc", "act"],
}
NORM_TYPES = {
    "bn": nn.BatchNorm1d, "bn_after": nn.BatchNorm1d, "ln": nn.LayerNorm, "gn": nn.GroupNorm,
    "lp_bn": modules.LpBatchNorm, "noisy_bn": modules.NoisyBatchNorm,
    "bn_scratch": modules.BatchNorm,
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Small tensors run fastest, and with the least jitter on a shared machine, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _names(model: nn.Sequential) -> list[str]:
    return [name for name, _ in model.named_children()]


@pytest.mark.parametrize("norm", MLP_NORMS)
def test_mlp_layer_sequence_and_shapes_for_every_norm(norm: str) -> None:
    model = mlp(5, [16, 8], 3, norm=norm, keep_prob=0.5)
    block = EXPECTED_MLP_BLOCK[norm] + ["drop"]
    expected = [f"{kind}{i}" for i in (1, 2) for kind in block] + ["out"]
    assert _names(model) == expected
    affine = modules.WeightNormLinear if norm == "wn" else nn.Linear
    assert all(isinstance(model.get_submodule(f"fc{i}"), affine) for i in (1, 2))
    assert isinstance(model.out, affine)
    if norm in NORM_TYPES:
        assert type(model.norm1) is NORM_TYPES[norm]
    if norm in ("bn", "lp_bn", "noisy_bn", "bn_scratch"):
        assert model.fc1.bias is None, "BN before the activation replaces the bias"
    model.eval()
    assert model(torch.randn(7, 5)).shape == (7, 3)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_mlp_activation_modules(activation: str) -> None:
    model = mlp(4, [6] * 3, 2, activation=activation)
    assert _names(model) == ["fc1", "act1", "fc2", "act2", "fc3", "act3", "out"]
    assert all(type(model.get_submodule(f"act{i}")) is ACTIVATIONS[activation] for i in (1, 2, 3))
    assert activation_name(model.act1) == activation
    assert model(torch.randn(2, 4)).shape == (2, 2)


def test_activation_name_ignores_other_modules() -> None:
    assert activation_name(nn.Identity()) is None
    assert activation_name(nn.Linear(2, 2)) is None
    assert activation_name(LinearActivation()) == "linear"


def test_dropout_uses_drop_probability() -> None:
    model = mlp(4, [8], 2, keep_prob=0.8)
    assert isinstance(model.drop1, nn.Dropout)
    assert model.drop1.p == pytest.approx(0.2)
    assert "drop1" not in _names(mlp(4, [8], 2, keep_prob=1.0))


def _dropout_output_variances(model: nn.Sequential, x: torch.Tensor) -> list[float]:
    """Variance of every dropout module's output (one per hidden layer) in training mode."""
    seen: list[float] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(float(out.var())))
             for name, m in model.named_children() if name.startswith("drop")]
    torch.manual_seed(0)
    with torch.no_grad():
        model.train()(x)
    for h in hooks:
        h.remove()
    return seen


def test_selu_uses_alpha_dropout_and_keeps_the_variance_near_one() -> None:
    model = mlp(256, [256] * 8, 10, activation="selu", init="lecun_normal", keep_prob=0.9,
                seed=0).double()
    drops = [m for name, m in model.named_children() if name.startswith("drop")]
    assert len(drops) == 8
    assert all(type(m) is nn.AlphaDropout and m.p == pytest.approx(0.1) for m in drops)
    assert type(mlp(4, [8], 2, activation="relu", keep_prob=0.9).drop1) is nn.Dropout
    x = torch.randn(4096, 256, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    variances = _dropout_output_variances(model, x)
    assert all(0.9 < v < 1.1 for v in variances), variances
    # the same network with ordinary dropout (what mlp built before) drifts away from 1
    for name, _m in list(model.named_children()):
        if name.startswith("drop"):
            setattr(model, name, nn.Dropout(p=0.1))
    assert _dropout_output_variances(model, x)[-1] > 1.3
    # and mlp's module does what torch's nn.AlphaDropout does on SELU activations
    a = nn.SELU()(torch.randn(1_000_000, generator=torch.Generator().manual_seed(2),
                              dtype=torch.float64))
    torch.manual_seed(3)
    ours = drops[0].train()(a)
    torch.manual_seed(3)
    theirs = nn.AlphaDropout(p=0.1).train()(a)
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-12)
    assert abs(float(ours.var()) - 1.0) < 0.01


def test_empty_hidden_is_a_linear_model() -> None:
    model = mlp(4, [], 3)
    assert _names(model) == ["out"]
    assert model(torch.randn(5, 4)).shape == (5, 3)


def test_mlp_kaiming_init_std_matches_activation_gain() -> None:
    relu = mlp(1000, [500], 10, activation="relu", seed=1)
    tanh = mlp(1000, [500], 10, activation="tanh", seed=1)
    assert relu.fc1.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    assert tanh.fc1.weight.std().item() == pytest.approx((5 / 3) / math.sqrt(1000), rel=0.02)
    assert relu.out.weight.std().item() == pytest.approx(1 / math.sqrt(500), rel=0.05)
    assert torch.all(relu.fc1.bias == 0)
    scaled = mlp(1000, [500], 10, activation="relu", init_scale=0.5, seed=1)
    assert scaled.fc1.weight.std().item() == pytest.approx(0.5 * math.sqrt(2 / 1000), rel=0.02)


def test_weight_norm_layers_follow_the_init_scheme() -> None:
    model = mlp(1000, [400], 10, norm="wn", init="xavier_normal", activation="tanh")
    w = model.fc1.weight.detach()
    assert w.std().item() == pytest.approx(math.sqrt(2 / 1400), rel=0.03)
    torch.testing.assert_close(model.fc1.g.detach(), model.fc1.v.detach().norm(dim=1))


@pytest.mark.parametrize("init", ["xavier_normal", "xavier_uniform"])
def test_xavier_means_xavier_whatever_the_activation(init) -> None:
    """Issue 19: Xavier + ReLU used to become Kaiming silently (the activation's gain)."""
    for activation in ("relu", "tanh", "sigmoid"):
        model = mlp(1000, [1000], 10, activation=activation, init=init, seed=2)
        assert model.fc1.weight.std().item() == pytest.approx(math.sqrt(2 / 2000), rel=0.02)
    gained = mlp(1000, [1000], 10, activation="tanh", init=init, init_scale=5 / 3, seed=2)
    assert gained.fc1.weight.std().item() == pytest.approx((5 / 3) * math.sqrt(1 / 1000),
                                                           rel=0.02)


def test_builders_are_deterministic_and_leave_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = mlp(6, [5], 2, seed=3, init="torch_default")
    b = mlp(6, [5], 2, seed=3, init="torch_default")
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(a.fc1.weight, b.fc1.weight)
    assert not torch.equal(a.fc1.weight, mlp(6, [5], 2, seed=4, init="torch_default").fc1.weight)
    assert torch.equal(cnn(seed=2).conv1.weight, cnn(seed=2).conv1.weight)


def test_mlp_group_norm_groups() -> None:
    assert mlp(4, [32], 2, norm="gn").norm1.num_groups == 4
    assert mlp(4, [256], 2, norm="gn").norm1.num_groups == 32
    assert mlp(4, [12], 2, norm="gn", groups=3).norm1.num_groups == 3
    with pytest.raises(ValueError, match="groups must divide"):
        mlp(4, [12], 2, norm="gn", groups=5)
    with pytest.raises(ValueError, match="features per group"):
        mlp(4, [12], 2, norm="gn", groups=12)


def test_norm_kwargs_reach_the_norm() -> None:
    assert mlp(4, [8], 2, norm="lp_bn", norm_kwargs={"p": 1}).norm1.p == 1
    assert mlp(4, [8], 2, norm="bn", norm_kwargs={"momentum": 0.3}).norm1.momentum == 0.3


@pytest.mark.parametrize("norm", CNN_NORMS)
def test_cnn_layer_sequence_and_shapes(norm: str) -> None:
    model = cnn(1, (8, 16), 10, norm=norm)
    block = ["conv", "act", "pool"] if norm == "none" else ["conv", "norm", "act", "pool"]
    assert _names(model) == [f"{k}{i}" for i in (1, 2) for k in block] + ["flatten", "out"]
    expected = {"bn": nn.BatchNorm2d, "gn": nn.GroupNorm, "ln": nn.GroupNorm,
                "in": nn.InstanceNorm2d}
    if norm in expected:
        assert type(model.norm1) is expected[norm]
        assert model.conv1.bias is None
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_cnn_norm_groupings() -> None:
    assert cnn(norm="ln").norm2.num_groups == 1
    gn = cnn(channels=(8, 16), norm="gn")
    assert (gn.norm1.num_groups, gn.norm2.num_groups) == (4, 8)
    assert cnn(channels=(8, 16), norm="gn", groups=2).norm2.num_groups == 2
    assert cnn(norm="in").norm1.affine


def test_cnn_other_sizes() -> None:
    model = cnn(3, (4, 4, 4), 5, image_size=32, activation="tanh")
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    assert model.out.in_features == 4 * 4 * 4


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"activation": "swish"}, "unknown activation 'swish'; valid: relu, tanh"),
    ({"norm": "batchnorm"}, "unknown norm 'batchnorm'; valid: none, bn"),
    ({"init": "he"}, "unknown init 'he'; valid"),
    ({"keep_prob": 0.0}, r"keep_prob must be in \(0, 1\], got 0.0"),
    ({"keep_prob": 1.5}, r"keep_prob must be in \(0, 1\], got 1.5"),
    ({"init_scale": -1.0}, "init_scale must be"),
    ({"seed": -1}, "seed must be an int >= 0"),
    ({"groups": 0, "norm": "gn"}, "groups must be an int >= 1"),
])
def test_mlp_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mlp(4, [8], 2, **kwargs)


@pytest.mark.parametrize(("hidden", "match"), [
    ([8, -1], r"hidden\[1\] must be an int >= 1, got -1"),
    ([0], r"hidden\[0\] must be an int >= 1, got 0"),
])
def test_mlp_rejects_bad_hidden(hidden: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mlp(4, hidden, 2)


@pytest.mark.parametrize("hidden", [(4, 100), (1, 2, 3), ()])
def test_mlp_tuple_spelling_is_gone_and_the_error_names_the_list(hidden) -> None:
    """Issue 19: mlp(784, (4, 100), 10) meant depth x width while a list meant widths."""
    with pytest.raises(TypeError, match=r"hidden must be a list of widths, e.g. \["):
        mlp(784, hidden, 10)
    with pytest.raises(TypeError, match=r"\[100\] \* 4"):
        mlp(784, (4, 100), 10)


def test_mlp_rejects_bad_dims_and_types() -> None:
    with pytest.raises(ValueError, match="in_dim must be an int >= 1, got 0"):
        mlp(0, [4], 2)
    with pytest.raises(ValueError, match="out_dim"):
        mlp(3, [4], 2.5)
    with pytest.raises(TypeError, match="hidden must be a list"):
        mlp(3, "44", 2)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"norm": "wn"}, "unknown norm 'wn'; valid: none, bn, gn, ln, in"),
    ({"channels": ()}, "channels must be a non-empty sequence"),
    ({"channels": (8, 0)}, r"channels\[1\] must be an int >= 1"),
    ({"image_size": 3}, r"image_size must be >= 2\*\*len\(channels\) = 4"),
    ({"norm": "gn", "groups": 3}, "3 does not divide 8"),
    ({"activation": "gelu"}, "unknown activation"),
])
def test_cnn_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cnn(**kwargs)
