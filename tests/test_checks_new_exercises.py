"""The checks of the exercises added for issue 15 that lessons still call (maxout, layer-norm
backward, the capstone) and their NumPy references: right answers pass, typical slips fail with
their hint, and the references agree with torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from torch_compare import close, t
from trainlab import activations
from trainlab.checks import ExerciseError, NotAttemptedError, reference
from trainlab.checks import activations as act_checks
from trainlab.checks import capstone as cap_checks
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
    # lesson 01's maxout exercise uses the helper's layout: w (D_in, D_out, k), b (D_out, k)
    act_checks.check_maxout(activations.maxout_forward, activations.maxout_backward, seed=3)
    _fails(lambda: act_checks.check_maxout(
        lambda x, w, b: ((np.einsum("nd,dhk->nhk", x, w) + b).sum(-1), None),
        activations.maxout_backward), "maximum over the k pieces")

    def every_piece(dout, cache):
        x, w = cache["x"], cache["w"]
        dz = np.broadcast_to(dout[..., None], (*dout.shape, w.shape[2]))
        return (np.einsum("nhk,dhk->nd", dz, w), np.einsum("nd,nhk->dhk", x, dz), dz.sum(0))

    _fails(lambda: act_checks.check_maxout(activations.maxout_forward, every_piece),
           "winning piece")


def test_layer_norm_backward_check():
    def forward(x, g, b, p):
        eps = p.get("eps", 1e-5)
        return reference.layernorm(x, g, b, eps), (x, g, eps)

    norm_checks.check_layernorm_layer_backward(
        forward, lambda d, c: reference.layernorm_backward(d, *c), seed=4)
    _fails(lambda: norm_checks.check_layernorm_layer_backward(
        forward, lambda d, c: reference.batchnorm_backward(d, *c)), "per EXAMPLE")


def test_capstone_layer_checks():
    # the capstone's layers take CS231n's cache API: forward -> (out, cache), backward(dout, cache)
    cap_checks.check_affine(lambda x, w, b: (x @ w + b, (x, w)),
                            lambda d, c: (d @ c[1].T, c[0].T @ d, d.sum(0)))
    _fails(lambda: cap_checks.check_affine(lambda x, w, b: (x @ w + b, (x, w)),
                                           lambda d, c: (d @ c[1].T, c[0].T @ d, d.mean(0))),
           "sums dout")
    cap_checks.check_relu(lambda x: (np.maximum(x, 0), x > 0), lambda d, c: d * c)

    def naive_softmax(s, y):
        p = np.exp(s) / np.exp(s).sum(1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y]).mean(), None

    with np.errstate(all="ignore"), pytest.raises(ExerciseError):
        cap_checks.check_softmax_loss(naive_softmax, seed=1)

    def stub(*a):
        raise NotImplementedError

    with pytest.raises(NotAttemptedError):
        cap_checks.check_batchnorm(stub, stub)
    # the training check is in tests/test_checks_capstone.py (graded on the returned network)
