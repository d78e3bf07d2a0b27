"""Normalisation layers: gradients vs centred differences and torch autograd, forwards vs
torch's modules, running statistics, and every bad-input path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from torch_compare import close as _close
from torch_compare import t
from trainlab import norm
from trainlab.gradcheck import check_layer


def close(actual, expected, tol: float = 1e-9) -> None:
    _close(actual, expected, tol)


FAST = settings(max_examples=25, deadline=None)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)




def torch_grads(fn, arrays_: list[np.ndarray], dout: np.ndarray) -> list[np.ndarray]:
    """Gradients of sum(fn(*inputs) * dout) by torch autograd, in float64."""
    ts = [t(a, grad=True) for a in arrays_]
    fn(*ts).backward(t(dout))
    return [x.grad.numpy() for x in ts]


def affine_params(d, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    g = rng(seed)
    return 1 + 0.5 * g.standard_normal(d), g.standard_normal(d)


def assert_passes(forward, backward, inputs, kwargs=None, seed=0) -> None:
    """check_layer with h = 2e-5: a normalisation layer's output mixes every input, so at the
    default h = 1e-6 the round-off of the centred difference (~1e-16 |f| / h) dominates for
    gradient entries near 0 (rel_error is the worst entry); the O(h^2) truncation error at
    2e-5 stays below 1e-9."""
    report = check_layer(forward, backward, inputs, kwargs, seed=seed, h=2e-5)
    assert report.passed, report.table()


# --------------------------------------------------------------------------------------------
# Batch norm
# --------------------------------------------------------------------------------------------

X = rng(10).standard_normal((6, 5)) * 3 + 2
GAMMA, BETA = affine_params(5)


@pytest.mark.parametrize("backward", [norm.batchnorm_backward, norm.batchnorm_backward_paper])
def test_batchnorm_backward_matches_numeric_gradient(backward):
    assert_passes(norm.batchnorm_forward, backward,
                  {"x": X, "gamma": GAMMA, "beta": BETA}, seed=3)


def test_batchnorm_eval_backward_matches_numeric_gradient():
    running = norm.RunningStats(rng(2).standard_normal(5), 0.5 + rng(3).random(5), 7)
    for backward in (norm.batchnorm_backward, norm.batchnorm_backward_paper):
        assert_passes(norm.batchnorm_forward, backward,
                      {"x": X, "gamma": GAMMA, "beta": BETA},
                      {"mode": "eval", "running": running}, seed=3)


def test_batchnorm_train_matches_torch_forward_backward_and_running_stats():
    bn = nn.BatchNorm1d(5, eps=1e-5, momentum=0.1, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(t(GAMMA))
        bn.bias.copy_(t(BETA))
    running = norm.RunningStats.zeros(5)
    for step in range(4):
        x = rng(20 + step).standard_normal((8, 5)) * (step + 1) + step
        out, _ = norm.batchnorm_forward(x, GAMMA, BETA, running=running)
        close(out, bn(t(x)))
    close(running.mean, bn.running_mean)
    close(running.var, bn.running_var)
    assert running.count == int(bn.num_batches_tracked) == 4
    bn.eval()
    x = rng(30).standard_normal((3, 5))
    out, _ = norm.batchnorm_forward(x, GAMMA, BETA, mode="eval", running=running)
    close(out, bn(t(x)))


def test_batchnorm_backward_matches_torch_autograd():
    dout = rng(4).standard_normal(X.shape)
    expected = torch_grads(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
                           [X, GAMMA, BETA], dout)
    _, cache = norm.batchnorm_forward(X, GAMMA, BETA)
    for backward in (norm.batchnorm_backward, norm.batchnorm_backward_paper):
        for ours, ref in zip(backward(dout, cache), expected, strict=True):
            close(ours, ref)


def test_batchnorm_eval_backward_matches_torch_autograd():
    running = norm.RunningStats(rng(2).standard_normal(5), 0.5 + rng(3).random(5))
    dout = rng(4).standard_normal(X.shape)
    expected = torch_grads(
        lambda x, g, b: F.batch_norm(x, t(running.mean), t(running.var), g, b, training=False),
        [X, GAMMA, BETA], dout)
    _, cache = norm.batchnorm_forward(X, GAMMA, BETA, mode="eval", running=running)
    for ours, ref in zip(norm.batchnorm_backward(dout, cache), expected, strict=True):
        close(ours, ref)


def test_momentum_none_is_the_cumulative_average_like_torch_and_population_stats():
    batches = [rng(40 + i).standard_normal((4 + i, 3)) * (i + 1) for i in range(5)]
    bn = nn.BatchNorm1d(3, momentum=None, dtype=torch.float64)
    running = norm.RunningStats.zeros(3)
    for b in batches:
        norm.batchnorm_forward(b, np.ones(3), np.zeros(3), momentum=None, running=running)
        bn(t(b))
    close(running.mean, bn.running_mean)
    close(running.var, bn.running_var)
    pop = norm.population_stats(batches)
    close(pop.mean, running.mean)
    close(pop.var, running.var)
    assert pop.count == 5


def test_population_stats_is_the_papers_inference_step():
    batches = [rng(50 + i).standard_normal((6, 4)) + i for i in range(3)]
    pop = norm.population_stats(batches)
    close(pop.mean, np.mean([b.mean(axis=0) for b in batches], axis=0))
    close(pop.var, 6 / 5 * np.mean([b.var(axis=0) for b in batches], axis=0))


def test_running_update_uses_torch_momentum_and_unbiased_variance():
    running = norm.RunningStats(np.full(2, 10.0), np.full(2, 4.0))
    x = np.array([[0.0, 1.0], [2.0, 5.0]])
    norm.batchnorm_forward(x, np.ones(2), np.zeros(2), momentum=0.1, running=running)
    close(running.mean, 0.9 * 10 + 0.1 * x.mean(axis=0))
    close(running.var, 0.9 * 4 + 0.1 * x.var(axis=0, ddof=1))


def test_batchnorm_identity_parameters_give_back_x():
    eps = 1e-5
    gamma, beta = np.sqrt(X.var(axis=0) + eps), X.mean(axis=0)
    out, _ = norm.batchnorm_forward(X, gamma, beta, eps=eps)
    close(out, X, tol=1e-12)


def test_batchnorm_output_is_standardised():
    out, _ = norm.batchnorm_forward(X, np.ones(5), np.zeros(5), eps=1e-12)
    close(out.mean(axis=0), np.zeros(5), tol=1e-12)
    close(out.var(axis=0), np.ones(5), tol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_keeps_dtype(dtype):
    x = X.astype(dtype)
    out, cache = norm.batchnorm_forward(x, GAMMA.astype(dtype), BETA.astype(dtype))
    grads = norm.batchnorm_backward(np.ones_like(x), cache)
    assert out.dtype == dtype and all(g.dtype == dtype for g in grads)
    ref, _ = norm.batchnorm_forward(X, GAMMA, BETA)
    close(out, ref, tol=1e-5 if dtype == np.float32 else 1e-12)


def test_eval_mode_in_float32_stays_float32_with_float64_running_stats():
    running = norm.RunningStats(rng(2).standard_normal(5), 0.5 + rng(3).random(5))
    x = X.astype(np.float32)
    out, cache = norm.batchnorm_forward(x, GAMMA.astype(np.float32), BETA.astype(np.float32),
                                        mode="eval", running=running)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in norm.batchnorm_backward(np.ones_like(x), cache))
    ref, _ = norm.batchnorm_forward(X, GAMMA, BETA, mode="eval", running=running)
    close(out, ref, tol=1e-5)


# --------------------------------------------------------------------------------------------
# Spatial batch norm
# --------------------------------------------------------------------------------------------

X4 = rng(60).standard_normal((3, 4, 2, 3)) * 2 - 1
G4, B4 = affine_params(4, seed=61)


def test_spatial_batchnorm_matches_numeric_gradient():
    assert_passes(norm.spatial_batchnorm_forward, norm.spatial_batchnorm_backward,
                  {"x": X4, "gamma": G4, "beta": B4}, seed=5)


def test_spatial_batchnorm_matches_torch_batchnorm2d():
    bn = nn.BatchNorm2d(4, momentum=0.1, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(t(G4))
        bn.bias.copy_(t(B4))
    running = norm.RunningStats.zeros(4)
    for step in range(3):
        x = rng(70 + step).standard_normal((2, 4, 3, 3)) + step
        out, _ = norm.spatial_batchnorm_forward(x, G4, B4, running=running)
        close(out, bn(t(x)))
    close(running.mean, bn.running_mean)
    close(running.var, bn.running_var)
    bn.eval()
    out, _ = norm.spatial_batchnorm_forward(X4, G4, B4, mode="eval", running=running)
    close(out, bn(t(X4)))


def test_spatial_batchnorm_backward_matches_torch_autograd():
    dout = rng(62).standard_normal(X4.shape)
    expected = torch_grads(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
                           [X4, G4, B4], dout)
    _, cache = norm.spatial_batchnorm_forward(X4, G4, B4)
    for ours, ref in zip(norm.spatial_batchnorm_backward(dout, cache), expected, strict=True):
        close(ours, ref)


def test_spatial_batchnorm_allows_one_image_with_several_pixels():
    out, _ = norm.spatial_batchnorm_forward(X4[:1], G4, B4)
    close(out, F.batch_norm(t(X4[:1]), None, None, t(G4), t(B4), training=True))


# --------------------------------------------------------------------------------------------
# Layer, instance and group norm
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 2, 2), (1, 5)])
def test_layernorm_matches_numeric_gradient_torch_forward_and_autograd(shape):
    x = rng(80).standard_normal(shape) * 3 + 1
    gamma, beta = affine_params(shape[1:], seed=81)
    assert_passes(norm.layernorm_forward, norm.layernorm_backward,
                  {"x": x, "gamma": gamma, "beta": beta}, seed=7)
    ln = nn.LayerNorm(shape[1:], eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        ln.weight.copy_(t(gamma))
        ln.bias.copy_(t(beta))
    out, cache = norm.layernorm_forward(x, gamma, beta)
    close(out, ln(t(x)))
    dout = rng(82).standard_normal(shape)
    expected = torch_grads(lambda a, g, b: F.layer_norm(a, shape[1:], g, b, 1e-5),
                           [x, gamma, beta], dout)
    for ours, ref in zip(norm.layernorm_backward(dout, cache), expected, strict=True):
        close(ours, ref)


def test_instancenorm_matches_numeric_gradient_torch_forward_and_autograd():
    gamma, beta = affine_params(4, seed=83)
    assert_passes(norm.instancenorm_forward, norm.instancenorm_backward,
                  {"x": X4, "gamma": gamma, "beta": beta}, seed=8)
    inorm = nn.InstanceNorm2d(4, eps=1e-5, affine=True, dtype=torch.float64)
    with torch.no_grad():
        inorm.weight.copy_(t(gamma))
        inorm.bias.copy_(t(beta))
    out, cache = norm.instancenorm_forward(X4, gamma, beta)
    close(out, inorm(t(X4)))
    dout = rng(84).standard_normal(X4.shape)
    expected = torch_grads(lambda a, g, b: F.instance_norm(a, weight=g, bias=b, eps=1e-5),
                           [X4, gamma, beta], dout)
    for ours, ref in zip(norm.instancenorm_backward(dout, cache), expected, strict=True):
        close(ours, ref)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_groupnorm_matches_numeric_gradient_torch_forward_and_autograd(groups):
    gamma, beta = affine_params(4, seed=85)
    assert_passes(norm.groupnorm_forward, norm.groupnorm_backward,
                  {"x": X4, "gamma": gamma, "beta": beta},
                  {"num_groups": groups}, seed=9)
    gn = nn.GroupNorm(groups, 4, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        gn.weight.copy_(t(gamma))
        gn.bias.copy_(t(beta))
    out, cache = norm.groupnorm_forward(X4, groups, gamma, beta)
    close(out, gn(t(X4)))
    dout = rng(86).standard_normal(X4.shape)
    expected = torch_grads(lambda a, g, b: F.group_norm(a, groups, g, b, 1e-5),
                           [X4, gamma, beta], dout)
    for ours, ref in zip(norm.groupnorm_backward(dout, cache), expected, strict=True):
        close(ours, ref)


def test_groupnorm_with_one_group_per_channel_is_instancenorm():
    gamma, beta = affine_params(4, seed=87)
    close(norm.groupnorm_forward(X4, 4, gamma, beta)[0],
          norm.instancenorm_forward(X4, gamma, beta)[0], tol=1e-12)


# --------------------------------------------------------------------------------------------
# lp batch norm
# --------------------------------------------------------------------------------------------

def torch_lp_bn(x: torch.Tensor, g: torch.Tensor, b: torch.Tensor, p: float,
                eps: float = 1e-5) -> torch.Tensor:
    c = x - x.mean(0)
    s = c.abs().amax(0) if math.isinf(p) else (c.abs() ** p).mean(0) ** (1 / p)
    return g * c / torch.sqrt(s * s + eps) + b


@pytest.mark.parametrize("p", [1, 2, 3, math.inf])
def test_lp_batchnorm_matches_numeric_gradient_and_torch_autograd(p):
    assert_passes(norm.lp_batchnorm_forward, norm.lp_batchnorm_backward,
                  {"x": X, "gamma": GAMMA, "beta": BETA}, {"p": p}, seed=11)
    out, cache = norm.lp_batchnorm_forward(X, GAMMA, BETA, p)
    close(out, torch_lp_bn(t(X), t(GAMMA), t(BETA), p))
    dout = rng(12).standard_normal(X.shape)
    expected = torch_grads(lambda x, g, b: torch_lp_bn(x, g, b, p), [X, GAMMA, BETA], dout)
    for ours, ref in zip(norm.lp_batchnorm_backward(dout, cache), expected, strict=True):
        close(ours, ref)


def test_lp_batchnorm_denominators():
    c = X - X.mean(axis=0)
    for p, s in [(1, np.abs(c).mean(axis=0)), (2, X.std(axis=0)),
                 (math.inf, np.abs(c).max(axis=0))]:
        out, _ = norm.lp_batchnorm_forward(X, np.ones(5), np.zeros(5), p, eps=1e-5)
        close(out, c / np.sqrt(s * s + 1e-5), tol=1e-12)


@pytest.mark.parametrize("eps", [1e-5, 0.5])
def test_lp_batchnorm_with_p2_is_batchnorm(eps):
    """eps sits under the square root in lp batch norm as in batch norm (issue 19)."""
    lp, _ = norm.lp_batchnorm_forward(X, GAMMA, BETA, 2, eps=eps)
    bn, _ = norm.batchnorm_forward(X, GAMMA, BETA, eps=eps)
    close(lp, bn, tol=1e-12)


# --------------------------------------------------------------------------------------------
# Weight norm
# --------------------------------------------------------------------------------------------

def test_weightnorm_matches_numeric_gradient_and_torch_parametrization():
    g = rng(90)
    x, v = g.standard_normal((5, 4)), g.standard_normal((4, 3))
    gain, b = g.standard_normal(3), g.standard_normal(3)
    assert_passes(norm.weightnorm_forward, norm.weightnorm_backward,
                  {"x": x, "v": v, "g": gain, "b": b}, seed=13)
    lin = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3, dtype=torch.float64), dim=0)
    params = lin.parametrizations.weight
    with torch.no_grad():
        params.original0.copy_(t(gain[:, None]))
        params.original1.copy_(t(v.T))
        lin.bias.copy_(t(b))
    xt = t(x, grad=True)
    out_t = lin(xt)
    out, cache = norm.weightnorm_forward(x, v, gain, b)
    close(out, out_t)
    dout = g.standard_normal(out.shape)
    out_t.backward(t(dout))
    dx, dv, dg, db = norm.weightnorm_backward(dout, cache)
    close(dx, xt.grad)
    close(dv, params.original1.grad.T)
    close(dg, params.original0.grad[:, 0])
    close(db, lin.bias.grad)
    close(np.linalg.norm(cache["w"], axis=0), np.abs(gain), tol=1e-12)


# --------------------------------------------------------------------------------------------
# Hypothesis: shapes and values
# --------------------------------------------------------------------------------------------

@st.composite
def batches(draw, min_n: int = 2):
    n = draw(st.integers(min_n, 6))
    d = draw(st.one_of(st.integers(1, 3), st.integers(60, 200)))
    x = draw(arrays(np.float64, (n, d), elements=st.floats(-1e4, 1e4)))
    seed = draw(st.integers(0, 2**16))
    return x, seed


@FAST
@given(batches())
def test_batchnorm_train_matches_torch_on_generated_batches(data):
    x, seed = data
    gamma, beta = affine_params(x.shape[1], seed)
    dout = rng(seed + 1).standard_normal(x.shape)
    out, cache = norm.batchnorm_forward(x, gamma, beta)
    close(out, F.batch_norm(t(x), None, None, t(gamma), t(beta), training=True), tol=1e-7)
    expected = torch_grads(lambda a, g, b: F.batch_norm(a, None, None, g, b, training=True),
                           [x, gamma, beta], dout)
    compact = norm.batchnorm_backward(dout, cache)
    paper = norm.batchnorm_backward_paper(dout, cache)
    for ours, theirs, ref in zip(compact, paper, expected, strict=True):
        close(ours, ref, tol=1e-7)
        close(theirs, ours, tol=1e-7)


@FAST
@given(batches(min_n=1))
def test_eval_batchnorm_and_layernorm_accept_any_batch_incl_one(data):
    x, seed = data
    d = x.shape[1]
    gamma, beta = affine_params(d, seed)
    running = norm.RunningStats(rng(seed).standard_normal(d) * 100, 1 + rng(seed).random(d))
    out, _ = norm.batchnorm_forward(x, gamma, beta, mode="eval", running=running)
    close(out, F.batch_norm(t(x), t(running.mean), t(running.var), t(gamma), t(beta),
                            training=False), tol=1e-7)
    if d < 2:
        with pytest.raises(ValueError, match="group of one value"):
            norm.layernorm_forward(x, gamma, beta)
        return
    out, cache = norm.layernorm_forward(x, gamma, beta)
    close(out, F.layer_norm(t(x), (d,), t(gamma), t(beta)), tol=1e-7)
    dout = rng(seed + 2).standard_normal(x.shape)
    expected = torch_grads(lambda a, g, b: F.layer_norm(a, (d,), g, b), [x, gamma, beta], dout)
    for ours, ref in zip(norm.layernorm_backward(dout, cache), expected, strict=True):
        close(ours, ref, tol=1e-7)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

ONES, ZEROS = np.ones(5), np.zeros(5)
STATS = norm.RunningStats.zeros(5)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: norm.batchnorm_forward(np.ones((2, 5, 1)), ONES, ZEROS), ValueError, "x"),
    (lambda: norm.batchnorm_forward(X, np.ones(4), ZEROS), ValueError, "gamma"),
    (lambda: norm.batchnorm_forward(X, ONES, np.zeros((5, 1))), ValueError, "beta"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, eps=-1e-5), ValueError, "eps"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, eps=0.0), ValueError, "eps"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, eps="1e-5"), TypeError, "eps"),
    (lambda: norm.batchnorm_forward(X[:1], ONES, ZEROS), ValueError, "batch of one"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, mode="test"), ValueError, "mode"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, mode=True), TypeError, "mode"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, mode="eval"), ValueError, "running"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, momentum=1.5), ValueError, "momentum"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, running={"mean": ZEROS}), TypeError,
     "running"),
    (lambda: norm.batchnorm_forward(X, ONES, ZEROS, running=norm.RunningStats.zeros(4)),
     ValueError, "running.mean"),
    (lambda: norm.batchnorm_forward(X.astype(complex), ONES, ZEROS), TypeError, "x"),
    (lambda: norm.batchnorm_backward(np.ones((6, 4)), norm.batchnorm_forward(X, ONES, ZEROS)[1]),
     ValueError, "dout"),
    (lambda: norm.batchnorm_backward(np.ones((6, 5)), (X, ONES)), TypeError, "cache"),
    (lambda: norm.RunningStats.zeros(0), ValueError, "num_features"),
    (lambda: norm.population_stats([]), ValueError, "batches"),
    (lambda: norm.population_stats([X, X[:1]]), ValueError, "batches[1]"),
    (lambda: norm.population_stats([X, X[:, :4]]), ValueError, "batches[1]"),
    (lambda: norm.spatial_batchnorm_forward(X, ONES, ZEROS), ValueError, "x"),
    (lambda: norm.spatial_batchnorm_forward(X4[:1, :, :1, :1], G4, B4), ValueError,
     "group of one value"),
    (lambda: norm.spatial_batchnorm_forward(X4, ONES, B4), ValueError, "gamma"),
    (lambda: norm.layernorm_forward(np.ones(5), ONES, ZEROS), ValueError, "x"),
    (lambda: norm.layernorm_forward(X4, G4, B4), ValueError, "gamma"),
    (lambda: norm.layernorm_forward(X, ONES, ZEROS, eps=-1.0), ValueError, "eps"),
    (lambda: norm.instancenorm_forward(X, ONES, ZEROS), ValueError, "x"),
    (lambda: norm.instancenorm_forward(X4[:, :, :1, :1], G4, B4), ValueError, "x"),
    (lambda: norm.groupnorm_forward(X4, 3, G4, B4), ValueError, "num_groups G = 3"),
    (lambda: norm.groupnorm_forward(X4, 0, G4, B4), ValueError, "num_groups"),
    (lambda: norm.groupnorm_forward(X4, 2.0, G4, B4), TypeError, "num_groups"),
    (lambda: norm.groupnorm_forward(X4, 2, ONES, B4), ValueError, "gamma"),
    (lambda: norm.lp_batchnorm_forward(X, ONES, ZEROS, 0.5), ValueError, "p"),
    (lambda: norm.lp_batchnorm_forward(X[:1], ONES, ZEROS, 1), ValueError, "batch of one"),
    (lambda: norm.lp_batchnorm_forward(X[None], ONES, ZEROS, 1), ValueError, "x"),
    (lambda: norm.weightnorm_forward(X, np.zeros((5, 2)), np.ones(2), np.zeros(2)),
     ValueError, "v"),
    (lambda: norm.weightnorm_forward(X, np.ones((4, 2)), np.ones(2), np.zeros(2)),
     ValueError, "v"),
    (lambda: norm.weightnorm_forward(X, np.ones((5, 2)), np.ones(3), np.zeros(2)),
     ValueError, "g"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_groupnorm_error_names_groups_and_channels():
    with pytest.raises(ValueError, match="C = 4"):
        norm.groupnorm_forward(X4, 3, G4, B4)


def test_batch_of_one_error_explains_the_way_out():
    with pytest.raises(ValueError, match="mode='eval'"):
        norm.batchnorm_forward(X[:1], ONES, ZEROS)


# --------------------------------------------------------------------------------------------
# Degenerate groups (issue 19): every normalisation refuses a group of one value alike
# --------------------------------------------------------------------------------------------

GROUP_OF_ONE = [
    ("training-mode batch norm", "N = 1", (1, 5),
     lambda x: norm.batchnorm_forward(x, np.ones(5), np.zeros(5))),
    ("spatial batch norm", "N * H * W = 1", (1, 3, 1, 1),
     lambda x: norm.spatial_batchnorm_forward(x, np.ones(3), np.zeros(3))),
    ("layer norm", "prod(x.shape[1:]) = 1", (4, 1),
     lambda x: norm.layernorm_forward(x, np.ones(1), np.zeros(1))),
    ("instance norm", "prod(x.shape[2:]) = 1", (4, 3, 1),
     lambda x: norm.instancenorm_forward(x, np.ones(3), np.zeros(3))),
    ("group norm with G = 10", "C/G * prod(x.shape[2:]) = 1", (4, 10, 1),
     lambda x: norm.groupnorm_forward(x, 10, np.ones(10), np.zeros(10))),
    ("lp batch norm", "N = 1", (1, 5),
     lambda x: norm.lp_batchnorm_forward(x, np.ones(5), np.zeros(5), 1)),
]


@pytest.mark.parametrize(("layer", "count", "shape", "call"), GROUP_OF_ONE,
                         ids=[g[0] for g in GROUP_OF_ONE])
def test_every_normalisation_refuses_a_group_of_one_with_the_same_error(layer, count, shape,
                                                                        call):
    """The issue's example: group norm of x (4, 10, 1) with G = 10 used to return beta for
    every input, silently."""
    x = rng(3).standard_normal(shape)
    with pytest.raises(ValueError) as info:
        call(x)
    msg = str(info.value)
    assert layer in msg and count in msg and f"shape {shape}" in msg
    assert "group of one value" in msg and ">= 2 values per normalisation group" in msg


def test_layernorm_gamma_has_the_normalised_shape_and_the_error_points_to_group_norm():
    """One documented convention (trainlab.conventions): layer norm's gamma has torch's
    normalized_shape x.shape[1:]; one gamma per channel is group norm with G = 1."""
    with pytest.raises(ValueError, match=r"groupnorm_forward\(x, 1, gamma, beta\)"):
        norm.layernorm_forward(X4, G4, B4)
    c = X4.shape[1]
    per_channel = norm.groupnorm_forward(X4, 1, G4, B4)[0]
    full = norm.layernorm_forward(X4, np.broadcast_to(G4.reshape(c, 1, 1), X4.shape[1:]),
                                  np.broadcast_to(B4.reshape(c, 1, 1), X4.shape[1:]))[0]
    close(per_channel, full, tol=1e-12)


# --------------------------------------------------------------------------------------------
# float64 stays float64 (issue 19)
# --------------------------------------------------------------------------------------------

def test_float64_inputs_match_float64_torch_to_round_off():
    x = rng(41).normal(3.0, 0.01, size=(16, 5))      # a large mean: float32 would lose ~1e-4
    gamma, beta = affine_params(5, seed=42)
    pairs = [
        (norm.batchnorm_forward(x, gamma, beta)[0],
         F.batch_norm(t(x), None, None, t(gamma), t(beta), training=True)),
        (norm.layernorm_forward(x, gamma, beta)[0], F.layer_norm(t(x), (5,), t(gamma), t(beta))),
        (norm.lp_batchnorm_forward(x, gamma, beta, 2)[0],
         F.batch_norm(t(x), None, None, t(gamma), t(beta), training=True)),
    ]
    for ours, ref in pairs:
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-12, atol=1e-12)
    x32 = x.astype(np.float32)
    out32 = norm.batchnorm_forward(x32, gamma.astype(np.float32), beta.astype(np.float32))[0]
    assert out32.dtype == np.float32


def test_groupnorm_takes_torchs_argument_order_and_names_the_old_one():
    """Issue 19: groupnorm_forward put G last, F.group_norm puts num_groups first."""
    with pytest.raises(TypeError, match=r"\(x, num_groups, gamma, beta\) in torch's order"):
        norm.groupnorm_forward(X4, G4, B4, 2)
    with pytest.raises(TypeError, match="takes num_groups= instead of G="):
        norm.groupnorm_forward(X4, gamma=G4, beta=B4, G=2)
    ours = norm.groupnorm_forward(X4, 2, G4, B4)[0]
    close(ours, F.group_norm(t(X4), 2, t(G4), t(B4)), tol=1e-12)
