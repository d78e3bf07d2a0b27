"""trainlab.checks.activations: references pass, common slips fail with their hint."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import activations as chk


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def good_graph(x: float, y: float, z: float) -> tuple[float, float, float, float]:
    q = x + y
    return q * z, z, z, q


def good_sigmoid_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    s = _sigmoid(x)
    return dout * s * (1 - s)


def good_leaky_forward(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x > 0, x, alpha * x)


def good_leaky_backward(dout: np.ndarray, x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x > 0, dout, alpha * dout)


def good_dead(h: np.ndarray) -> float:
    return float(np.mean(np.all(h <= 0, axis=0)))


def stub(*args: object) -> object:
    raise NotImplementedError()


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_references_pass(seed: int) -> None:
    chk.check_graph_gradients(good_graph, seed=seed)
    chk.check_sigmoid_backward(good_sigmoid_backward, seed=seed, shape=(3, 4, 2))
    chk.check_leaky_relu(good_leaky_forward, good_leaky_backward, seed=seed, alpha=0.2)
    chk.check_dead_fraction(good_dead, seed=seed)


def test_torch_agrees_with_the_graph_check() -> None:
    torch = pytest.importorskip("torch")

    def autograd(x: float, y: float, z: float) -> tuple[float, float, float, float]:
        t = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, y, z)]
        f = (t[0] + t[1]) * t[2]
        f.backward()
        return (f.item(), *(v.grad.item() for v in t))

    chk.check_graph_gradients(autograd, seed=3)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, y, z: ((x + y) * z, x + y, x + y, z), "df/dx is df/dq"),
    (lambda x, y, z: ((x + y) * z, z, z, (x + y) * z), "multiplied by z again"),
    (lambda x, y, z: ((x + y) + z, z, z, x + y), "relative error"),
])
def test_graph_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_graph_gradients(fn)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda dout, x: _sigmoid(x) * (1 - _sigmoid(x)), "upstream gradient dout"),
    (lambda dout, x: dout * x * (1 - x), "not x\\(1 - x\\)"),
    (lambda dout, x: dout * _sigmoid(x), "not s$"),
    (lambda dout, x: -good_sigmoid_backward(dout, x), "sign"),
])
def test_sigmoid_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_sigmoid_backward(fn)


def test_leaky_slips() -> None:
    with pytest.raises(ExerciseError, match="plain ReLU"):
        chk.check_leaky_relu(lambda x, a: np.maximum(x, 0), good_leaky_backward)
    with pytest.raises(ExerciseError, match="ReLU's backward"):
        chk.check_leaky_relu(good_leaky_forward, lambda d, x, a: np.where(x > 0, d, 0.0))
    with pytest.raises(ExerciseError, match="not alpha \\* x"):
        chk.check_leaky_relu(good_leaky_forward, lambda d, x, a: np.where(x > 0, d, a * x))

    def in_place(x: np.ndarray, alpha: float) -> np.ndarray:
        x[x < 0] *= alpha
        return x

    with pytest.raises(ExerciseError, match="in place"):
        chk.check_leaky_relu(in_place, good_leaky_backward)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda h: float(np.mean(h <= 0)), "counted zero entries"),
    (lambda h: float(np.mean(np.any(h <= 0, axis=0))), "ALL inputs"),
    (lambda h: int(np.sum(np.all(h <= 0, axis=0))), "not a count"),
    (lambda h: np.all(h <= 0, axis=0), "one number"),
])
def test_dead_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_dead_fraction(fn)


def test_dead_reference_counts_columns() -> None:
    h = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert chk.dead_fraction_reference(h) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="shape \\(N, H\\)"):
        chk.dead_fraction_reference(np.zeros(3))


def test_stubs_are_not_attempted() -> None:
    with pytest.raises(NotAttemptedError):
        chk.check_graph_gradients(stub)
    with pytest.raises(NotAttemptedError):
        chk.check_sigmoid_backward(stub)
    with pytest.raises(NotAttemptedError):
        chk.check_leaky_relu(stub, stub)
    with pytest.raises(NotAttemptedError):
        chk.check_leaky_relu(good_leaky_forward, stub)
    with pytest.raises(NotAttemptedError):
        chk.check_dead_fraction(stub)


def test_wrong_return_types_and_bad_arguments() -> None:
    with pytest.raises(ExerciseError, match="tuple of 4"):
        chk.check_graph_gradients(lambda x, y, z: (x + y) * z)
    with pytest.raises(ValueError, match="seed must be"):
        chk.check_sigmoid_backward(good_sigmoid_backward, seed=-1)
    with pytest.raises(ValueError, match="shape must be"):
        chk.check_sigmoid_backward(good_sigmoid_backward, shape=(0, 3))
