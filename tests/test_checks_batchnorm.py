"""Tests for trainlab.checks.batchnorm: references pass, common slips fail with their hint,
stubs fail with NotAttemptedError."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import batchnorm as checks


# ---------------------------------------------------------------- reference answers
def bn_forward(x, gamma, beta, eps):
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta


def bn_backward(dout, x, gamma, eps):
    inv = 1 / np.sqrt(x.var(0) + eps)
    xh = (x - x.mean(0)) * inv
    dx = gamma * inv * (dout - dout.mean(0) - xh * (dout * xh).mean(0))
    return dx, (dout * xh).sum(0), dout.sum(0)


def update_running(mean, var, x, momentum):
    return ((1 - momentum) * mean + momentum * x.mean(0),
            (1 - momentum) * var + momentum * x.var(0, ddof=1))


def fold(w, b, gamma, beta, mean, var, eps):
    k = gamma / np.sqrt(var + eps)
    return w * k, (b - mean) * k + beta


def loss_variation(a, b, x, etas):
    g = a @ x - b
    return np.array([0.5 * (x - e * g) @ a @ (x - e * g) - b @ (x - e * g) for e in etas])


def lipschitz(f, lo, hi, n):
    t = np.linspace(lo, hi, n)
    return np.max(np.abs(np.diff(f(t))) / np.diff(t))


def quad_beta(a, x, etas):
    g = a @ x
    return max(np.linalg.norm(g - a @ (x - e * g)) / np.linalg.norm(e * g) for e in etas)


def stub(*args):
    raise NotImplementedError()


CASES = {
    "forward": (checks.check_bn_forward, bn_forward),
    "backward": (checks.check_bn_backward, bn_backward),
    "running": (checks.check_running_update, update_running),
    "fold": (checks.check_fold_linear, fold),
    "loss_variation": (checks.check_loss_variation, loss_variation),
    "lipschitz": (checks.check_lipschitz_estimate, lipschitz),
    "beta": (checks.check_quadratic_beta, quad_beta),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_reference_passes(name, seed):
    check, ref = CASES[name]
    check(ref, seed=seed)


@pytest.mark.parametrize("name", list(CASES))
def test_stub_not_attempted(name):
    check, _ = CASES[name]
    with pytest.raises(NotAttemptedError, match="not implemented"):
        check(stub)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_seed(name):
    check, ref = CASES[name]
    with pytest.raises(ValueError, match="seed"):
        check(ref, seed=-1)


# ---------------------------------------------------------------- the slips, one by one
def _fails_with(check, fn, hint):
    with pytest.raises(ExerciseError, match=hint):
        check(fn)


def test_forward_slips():
    _fails_with(checks.check_bn_forward,
                lambda x, g, b, eps: g * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + b,
                "unbiased")
    _fails_with(checks.check_bn_forward,
                lambda x, g, b, eps: g * (x - x.mean(1, keepdims=True))
                / np.sqrt(x.var(1, keepdims=True) + eps) + b, "layer norm")
    _fails_with(checks.check_bn_forward,
                lambda x, g, b, eps: (x - x.mean(0)) / np.sqrt(x.var(0) + eps),
                "scale and shift")
    _fails_with(checks.check_bn_forward,
                lambda x, g, b, eps: g * (x - x.mean(0)) / (x.std(0) + eps) + b,
                "under the square root")


def test_backward_slips():
    def no_mean(dout, x, gamma, eps):
        dx, dg, db = bn_backward(dout, x, gamma, eps)
        inv = 1 / np.sqrt(x.var(0) + eps)
        xh = (x - x.mean(0)) * inv
        return gamma * inv * (dout - xh * (dout * xh).mean(0)), dg, db

    def constants(dout, x, gamma, eps):
        _, dg, db = bn_backward(dout, x, gamma, eps)
        return gamma * dout / np.sqrt(x.var(0) + eps), dg, db

    def no_var(dout, x, gamma, eps):
        _, dg, db = bn_backward(dout, x, gamma, eps)
        return gamma / np.sqrt(x.var(0) + eps) * (dout - dout.mean(0)), dg, db

    def dgamma_x(dout, x, gamma, eps):
        dx, _, db = bn_backward(dout, x, gamma, eps)
        return dx, (dout * x).sum(0), db

    def dbeta_mean(dout, x, gamma, eps):
        dx, dg, _ = bn_backward(dout, x, gamma, eps)
        return dx, dg, dout.mean(0)

    _fails_with(checks.check_bn_backward, no_mean, "mean term is missing")
    _fails_with(checks.check_bn_backward, constants, "constants")
    _fails_with(checks.check_bn_backward, no_var, "variance term")
    _fails_with(checks.check_bn_backward, dgamma_x, "x_hat")
    _fails_with(checks.check_bn_backward, dbeta_mean, "sums dout")
    _fails_with(checks.check_bn_backward, lambda *a: bn_backward(*a)[0], "tuple of 3")


def test_running_slips():
    _fails_with(checks.check_running_update,
                lambda m, v, x, mom: (mom * m + (1 - mom) * x.mean(0),
                                      mom * v + (1 - mom) * x.var(0, ddof=1)), "CS231n")
    _fails_with(checks.check_running_update,
                lambda m, v, x, mom: ((1 - mom) * m + mom * x.mean(0),
                                      (1 - mom) * v + mom * x.var(0)), "UNBIASED")


def test_fold_slips():
    def no_gamma(w, b, g, beta, mu, var, eps):
        return w / np.sqrt(var + eps), fold(w, b, g, beta, mu, var, eps)[1]

    def no_mean(w, b, g, beta, mu, var, eps):
        k = g / np.sqrt(var + eps)
        return w * k, b * k + beta

    def no_beta(w, b, g, beta, mu, var, eps):
        k = g / np.sqrt(var + eps)
        return w * k, (b - mu) * k

    _fails_with(checks.check_fold_linear, no_gamma, "without gamma")
    _fails_with(checks.check_fold_linear, no_mean, "running mean")
    _fails_with(checks.check_fold_linear, no_beta, "beta")


def test_landscape_slips():
    def uphill(a, b, x, etas):
        g = a @ x - b
        return np.array([0.5 * (x + e * g) @ a @ (x + e * g) - b @ (x + e * g) for e in etas])

    def no_b(a, b, x, etas):
        g = a @ x
        return np.array([0.5 * (x - e * g) @ a @ (x - e * g) - b @ (x - e * g) for e in etas])

    _fails_with(checks.check_loss_variation, uphill, "uphill")
    _fails_with(checks.check_loss_variation, no_b, "-b is missing")

    def jump(f, lo, hi, n):
        return np.max(np.abs(np.diff(f(np.linspace(lo, hi, n)))))

    def value(f, lo, hi, n):
        return np.max(np.abs(f(np.linspace(lo, hi, n))))

    _fails_with(checks.check_lipschitz_estimate, jump, "grid step")
    _fails_with(checks.check_lipschitz_estimate, value, "not the value")
    _fails_with(checks.check_lipschitz_estimate, lambda *a: [1.0, 2.0], "one number")

    def by_eta(a, x, etas):
        g = a @ x
        return max(np.linalg.norm(g - a @ (x - e * g)) / e for e in etas)

    _fails_with(checks.check_quadratic_beta, by_eta, "not just by eta")
