"""Checks for the capstone (lesson 08): the learner's own layers and a NumPy MLP on MNIST-10k.

Every layer check draws fresh inputs from ``seed`` and compares the learner's forward and
backward passes with :mod:`trainlab.checks.reference` (plain NumPy, independent of the rest
of trainlab). :func:`check_training` hands the learner's ``train_and_predict`` the MNIST-10k
training images and labels and the validation images only; the validation labels stay with
the check, which scores the returned predictions.

The training is graded over seeds: ``train_and_predict`` runs once per seed of
:data:`SEEDS`, and a tier counts when the **median** validation accuracy reaches it, so one
unlucky seed does not fail a good network and one lucky seed does not pass a weak one. The
tiers (:data:`TIERS`) lie at least 2, 3 and 4 points above what a linear softmax classifier
reaches on the same split (0.9155 at its best regularisation; lesson 08 measures it in a claim
cell, and ``tests/test_checks_capstone.py`` checks that a linear model earns no tier and that the
capstone's old one-hidden-layer network misses the bar).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    "SEEDS",
    "TARGET_ACCURACY",
    "TIERS",
    "check_affine",
    "check_batchnorm",
    "check_dropout",
    "check_relu",
    "check_softmax_loss",
    "check_training",
    "validation_accuracies",
]

TARGET_ACCURACY = 0.96
"""Median validation accuracy on MNIST-10k (over :data:`SEEDS`) the capstone's MLP must reach:
at least 4 points above a linear softmax classifier's 0.9155."""
TIERS = (0.94, 0.95, TARGET_ACCURACY)
"""Partial credit: one part of the training exercise per tier (at least 2, 3 and 4 points above
the linear classifier)."""
SEEDS = (0, 1, 2)
"""The seeds the training is graded on (one training run each)."""


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


_RESULTS: dict[tuple[Any, ...], tuple[Any, float | str]] = {}


def _mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from trainlab.data import load_mnist

    x_train, y_train = load_mnist(split="train", flatten=True)
    x_val, y_val = load_mnist(split="val", flatten=True)
    return x_train, y_train, x_val, y_val


def _accuracy(fn: Callable[..., Any], seed: int, kwargs: dict[str, Any]) -> float:
    key = (id(fn), seed, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    if key not in _RESULTS:
        x_train, y_train, x_val, y_val = _mnist()
        pred = np.asarray(call_student(fn, x_train, y_train, x_val, seed, **kwargs))
        if pred.shape != y_val.shape:
            _RESULTS[key] = (fn, f"train_and_predict must return {y_val.shape[0]} labels, "
                                 f"shape {y_val.shape}, got shape {pred.shape}")
        else:
            _RESULTS[key] = (fn, float(np.mean(pred == y_val)))
    result = _RESULTS[key][1]
    if isinstance(result, str):
        raise ExerciseError(result)
    return result


def validation_accuracies(fn: Callable[..., Any], seeds: Sequence[int] = SEEDS,
                          **kwargs: Any) -> np.ndarray:
    """The validation accuracy of ``fn(x_train, y_train, x_val, seed, **kwargs)`` for each seed
    (one training run per function, seed and keyword arguments, shared by every check)."""
    return np.array([_accuracy(fn, int(s), kwargs) for s in seeds])


def _hint(accs: np.ndarray) -> str:
    if np.median(accs) < 0.2:
        return ("that is chance level: return the predicted digit of each validation image, in "
                "the order of x_val (argmax over the 10 scores), and check that the loss falls")
    return ("standardise the inputs with training statistics, Kaiming init, batch norm before "
            "ReLU, evaluation mode for the validation images (running averages, no dropout), "
            "random one-pixel shifts of the training images, 10 epochs of SGD with momentum")


def check_training(fn: Callable[..., Any], seeds: Sequence[int] | int = SEEDS,
                   target: float = TARGET_ACCURACY) -> None:
    """``fn(x_train, y_train, x_val, seed) -> labels``: train on MNIST-10k's 8,000 training
    images (float32, (8000, 784), values in [0, 1]) and return the predicted digit of each of
    the 2,000 validation images (ints, shape (2000,)). Passes when the median validation
    accuracy over ``seeds`` reaches ``target``. One training per function and seed is shared by
    several targets."""
    seeds = (seeds,) if isinstance(seeds, int | np.integer) else tuple(seeds)
    accs = validation_accuracies(fn, seeds)
    median = float(np.median(accs))
    per_seed = ", ".join(f"{a:.4f}" for a in accs)
    if not median >= target:
        raise ExerciseError(f"median validation accuracy {median:.4f} over seeds "
                            f"{', '.join(map(str, seeds))} ({per_seed}) is below {target}. "
                            f"Hints: {_hint(accs)}")
    print(f"✓ median validation accuracy over {len(seeds)} seeds at least {target}")
