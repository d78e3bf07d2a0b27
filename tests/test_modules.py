"""Tests for trainlab.modules against their torch counterparts."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from trainlab.modules import (
    BatchNorm,
    LpBatchNorm,
    NoisyBatchNorm,
    WeightNormLinear,
    fold_batchnorm,
    fold_model_batchnorms,
)

DT = torch.float64


def _randomise_affine(*bns: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    n = bns[0].num_features
    gamma = 1 + 0.5 * torch.randn(n, generator=g, dtype=DT)
    beta = torch.randn(n, generator=g, dtype=DT)
    with torch.no_grad():
        for bn in bns:
            bn.weight.copy_(gamma)
            bn.bias.copy_(beta)


def _batches(shape: tuple[int, ...], steps: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [3 * torch.randn(shape, generator=g, dtype=DT) + 2 for _ in range(steps)]


def _assert_same_step(ours: nn.Module, ref: nn.Module, x: torch.Tensor) -> None:
    """Same output, input gradient and parameter gradients for one forward/backward."""
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_a, out_b = ours(xa), ref(xb)
    torch.testing.assert_close(out_a, out_b)
    dout = torch.randn(out_a.shape, generator=torch.Generator().manual_seed(9), dtype=DT)
    out_a.backward(dout)
    out_b.backward(dout)
    torch.testing.assert_close(xa.grad, xb.grad)
    for pa, pb in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(pa.grad, pb.grad)
        pa.grad = pb.grad = None


# --- BatchNorm ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("shape", "ref_cls"), [((16, 5), nn.BatchNorm1d),
                                                ((8, 5, 7), nn.BatchNorm1d),
                                                ((6, 5, 4, 3), nn.BatchNorm2d)])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_matches_torch(shape, ref_cls, momentum: float, affine: bool) -> None:
    ours = BatchNorm(5, eps=1e-3, momentum=momentum, affine=affine).to(DT)
    ref = ref_cls(5, eps=1e-3, momentum=momentum, affine=affine).to(DT)
    if affine:
        _randomise_affine(ours, ref)
    for x in _batches(shape, steps=4):
        _assert_same_step(ours, ref, x)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(ours, name), getattr(ref, name))
    assert int(ours.num_batches_tracked) == 4
    ours.eval()
    ref.eval()
    x_eval = _batches(shape, steps=1, seed=1)[0]
    _assert_same_step(ours, ref, x_eval)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    assert int(ours.num_batches_tracked) == 4


def test_batchnorm_running_var_is_unbiased_and_uses_torch_momentum() -> None:
    bn = BatchNorm(1, momentum=0.25).to(DT)
    x = torch.tensor([[1.0], [2.0], [6.0]], dtype=DT)
    bn(x)
    torch.testing.assert_close(bn.running_mean, torch.tensor([0.75 * 0 + 0.25 * 3.0], dtype=DT))
    torch.testing.assert_close(bn.running_var, torch.tensor([0.75 * 1 + 0.25 * 7.0], dtype=DT))


def test_batchnorm_has_torch_buffers_and_state_dict() -> None:
    ours, ref = BatchNorm(4), nn.BatchNorm1d(4)
    assert set(ours.state_dict()) == set(ref.state_dict())
    ours.load_state_dict(ref.state_dict())


def test_batchnorm_rejects_batch_of_one_in_training_only() -> None:
    bn = BatchNorm(3)
    with pytest.raises(ValueError, match=r"group of one value \(N = 1\).*shape \(1, 3\)"):
        bn(torch.randn(1, 3))
    bn.eval()
    assert bn(torch.randn(1, 3)).shape == (1, 3)
    assert BatchNorm(3)(torch.randn(1, 3, 2, 2)).shape == (1, 3, 2, 2)


@pytest.mark.parametrize("cls", [BatchNorm, LpBatchNorm, NoisyBatchNorm])
def test_norm_argument_errors(cls) -> None:
    with pytest.raises(ValueError, match="num_features must be an int >= 1, got 0"):
        cls(0)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0"):
        cls(3, eps=0.0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\] or None.*got 1.5"):
        cls(3, momentum=1.5)
    bn = cls(3)
    with pytest.raises(ValueError, match="num_features=3, got 4"):
        bn(torch.randn(8, 4))
    with pytest.raises(ValueError, match=r"input must be \(N, C\).*got shape \(3,\)"):
        bn(torch.randn(3))


# --- NoisyBatchNorm -----------------------------------------------------------------------------

def _noisy(seed: int = 0, **kwargs) -> NoisyBatchNorm:
    return NoisyBatchNorm(4, rng=torch.Generator().manual_seed(seed), **kwargs).to(DT)


def test_noisy_bn_eval_equals_batchnorm_and_running_stats_are_clean() -> None:
    noisy, plain = _noisy(), BatchNorm(4).to(DT)
    _randomise_affine(noisy, plain)
    for x in _batches((32, 4, 3, 3), steps=3):
        noisy(x)
        plain(x)
    torch.testing.assert_close(noisy.running_mean, plain.running_mean)
    torch.testing.assert_close(noisy.running_var, plain.running_var)
    noisy.eval()
    plain.eval()
    x = _batches((32, 4, 3, 3), steps=1, seed=2)[0]
    torch.testing.assert_close(noisy(x), plain(x))
    torch.testing.assert_close(noisy(x), noisy(x))


def test_noisy_bn_noise_is_fresh_every_step_and_reproducible() -> None:
    x = _batches((64, 4), steps=1)[0]
    a, b, c = _noisy(seed=0), _noisy(seed=0), _noisy(seed=1)
    clean = BatchNorm(4).to(DT)(x)
    outs_a = [a(x) for _ in range(3)]
    outs_b = [b(x) for _ in range(3)]
    for out_a, out_b in zip(outs_a, outs_b, strict=True):
        torch.testing.assert_close(out_a, out_b)
        assert not torch.allclose(out_a, clean, atol=1e-2)
    assert not torch.allclose(outs_a[0], outs_a[1], atol=1e-2)
    assert not torch.allclose(outs_a[0], c(x), atol=1e-2)


def test_noisy_bn_distribution_is_non_stationary() -> None:
    """Per-channel batch mean and std after the noise move from step to step."""
    bn = _noisy(seed=3, noise_mean=1.0, noise_std=0.5, noise_scale=3.0)
    x = _batches((4096, 4), steps=1)[0]
    with torch.no_grad():
        outs = torch.stack([bn(x) for _ in range(20)])
    means, stds = outs.mean(dim=1), outs.std(dim=1)
    assert float(means.std(dim=0).min()) > 0.2
    assert float(stds.std(dim=0).min()) > 0.1
    assert float(means.abs().max()) <= 1.0 + 0.1
    assert float(stds.min()) >= 0.95


def test_noisy_bn_without_noise_is_batchnorm_and_gradients_flow() -> None:
    noisy = _noisy(noise_mean=0.0, noise_std=0.0, noise_scale=1.0)
    plain = BatchNorm(4).to(DT)
    _randomise_affine(noisy, plain)
    _assert_same_step(noisy, plain, _batches((16, 4), steps=1)[0])


def test_noisy_bn_errors() -> None:
    with pytest.raises(ValueError, match="noise_scale must be a finite number >= 1, got 0.5"):
        NoisyBatchNorm(3, noise_scale=0.5)
    with pytest.raises(ValueError, match="noise_std must be a finite number >= 0, got -1"):
        NoisyBatchNorm(3, noise_std=-1)
    with pytest.raises(TypeError, match="rng must be a torch.Generator"):
        NoisyBatchNorm(3, rng=-1)
    with pytest.raises(TypeError, match="takes rng= instead of generator="):
        NoisyBatchNorm(3, generator=torch.Generator())


# --- LpBatchNorm --------------------------------------------------------------------------------

@pytest.mark.parametrize(("shape", "ref_cls"), [((16, 5), nn.BatchNorm1d),
                                                ((6, 5, 4, 3), nn.BatchNorm2d)])
def test_lp_bn_with_p2_is_batchnorm_in_training(shape, ref_cls) -> None:
    ours, ref = LpBatchNorm(5, p=2).to(DT), ref_cls(5).to(DT)
    _randomise_affine(ours, ref)
    for x in _batches(shape, steps=3):
        _assert_same_step(ours, ref, x)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)


@pytest.mark.parametrize("p", [1, 2, 3.5, float("inf")])
def test_lp_bn_normalises_the_lp_norm(p: float) -> None:
    x = _batches((64, 3, 2, 2), steps=1)[0]
    bn = LpBatchNorm(3, p=p, eps=1e-12).to(DT)
    y = bn(x).detach().transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(y.mean(dim=1), torch.zeros(3, dtype=DT))
    norm = y.abs().amax(dim=1) if math.isinf(p) else y.abs().pow(p).mean(dim=1).pow(1 / p)
    torch.testing.assert_close(norm, torch.ones(3, dtype=DT))


def test_lp_bn_running_stats_and_eval() -> None:
    bn = LpBatchNorm(3, p=1, eps=1e-4, momentum=0.3).to(DT)
    _randomise_affine(bn)
    xs = _batches((50, 3), steps=2)
    mean, scale = torch.zeros(3, dtype=DT), torch.ones(3, dtype=DT)
    for x in xs:
        bn(x)
        mu = x.mean(dim=0)
        mean = 0.7 * mean + 0.3 * mu
        scale = 0.7 * scale + 0.3 * (x - mu).abs().mean(dim=0)
    torch.testing.assert_close(bn.running_mean, mean)
    torch.testing.assert_close(bn.running_scale, scale)
    bn.eval()
    x = xs[0][:1]
    expected = bn.weight * (x - mean) / torch.sqrt(scale**2 + 1e-4) + bn.bias
    torch.testing.assert_close(bn(x), expected)


def test_lp_bn_gradient_matches_numeric() -> None:
    bn = LpBatchNorm(2, p=3).to(DT)
    x = _batches((6, 2), steps=1)[0].requires_grad_()
    w = torch.randn(6, 2, dtype=DT, generator=torch.Generator().manual_seed(4))
    assert torch.autograd.gradcheck(lambda t: (bn(t) * w).sum(), (x,))


@pytest.mark.parametrize("p", [0.5, 0, "2", float("nan")])
def test_lp_bn_rejects_bad_p(p) -> None:
    with pytest.raises(ValueError, match="p must be a number >= 1"):
        LpBatchNorm(3, p=p)


# --- WeightNormLinear -----------------------------------------------------------------------------

def test_weight_norm_linear_starts_as_plain_linear() -> None:
    layer = WeightNormLinear(7, 4, rng=torch.Generator().manual_seed(0))
    torch.testing.assert_close(layer.weight, layer.v)
    torch.testing.assert_close(layer.g, layer.v.norm(dim=1))
    assert float(layer.v.detach().abs().max()) <= 1 / math.sqrt(7)
    again = WeightNormLinear(7, 4, rng=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.v, layer.v)
    torch.testing.assert_close(again.b, layer.b)


@pytest.mark.parametrize("bias", [True, False])
def test_weight_norm_linear_matches_torch_parametrization(bias: bool) -> None:
    torch.manual_seed(0)
    linear = nn.Linear(6, 3, bias=bias).to(DT)
    ours = WeightNormLinear.from_linear(linear)
    ref = weight_norm(copy.deepcopy(linear))
    with torch.no_grad():
        ours.g.mul_(torch.tensor([0.5, 2.0, 1.5], dtype=DT))
        ref.parametrizations.weight.original0.copy_(ours.g.unsqueeze(1))
    x = torch.randn(10, 6, dtype=DT)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_a, out_b = ours(xa), ref(xb)
    torch.testing.assert_close(out_a, out_b)
    dout = torch.randn(10, 3, dtype=DT)
    out_a.backward(dout)
    out_b.backward(dout)
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(ours.g.grad, ref.parametrizations.weight.original0.grad.squeeze(1))
    torch.testing.assert_close(ours.v.grad, ref.parametrizations.weight.original1.grad)
    if bias:
        torch.testing.assert_close(ours.b.grad, ref.bias.grad)
    torch.testing.assert_close(ours.weight.norm(dim=1), ours.g)


def test_weight_norm_linear_errors() -> None:
    with pytest.raises(ValueError, match="in_features must be an int >= 1, got 0"):
        WeightNormLinear(0, 3)
    with pytest.raises(ValueError, match=r"in_features=4 entries, got shape \(2, 5\)"):
        WeightNormLinear(4, 3)(torch.randn(2, 5))
    with pytest.raises(TypeError, match="linear must be an nn.Linear"):
        WeightNormLinear.from_linear(nn.Conv2d(1, 1, 1))


# --- folding ------------------------------------------------------------------------------------

def _trained_bn(bn: nn.Module, shape: tuple[int, ...], seed: int) -> nn.Module:
    """Give ``bn`` non-trivial running stats and affine parameters, then switch to eval."""
    with torch.no_grad():
        for x in _batches(shape, steps=5, seed=seed):
            bn(x.float())
    _randomise_affine(bn, seed=seed)
    return bn.eval()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bn_cls", [nn.BatchNorm1d, BatchNorm])
def test_fold_linear(bias: bool, bn_cls) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(10, 6, bias=bias)
    bn = _trained_bn(bn_cls(6), (32, 6), seed=1)
    fused = fold_batchnorm(layer, bn)
    assert isinstance(fused, nn.Linear) and fused.bias is not None
    x = torch.randn(20, 10)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), bn(layer(x)), atol=1e-5, rtol=1e-5)
    assert (layer.bias is not None) == bias


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bn_cls", [nn.BatchNorm2d, BatchNorm, NoisyBatchNorm])
def test_fold_conv2d(bias: bool, bn_cls) -> None:
    torch.manual_seed(0)
    layer = nn.Conv2d(3, 5, 3, padding=1, bias=bias)
    bn = _trained_bn(bn_cls(5), (8, 5, 4, 4), seed=2)
    weight_before = layer.weight.detach().clone()
    fused = fold_batchnorm(layer, bn)
    assert isinstance(fused, nn.Conv2d)
    x = torch.randn(4, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), bn(layer(x)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.weight, weight_before)


def test_fold_model_batchnorms() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Sequential(nn.Conv2d(8, 4, 3), BatchNorm(4), nn.ReLU()),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 2),
    )
    with torch.no_grad():
        for _ in range(3):
            model(2 * torch.randn(16, 3, 6, 6) + 1)
    model.eval()
    folded = fold_model_batchnorms(model)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, BatchNorm)
    assert not any(isinstance(m, norms) for m in folded.modules())
    assert len(folded) == len(model) - 2 and len(folded[2]) == 2
    x = torch.randn(5, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)


def test_fold_errors() -> None:
    with pytest.raises(ValueError, match=r"bn must be in eval mode \(call bn.eval\(\)\)"):
        fold_batchnorm(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match="bn.num_features must equal .* 4, got 5"):
        fold_batchnorm(nn.Linear(3, 4), nn.BatchNorm1d(5).eval())
    with pytest.raises(TypeError, match="layer must be nn.Linear"):
        fold_batchnorm(nn.ReLU(), nn.BatchNorm1d(4).eval())
    with pytest.raises(TypeError, match="bn must be nn.BatchNorm1d"):
        fold_batchnorm(nn.Linear(3, 4), LpBatchNorm(4).eval())
    with pytest.raises(ValueError, match="track_running_stats"):
        fold_batchnorm(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False).eval())
    with pytest.raises(TypeError, match="model must be an nn.Sequential"):
        fold_model_batchnorms(nn.Linear(3, 4))


# --- What torch accepts (issue 19) ------------------------------------------------------------

TORCH_OPTIONS = [
    {"momentum": None},
    {"affine": False},
    {"track_running_stats": False},
    {"eps": 0.3, "momentum": 0.7},
    {"momentum": None, "affine": False, "eps": 1e-3},
]


@pytest.mark.parametrize("options", TORCH_OPTIONS, ids=str)
@pytest.mark.parametrize(("shape", "ref_cls"), [((16, 5), nn.BatchNorm1d),
                                                ((6, 5, 4, 3), nn.BatchNorm2d)])
def test_batchnorm_accepts_what_torch_accepts(options, shape, ref_cls) -> None:
    """modules.BatchNorm(3, momentum=None) used to raise; it is a drop-in for nn.BatchNorm1d
    with every constructor argument torch takes."""
    ours = BatchNorm(5, dtype=DT, **options)
    ref = ref_cls(5, dtype=DT, **options)
    assert set(ours.state_dict()) == set(ref.state_dict())
    if ours.affine:
        _randomise_affine(ours, ref)
    for x in _batches(shape, 4):
        _assert_same_step(ours, ref, x)
    for name, buf in ref.named_buffers():
        torch.testing.assert_close(getattr(ours, name), buf, rtol=1e-12, atol=1e-12)
    ours.eval()
    ref.eval()
    for x in _batches(shape, 2, seed=5):
        _assert_same_step(ours, ref, x)


def test_batchnorm_momentum_none_is_the_cumulative_average() -> None:
    bn = BatchNorm(5, momentum=None, dtype=DT)
    batches = _batches((16, 5), 5)
    for x in batches:
        bn(x)
    torch.testing.assert_close(bn.running_mean, torch.stack([x.mean(0) for x in batches]).mean(0))
    torch.testing.assert_close(bn.running_var,
                               torch.stack([x.var(0, correction=1) for x in batches]).mean(0))
    assert int(bn.num_batches_tracked) == 5


def test_batchnorm_without_running_stats_uses_batch_statistics_in_eval_too() -> None:
    bn = BatchNorm(3, track_running_stats=False).eval()
    assert bn.running_mean is None and bn.running_var is None
    with pytest.raises(ValueError, match="group of one value"):
        bn(torch.randn(1, 3))


@pytest.mark.parametrize("options", [{"momentum": None}, {"affine": False},
                                     {"track_running_stats": False}], ids=str)
def test_lp_and_noisy_batchnorm_accept_torchs_options(options) -> None:
    x = _batches((16, 5), 1)[0]
    lp = LpBatchNorm(5, p=2, dtype=DT, **options)
    ref = nn.BatchNorm1d(5, dtype=DT, **options)
    torch.testing.assert_close(lp(x), ref(x))
    noisy = NoisyBatchNorm(5, noise_mean=0, noise_std=0, noise_scale=1, dtype=DT, **options)
    torch.testing.assert_close(noisy(x), ref(x))


@pytest.mark.parametrize("cls", [BatchNorm, LpBatchNorm, NoisyBatchNorm])
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
def test_torch_norms_refuse_a_group_of_one_like_the_numpy_ones(cls, shape) -> None:
    with pytest.raises(ValueError, match=r"group of one value.*shape \(1, 3.*>= 2 values"):
        cls(3)(torch.randn(shape))


def test_weight_norm_linear_takes_dtype_device_and_an_int_seed() -> None:
    a = WeightNormLinear(7, 4, rng=3, dtype=DT)
    b = WeightNormLinear(7, 4, rng=torch.Generator().manual_seed(3), dtype=DT)
    assert a.v.dtype == DT and a.g.dtype == DT and a.b.dtype == DT
    torch.testing.assert_close(a.v, b.v)
    with pytest.raises(TypeError, match="takes rng= instead of generator="):
        WeightNormLinear(7, 4, generator=torch.Generator())


def test_fold_batchnorm_stays_in_float64() -> None:
    """eps went through a float32 tensor: a float64 fold was off by ~1e-8 relative."""
    layer = nn.Linear(3, 4, dtype=DT)
    bn = nn.BatchNorm1d(4, eps=1e-5, affine=False, dtype=DT).eval()
    with torch.no_grad():
        bn.running_var.fill_(1e-6)
    x = torch.randn(5, 3, dtype=DT, generator=torch.Generator().manual_seed(0))
    fused = fold_batchnorm(layer, bn)
    torch.testing.assert_close(fused(x), bn(layer(x)), rtol=1e-13, atol=1e-13)
