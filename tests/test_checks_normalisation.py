"""Tests for trainlab.checks.normalisation: references pass, common slips fail with their hint,
stubs fail with NotAttemptedError."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import normalisation as checks


# ---------------------------------------------------------------- reference answers
def group_norm(x, num_groups, gamma, beta, eps):
    n, c, h, w = x.shape
    xg = x.reshape(n, num_groups, c // num_groups, h, w)
    x_hat = (xg - xg.mean(axis=(2, 3, 4), keepdims=True)) / np.sqrt(
        xg.var(axis=(2, 3, 4), keepdims=True) + eps)
    return gamma.reshape(1, c, 1, 1) * x_hat.reshape(x.shape) + beta.reshape(1, c, 1, 1)


def group_norm_torch(x, num_groups, gamma, beta, eps):
    gn = torch.nn.GroupNorm(num_groups, x.shape[1], eps=eps).double()
    with torch.no_grad():
        gn.weight.copy_(torch.from_numpy(gamma))
        gn.bias.copy_(torch.from_numpy(beta))
        return gn(torch.from_numpy(x)).numpy()


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer norm of x (N, D): each example standardised over its D features (biased
    variance, eps under the square root), then scaled by gamma (D,) and shifted by beta (D,).
    ln_param: {"eps": float}, eps = 1e-5 when absent. Returns (out (N, D), cache)."""
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, inv_std, gamma)

def layernorm_backward(dout, cache):
    """dout (N, D), cache from your layernorm_forward -> (dx (N, D), dgamma (D,), dbeta (D,))."""
    x_hat, inv_std, gamma = cache
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(axis=1, keepdims=True)
                    - x_hat * (dx_hat * x_hat).mean(axis=1, keepdims=True))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)

