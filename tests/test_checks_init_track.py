"""The track exercises of lesson 03 (issue 25): init_weights (None / "xavier" / "kaiming") and
the experiment (train_mlp, init_scale_sweep). A correct answer passes, each known slip fails with
its hint, a stub is not attempted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import init as checks


def init_weights(dims, init, weight_scale, seed):
    rng = np.random.default_rng(seed)
    weights = []
    for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
        if init is None:
            std = weight_scale
        elif init == "xavier":
            std = math.sqrt(2.0 / (d_in + d_out))
        elif init == "kaiming":
            std = math.sqrt(2.0 / d_in)
        else:
            raise ValueError(f"init must be None, 'xavier' or 'kaiming', got {init!r}")
        weights.append(std * rng.standard_normal((d_in, d_out)))
    return weights


def train_mlp(x, y, weights, steps, lr):
    ws = [w.copy() for w in weights]
    n = len(y)
    losses = []
    for _ in range(steps):
        hs = [x]
        for w in ws[:-1]:
            hs.append(np.maximum(hs[-1] @ w, 0.0))
        scores = hs[-1] @ ws[-1]
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        losses.append(-log_p[np.arange(n), y].mean())
        dh = np.exp(log_p)
        dh[np.arange(n), y] -= 1
        dh /= n
        grads = [None] * len(ws)
        for i in range(len(ws) - 1, -1, -1):
            grads[i] = hs[i].T @ dh
            if i > 0:
                dh = (dh @ ws[i].T) * (hs[i] > 0)
        ws = [w - lr * g for w, g in zip(ws, grads, strict=True)]
    return np.array(losses)


def init_scale_sweep(x, y, dims, multipliers, steps, lr, seed):
    base = init_weights(dims, "kaiming", 1.0, seed)
    return np.array([train_mlp(x, y, [m * w for w in base], steps, lr)[-1] for m in multipliers])


def stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("seed", [0, 2, 9])
def test_the_reference_solutions_pass(seed):
    checks.check_init_weights(init_weights, seed=seed)
    checks.check_train_mlp(train_mlp, seed=seed)
    checks.check_init_scale_sweep(init_scale_sweep, seed=seed)


def test_stubs_are_not_attempted():
    for check in (checks.check_init_weights, checks.check_train_mlp,
                  checks.check_init_scale_sweep):
        with pytest.raises(NotAttemptedError):
            check(stub)


def _variant(std_rule):
    def init(dims, init, weight_scale, seed):
        rng = np.random.default_rng(seed)
        return [std_rule(init, a, b, weight_scale) * rng.standard_normal((a, b))
                for a, b in zip(dims[:-1], dims[1:], strict=True)]
    return init


@pytest.mark.parametrize("rule, hint", [
    (lambda i, a, b, s: (2 / a if i == "kaiming" else 2 / (a + b) if i == "xavier" else s),
     "variance"),
    (lambda i, a, b, s: (math.sqrt(2 / b) if i == "kaiming" else
                         math.sqrt(2 / (a + b)) if i == "xavier" else s), "fan-out"),
    (lambda i, a, b, s: (math.sqrt(1 / a) if i == "kaiming" else
                         math.sqrt(2 / (a + b)) if i == "xavier" else s), "factor 2"),
])
def test_init_slips_are_named(rule, hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_init_weights(_variant(rule))


def test_torch_layout_and_other_draws_fail():
    def torch_layout(dims, init, weight_scale, seed):
        return [w.T for w in init_weights(dims, init, weight_scale, seed)]

    def unseeded(dims, init, weight_scale, seed):
        return init_weights(dims, init, weight_scale, seed + 1)

    with pytest.raises(ExerciseError, match="torch's"):
        checks.check_init_weights(torch_layout)
    with pytest.raises(ExerciseError):
        checks.check_init_weights(unseeded)


def test_train_mlp_slips_fail():
    def in_place(x, y, weights, steps, lr):
        losses = train_mlp(x, y, weights, steps, lr)
        for w in weights:
            w *= 0.5
        return losses

    def after_update(x, y, weights, steps, lr):
        return train_mlp(x, y, weights, steps + 1, lr)[1:]

    def uniform(x, y, weights, steps, lr):
        return np.full(steps, np.log(int(np.max(y)) + 1))

    with pytest.raises(ExerciseError, match="changed the weight arrays"):
        checks.check_train_mlp(in_place)
    with pytest.raises(ExerciseError, match="BEFORE its update"):
        checks.check_train_mlp(after_update)
    with pytest.raises(ExerciseError):
        checks.check_train_mlp(uniform)


def test_reference_train_mlp_matches_the_solution():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(25, 12)), np.arange(25) % 5
    weights = init_weights([12, 9, 9, 5], "kaiming", 1.0, 4)
    np.testing.assert_allclose(checks.reference_train_mlp(x, y, weights, 6, 0.1),
                               train_mlp(x, y, weights, 6, 0.1), rtol=1e-10)
    with pytest.raises(ValueError, match="init must be one of"):
        checks.reference_init_weights([3, 4], "he", 1.0, 0)
