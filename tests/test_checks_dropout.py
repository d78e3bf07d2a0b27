"""trainlab.checks.dropout: references pass, common slips fail with their hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import dropout as chk


def good_forward(x: np.ndarray, keep_prob: float, mask: np.ndarray) -> np.ndarray:
    return x * mask / keep_prob


def good_backward(dout: np.ndarray, mask: np.ndarray, keep_prob: float) -> np.ndarray:
    return dout * mask / keep_prob


def good_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, p: float) -> float:
    gamma2 = np.sum(X ** 2, axis=0)
    return float(np.sum((y - p * X @ w) ** 2) + p * (1 - p) * np.sum(gamma2 * w ** 2))


def good_lambda(n: int, keep_prob: float) -> float:
    return (1 - keep_prob) / keep_prob * n


def stub(*args: object) -> object:
    raise NotImplementedError()


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_references_pass(seed: int) -> None:
    chk.check_dropout_forward(good_forward, seed=seed, shape=(3, 4, 2), keep_prob=0.6)
    chk.check_dropout_backward(good_backward, seed=seed, keep_prob=0.9)
    chk.check_expected_loss(good_loss, seed=seed, n=12, d=3, keep_prob=0.3)
    chk.check_ridge_lambda(good_lambda, seed=seed)


def test_torch_autograd_passes_forward_and_backward() -> None:
    def forward(x: np.ndarray, keep_prob: float, mask: np.ndarray) -> np.ndarray:
        return (torch.from_numpy(x) * torch.from_numpy(mask) / keep_prob).numpy()

    def backward(dout: np.ndarray, mask: np.ndarray, keep_prob: float) -> np.ndarray:
        x = torch.zeros(mask.shape, dtype=torch.float64, requires_grad=True)
        (x * torch.from_numpy(mask) / keep_prob).backward(torch.from_numpy(dout))
        return x.grad.numpy()

    chk.check_dropout_forward(forward, seed=2)
    chk.check_dropout_backward(backward, seed=2)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, kp, m: x * m, "divides the kept values by keep_prob"),
    (lambda x, kp, m: x * m / (1 - kp), "not by 1 - keep_prob"),
    (lambda x, kp, m: x * m * kp, "don't multiply"),
    (lambda x, kp, m: x * ~m / kp, "you zeroed the kept units"),
    (lambda x, kp, m: x / kp, "apply the mask"),
    (lambda x, kp, m: x, "relative error"),
])
def test_forward_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_dropout_forward(fn)


def test_forward_in_place_is_caught() -> None:
    def in_place(x: np.ndarray, kp: float, m: np.ndarray) -> np.ndarray:
        x *= m / kp
        return x

    with pytest.raises(ExerciseError, match="in place"):
        chk.check_dropout_forward(in_place)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda d, m, kp: d * m, "divided by it too"),
    (lambda d, m, kp: d / kp, "multiply by the mask"),
    (lambda d, m, kp: d * m / (1 - kp), "not by 1 - keep_prob"),
    (lambda d, m, kp: d * ~m / kp, "True where a unit is KEPT"),
])
def test_backward_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_dropout_backward(fn)


def _slip_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, p: float) -> float:
    return float(np.sum((y - X @ w) ** 2) + (1 - p) * np.sum(w ** 2))


@pytest.mark.parametrize(("fn", "hint"), [
    (_slip_loss, "lecture's slip"),
    (lambda X, y, w, p: good_loss(X, y, w, p) - np.sum((y - p * X @ w) ** 2)
     + np.sum((y - X @ w) ** 2), "the mean of"),
    (lambda X, y, w, p: float(np.sum((y - p * X @ w) ** 2) + p * (1 - p) * np.sum(w ** 2)),
     "not \\|\\|w\\|\\|\\^2"),
    (lambda X, y, w, p: float(np.sum((y - p * X @ w) ** 2)
                              + (1 - p) * np.sum(np.sum(X ** 2, axis=0) * w ** 2)),
     "Bernoulli"),
    (lambda X, y, w, p: np.array([good_loss(X, y, w, p)] * 2), "one number"),
])
def test_expected_loss_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_expected_loss(fn)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda n, p: p * (1 - p) * n, "before the reparameterisation"),
    (lambda n, p: (1 - p) / p, "lambda grows with n"),
    (lambda n, p: 1 - p, "lecture's slip"),
    (lambda n, p: p / (1 - p) * n, "not q / \\(1 - q\\)"),
    (lambda n, p: (1 - p) * n, "divide by q"),
])
def test_ridge_lambda_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_ridge_lambda(fn)


@pytest.mark.parametrize("check", [chk.check_dropout_forward, chk.check_dropout_backward,
                                   chk.check_expected_loss, chk.check_ridge_lambda])
def test_stub_is_not_attempted(check) -> None:
    with pytest.raises(NotAttemptedError, match="not implemented yet"):
        check(stub)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: chk.check_dropout_forward(good_forward, keep_prob=0.5), "not 0.5"),
    (lambda: chk.check_dropout_forward(good_forward, keep_prob=1.0), r"in \(0, 1\)"),
    (lambda: chk.check_dropout_backward(good_backward, seed=-1), "seed must be"),
    (lambda: chk.check_dropout_forward(good_forward, shape=(0, 2)), "shape must be"),
    (lambda: chk.check_expected_loss(good_loss, n=1), "n and d must be ints >= 2"),
    (lambda: chk.check_ridge_lambda(good_lambda, trials=0), "trials must be"),
])
def test_bad_check_arguments(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_a_passing_check_warns_when_the_grader_would_refuse_the_code(capsys):
    """An answer that is right but uses what the grader refuses (here np.testing) passes the
    notebook's check with a warning naming the line, since the grader scores it 0."""
    from trainlab.checks import passed

    def inverted_dropout_forward(x, keep_prob, mask):
        out = np.where(mask, x / keep_prob, 0.0)
        np.testing.assert_equal(out.shape, x.shape)
        return out

    def plain(x, keep_prob, mask):
        return np.where(mask, x / keep_prob, 0.0)

    chk.check_dropout_forward(inverted_dropout_forward, seed=0, keep_prob=0.8)
    passed("Exercise 1")
    out = capsys.readouterr().out
    assert "✓ Exercise 1: all checks passed" in out
    assert "⚠ but the grader will score it 0: inverted_dropout_forward uses `.testing` (line 3 " \
           "counting from its def)" in out
    chk.check_dropout_forward(plain, seed=0, keep_prob=0.8)
    passed("Exercise 1")
    assert capsys.readouterr().out == "✓ Exercise 1: all checks passed\n"
