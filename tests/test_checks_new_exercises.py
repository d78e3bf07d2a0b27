"""The checks of the exercises added for issue 15 (maxout, conv init, BN eval and spatial, dropout
that samples its mask, layer-norm backward, the capstone) and their NumPy references: right
answers pass, typical slips fail with their hint, and the references agree with torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from torch_compare import close, t
from trainlab.checks import ExerciseError, NotAttemptedError, reference
from trainlab.checks import activations as act_checks
from trainlab.checks import batchnorm as bn_checks
from trainlab.checks import capstone as cap_checks
from trainlab.checks import dropout as drop_checks
from trainlab.checks import init as init_checks
from trainlab.checks import normalisation as norm_checks


def _fails(call, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        call()


# --- references against torch ----------------------------------------------------------------
def test_batchnorm_and_layernorm_references_match_torch_autograd():
    rng = np.random.default_rng(0)
    x, gamma, beta, dout = (rng.normal(size=(6, 4)) * 3 + 1, rng.uniform(0.5, 2, 4),
                            rng.normal(size=4), rng.normal(size=(6, 4)))
    xt, gt, bt = t(x, True), t(gamma, True), t(beta, True)
    out = F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    out.backward(t(dout))
    close(reference.batchnorm(x, gamma, beta, 1e-5), out)
    for got, want in zip(reference.batchnorm_backward(dout, x, gamma, 1e-5),
                         (xt.grad, gt.grad, bt.grad), strict=True):
        close(got, want)
    xt, gt, bt = t(x, True), t(gamma, True), t(beta, True)
    out = F.layer_norm(xt, (4,), gt, bt, eps=1e-5)
    out.backward(t(dout))
    close(reference.layernorm(x, gamma, beta, 1e-5), out)
    for got, want in zip(reference.layernorm_backward(dout, x, gamma, 1e-5),
                         (xt.grad, gt.grad, bt.grad), strict=True):
        close(got, want)


def test_groupnorm_and_maxout_references_match_torch():
    rng = np.random.default_rng(1)
    x, gamma, beta = rng.normal(size=(2, 6, 3, 3)), rng.uniform(0.5, 2, 6), rng.normal(size=6)
    close(reference.groupnorm(x, gamma, beta, 3, 1e-5),
          F.group_norm(t(x), 3, t(gamma), t(beta), eps=1e-5))
    x, w, b, dout = (rng.normal(size=(4, 3)), rng.normal(size=(3, 3, 5)), rng.normal(size=(3, 5)),
                     rng.normal(size=(4, 5)))
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    out = (torch.einsum("nd,kdh->knh", xt, wt) + bt[:, None, :]).max(0).values
    out.backward(t(dout))
    close(reference.maxout(x, w, b), out)
    for got, want in zip(reference.maxout_backward(dout, x, w, b),
                         (xt.grad, wt.grad, bt.grad), strict=True):
        close(got, want)


def test_running_update_reference_follows_torch():
    rng = np.random.default_rng(2)
    x, mean, var = rng.normal(size=(5, 3)), rng.normal(size=3), rng.uniform(0.5, 2, 3)
    rm, rv = t(mean), t(var)
    F.batch_norm(t(x), rm, rv, training=True, momentum=0.1)
    got = reference.running_update(mean, var, x, 0.1)
    close(got[0], rm)
    close(got[1], rv)


# --- the new checks --------------------------------------------------------------------------
def test_maxout_check():
    def backward(dout, x, w, b):
        return reference.maxout_backward(dout, x, w, b)

    act_checks.check_maxout(reference.maxout, backward, seed=3)
    _fails(lambda: act_checks.check_maxout(
        lambda x, w, b: (np.einsum("nd,kdh->knh", x, w) + b[:, None]).sum(0), backward),
        "maximum over the k pieces")

    def every_piece(dout, x, w, b):
        dz = np.broadcast_to(dout, (w.shape[0], *dout.shape))
        return (np.einsum("knh,kdh->nd", dz, w), np.einsum("nd,knh->kdh", x, dz), dz.sum(1))

    _fails(lambda: act_checks.check_maxout(reference.maxout, every_piece), "winning piece")


def test_conv_kaiming_init_check():
    def right(c_out, c_in, k, seed):
        return np.random.default_rng(seed).normal(0, math.sqrt(2 / (c_in * k * k)),
                                                  (c_out, c_in, k, k))

    init_checks.check_conv_kaiming_init(right, seed=1)
    _fails(lambda: init_checks.check_conv_kaiming_init(
        lambda o, i, k, s: np.random.default_rng(s).normal(0, math.sqrt(2 / i), (o, i, k, k))),
        "C_in \\* k \\* k")
    _fails(lambda: init_checks.check_conv_kaiming_init(
        lambda o, i, k, s: np.random.default_rng().normal(0, math.sqrt(2 / (i * k * k)),
                                                          (o, i, k, k))), "same seed")


def test_bn_eval_and_spatial_checks():
    def evaluate(x, g, b, m, v, eps):
        return g * (x - m) / np.sqrt(v + eps) + b

    bn_checks.check_bn_eval(evaluate, seed=2)
    _fails(lambda: bn_checks.check_bn_eval(lambda x, g, b, m, v, eps:
                                           reference.batchnorm(x, g, b, eps)), "RUNNING")

    def spatial(x, g, b, eps):
        mu, var = x.mean((0, 2, 3), keepdims=True), x.var((0, 2, 3), keepdims=True)
        return g.reshape(1, -1, 1, 1) * (x - mu) / np.sqrt(var + eps) + b.reshape(1, -1, 1, 1)

    bn_checks.check_spatial_bn(spatial, seed=3)

    def batch_only(x, g, b, eps):
        return g.reshape(1, -1, 1, 1) * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) \
            + b.reshape(1, -1, 1, 1)

    _fails(lambda: bn_checks.check_spatial_bn(batch_only), "N, H and W")


def test_dropout_sampling_check():
    def right(x, kp, seed):
        mask = np.random.default_rng(seed).random(x.shape) < kp
        return x * mask / kp, mask

    assert drop_checks.check_dropout_sampling(right, seed=1).dtype == bool

    def drops(x, kp, seed):
        mask = np.random.default_rng(seed).random(x.shape) < 1 - kp
        return x * mask / kp, mask

    _fails(lambda: drop_checks.check_dropout_sampling(drops), "True must mean KEEP")

    def fixed(x, kp, seed):
        return right(x, kp, 0)

    _fails(lambda: drop_checks.check_dropout_sampling(fixed), "same mask for two seeds")


def test_layer_norm_backward_check():
    norm_checks.check_layer_norm_backward(reference.layernorm_backward, seed=4)
    _fails(lambda: norm_checks.check_layer_norm_backward(reference.batchnorm_backward),
           "per EXAMPLE")


def test_capstone_layer_checks():
    cap_checks.check_affine(lambda x, w, b: x @ w + b,
                            lambda d, x, w: (d @ w.T, x.T @ d, d.sum(0)))
    _fails(lambda: cap_checks.check_affine(lambda x, w, b: x @ w + b,
                                           lambda d, x, w: (d @ w.T, x.T @ d, d.mean(0))),
           "sums dout")
    cap_checks.check_relu(lambda x: np.maximum(x, 0), lambda d, x: d * (x > 0))

    def naive_softmax(s, y):
        p = np.exp(s) / np.exp(s).sum(1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y]).mean(), None

    with np.errstate(all="ignore"), pytest.raises(ExerciseError):
        cap_checks.check_softmax_loss(naive_softmax, seed=1)

    def stub(*a):
        raise NotImplementedError

    with pytest.raises(NotAttemptedError):
        cap_checks.check_batchnorm(stub, stub)


def test_capstone_training_check_keeps_the_labels_and_scores_predictions(monkeypatch):
    rng = np.random.default_rng(0)
    x_train, y_train = rng.random((20, 4), dtype=np.float32), rng.integers(0, 10, 20)
    x_val, y_val = rng.random((10, 4), dtype=np.float32), rng.integers(0, 10, 10)
    monkeypatch.setattr(cap_checks, "_mnist", lambda: (x_train, y_train, x_val, y_val))
    seen = {}

    def perfect(xt, yt, xv, seed):
        seen["args"] = (xt, yt, xv, seed)
        return y_val.copy()

    cap_checks.check_training(perfect, seeds=5, target=0.96)
    assert len(seen["args"]) == 4 and seen["args"][2] is x_val and seen["args"][3] == 5
    _fails(lambda: cap_checks.check_training(lambda *a: (y_val + 1) % 10, seeds=6),
           "below 0.96")
    _fails(lambda: cap_checks.check_training(lambda *a: y_val[:5], seeds=7), "2000|10 labels")
