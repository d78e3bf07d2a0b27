"""Checks for the capstone (lesson 08): the learner's own layers and a NumPy MLP on MNIST-10k.

Every layer check draws fresh inputs from ``seed`` and compares the learner's forward and
backward passes with :mod:`trainlab.checks.reference` (plain NumPy, independent of the rest
of trainlab). :func:`check_training` hands the learner's ``train_and_predict`` the MNIST-10k
training images and labels and the validation images only; the validation labels stay with
the check, which scores the returned predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainlab.checks import (
    ExerciseError,
    call_student,
    expect_close,
    reference,
    result_tuple,
    seeded_rng,
)
from trainlab.checks.dropout import check_dropout_sampling

__all__ = [
    "TARGET_ACCURACY",
    "check_affine",
    "check_batchnorm",
    "check_dropout",
    "check_relu",
    "check_softmax_loss",
    "check_training",
]

TARGET_ACCURACY = 0.92
"""Validation accuracy on MNIST-10k the capstone's MLP must reach."""


def _unchanged(name: str, given: np.ndarray, original: np.ndarray) -> None:
    if not np.array_equal(given, original):
        raise ExerciseError(f"{name} changed an input array in place; return a new array")


def check_affine(forward: Callable[..., Any], backward: Callable[..., Any],
                 seed: int = 0) -> None:
    """``forward(x, w, b) -> out`` with x (N, D), w (D, M), b (M,); ``backward(dout, x, w) ->
    (dx, dw, db)`` of the same shapes as x, w, b."""
    rng = seeded_rng(seed)
    n, d, m = (int(v) for v in rng.integers(3, 9, size=3))
    x, w, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    x_in = x.copy()
    expect_close(call_student(forward, x_in, w.copy(), b.copy()), x @ w + b, "affine forward",
                 hints={"add the bias b": x @ w})
    _unchanged("affine_forward", x_in, x)
    dout = rng.normal(size=(n, m))
    dx, dw, db = result_tuple(call_student(backward, dout.copy(), x.copy(), w.copy()), 3,
                              "affine_backward")
    expect_close(dx, dout @ w.T, "dx", hints={"dx has x's shape (N, D)": dout @ w.T})
    expect_close(dw, x.T @ dout, "dw", hints={
        "dw sums over the batch: x.T @ dout (no division by N here)": x.T @ dout / n})
    expect_close(db, dout.sum(0), "db", hints={
        "db sums dout over the batch (axis 0), it does not average": dout.mean(0)})


def check_relu(forward: Callable[..., Any], backward: Callable[..., Any],
               seed: int = 0) -> None:
    """``forward(x) -> out`` and ``backward(dout, x) -> dx``, any shape."""
    rng = seeded_rng(seed)
    x = rng.normal(size=(int(rng.integers(3, 8)), int(rng.integers(3, 8))))
    x_in = x.copy()
    expect_close(call_student(forward, x_in), np.maximum(x, 0), "relu forward")
    _unchanged("relu_forward", x_in, x)
    dout = rng.normal(size=x.shape)
    expect_close(call_student(backward, dout.copy(), x.copy()), dout * (x > 0), "relu dx",
                 hints={"the gradient passes where x > 0 and is 0 elsewhere; you returned "
                        "the forward output": np.maximum(x, 0),
                        "multiply the upstream gradient dout by the 0/1 gate":
                            (x > 0).astype(float)})


def check_softmax_loss(fn: Callable[..., Any], seed: int = 0) -> None:
    """``fn(scores, y) -> (loss, dscores)``: mean cross-entropy of softmax(scores) (N, C)
    against integer labels y (N,), and its gradient (N, C). Scores include large values."""
    rng = seeded_rng(seed)
    n, c = int(rng.integers(4, 9)), int(rng.integers(3, 7))
    scores = rng.normal(size=(n, c)) * 3 + rng.choice([0.0, 800.0], size=(n, 1))
    y = rng.integers(0, c, size=n)
    shifted = scores - scores.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    loss = -log_p[np.arange(n), y].mean()
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1
    got_loss, got_d = result_tuple(call_student(fn, scores.copy(), y.copy()), 2,
                                   "softmax_loss")
    expect_close(np.asarray(got_loss, dtype=float).reshape(()), loss, "loss", hints={
        "average the loss over the batch, do not sum it": loss * n})
    expect_close(got_d, dscores / n, "dscores", hints={
        "divide the gradient by N: the loss is a mean over the batch": dscores})


