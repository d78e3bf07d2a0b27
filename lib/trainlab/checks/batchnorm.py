"""Checks for the graded exercises of lessons 04 (batch norm) and 05 (why it works).

Every check draws fresh inputs from ``seed``, calls the learner's function and compares the
result with trainlab's reference (:mod:`trainlab.norm`, :mod:`trainlab.modules`).
When an answer matches a common slip (the unbiased variance in the
forward pass, the mean term missing from the backward pass, CS231n's momentum convention, a
step size too large...) the error message names it.

Lesson 04 (the assignment track): :func:`check_batchnorm_forward` (bn_param with running
statistics, torch's momentum convention), :func:`check_batchnorm_backward`,
:func:`check_spatial_batchnorm_forward`, :func:`check_spatial_batchnorm_backward`, and the
weight-scale experiment :func:`check_train_deep_net`, :func:`check_weight_scale_sweep`.
Lesson 05: the learning-rate experiment :func:`check_lr_sweep`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trainlab.checks import ExerciseError, call_student, expect_close, result_tuple

__all__ = [
    "check_batchnorm_backward",
    "check_batchnorm_forward",
    "check_lr_sweep",
    "check_spatial_batchnorm_backward",
    "check_spatial_batchnorm_forward",
    "check_train_deep_net",
    "check_weight_scale_sweep",
    "reference_deep_net_losses",
    "reference_lr_sweep",
]


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng(int(seed))


# --------------------------------------------------------------------------------------------
# Lesson 04, the assignment track: batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)
# with running statistics in bn_param, batchnorm_backward(dout, cache), the spatial pair, and
# the weight-scale experiment (train_deep_net, weight_scale_sweep)
# --------------------------------------------------------------------------------------------
_CS231N = ("you used CS231n's/Keras' convention (the OLD value weighted by momentum); this "
           "course follows torch: running = (1 - momentum) running + momentum batch")


def _ref_bn(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict,
            spatial: bool = False) -> tuple[np.ndarray, dict]:
    """The reference for one call: trainlab.norm on a copy of bn_param's running statistics;
    returns (out, the running statistics after the call)."""
    from trainlab import norm

    c = x.shape[1]
    mean = np.array(bn_param.get("running_mean", np.zeros(c)), dtype=np.float64)
    var = np.array(bn_param.get("running_var", np.ones(c)), dtype=np.float64)
    running = norm.RunningStats(mean, var)
    forward = norm.spatial_batchnorm_forward if spatial else norm.batchnorm_forward
    out, _ = forward(x, gamma, beta, mode=bn_param["mode"], eps=bn_param.get("eps", 1e-5),
                     momentum=bn_param.get("momentum", 0.1), running=running)
    return out, {"running_mean": running.mean, "running_var": running.var}


def _stat(bn_param: dict, key: str, what: str) -> np.ndarray:
    if key not in bn_param:
        raise ExerciseError(f"{what}: bn_param has no '{key}' after the call. Hint: create it "
                            f"(zeros for the mean, ones for the variance) when it is absent and "
                            f"store the updated value in bn_param['{key}']")
    return np.asarray(bn_param[key], dtype=np.float64)


def _check_bn_calls(fn: Callable[..., Any], rng: np.random.Generator, spatial: bool,
                    name: str) -> None:
    """Three training batches (the default momentum first, then a drawn one), then eval mode
    on a batch and on a single example; the running statistics are compared after every call."""
    c = int(rng.integers(2, 6))
    shape = (int(rng.integers(4, 8)), c, 3, 2) if spatial else (int(rng.integers(5, 9)), c)
    gamma, beta = rng.uniform(0.5, 2.0, c), rng.normal(0, 1, c)
    axes = (0, 2, 3) if spatial else (0,)
    loc = rng.uniform(-3, 3, c).reshape((1, c) + (1, 1) * spatial)
    scale = rng.uniform(0.5, 4, c).reshape(loc.shape)
    bn_param: dict[str, Any] = {"mode": "train"}
    ref_param: dict[str, Any] = {"mode": "train"}
    for step in range(3):
        if step == 1:
            momentum, eps = float(rng.uniform(0.2, 0.6)), float(rng.choice([1e-3, 0.1]))
            bn_param.update(momentum=momentum, eps=eps)
            ref_param.update(momentum=momentum, eps=eps)
        x = rng.normal(loc, scale, size=shape)
        old_mean = np.array(ref_param.get("running_mean", np.zeros(c)))
        old_var = np.array(ref_param.get("running_var", np.ones(c)))
        expected, stats = _ref_bn(x, gamma, beta, ref_param, spatial)
        ref_param.update(stats)
        got = result_tuple(call_student(fn, x.copy(), gamma.copy(), beta.copy(), bn_param), 2,
                           name)
        m = bn_param.get("momentum", 0.1)
        what = f"{name} in train mode, call {step + 1} (x {x.shape}, " \
               f"bn_param {sorted(k for k in bn_param if not k.startswith('running'))})"
        mu, var_b = x.mean(axis=axes), x.var(axis=axes)
        expect_close(got[0], expected, f"out of {what}", hints={
            "you normalised with the running statistics; in train mode batch norm uses the "
            "batch's own mean and variance":
                _bn_with(x, gamma, beta, old_mean, old_var, ref_param, spatial),
            "you normalised with the (updated) running statistics; in train mode batch norm "
            "uses the batch's own mean and variance":
                _bn_with(x, gamma, beta, stats["running_mean"], stats["running_var"], ref_param,
                         spatial),
            "you divided by the unbiased variance; the forward pass uses the biased one (1/m)":
                _bn_with(x, gamma, beta, mu, x.var(axis=axes, ddof=1), ref_param, spatial),
            "eps goes under the square root, sqrt(var + eps)":
                _bn_with(x, gamma, beta, mu, (np.sqrt(var_b) + ref_param.get("eps", 1e-5))**2
                         - ref_param.get("eps", 1e-5), ref_param, spatial)})
        count = x.size // c
        unbiased = var_b * count / (count - 1)
        expect_close(_stat(bn_param, "running_mean", what), stats["running_mean"],
                     f"bn_param['running_mean'] after {what}", hints={
                         _CS231N: m * old_mean + (1 - m) * mu})
        expect_close(_stat(bn_param, "running_var", what), stats["running_var"],
                     f"bn_param['running_var'] after {what}", hints={
                         "the running variance averages the UNBIASED batch variance, "
                         "m/(m-1) sigma_B^2 with m the number of values per feature "
                         "(torch's and trainlab.norm's convention)":
                             (1 - m) * old_var + m * var_b,
                         _CS231N: m * old_var + (1 - m) * unbiased})
    for n in (shape[0], 1):
        x = rng.normal(loc, scale, size=(n,) + shape[1:])
        bn_param["mode"], ref_param["mode"] = "eval", "eval"
        before = {k: np.array(bn_param[k]) for k in ("running_mean", "running_var")}
        expected, _ = _ref_bn(x, gamma, beta, ref_param, spatial)
        got = result_tuple(call_student(fn, x.copy(), gamma.copy(), beta.copy(), bn_param), 2,
                           name)
        hints = {"eval mode normalises with bn_param's running statistics, not the batch's":
                 _ref_bn(x, gamma, beta, dict(ref_param, mode="train"), spatial)[0]} \
            if n > 1 else {}
        expect_close(got[0], expected, f"out of {name} in eval mode on a batch of {n}",
                     hints=hints)
        for k, v in before.items():
            if not np.array_equal(np.asarray(bn_param[k], dtype=np.float64), v):
                raise ExerciseError(f"{name} changed bn_param['{k}'] in eval mode; the running "
                                    "statistics are only updated in train mode")


def _bn_with(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
             var: np.ndarray, bn_param: dict, spatial: bool) -> np.ndarray:
    shape = (1, -1, 1, 1) if spatial else (1, -1)
    eps = bn_param.get("eps", 1e-5)
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) \
        + beta.reshape(shape)


def check_batchnorm_forward(fn: Callable[..., Any], seed: int = 0) -> None:
    """Check ``batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)`` for x (N, D).

    bn_param: "mode" ("train" | "eval"), optional "eps" (1e-5), "momentum" (0.1, torch's
    convention: running = (1 - momentum) running + momentum batch, with the unbiased batch
    variance for running_var), "running_mean"/"running_var" (zeros/ones when absent, updated in
    bn_param in train mode). Reference: :func:`trainlab.norm.batchnorm_forward`. Three training
    calls with one bn_param, then eval mode on a batch and on one example."""
    _check_bn_calls(fn, _rng(seed), False, "batchnorm_forward")


def check_spatial_batchnorm_forward(fn: Callable[..., Any], seed: int = 0) -> None:
    """Check ``spatial_batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)`` for x
    (N, C, H, W): per-channel statistics over N, H and W, the same bn_param contract as
    :func:`check_batchnorm_forward` (reference :func:`trainlab.norm.spatial_batchnorm_forward`).
    """
    _check_bn_calls(fn, _rng(seed), True, "spatial_batchnorm_forward")


def _check_backward(forward: Callable[..., Any], backward: Callable[..., Any],
                    rng: np.random.Generator, spatial: bool) -> None:
    from trainlab import norm

    names = ("spatial_batchnorm_forward", "spatial_batchnorm_backward") if spatial else \
        ("batchnorm_forward", "batchnorm_backward")
    for size in ((int(rng.integers(4, 8)), int(rng.integers(2, 6))), (3, 2)):
        c = size[1]
        shape = (size[0], c, 3, 2) if spatial else size
        x = rng.normal(rng.uniform(-3, 3, c).reshape((1, c) + (1, 1) * spatial), 2.0,
                       size=shape)
        gamma, beta = rng.uniform(0.5, 2.0, c), rng.normal(0, 1, c)
        dout = rng.normal(size=shape)
        eps = float(rng.choice([1e-5, 1e-2]))
        _, cache = result_tuple(call_student(forward, x.copy(), gamma.copy(), beta.copy(),
                                             {"mode": "train", "eps": eps}), 2, names[0])
        got = result_tuple(call_student(backward, dout.copy(), cache), 3, names[1])
        ref_fwd = norm.spatial_batchnorm_forward if spatial else norm.batchnorm_forward
        ref_bwd = norm.spatial_batchnorm_backward if spatial else norm.batchnorm_backward
        dx, dgamma, dbeta = ref_bwd(dout, ref_fwd(x, gamma, beta, eps=eps)[1])
        axes = (0, 2, 3) if spatial else (0,)
        shp = (1, c, 1, 1) if spatial else (1, c)
        m = x.size // c
        inv = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
        xh = (x - x.mean(axis=axes, keepdims=True)) * inv
        g = gamma.reshape(shp)
        what = f"{names[1]} on x {shape}"
        expect_close(got[2], dbeta, f"dbeta of {what}", hints={
            "dbeta sums dout over every axis but the feature axis": dout.mean(axis=axes)})
        expect_close(got[1], dgamma, f"dgamma of {what}", hints={
            "dgamma multiplies dout by x_hat (the normalised input), not by x":
                (dout * x).sum(axis=axes)})
        mean_d = dout.sum(axis=axes, keepdims=True) / m
        mean_dx = (dout * xh).sum(axis=axes, keepdims=True) / m
        expect_close(got[0], dx, f"dx of {what}", hints={
            "the mean term is missing: mu_B depends on every x_i, so dx needs "
            "- mean_i(dx_hat_i) (the dl/dmu_B path)": g * inv * (dout - xh * mean_dx),
            "the variance term is missing: sigma_B^2 depends on every x_i, so dx needs "
            "- x_hat * mean_i(dx_hat_i x_hat_i)": g * inv * (dout - mean_d),
            "you treated mu_B and sigma_B^2 as constants (the eval-mode gradient); in train "
            "mode they depend on x": g * inv * dout,
            "gamma is missing: dl/dx_hat = dout * gamma": inv * (dout - mean_d - xh * mean_dx)})


def check_batchnorm_backward(forward: Callable[..., Any], backward: Callable[..., Any],
                             seed: int = 0) -> None:
    """Check ``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` on the cache of the
    learner's own train-mode ``batchnorm_forward`` (reference
    :func:`trainlab.norm.batchnorm_backward`)."""
    _check_backward(forward, backward, _rng(seed), False)


def check_spatial_batchnorm_backward(forward: Callable[..., Any], backward: Callable[..., Any],
                                     seed: int = 0) -> None:
    """Check ``spatial_batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` on the cache of
    the learner's own train-mode ``spatial_batchnorm_forward`` (dx (N, C, H, W), dgamma and
    dbeta (C,); reference :func:`trainlab.norm.spatial_batchnorm_backward`)."""
    _check_backward(forward, backward, _rng(seed), True)


def reference_deep_net_losses(x: np.ndarray, y: np.ndarray, hidden_dims: list[int],
                              weight_scale: float, use_bn: bool, steps: int, lr: float,
                              seed: int) -> np.ndarray:
    """The losses of ``train_deep_net`` (lesson 04's experiment), shape (steps,).

    Weights: ``rng = np.random.default_rng(seed)``, then for each layer in order (hidden
    layers, then the output layer with ``max(y) + 1`` classes) ``W = weight_scale *
    rng.standard_normal((d_in, d_out))``; biases 0, gamma 1, beta 0. Each hidden layer is
    affine -> batch norm (train mode, eps 1e-5, when ``use_bn``) -> ReLU; the output layer is
    affine; the loss is the mean softmax cross-entropy. Every step is one full-batch gradient
    descent step ``p -= lr * dp`` on every parameter; entry t is the loss computed in step t,
    before its update."""
    from trainlab import layers, norm

    rng = np.random.default_rng(seed)
    dims = [x.shape[1], *hidden_dims, int(np.max(y)) + 1]
    params: dict[str, np.ndarray] = {}
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), start=1):
        params[f"W{i}"] = weight_scale * rng.standard_normal((d_in, d_out))
        params[f"b{i}"] = np.zeros(d_out)
        if use_bn and i < len(dims) - 1:
            params[f"gamma{i}"], params[f"beta{i}"] = np.ones(d_out), np.zeros(d_out)
    losses = []
    for _ in range(steps):
        h, caches = x, []
        for i in range(1, len(dims)):
            h, c_aff = layers.affine_forward(h, params[f"W{i}"], params[f"b{i}"])
            c_bn = None
            if i < len(dims) - 1:
                if use_bn:
                    h, c_bn = norm.batchnorm_forward(h, params[f"gamma{i}"],
                                                     params[f"beta{i}"], eps=1e-5)
                mask = h > 0
                h = h * mask
            else:
                mask = None
            caches.append((c_aff, c_bn, mask))
        loss, dh = layers.softmax_cross_entropy(h, y)
        losses.append(loss)
        grads = {}
        for i in range(len(dims) - 1, 0, -1):
            c_aff, c_bn, mask = caches[i - 1]
            if mask is not None:
                dh = dh * mask
            if c_bn is not None:
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = norm.batchnorm_backward(dh, c_bn)
            dh, grads[f"W{i}"], grads[f"b{i}"] = layers.affine_backward(dh, c_aff)
        for k in params:
            params[k] = params[k] - lr * grads[k]
    return np.array(losses)


def _experiment_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int]]:
    n, d, classes = int(rng.integers(12, 20)), int(rng.integers(4, 8)), int(rng.integers(3, 5))
    x = rng.normal(size=(n, d))
    y = np.concatenate([np.arange(classes), rng.integers(0, classes, n - classes)])
    return x, rng.permutation(y), [int(v) for v in rng.integers(4, 8, size=3)]


def check_train_deep_net(fn: Callable[..., Any], seed: int = 0) -> None:
    """Check ``train_deep_net(x, y, hidden_dims, weight_scale, use_bn, steps, lr, seed) ->
    losses (steps,)`` against :func:`reference_deep_net_losses` on tiny random problems, with
    and without batch norm, at a small and a large weight scale."""
    rng = _rng(seed)
    x, y, hidden = _experiment_case(rng)
    steps, lr, net_seed = int(rng.integers(4, 7)), float(rng.uniform(0.05, 0.3)), \
        int(rng.integers(0, 1000))
    for use_bn in (False, True):
        for scale in (float(rng.uniform(0.01, 0.05)), float(rng.uniform(0.5, 1.0))):
            what = (f"train_deep_net(hidden_dims={hidden}, weight_scale={scale:.3g}, "
                    f"use_bn={use_bn}, steps={steps}, lr={lr:.3g}, seed={net_seed})")
            got = call_student(fn, x.copy(), y.copy(), list(hidden), scale, use_bn, steps, lr,
                               net_seed)
            expected = reference_deep_net_losses(x, y, hidden, scale, use_bn, steps, lr,
                                                 net_seed)
            after = reference_deep_net_losses(x, y, hidden, scale, use_bn, steps + 1, lr,
                                              net_seed)[1:]
            hints = {"entry t is the loss computed in step t BEFORE its update (entry 0: the "
                     "loss at initialisation); yours are the losses after each update": after}
            expect_close(got, expected, what, tol=1e-5, hints=hints)


def check_weight_scale_sweep(fn: Callable[..., Any], seed: int = 0) -> None:
    """Check ``weight_scale_sweep(x, y, hidden_dims, scales, steps, lr, seed) -> (2, S)``:
    row 0 the last loss of train_deep_net without batch norm for each scale, row 1 with it."""
    rng = _rng(seed)
    x, y, hidden = _experiment_case(rng)
    scales = np.sort(rng.uniform(0.005, 1.0, 3))
    steps, lr, net_seed = 4, float(rng.uniform(0.05, 0.3)), int(rng.integers(0, 1000))
    got = call_student(fn, x.copy(), y.copy(), list(hidden), scales.copy(), steps, lr, net_seed)
    expected = np.array([[reference_deep_net_losses(x, y, hidden, float(s), bn, steps, lr,
                                                    net_seed)[-1] for s in scales]
                         for bn in (False, True)])
    expect_close(got, expected, f"weight_scale_sweep over scales {np.round(scales, 3)}",
                 tol=1e-5, hints={"row 0 is without batch norm, row 1 with it":
                                  expected[::-1], "one row per setting (no BN, BN), one column "
                                  "per scale": expected.T})


# --------------------------------------------------------------------------------------------
# Lesson 05, the experiment: batch norm against no batch norm over learning rates
# --------------------------------------------------------------------------------------------
def reference_lr_sweep(x: np.ndarray, y: np.ndarray, hidden_dims: list[int],
                       lrs: Sequence[float], weight_scale: float, steps: int,
                       seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``lr_sweep``'s reference: for use_bn False (row 0) and True (row 1) and every learning
    rate, the losses of :func:`reference_deep_net_losses`; returns (last loss (2, L), number of
    steps whose loss is higher than the step before (2, L))."""
    final = np.empty((2, len(lrs)))
    ups = np.empty((2, len(lrs)))
    with np.errstate(over="ignore", invalid="ignore"):
        for row, use_bn in enumerate((False, True)):
            for j, lr in enumerate(lrs):
                losses = reference_deep_net_losses(x, y, hidden_dims, weight_scale, use_bn,
                                                   steps, float(lr), seed)
                final[row, j] = losses[-1]
                ups[row, j] = np.sum(losses[1:] > losses[:-1])
    return final, ups


def check_lr_sweep(fn: Callable[..., Any], seed: int = 0) -> None:
    """Check ``lr_sweep(x, y, hidden_dims, lrs, weight_scale, steps, seed) -> (final, ups)``,
    both (2, L) (row 0 without batch norm, row 1 with it), against :func:`reference_lr_sweep`
    on a tiny random problem at learning rates drawn by the check."""
    rng = _rng(seed)
    x, y, hidden = _experiment_case(rng)
    lrs = np.sort(rng.uniform(0.05, 1.5, 3))
    scale, steps, net_seed = float(rng.uniform(0.1, 0.5)), 6, int(rng.integers(0, 1000))
    got = result_tuple(call_student(fn, x.copy(), y.copy(), list(hidden), lrs.copy(), scale,
                                    steps, net_seed), 2, "lr_sweep")
    final, ups = reference_lr_sweep(x, y, hidden, lrs, scale, steps, net_seed)
    what = f"lr_sweep at learning rates {np.round(lrs, 3)}"
    g_final = np.asarray(got[0], dtype=np.float64)
    if g_final.shape != final.shape:
        raise ExerciseError(f"{what}: the last losses must have shape {final.shape} (row 0 "
                            f"without batch norm, row 1 with it), got {g_final.shape}")
    finite = np.isfinite(final)
    if not np.array_equal(np.isfinite(g_final), finite):
        raise ExerciseError(f"{what}: the runs that diverge (a loss that is not finite) differ "
                            f"from the reference's: expected finite entries {finite.tolist()}")
    ref_final = np.where(finite, final, 0.0)
    expect_close(np.where(finite, g_final, 0.0), ref_final, f"{what}: last losses", tol=1e-5,
                 hints={"row 0 is without batch norm, row 1 with it": ref_final[::-1]})
    g_ups = np.asarray(got[1], dtype=np.float64)
    if g_ups.shape != ups.shape or not np.array_equal(g_ups, ups):
        hint = " Hint: count the steps t >= 1 whose loss is HIGHER than step t - 1's" \
            if g_ups.shape == ups.shape else ""
        raise ExerciseError(f"{what}: loss increases per run: expected {ups.astype(int).tolist()}"
                            f", got {g_ups.tolist()}.{hint}")
