"""Tests for trainlab.checks.init: references pass, common slips fail with their hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import init as checks

# ---------------------------------------------------------------- reference answers


def layer_stds(x: np.ndarray, weights: list[np.ndarray], activation: str) -> np.ndarray:
    f = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[activation]
    stds = []
    for w in weights:
        x = f(x @ w)
        stds.append(x.std())
    return np.array(stds)


def leaky_kaiming_std(fan_in: int, negative_slope: float) -> float:
    return math.sqrt(2.0 / ((1.0 + negative_slope**2) * fan_in))


def stub(*args: object) -> float:
    raise NotImplementedError()


# ---------------------------------------------------------------- exercise 1


def test_seed_is_validated() -> None:
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        checks.check_layer_stds(layer_stds, seed=-1)


# ---------------------------------------------------------------- exercise 2


# ---------------------------------------------------------------- exercise 3
@pytest.mark.parametrize("seed", [0, 5])
def test_layer_stds_reference_passes(seed: int) -> None:
    checks.check_layer_stds(layer_stds, seed=seed)


def test_reference_layer_stds_matches_torch() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 50))
    ws = [rng.standard_normal((50, 40)) / 7, rng.standard_normal((40, 30)) / 6]
    a = torch.from_numpy(x)
    expected = []
    for w in ws:
        a = torch.relu(a @ torch.from_numpy(w))
        expected.append(a.std(unbiased=False).item())
    np.testing.assert_allclose(checks.reference_layer_stds(x, ws, "relu"), expected, rtol=1e-12)


def _pre_activation_stds(x, weights, activation):
    out = []
    for w in weights:
        z = x @ w
        out.append(z.std())
        x = np.tanh(z) if activation == "tanh" else np.maximum(z, 0) if activation == "relu" \
            else z
    return out


@pytest.mark.parametrize(("wrong", "hint"), [
    (_pre_activation_stds, "pre-activations"),
    (lambda x, ws, act: [v for v in layer_stds(x, ws, act) ** 2], "variances"),
    (lambda x, ws, act: np.r_[x.std(), layer_stds(x, ws, act)], "leave out the std of the input"),
    (lambda x, ws, act: [w.T @ x.T for w in ws][0], "a @ w"),
])
def test_layer_stds_slips_get_their_hint(wrong, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        checks.check_layer_stds(wrong)


def test_layer_stds_per_unit_and_ddof_slips() -> None:
    def per_unit(x, ws, act):
        f = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[act]
        out = []
        for w in ws:
            x = f(x @ w)
            out.append(x.std(axis=0).mean())
        return out

    def ddof1(x, ws, act):
        f = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[act]
        out = []
        for w in ws:
            x = f(x @ w)
            out.append(x.std(ddof=1))
        return out

    with pytest.raises(ExerciseError, match="per-unit"):
        checks.check_layer_stds(per_unit)
    with pytest.raises(ExerciseError, match="ddof=0"):
        checks.check_layer_stds(ddof1)


def test_layer_stds_in_place_edit_cannot_fool_the_check() -> None:
    def sneaky(x, ws, act):
        result = layer_stds(x, ws, act)
        x *= 0.0
        return result

    checks.check_layer_stds(sneaky)


def test_layer_stds_stub_and_bad_reference_input() -> None:
    with pytest.raises(NotAttemptedError):
        checks.check_layer_stds(stub)
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match="activation must be one of"):
        checks.reference_layer_stds(x, [np.ones((3, 2))], "gelu")
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(2, D_out\)"):
        checks.reference_layer_stds(x, [np.ones((3, 2)), np.ones((3, 2))], "relu")
    with pytest.raises(ValueError, match="x must have shape"):
        checks.reference_layer_stds(np.ones(3), [np.ones((3, 2))], "relu")
    with pytest.raises(ValueError, match="at least one"):
        checks.reference_layer_stds(x, [], "relu")


# ---------------------------------------------------------------- exercise 4
@pytest.mark.parametrize("seed", [0, 4])
def test_leaky_kaiming_reference_passes(seed: int) -> None:
    checks.check_leaky_kaiming_std(leaky_kaiming_std, seed=seed)


def test_leaky_kaiming_keeps_the_second_moment() -> None:
    """With Var(W) = 2 / ((1 + a^2) n), E[z^2] stays put through a leaky-ReLU layer."""
    rng = np.random.default_rng(0)
    n, a = 400, 0.3
    z = rng.standard_normal((2000, n))
    h = np.where(z > 0, z, a * z)
    w = leaky_kaiming_std(n, a) * rng.standard_normal((n, n))
    assert abs(np.mean((h @ w) ** 2) - 1.0) < 0.05


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda n, a: 2 / ((1 + a**2) * n), "variance"),
    (lambda n, a: math.sqrt(2 / ((1 + a) * n)), "squared"),
    (lambda n, a: math.sqrt(1 / ((1 + a**2) * n)), "factor 2 is missing"),
    (lambda n, a: math.sqrt(2 / n), "ignores the negative slope"),
])
def test_leaky_kaiming_slips_get_their_hint(wrong, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        checks.check_leaky_kaiming_std(wrong)


def test_leaky_kaiming_stub() -> None:
    with pytest.raises(NotAttemptedError):
        checks.check_leaky_kaiming_std(stub)