def batch_noise(x, batch_size, num_groups, seed):
    """x (N, C) or (N, C, H, W) -> a dict of floats (the keys: see the exercise's text)."""
    n, c = x.shape[:2]
    spatial = tuple(range(2, x.ndim))

    def standardise(a, axes):
        mu, var = a.mean(axis=axes, keepdims=True), a.var(axis=axes, keepdims=True)
        return (a - mu) / np.sqrt(var + 1e-5)

    def bn(a):  # ghost batches: batch_size consecutive examples share their statistics
        ghost = a.reshape((n // batch_size, batch_size) + a.shape[1:])
        return standardise(ghost, tuple(k + 1 for k in (0,) + spatial)).reshape(a.shape)

    def gn(a):
        return standardise(a.reshape(n, num_groups, -1), (2,)).reshape(a.shape)

    perm = np.random.default_rng(seed).permutation(n)
    back, positions = np.argsort(perm), int(np.prod(x.shape[2:]))
    return {"bn_vs_population": float(np.abs(bn(x) - standardise(x, (0,) + spatial)).mean()),
            "bn_batchmates": float(np.abs(bn(x) - bn(x[perm])[back]).mean()),
            "gn_batchmates": float(np.abs(gn(x) - gn(x[perm])[back]).mean()),
            "bn_values": batch_size * positions, "gn_values": c // num_groups * positions}


def stub(*args):
    raise NotImplementedError()


def ln_forward_torch(x, gamma, beta, ln_param):
    layer = torch.nn.LayerNorm(x.shape[1], eps=ln_param.get("eps", 1e-5)).double()
    xt = torch.from_numpy(x).requires_grad_(True)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    out = layer(xt)
    return out.detach().numpy(), (xt, out, layer)


def ln_backward_torch(dout, cache):
    xt, out, layer = cache
    out.backward(torch.from_numpy(dout))
    return xt.grad.numpy(), layer.weight.grad.numpy(), layer.bias.grad.numpy()


CASES = {
    "group": (checks.check_group_norm, group_norm),
    "layer": (checks.check_layernorm_layer, layernorm_forward),
    "noise": (checks.check_batch_noise, batch_noise),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_reference_passes(name, seed):
    check, ref = CASES[name]
    check(ref, seed=seed)


def test_torch_group_norm_passes():
    checks.check_group_norm(group_norm_torch, seed=3)


@pytest.mark.parametrize("seed", [0, 19, 23])
def test_layernorm_backward_reference_and_torch_autograd_pass(seed):
    checks.check_layernorm_layer_backward(layernorm_forward, layernorm_backward, seed=seed)
    checks.check_layernorm_layer_backward(ln_forward_torch, ln_backward_torch, seed=seed)


@pytest.mark.parametrize("check", [c for c, _ in CASES.values()])
def test_stub_not_attempted(check):
    with pytest.raises(NotAttemptedError, match="not implemented"):
        check(stub)


def test_backward_stub_not_attempted():
    with pytest.raises(NotAttemptedError, match="not implemented"):
        checks.check_layernorm_layer_backward(layernorm_forward, stub)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed(name, seed):
    check, ref = CASES[name]
    with pytest.raises(ValueError, match="seed"):
        check(ref, seed=seed)


# ---------------------------------------------------------------- common slips
def _gn_axes(x, gamma, beta, num_groups, eps, axes, shape=None, ddof=0, eps_in=True):
    n, c, h, w = x.shape
    xr = x.reshape(shape or (n, num_groups, c // num_groups, h, w))
    mu, var = xr.mean(axis=axes, keepdims=True), xr.var(axis=axes, keepdims=True, ddof=ddof)
    x_hat = (xr - mu) / (np.sqrt(var + eps) if eps_in else np.sqrt(var) + eps)
    return gamma.reshape(1, c, 1, 1) * x_hat.reshape(x.shape) + beta.reshape(1, c, 1, 1)


GN_SLIPS = {
    "instance norm": lambda x, G, g, b, e: _gn_axes(x, g, b, G, e, (2, 3), shape=x.shape),
    "layer norm, G = 1": lambda x, G, g, b, e: _gn_axes(x, g, b, G, e, (1, 2, 3),
                                                        shape=x.shape),
    "batch axis": lambda x, G, g, b, e: _gn_axes(x, g, b, G, e, (0, 2, 3, 4)),
    "CONSECUTIVE": lambda x, G, g, b, e: _gn_axes(
        x, g, b, G, e, (1, 3, 4), shape=(x.shape[0], x.shape[1] // G, G) + x.shape[2:]),
    "unbiased": lambda x, G, g, b, e: _gn_axes(x, g, b, G, e, (2, 3, 4), ddof=1),
    "under the square root": lambda x, G, g, b, e: _gn_axes(x, g, b, G, e, (2, 3, 4),
                                                            eps_in=False),
    "scale and shift": lambda x, G, g, b, e: _gn_axes(x, np.ones_like(g), np.zeros_like(b), G,
                                                      e, (2, 3, 4)),
}


@pytest.mark.parametrize("hint", list(GN_SLIPS))
def test_group_norm_slips_get_hints(hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_group_norm(GN_SLIPS[hint], seed=2)


def _ln(x, gamma, beta, eps, axis=1, ddof=0, eps_in=True):
    mu, var = x.mean(axis, keepdims=True), x.var(axis, keepdims=True, ddof=ddof)
    return gamma * (x - mu) / (np.sqrt(var + eps) if eps_in else np.sqrt(var) + eps) + beta


def _ln_layer(**kw):
    return lambda x, g, b, p: (_ln(x, g, b, p.get("eps", 1e-5), **kw), None)


LN_SLIPS = {
    "batch norm": _ln_layer(axis=0),
    "unbiased": _ln_layer(ddof=1),
    "under the square root": _ln_layer(eps_in=False),
    "scale and shift": lambda x, g, b, p: (_ln(x, 1.0, 0.0, p.get("eps", 1e-5)), None),
    "eps = 1e-5": lambda x, g, b, p: (_ln(x, g, b, p.get("eps", 0.0)), None),
}


@pytest.mark.parametrize("hint", list(LN_SLIPS))
def test_layer_norm_slips_get_hints(hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_layernorm_layer(LN_SLIPS[hint], seed=4)


def test_layer_norm_must_return_out_and_cache():
    with pytest.raises(ExerciseError, match="tuple of 2 values"):
        checks.check_layernorm_layer(lambda x, g, b, p: _ln(x, g, b, p.get("eps", 1e-5)))


def _ln_backward_slip(kind):
    def backward(dout, cache):
        x_hat, inv_std, gamma = cache
        dxh = dout * (1.0 if kind == "gamma" else gamma)
        dx = inv_std * (dxh - dxh.mean(1, keepdims=True)
                        - x_hat * (dxh * x_hat).mean(1, keepdims=True))
        if kind == "stats":
            dx = dxh * inv_std
        return dx, (dout * x_hat).sum(0), dout.sum(1 if kind == "dbeta" else 0)
    return backward


@pytest.mark.parametrize(("kind", "hint"), [
    ("gamma", "gamma is missing"), ("stats", "their terms are missing"),
    ("dbeta", "expected shape")])
def test_layer_norm_backward_slips_get_hints(kind, hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_layernorm_layer_backward(layernorm_forward, _ln_backward_slip(kind), seed=3)


def test_layer_norm_backward_needs_a_passing_forward():
    with pytest.raises(ExerciseError, match="fix exercise 2 first"):
        checks.check_layernorm_layer_backward(LN_SLIPS["unbiased"], layernorm_backward)


def _noise_slip(kind):
    def noise(x, b, g, seed):
        n = len(x)
        spatial = tuple(range(2, x.ndim))
        pooled = () if kind == "positions" else spatial
        ddof = 1 if kind == "unbiased" else 0

        def std(a, axes):
            return (a - a.mean(axes, keepdims=True)) / np.sqrt(a.var(axes, keepdims=True,
                                                                     ddof=ddof) + 1e-5)

        def bn(a):
            ghost = a.reshape((n // b, b) + a.shape[1:])
            return std(ghost, tuple(k + 1 for k in (0,) + pooled)).reshape(a.shape)

        perm = np.random.default_rng(seed).permutation(n)
        back = np.arange(n) if kind == "undo" else np.argsort(perm)
        out = batch_noise(x, b, g, seed)
        out["bn_vs_population"] = float(np.abs(bn(x) - std(x, (0,) + pooled)).mean())
        out["bn_batchmates"] = float(np.abs(bn(x) - bn(x[perm])[back]).mean())
        return out
    return noise


@pytest.mark.parametrize(("kind", "hint"), [
    ("unbiased", "unbiased variance"), ("positions", "pools the positions too"),
    ("undo", "put the reordered outputs back")])
def test_batch_noise_slips_get_hints(kind, hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_batch_noise(_noise_slip(kind), seed=1)


def test_batch_noise_cheats_fail():
    def constant(x, b, g, seed):
        return {"bn_vs_population": 0.1, "bn_batchmates": 0.1, "gn_batchmates": 0.0,
                "bn_values": b, "gn_values": 1}

    with pytest.raises(ExerciseError, match="relative error"):
        checks.check_batch_noise(constant)

    def gn_depends_on_batch(x, b, g, seed):
        return {**batch_noise(x, b, g, seed), "gn_batchmates": 0.2}

    with pytest.raises(ExerciseError, match="expected 0"):
        checks.check_batch_noise(gn_depends_on_batch)
    with pytest.raises(ExerciseError, match="must return a dict"):
        checks.check_batch_noise(lambda x, b, g, seed: 0.1)


def test_batch_noise_reference_agrees_with_torch_batch_norm():
    """The check's ghost batch norm is torch's BatchNorm2d in training mode on each run of B."""
    from trainlab.checks.normalisation import _batch_noise

    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=(8, 4, 3, 3))
    bn = torch.nn.BatchNorm2d(4, affine=False).double().train()
    with torch.no_grad():
        ghost = torch.cat([bn(c) for c in torch.from_numpy(x).split(2)]).numpy()
        full = bn(torch.from_numpy(x)).numpy()
    want = _batch_noise(x, 2, 2, seed=0)["bn_vs_population"]
    assert abs(float(np.abs(ghost - full).mean()) - want) < 1e-12
