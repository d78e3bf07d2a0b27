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


def layer_norm(x, gamma, beta, eps):
    return gamma * (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps) + beta


def reduce_axes(method):
    return {"batch": (0, 2, 3), "layer": (1, 2, 3), "instance": (2, 3),
            "group": (2, 3, 4)}[method]


def weight(v, g):
    return g * v / np.linalg.norm(v, axis=0)


def stub(*args):
    raise NotImplementedError()


CASES = {
    "group": (checks.check_group_norm, group_norm),
    "layer": (checks.check_layer_norm, layer_norm),
    "weight": (checks.check_weightnorm_weight, weight),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_reference_passes(name, seed):
    check, ref = CASES[name]
    check(ref, seed=seed)


def test_torch_group_norm_passes():
    checks.check_group_norm(group_norm_torch, seed=3)


def test_reduce_axes_reference_and_any_order():
    checks.check_reduce_axes(reduce_axes)
    checks.check_reduce_axes(lambda m: tuple(reversed(reduce_axes(m))))
    checks.check_reduce_axes(lambda m: list(reduce_axes(m)))


@pytest.mark.parametrize("check", [c for c, _ in CASES.values()] + [checks.check_reduce_axes])
def test_stub_not_attempted(check):
    with pytest.raises(NotAttemptedError, match="not implemented"):
        check(stub)


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


LN_SLIPS = {
    "batch norm": lambda x, g, b, e: _ln(x, g, b, e, axis=0),
    "unbiased": lambda x, g, b, e: _ln(x, g, b, e, ddof=1),
    "under the square root": lambda x, g, b, e: _ln(x, g, b, e, eps_in=False),
    "scale and shift": lambda x, g, b, e: _ln(x, 1.0, 0.0, e),
}


@pytest.mark.parametrize("hint", list(LN_SLIPS))
def test_layer_norm_slips_get_hints(hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_layer_norm(LN_SLIPS[hint], seed=4)


AXES_SLIPS = {
    "(0,) of the": {"batch": (0,)},
    "that is batch norm; layer norm": {"layer": (0, 2, 3)},
    "instance norm never pools": {"instance": (0, 2, 3)},
    "that is layer norm; keep axes 0": {"group": (1, 2, 3, 4)},
}


@pytest.mark.parametrize("hint", list(AXES_SLIPS))
def test_reduce_axes_slips_get_hints(hint):
    wrong = AXES_SLIPS[hint]
    with pytest.raises(ExerciseError, match=hint.replace("(", r"\(").replace(")", r"\)")):
        checks.check_reduce_axes(lambda m: wrong.get(m, reduce_axes(m)))


def test_reduce_axes_rejects_non_tuple():
    with pytest.raises(ExerciseError, match="tuple of ints"):
        checks.check_reduce_axes(lambda m: "0, 2, 3")


def test_reduce_axes_wrong_without_known_hint():
    with pytest.raises(ExerciseError, match="not the set of axes") as info:
        checks.check_reduce_axes(lambda m: (3,))
    assert "Hint" not in str(info.value)


WN_SLIPS = {
    "not axis=1": lambda v, g: g * v / np.linalg.norm(v, axis=1, keepdims=True),
    "whole matrix": lambda v, g: g * v / np.linalg.norm(v),
    "g is missing": lambda v, g: v / np.linalg.norm(v, axis=0),
    "not by its square": lambda v, g: g * v / np.linalg.norm(v, axis=0) ** 2,
}


@pytest.mark.parametrize("hint", list(WN_SLIPS))
def test_weightnorm_slips_get_hints(hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_weightnorm_weight(WN_SLIPS[hint], seed=5)


def test_reduce_axes_table_matches_numpy_layers():
    """REDUCE_AXES reproduces trainlab.norm's layers on an (N, C, H, W) tensor."""
    from trainlab import norm

    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(4, 6, 3, 5))
    ones, zeros = np.ones(6), np.zeros(6)
    refs = {
        "batch": norm.spatial_batchnorm_forward(x, ones, zeros)[0],
        "layer": norm.layernorm_forward(x, np.ones(x.shape[1:]), np.zeros(x.shape[1:]))[0],
        "instance": norm.instancenorm_forward(x, ones, zeros)[0],
        "group": norm.groupnorm_forward(x, 3, ones, zeros)[0],
    }
    for method, axes in checks.REDUCE_AXES.items():
        xr = x.reshape(4, 3, 2, 3, 5) if method == "group" else x
        x_hat = (xr - xr.mean(axis=axes, keepdims=True)) / np.sqrt(
            xr.var(axis=axes, keepdims=True) + 1e-5)
        np.testing.assert_allclose(x_hat.reshape(x.shape), refs[method], atol=1e-10)