def check_dropout(forward: Callable[..., Any], backward: Callable[..., Any], seed: int = 0,
                  keep_prob: float = 0.7) -> None:
    """``forward(x, keep_prob, seed) -> (out, mask)`` samples its own boolean mask (True =
    keep, each unit kept with probability keep_prob, a new mask for a new seed, the same mask
    for the same seed) and returns the inverted-dropout output; ``backward(dout, mask,
    keep_prob) -> dx``."""
    mask = check_dropout_sampling(forward, seed, keep_prob)
    rng = seeded_rng(seed + 1)
    x = np.zeros(mask.shape)
    dout = rng.normal(size=x.shape)
    expect_close(call_student(backward, dout.copy(), mask.copy(), keep_prob),
                 dout * mask / keep_prob, "dropout_backward", hints={
                     "the backward pass scales by 1 / keep_prob too": dout * mask})


def check_batchnorm(forward: Callable[..., Any], backward: Callable[..., Any],
                    seed: int = 0) -> None:
    """Training-mode batch norm: ``forward(x, gamma, beta, eps) -> out`` (N, D) and
    ``backward(dout, x, gamma, eps) -> (dx, dgamma, dbeta)``."""
    rng = seeded_rng(seed)
    n, d = int(rng.integers(4, 9)), int(rng.integers(3, 7))
    x = rng.normal(rng.uniform(-3, 3, d), rng.uniform(0.5, 4, d), size=(n, d))
    gamma, beta, eps = rng.uniform(0.5, 2, d), rng.normal(size=d), 1e-5
    expect_close(call_student(forward, x.copy(), gamma.copy(), beta.copy(), eps),
                 reference.batchnorm(x, gamma, beta, eps), "batchnorm forward", hints={
                     "use the biased (population) variance, np.var's default":
                         gamma * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + beta})
    dout = rng.normal(size=(n, d))
    got = result_tuple(call_student(backward, dout.copy(), x.copy(), gamma.copy(), eps), 3,
                       "batchnorm_backward")
    dx, dgamma, dbeta = reference.batchnorm_backward(dout, x, gamma, eps)
    expect_close(got[2], dbeta, "dbeta")
    expect_close(got[1], dgamma, "dgamma")
    inv_std = 1.0 / np.sqrt(x.var(0) + eps)
    expect_close(got[0], dx, "dx", hints={
        "mu_B and sigma_B^2 depend on every x_i: the mean and variance terms are missing":
            gamma * inv_std * dout})


_RESULTS: dict[tuple[int, int], tuple[Any, float]] = {}


def _mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from trainlab.data import load_mnist

    x_train, y_train = load_mnist(split="train", flatten=True)
    x_val, y_val = load_mnist(split="val", flatten=True)
    return x_train, y_train, x_val, y_val


def check_training(fn: Callable[..., Any], seed: int = 0,
                   target: float = TARGET_ACCURACY) -> None:
    """``fn(x_train, y_train, x_val, seed) -> labels``: train on MNIST-10k's 8,000 training
    images (float32, (8000, 784), values in [0, 1]) and return the predicted digit of each of
    the 2,000 validation images (ints, shape (2000,)). Passes when the validation accuracy
    reaches ``target``. One training per function and seed is shared by several targets."""
    key = (id(fn), seed)
    if key not in _RESULTS:
        x_train, y_train, x_val, y_val = _mnist()
        pred = np.asarray(call_student(fn, x_train, y_train, x_val, seed))
        if pred.shape != y_val.shape:
            _RESULTS[key] = (fn, float("nan"))
            raise ExerciseError(f"train_and_predict must return {y_val.shape[0]} labels, shape "
                                f"{y_val.shape}, got shape {pred.shape}")
        _RESULTS[key] = (fn, float(np.mean(pred == y_val)))
    acc = _RESULTS[key][1]
    if not acc >= target:
        raise ExerciseError(f"validation accuracy {acc:.3f} is below {target}. Hints: "
                            "standardise the inputs with training statistics, Kaiming init, "
                            "batch norm before ReLU, a few epochs of SGD with momentum")
    print(f"✓ validation accuracy at least {target}")
