"""Checks for the capstone (lesson 08): the learner's layer library, softmax loss,
``FullyConnectedNet``, the four update rules, ``Solver``, a whole-network gradient check and
the trained network on MNIST-10k.

Every check draws fresh inputs from ``seed`` and compares the learner's return values with the
plain NumPy references of this module (independent of the learner's code and of the rest of
trainlab). In the grader the learner's classes stay in the sandbox: the checks call their
methods and read their attributes through handles (:class:`trainlab.checks.grading.StudentObject`).

**The training is graded on the learner's recipe, trained by the grader.** :func:`check_training`
takes the learner's ``capstone_recipe()`` (every choice of the training: architecture,
initialisation, dropout, update rule, schedule, batch size, epochs, shifts, validation split,
:func:`recipe_of`) and trains it itself with this module's references (:func:`train_recipe`)
on MNIST-10k's 8,000 training images, once per seed of :data:`SEEDS`; a tier (:data:`TIERS`)
counts when the **median** accuracy on the 2,000 held-out images, predicted by this module's
own forward pass (:func:`predict`), reaches it. The tiers lie at least 2, 3 and 4 points above
a linear softmax classifier on the same split (0.9155 at its best regularisation; lesson 08
measures it, ``tests/test_checks_capstone.py`` checks that a linear model earns nothing).

The learner's own ``train_capstone(x_train, y_train, seed, recipe)`` is checked on a *probe*
(:func:`probe_recipe`: the recipe 3-5 times narrower for 2 epochs): it gets the training images
only and returns the trained network — architecture, parameters, batch-norm running averages,
input statistics (:func:`network_from_spec` refuses anything that does not match the probe's
architecture) — whose held-out accuracy must agree with the grader's trainings of the same
probe. The held-out images are MNIST's public test set, so a network fitted on them offline and
pasted in would score well if it were graded; it is not: the points come from the grader's
training of the recipe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trainlab.checks import (
    ExerciseError,
    NotAttemptedError,
    call_student,
    expect_close,
    result_tuple,
    seeded_rng,
)
from trainlab.gradcheck import rel_error

__all__ = [
    "MAX_DEPTH", "MAX_WIDTH", "SEEDS", "TARGET_ACCURACY", "TIERS", "check_affine",
    "check_batchnorm", "check_dropout", "check_fc_net", "check_gradient_errors",
    "check_layernorm", "check_relu", "check_softmax_loss", "check_solver", "check_training",
    "check_update_rule", "heldout_accuracies", "network_from_spec", "predict", "recipe_of",
    "probe_recipe", "reference_loss", "rerun_accuracies", "shift_images", "train_recipe",
]

TARGET_ACCURACY = 0.96
"""Median held-out accuracy on MNIST-10k (over :data:`SEEDS`) the trained network must reach:
at least 4 points above a linear softmax classifier's 0.9155."""
TIERS = (0.94, 0.95, TARGET_ACCURACY)
"""Partial credit: one part of the training exercise per tier."""
SEEDS = (0, 1, 2)
"""The seeds the training is graded on (one training run each)."""
MAX_WIDTH, MAX_DEPTH = 1024, 6
"""The widest hidden layer and the most hidden layers a submitted network may have: room for
any sensible MLP, none for a lookup table of the 8,000 training images."""
TRAINED_LOSS_RATIO = 0.8
"""check_solver: the trained model's training loss (the grader's forward pass on
``model.params``) must be at most this fraction of the initial one. The lesson's Solver reaches
at most 0.37 over 40 seeds; a ``train()`` that only fills in the histories stays at 1."""
NORMALIZATIONS = (None, "batchnorm", "layernorm")
EPS = 1e-5


# --------------------------------------------------------------------------------------------
# References (plain NumPy)
# --------------------------------------------------------------------------------------------
def _normalise(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    inv_std = 1.0 / np.sqrt(x.var(axis=axis, keepdims=True) + EPS)
    return (x - x.mean(axis=axis, keepdims=True)) * inv_std, inv_std


def _norm_backward(dout: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray,
                   gamma: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    g = dout * gamma
    dx = inv_std * (g - g.mean(axis=axis, keepdims=True)
                    - x_hat * (g * x_hat).mean(axis=axis, keepdims=True))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def _mask(shape: tuple[int, ...], keep_prob: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) < keep_prob


def _softmax_loss(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    shifted = scores - scores.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    n = len(y)
    d = np.exp(log_p)
    d[np.arange(n), y] -= 1
    return float(-log_p[np.arange(n), y].mean()), d / n


def reference_loss(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray | None,
                   hidden: int, normalization: str | None = None, keep_prob: float = 1.0,
                   reg: float = 0.0, dropout_seed: int = 0,
                   running: list[tuple[np.ndarray, np.ndarray]] | None = None,
                   batch_stats: list[tuple[np.ndarray, np.ndarray]] | None = None) -> Any:
    """FullyConnectedNet's loss and gradients (train mode, y given) or scores (eval mode, y
    None: batch norm with ``running`` = [(mean, var)] per hidden layer, no dropout).
    ``batch_stats``, a list, receives batch norm's (mean, biased variance) of each hidden
    layer's pre-activations in train mode."""
    h, caches = x, []
    for i in range(1, hidden + 1):
        a = h @ params[f"W{i}"] + params[f"b{i}"]
        norm = None
        if normalization == "batchnorm" and y is None:
            mu, var = running[i - 1]  # type: ignore[index]
            a = params[f"gamma{i}"] * (a - mu) / np.sqrt(var + EPS) + params[f"beta{i}"]
        elif normalization is not None:
            if normalization == "batchnorm" and batch_stats is not None:
                batch_stats.append((a.mean(axis=0), a.var(axis=0)))
            x_hat, inv_std = _normalise(a, 0 if normalization == "batchnorm" else 1)
            norm = (x_hat, inv_std)
            a = params[f"gamma{i}"] * x_hat + params[f"beta{i}"]
        out = np.maximum(a, 0.0)
        mask = None
        if keep_prob < 1 and y is not None:
            mask = _mask(out.shape, keep_prob, dropout_seed + i) / keep_prob
            out = out * mask
        caches.append((h, a, norm, mask))
        h = out
    last = hidden + 1
    scores = h @ params[f"W{last}"] + params[f"b{last}"]
    if y is None:
        return scores
    loss, dh = _softmax_loss(scores, y)
    grads = {f"W{last}": h.T @ dh, f"b{last}": dh.sum(0)}
    dh = dh @ params[f"W{last}"].T
    for i in range(hidden, 0, -1):
        h_in, a, norm, mask = caches[i - 1]
        if mask is not None:
            dh = dh * mask
        dh = dh * (a > 0)
        if norm is not None:
            axis = 0 if normalization == "batchnorm" else 1
            dh, grads[f"gamma{i}"], grads[f"beta{i}"] = _norm_backward(
                dh, norm[0], norm[1], params[f"gamma{i}"], axis)
        grads[f"W{i}"], grads[f"b{i}"] = h_in.T @ dh, dh.sum(0)
        if i > 1:                  # the input needs no gradient
            dh = dh @ params[f"W{i}"].T
    for i in range(1, last + 1):
        loss += 0.5 * reg * float(np.sum(params[f"W{i}"] ** 2))
        grads[f"W{i}"] = grads[f"W{i}"] + reg * params[f"W{i}"]
    return loss, grads


# --------------------------------------------------------------------------------------------
# The layer library (exercise 1) and the loss (exercise 2)
# --------------------------------------------------------------------------------------------
def _unchanged(name: str, given: np.ndarray, original: np.ndarray) -> None:
    if not np.array_equal(given, original):
        raise ExerciseError(f"{name} changed an input array in place; return a new array")


def _overall_close(got: Any, expected: Any, what: str, **kwargs: Any) -> None:
    """expect_close, but relative to the array's overall scale (a gradient of a network holds
    entries that are 0 up to round-off, which an entry-wise comparison would fail)."""
    got_arr = np.asarray(got, dtype=np.float64)
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr.shape == exp_arr.shape and np.all(np.isfinite(got_arr)) and \
            (rel_error(got_arr, exp_arr, per_entry=False) < 1e-8 or
             np.abs(got_arr - exp_arr).max() < 1e-12):  # b before batch norm: 0 + round-off
        return
    expect_close(got_arr, exp_arr, what, **kwargs)


def _forward(fn: Callable[..., Any], what: str, *args: Any) -> tuple[Any, Any]:
    out, cache = result_tuple(call_student(fn, *args), 2, what)
    return out, cache


def check_affine(forward: Callable[..., Any], backward: Callable[..., Any],
                 seed: int = 0) -> None:
    """``affine_forward(x, w, b) -> (out, cache)``, x (N, D), w (D, H), b (H,);
    ``affine_backward(dout, cache) -> (dx, dw, db)``."""
    rng = seeded_rng(seed)
    n, d, m = (int(v) for v in rng.integers(3, 9, size=3))
    x, w, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    x_in = x.copy()
    out, cache = _forward(forward, "affine_forward", x_in, w.copy(), b.copy())
    expect_close(out, x @ w + b, "affine forward", hints={"add the bias b": x @ w})
    _unchanged("affine_forward", x_in, x)
    dout = rng.normal(size=(n, m))
    dx, dw, db = result_tuple(call_student(backward, dout.copy(), cache), 3, "affine_backward")
    expect_close(dx, dout @ w.T, "dx")
    expect_close(dw, x.T @ dout, "dw", hints={
        "dw sums over the batch: x.T @ dout (no division by N here)": x.T @ dout / n})
    expect_close(db, dout.sum(0), "db", hints={
        "db sums dout over the batch (axis 0), it does not average": dout.mean(0)})


def check_relu(forward: Callable[..., Any], backward: Callable[..., Any],
               seed: int = 0) -> None:
    """``relu_forward(x) -> (out, cache)`` and ``relu_backward(dout, cache) -> dx``."""
    rng = seeded_rng(seed)
    x = rng.normal(size=(int(rng.integers(3, 8)), int(rng.integers(3, 8))))
    x_in = x.copy()
    out, cache = _forward(forward, "relu_forward", x_in)
    expect_close(out, np.maximum(x, 0), "relu forward")
    _unchanged("relu_forward", x_in, x)
    dout = rng.normal(size=x.shape)
    expect_close(call_student(backward, dout.copy(), cache), dout * (x > 0), "relu dx", hints={
        "multiply the upstream gradient dout by the 0/1 gate": (x > 0).astype(float)})


def check_batchnorm(forward: Callable[..., Any], backward: Callable[..., Any],
                    seed: int = 0) -> None:
    """``batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)`` in train mode (batch
    statistics; running averages created as zeros/ones if absent and updated in bn_param with
    torch's momentum, unbiased variance) and eval mode (running averages);
    ``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)``."""
    rng = seeded_rng(seed)
    n, d = int(rng.integers(4, 9)), int(rng.integers(3, 7))
    x = rng.normal(rng.uniform(-3, 3, d), rng.uniform(0.5, 4, d), size=(n, d))
    gamma, beta = rng.uniform(0.5, 2, d), rng.normal(size=d)
    x_hat, inv_std = _normalise(x, 0)
    bn_param: dict[str, Any] = {"mode": "train"}
    out, cache = _forward(forward, "batchnorm_forward", x.copy(), gamma.copy(), beta.copy(),
                          bn_param)
    expect_close(out, gamma * x_hat + beta, "batchnorm forward (train)", hints={
        "use the biased (population) variance for the batch, np.var's default":
            gamma * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + EPS) + beta})
    if "running_mean" not in bn_param or "running_var" not in bn_param:
        raise ExerciseError("train mode must store bn_param['running_mean'] and "
                            "bn_param['running_var'] (created as zeros and ones if absent)")
    mean, var = 0.1 * x.mean(0), 0.9 + 0.1 * x.var(0, ddof=1)
    expect_close(bn_param["running_mean"], mean, "running_mean after one batch", hints={
        "momentum 0.1 weights the NEW batch (torch's convention), not the old average":
            0.9 * x.mean(0)})
    expect_close(bn_param["running_var"], var, "running_var after one batch", hints={
        "the running variance uses the unbiased batch variance (ddof=1), as torch":
            0.9 + 0.1 * x.var(0)})
    dout = rng.normal(size=(n, d))
    got = result_tuple(call_student(backward, dout.copy(), cache), 3, "batchnorm_backward")
    dx, dgamma, dbeta = _norm_backward(dout, x_hat, inv_std, gamma, 0)
    expect_close(got[2], dbeta, "dbeta")
    expect_close(got[1], dgamma, "dgamma")
    expect_close(got[0], dx, "dx", hints={
        "mu_B and sigma_B^2 depend on every x_i: the mean and variance terms are missing":
            gamma * inv_std * dout})
    run_mean, run_var = rng.normal(size=d), rng.uniform(0.5, 2, d)
    x2 = rng.normal(size=(3, d))
    eval_param = {"mode": "eval", "running_mean": run_mean.copy(),
                  "running_var": run_var.copy(), "momentum": 0.3}
    out, _ = _forward(forward, "batchnorm_forward", x2.copy(), gamma.copy(), beta.copy(),
                      eval_param)
    expect_close(out, gamma * (x2 - run_mean) / np.sqrt(run_var + EPS) + beta,
                 "batchnorm forward (eval)", hints={
                     "eval mode uses the running averages, not the batch's statistics":
                         gamma * _normalise(x2, 0)[0] + beta})
    expect_close(eval_param["running_mean"], run_mean, "running_mean after eval mode "
                 "(eval mode must not update it)")


def check_layernorm(forward: Callable[..., Any], backward: Callable[..., Any],
                    seed: int = 0) -> None:
    """``layernorm_forward(x, gamma, beta, ln_param) -> (out, cache)``: every example
    normalised over its features; ``layernorm_backward(dout, cache) -> (dx, dgamma, dbeta)``."""
    rng = seeded_rng(seed)
    n, d = int(rng.integers(4, 9)), int(rng.integers(3, 7))
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=(n, 1)) + rng.normal(size=(n, 1))
    gamma, beta = rng.uniform(0.5, 2, d), rng.normal(size=d)
    x_hat, inv_std = _normalise(x, 1)
    out, cache = _forward(forward, "layernorm_forward", x.copy(), gamma.copy(), beta.copy(),
                          {"eps": EPS})
    expect_close(out, gamma * x_hat + beta, "layernorm forward", hints={
        "layer norm normalises each EXAMPLE (a row, axis=1), not each feature":
            gamma * _normalise(x, 0)[0] + beta})
    dout = rng.normal(size=(n, d))
    got = result_tuple(call_student(backward, dout.copy(), cache), 3, "layernorm_backward")
    dx, dgamma, dbeta = _norm_backward(dout, x_hat, inv_std, gamma, 1)
    expect_close(got[2], dbeta, "dbeta")
    expect_close(got[1], dgamma, "dgamma")
    expect_close(got[0], dx, "dx", hints={
        "the row's mean and variance depend on every feature of the row: terms are missing":
            gamma * inv_std * dout})


def check_dropout(forward: Callable[..., Any], backward: Callable[..., Any], seed: int = 0,
                  keep_prob: float = 0.7) -> None:
    """``dropout_forward(x, dropout_param) -> (out, cache)``: keep where
    ``np.random.default_rng(seed).random(x.shape) < keep_prob``, scale by 1 / keep_prob; eval
    mode is the identity; ``dropout_backward(dout, cache) -> dx``."""
    rng = seeded_rng(seed)
    x = rng.normal(size=(int(rng.integers(20, 40)), int(rng.integers(5, 12))))
    mask_seed = int(rng.integers(1000))
    keep = _mask(x.shape, keep_prob, mask_seed)
    out, cache = _forward(forward, "dropout_forward", x.copy(),
                          {"mode": "train", "keep_prob": keep_prob, "seed": mask_seed})
    expect_close(out, x * keep / keep_prob, "dropout forward (train)", hints={
        "inverted dropout scales the kept units by 1 / keep_prob": x * keep,
        "keep_prob is the probability of KEEPING a unit (torch's p = 1 - keep_prob)":
            x * _mask(x.shape, 1 - keep_prob, mask_seed) / (1 - keep_prob),
        "keep_prob is the probability of KEEPING a unit: keep where random < keep_prob":
            x * _mask(x.shape, 1 - keep_prob, mask_seed) / keep_prob})
    dout = rng.normal(size=x.shape)
    expect_close(call_student(backward, dout.copy(), cache), dout * keep / keep_prob,
                 "dropout_backward", hints={"the backward pass scales by 1 / keep_prob too":
                                            dout * keep})
    out, cache = _forward(forward, "dropout_forward", x.copy(),
                          {"mode": "eval", "keep_prob": keep_prob, "seed": mask_seed})
    expect_close(out, x, "dropout forward (eval)", hints={
        "eval mode is the identity (the scaling happened during training)": x * keep_prob})
    expect_close(call_student(backward, dout.copy(), cache), dout, "dropout_backward (eval)")


def check_softmax_loss(fn: Callable[..., Any], seed: int = 0) -> None:
    """``fn(scores, y) -> (loss, dscores)``: mean cross-entropy of softmax(scores) (N, C)
    against integer labels y (N,), and its gradient (N, C). Scores include large values."""
    rng = seeded_rng(seed)
    n, c = int(rng.integers(4, 9)), int(rng.integers(3, 7))
    scores = rng.normal(size=(n, c)) * 3 + rng.choice([0.0, 800.0], size=(n, 1))
    y = rng.integers(0, c, size=n)
    loss, dscores = _softmax_loss(scores, y)
    got_loss, got_d = result_tuple(call_student(fn, scores.copy(), y.copy()), 2,
                                   "softmax_loss")
    expect_close(np.asarray(got_loss, dtype=float).reshape(()), loss, "loss", hints={
        "average the loss over the batch, do not sum it": loss * n})
    expect_close(got_d, dscores, "dscores", hints={
        "divide the gradient by N: the loss is a mean over the batch": dscores * n})


# --------------------------------------------------------------------------------------------
# Update rules (exercise 3)
# --------------------------------------------------------------------------------------------
DEFAULTS = {"sgd": {"learning_rate": 1e-2},
            "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
            "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
            "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}}
"""Each update rule's hyper-parameters when ``config`` leaves them out (CS231n's ``optim.py``)."""


def _reference_step(rule: str, w: np.ndarray, dw: np.ndarray,
                    state: dict[str, Any]) -> np.ndarray:
    c = state
    if rule == "sgd":
        return w - c["learning_rate"] * dw
    if rule == "sgd_momentum":
        c["velocity"] = c["momentum"] * c.get("velocity", 0.0) - c["learning_rate"] * dw
        return w + c["velocity"]
    if rule == "rmsprop":
        c["cache"] = c["decay_rate"] * c.get("cache", 0.0) + (1 - c["decay_rate"]) * dw ** 2
        return w - c["learning_rate"] * dw / (np.sqrt(c["cache"]) + c["epsilon"])
    c["t"] = c.get("t", 0) + 1
    c["m"] = c["beta1"] * c.get("m", 0.0) + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c.get("v", 0.0) + (1 - c["beta2"]) * dw ** 2
    m_hat, v_hat = c["m"] / (1 - c["beta1"] ** c["t"]), c["v"] / (1 - c["beta2"] ** c["t"])
    return w - c["learning_rate"] * m_hat / (np.sqrt(v_hat) + c["epsilon"])


def check_update_rule(fn: Callable[..., Any], rule: str, seed: int = 0,
                      steps: int = 4) -> None:
    """``fn(w, dw, config) -> (next_w, config)`` for ``rule`` ("sgd", "sgd_momentum",
    "rmsprop", "adam"): ``steps`` updates, each fed the config the previous one returned, first
    with the defaults (config None), then with hyper-parameters of the check's choosing."""
    if rule not in DEFAULTS:
        raise ValueError(f"rule must be one of {', '.join(DEFAULTS)}, got {rule!r}")
    rng = seeded_rng(seed)
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    for given in (None, {k: float(v) * float(rng.uniform(0.5, 0.99))
                         for k, v in DEFAULTS[rule].items() if k != "epsilon"}):
        w = rng.normal(size=shape)
        mine, config = w.copy(), given
        state = {**DEFAULTS[rule], **(given or {})}
        for step in range(1, steps + 1):
            dw = rng.normal(size=shape)
            expected = _reference_step(rule, mine, dw, state)
            got, config = result_tuple(call_student(fn, w.copy(), dw.copy(), config), 2, rule)
            if not isinstance(config, dict):
                raise ExerciseError(f"{rule} must return (next_w, config) with config a dict "
                                    f"(the state the next step reads), got "
                                    f"{type(config).__name__}")
            which = "the default hyper-parameters" if given is None else f"config {given}"
            hints = {}
            if rule == "adam":
                hints["bias-correct m and v with t counted from 1 (t += 1 before the update)"] = \
                    _adam_without_correction(mine, dw, state)
            expect_close(got, expected, f"{rule} step {step} with {which}", hints=hints)
            w = mine = np.asarray(got, dtype=float)


def _adam_without_correction(w: np.ndarray, dw: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    return w - state["learning_rate"] * state["m"] / (np.sqrt(state["v"]) + state["epsilon"])


# --------------------------------------------------------------------------------------------
# FullyConnectedNet (exercise 4), the whole-network gradient check (exercise 5)
# --------------------------------------------------------------------------------------------
def _expected_keys(hidden: int, normalization: str | None) -> list[str]:
    keys = []
    for i in range(1, hidden + 2):
        keys += [f"W{i}", f"b{i}"]
        if normalization is not None and i <= hidden:
            keys += [f"gamma{i}", f"beta{i}"]
    return keys


def _params_of(model: Any, dims: list[int], normalization: str | None) -> dict[str, np.ndarray]:
    params = model.params
    if not isinstance(params, dict):
        raise ExerciseError(f"model.params must be a dict of arrays, got {type(params).__name__}")
    keys = _expected_keys(len(dims) - 2, normalization)
    if sorted(params) != sorted(keys):
        raise ExerciseError(f"model.params has the keys {sorted(params)}; hidden_dims "
                            f"{dims[1:-1]} with normalization={normalization!r} needs "
                            f"{keys}")
    out = {}
    for k in keys:
        i = int(k.lstrip("Wbgamet"))  # "W12" -> 12, "gamma3" -> 3
        shape = (dims[i - 1], dims[i]) if k.startswith("W") else (dims[i],)
        arr = np.asarray(params[k], dtype=np.float64)
        if arr.shape != shape:
            raise ExerciseError(f"params[{k!r}] has shape {arr.shape}, expected {shape}")
        out[k] = arr
    return out


def check_fc_net(net_class: Callable[..., Any], seed: int = 0,
                 normalization: str | None = None, keep_prob: float = 1.0) -> None:
    """``FullyConnectedNet(hidden_dims, input_dim, num_classes, normalization, keep_prob, reg,
    weight_scale, init, seed, dropout_seed)``: its params (keys, shapes, initialisation), its
    loss and gradients in train mode (dropout masks of ``dropout_seed + i`` in layer i), with
    batch norm the running averages that train-mode call left in ``bn_params`` (from zeros and
    ones, the layer's momentum, 0.1 unless set), and its scores in eval mode, against
    :func:`reference_loss`."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    rng = seeded_rng(seed)
    wide = call_student(net_class, [60], input_dim=50, num_classes=4, weight_scale=0.05,
                        seed=seed)
    w1 = np.asarray(wide.params["W1"], dtype=float)
    if not 0.04 < w1.std() < 0.06:
        raise ExerciseError(f"weight_scale=0.05 gave W1 a standard deviation of {w1.std():.4f}; "
                            "draw W from N(0, weight_scale^2)")
    kaiming = call_student(net_class, [60], input_dim=50, num_classes=4, init="kaiming",
                           seed=seed)
    std = float(np.asarray(kaiming.params["W1"], dtype=float).std())
    if not 0.8 < std / math.sqrt(2 / 50) < 1.2:
        raise ExerciseError(f"init='kaiming' gave W1 (50 x 60) a standard deviation of "
                            f"{std:.4f}; Kaiming's is sqrt(2 / fan_in) = {math.sqrt(0.04):.4f}")
    d, c, n = int(rng.integers(5, 9)), int(rng.integers(3, 6)), int(rng.integers(6, 11))
    hidden = [int(v) for v in rng.integers(3, 7, size=int(rng.integers(1, 4)))]
    reg, drop_seed = float(rng.uniform(0.01, 0.3)), int(rng.integers(100))
    model = call_student(net_class, hidden, input_dim=d, num_classes=c,
                         normalization=normalization, keep_prob=keep_prob, reg=reg,
                         weight_scale=0.5, seed=int(rng.integers(100)), dropout_seed=drop_seed)
    params = _params_of(model, [d, *hidden, c], normalization)
    for k, v in params.items():
        if k[0] == "b" or k.startswith("beta"):
            expect_close(v, np.zeros_like(v), f"initial {k} (zeros)")
        elif k.startswith("gamma"):
            expect_close(v, np.ones_like(v), f"initial {k} (ones)")
    x, y = rng.normal(size=(n, d)) * 2, rng.integers(0, c, size=n)
    stats: list[tuple[np.ndarray, np.ndarray]] = []
    loss, grads = reference_loss(params, x, y, len(hidden), normalization, keep_prob, reg,
                                 drop_seed, batch_stats=stats)
    got_loss, got_grads = result_tuple(call_student(model.loss, x.copy(), y.copy()), 2,
                                       "model.loss(X, y)")
    no_reg = reference_loss(params, x, y, len(hidden), normalization, keep_prob, 0.0,
                            drop_seed)[0]
    expect_close(np.asarray(got_loss, dtype=float).reshape(()), loss, "loss", hints={
        "add 0.5 * reg * (sum of every W squared) to the loss": no_reg})
    if not isinstance(got_grads, dict) or sorted(got_grads) != sorted(params):
        raise ExerciseError(f"grads must be a dict keyed like params ({sorted(params)}), got "
                            f"{sorted(got_grads) if isinstance(got_grads, dict) else got_grads}")
    for k in params:
        _overall_close(got_grads[k], grads[k], f"grads[{k!r}]", hints={
            "the gradient of 0.5 * reg * W^2 is reg * W": grads[k] - reg * params[k]})
    running = None
    if normalization == "batchnorm":
        bn = model.bn_params
        running = [(np.asarray(p["running_mean"], float), np.asarray(p["running_var"], float))
                   for p in bn]
        if len(running) != len(hidden):
            raise ExerciseError(f"bn_params holds {len(running)} dicts for {len(hidden)} hidden "
                                f"layers with batch norm")
        for i, ((mean, var), (mu, var_b), p) in enumerate(zip(running, stats, bn, strict=True)):
            m = float(p.get("momentum", 0.1))     # one train-mode call from zeros and ones
            _overall_close(mean, m * mu, f"bn_params[{i}]['running_mean'] after one train-mode "
                           f"loss", hints={
                               "the model's bn_params must keep the running averages that "
                               "batchnorm_forward updates in train mode (pass the model's own "
                               "dicts, not copies)": np.zeros_like(mean)})
            _overall_close(var, (1 - m) + m * var_b * n / (n - 1),
                           f"bn_params[{i}]['running_var'] after one train-mode loss")
    x2 = rng.normal(size=(3, d))
    _overall_close(call_student(model.loss, x2.copy()),
                 reference_loss(params, x2, None, len(hidden), normalization, running=running),
                 "scores (eval mode: y is None)", hints={
                     "eval mode: batch norm with running averages, no dropout":
                         reference_loss(params, x2, None, len(hidden), None)})


def check_gradient_errors(fn: Callable[..., Any], seed: int = 0) -> None:
    """``fn(loss_fn, params, h=1e-6) -> {name: error}``: for each array of ``params``, the
    largest entry-wise relative error |a - n| / max(1e-8, |a| + |n|) between the analytic
    gradient (``loss_fn(params)[1][name]``) and the centred difference n of
    ``loss_fn(params)[0]``. The check's loss_fn is a small network whose gradient is wrong in
    one entry of one array: that error must come out near its true value, the others tiny."""
    rng = seeded_rng(seed)
    d, h, c, n = 4, 3, 3, 5
    params = {"W1": rng.normal(size=(d, h)), "b1": rng.normal(size=h) * 0.1,
              "W2": rng.normal(size=(h, c)), "b2": rng.normal(size=c) * 0.1}
    x, y = rng.normal(size=(n, d)), rng.integers(0, c, size=n)
    broken = ["W1", "b1", "W2", "b2"][int(rng.integers(4))]
    _, true = reference_loss(params, x, y, 1)
    where = np.unravel_index(int(np.argmax(np.abs(true[broken]))), true[broken].shape)
    calls = [0]

    def loss_fn(p: Any) -> tuple[float, dict[str, np.ndarray]]:
        calls[0] += 1
        if calls[0] > 2000:
            raise ValueError("more than 2000 calls of loss_fn: one per perturbed entry is "
                             "enough")
        p = {k: np.asarray(p[k], dtype=np.float64) for k in params}
        loss, grads = reference_loss(p, x, y, 1)
        grads[broken] = grads[broken].copy()
        grads[broken][where] *= 1.25
        return loss, grads

    errors = call_student(fn, loss_fn, {k: v.copy() for k, v in params.items()})
    if not isinstance(errors, dict) or sorted(errors) != sorted(params):
        raise ExerciseError(f"return a dict with one relative error per parameter "
                            f"({sorted(params)}), got {errors!r:.200}")
    a = true[broken][where] * 1.25
    expected = abs(a - true[broken][where]) / (abs(a) + abs(true[broken][where]))
    for k in params:
        got = float(np.asarray(errors[k], dtype=float))
        if k == broken and not abs(got - expected) < 0.05 * expected:
            raise ExerciseError(f"{k}'s analytic gradient is wrong in one entry by 25 %: its "
                                f"relative error is {expected:.4f}, you returned {got:.3g} "
                                "(the largest entry-wise |a - n| / (|a| + |n|))")
        if k != broken and not 0 <= got < 1e-5:
            raise ExerciseError(f"{k}'s gradient is right, yet you returned a relative error "
                                f"of {got:.3g}: perturb one entry by +-h, restore it, and "
                                "divide the loss difference by 2h")


# --------------------------------------------------------------------------------------------
# Solver (exercise 6)
# --------------------------------------------------------------------------------------------
def _blobs(rng: np.random.Generator, n: int, d: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(size=(c, d)) * 2
    y = rng.integers(0, c, size=n)
    return centres[y] + rng.normal(size=(n, d)), y


def check_solver(solver_class: Callable[..., Any], net_class: Callable[..., Any],
                 seed: int = 0) -> None:
    """``Solver(model, data, update_rule, optim_config, lr_decay, batch_size, num_epochs,
    seed).train()`` on a small problem (with the learner's FullyConnectedNet): one loss per
    mini-batch in ``loss_history``, one validation accuracy per epoch in ``val_acc_history``,
    ``best_val_acc`` their maximum, the model left with the best epoch's parameters, and the
    learning rate multiplied by ``lr_decay`` after every epoch."""
    rng = seeded_rng(seed)
    d, c = 6, 3
    x, y = _blobs(rng, 130, d, c)
    data = {"X_train": x[:100], "y_train": y[:100], "X_val": x[100:], "y_val": y[100:]}
    batch, epochs = int(rng.integers(15, 40)), 4
    model = call_student(net_class, [10], input_dim=d, num_classes=c, weight_scale=0.3,
                         seed=seed)
    dims = [d, 10, c]
    start = {k: v.copy() for k, v in _params_of(model, dims, None).items()}  # not a view
    solver = call_student(solver_class, model, data, update_rule="sgd",
                          optim_config={"learning_rate": 0.5}, lr_decay=0.8,
                          batch_size=batch, num_epochs=epochs, seed=seed)
    call_student(solver.train)
    trained = _params_of(model, dims, None)
    before = float(reference_loss(start, data["X_train"], data["y_train"], 1)[0])
    after = float(reference_loss(trained, data["X_train"], data["y_train"], 1)[0])
    if not after <= TRAINED_LOSS_RATIO * before:
        raise ExerciseError(f"train() did not train the model: the training loss of "
                            f"model.params (computed by the grader) went from {before:.4f} to "
                            f"{after:.4f}; every epoch must update model.params with the "
                            f"gradients of model.loss, and train() must leave the best epoch's "
                            f"parameters in the model")
    losses, accs = list(solver.loss_history), list(solver.val_acc_history)
    per_epoch = math.ceil(100 / batch)
    if len(losses) != epochs * per_epoch:
        raise ExerciseError(f"loss_history holds {len(losses)} losses; {epochs} epochs of "
                            f"{per_epoch} mini-batches of at most {batch} out of 100 examples "
                            f"make {epochs * per_epoch}")
    if len(accs) != epochs:
        raise ExerciseError(f"val_acc_history holds {len(accs)} accuracies, one per epoch "
                            f"({epochs}) expected")
    if not np.mean(losses[-per_epoch:]) < np.mean(losses[:per_epoch]):
        raise ExerciseError("the training loss did not fall on an easy problem: update every "
                            "parameter with its gradient (model.params[k], grads[k])")
    expect_close(float(solver.best_val_acc), max(accs), "best_val_acc (the best epoch's)")
    scores = reference_loss(trained, data["X_val"], None, 1)   # the grader's forward pass
    final = float(np.mean(scores.argmax(1) == data["y_val"]))
    expect_close(final, max(accs), "the model's validation accuracy after train() (it must "
                 "hold the best epoch's parameters)")
    frozen = call_student(net_class, [10], input_dim=d, num_classes=c, weight_scale=0.3,
                          seed=seed)
    frozen_batch = int(rng.choice([20, 25]))      # equal batches: an epoch's mean loss is the
    frozen_solver = call_student(solver_class, frozen, data, update_rule="sgd",  # full loss
                                 optim_config={"learning_rate": 0.5}, lr_decay=0.0,
                                 batch_size=frozen_batch, num_epochs=3, seed=seed)
    call_student(frozen_solver.train)
    k = 100 // frozen_batch
    means = np.asarray(list(frozen_solver.loss_history), dtype=float).reshape(3, k).mean(1)
    if not abs(means[2] - means[1]) <= 1e-9 * abs(means[1]):
        raise ExerciseError("with lr_decay=0 the learning rate is 0 from the second epoch on, "
                            "so the parameters must stop changing (the second and third "
                            f"epochs' mean losses {means[1]:.6f} and {means[2]:.6f} differ): "
                            "multiply every parameter's learning rate by lr_decay at the end "
                            "of each epoch")
    _check_solver_adam(solver_class, net_class, data, seed)


def _check_solver_adam(solver_class: Callable[..., Any], net_class: Callable[..., Any],
                       data: dict[str, np.ndarray], seed: int) -> None:
    """check_solver's replay: with the whole training set as one batch the order of an epoch
    does not matter, so 3 epochs of update_rule="adam" (lr 0.05, lr_decay 0.5) are replayed
    here with the reference Adam (each parameter its own state) and the best epoch kept; the
    model must end with those parameters. A Solver that takes plain SGD steps whatever
    update_rule says, or shares one config between parameters, does not."""
    d, c = data["X_train"].shape[1], int(data["y_train"].max()) + 1
    dims, lr, decay, epochs = [d, 10, c], 0.05, 0.5, 3
    model = call_student(net_class, [10], input_dim=d, num_classes=c, weight_scale=0.3,
                         seed=seed + 1)
    params = {k: v.copy() for k, v in _params_of(model, dims, None).items()}
    solver = call_student(solver_class, model, data, update_rule="adam",
                          optim_config={"learning_rate": lr}, lr_decay=decay,
                          batch_size=len(data["X_train"]), num_epochs=epochs, seed=seed)
    call_student(solver.train)
    got = _params_of(model, dims, None)
    states = {k: {**DEFAULTS["adam"], "learning_rate": lr} for k in params}
    runs, accs = [], []
    for _ in range(epochs):
        grads = reference_loss(params, data["X_train"], data["y_train"], 1)[1]
        params = {k: _reference_step("adam", w, grads[k], states[k]) for k, w in params.items()}
        for state in states.values():
            state["learning_rate"] *= decay
        scores = reference_loss(params, data["X_val"], None, 1)
        runs.append(params)
        accs.append(float(np.mean(scores.argmax(1) == data["y_val"])))
    best = [r for r, a in zip(runs, accs, strict=True) if a == max(accs)]   # a tie: any

    def matches(want: dict[str, np.ndarray]) -> bool:
        return all(np.abs(got[k] - w).max() <= 1e-6 * (1.0 + np.abs(w).max())
                   for k, w in want.items())

    if not any(matches(want) for want in best):
        k = next(k for k, w in best[0].items()
                 if not np.abs(got[k] - w).max() <= 1e-6 * (1.0 + np.abs(w).max()))
        raise ExerciseError(
            f"with update_rule='adam', optim_config={{'learning_rate': {lr}}}, "
            f"lr_decay={decay} and one batch of all {len(data['X_train'])} training "
            f"examples, {epochs} epochs did not give the grader's replay ({k} differs): "
            "update every parameter with the rule update_rule names (your sgd, "
            "sgd_momentum, rmsprop or adam), each with its own copy of optim_config, and "
            "keep the best epoch's parameters")


# --------------------------------------------------------------------------------------------
# The trained network (exercise 7): graded on its parameters, on a split it never saw
# --------------------------------------------------------------------------------------------
def _array(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ExerciseError(f"{name} must be a NumPy array of shape {shape}, got "
                            f"{type(value).__name__}")
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ExerciseError(f"{name} has shape {arr.shape}; the declared architecture needs "
                            f"{shape}")
    if not np.all(np.isfinite(arr)):
        raise ExerciseError(f"{name} contains nan or inf")
    return arr


def network_from_spec(spec: Any, input_dim: int = 784, num_classes: int = 10) -> dict[str, Any]:
    """The network ``train_capstone`` returned, validated: a dict with "hidden_dims" (1 to
    :data:`MAX_DEPTH` ints, each 1 to :data:`MAX_WIDTH`), "normalization" (None, "batchnorm",
    "layernorm"), "params" (exactly FullyConnectedNet's keys and shapes), "bn_params" (one
    {"running_mean", "running_var"} per hidden layer with batch norm), "mean" and "std" (the
    input statistics, (input_dim,), std > 0). Anything else is refused with the reason."""
    if isinstance(spec, np.ndarray) or not isinstance(spec, dict):
        raise ExerciseError(f"train_capstone must return the trained network (a dict with "
                            f"hidden_dims, normalization, params, bn_params, mean, std), not "
                            f"{type(spec).__name__}: the grader computes the predictions itself")
    dims = spec.get("hidden_dims")
    if not isinstance(dims, list | tuple) or not 1 <= len(dims) <= MAX_DEPTH or \
            not all(isinstance(h, int | np.integer) and not isinstance(h, bool) and
                    1 <= int(h) <= MAX_WIDTH for h in dims):
        raise ExerciseError(f"hidden_dims must list 1 to {MAX_DEPTH} layer widths, each 1 to "
                            f"{MAX_WIDTH}, got {dims!r:.200}")
    hidden = [int(h) for h in dims]
    norm = spec.get("normalization")
    if norm not in NORMALIZATIONS:
        raise ExerciseError(f"normalization must be one of {NORMALIZATIONS}, got {norm!r:.100}")
    widths = [input_dim, *hidden, num_classes]
    params = spec.get("params")
    keys = _expected_keys(len(hidden), norm)
    if not isinstance(params, dict) or sorted(params) != sorted(keys):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ExerciseError(f"params must hold exactly {keys} for hidden_dims {hidden} and "
                            f"normalization {norm!r}, got {got!s:.300}")
    net: dict[str, Any] = {"hidden": len(hidden), "normalization": norm, "params": {}}
    for k in keys:
        i = int(k.lstrip("Wbgamet"))  # "W12" -> 12, "gamma3" -> 3
        shape = (widths[i - 1], widths[i]) if k.startswith("W") else (widths[i],)
        net["params"][k] = _array(params[k], f"params[{k!r}]", shape)
    net["running"] = None
    if norm == "batchnorm":
        bn = spec.get("bn_params")
        if not isinstance(bn, list | tuple) or len(bn) != len(hidden) or \
                not all(isinstance(p, dict) for p in bn):
            raise ExerciseError(f"bn_params must hold one dict with running_mean and "
                                f"running_var per hidden layer ({len(hidden)})")
        net["running"] = [(_array(p.get("running_mean"), f"bn_params[{i}]['running_mean']",
                                  (h,)),
                           _array(p.get("running_var"), f"bn_params[{i}]['running_var']", (h,)))
                          for i, (p, h) in enumerate(zip(bn, hidden, strict=True))]
        if any(np.any(v < 0) for _, v in net["running"]):
            raise ExerciseError("a running variance is negative")
    net["mean"] = _array(spec.get("mean"), "mean", (input_dim,))
    net["std"] = _array(spec.get("std"), "std", (input_dim,))
    if not np.all(net["std"] > 0):
        raise ExerciseError("std must be positive everywhere (add a small constant)")
    return net


def predict(net: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """The grader's own forward pass in evaluation mode (running averages, no dropout) of a
    network from :func:`network_from_spec`: the predicted labels of x (N, input_dim)."""
    z = (np.asarray(x, dtype=np.float64) - net["mean"]) / net["std"]
    scores = reference_loss(net["params"], z, None, net["hidden"], net["normalization"],
                            running=net["running"])
    return scores.argmax(axis=1)


# --------------------------------------------------------------------------------------------
# The recipe: what train_capstone says it did, and the grader's own training of it
# --------------------------------------------------------------------------------------------
RECIPE_KEYS = ("hidden_dims", "normalization", "init", "keep_prob", "reg", "update_rule",
               "optim_config", "lr_decay", "batch_size", "num_epochs", "shift", "n_val", "eps")
"""What a recipe states: every choice of FullyConnectedNet, Solver and the preprocessing that
the grader needs to train the same network itself (:func:`train_recipe`)."""
RANGES: dict[str, tuple[float, float]] = {
    "keep_prob": (0.05, 1.0), "reg": (0.0, 1.0), "lr_decay": (0.0, 1.0),
    "batch_size": (2, 8000), "num_epochs": (1, 200), "shift": (0, 3), "n_val": (1, 4000),
    "eps": (1e-8, 1.0), "init": (1e-4, 10.0), "learning_rate": (1e-6, 10.0),
    "momentum": (0.0, 0.999), "decay_rate": (0.0, 0.9999), "beta1": (0.0, 0.999),
    "beta2": (0.0, 0.99999), "epsilon": (1e-12, 1e-2)}
"""The valid range of every number a recipe may hold (both ends included)."""
INTEGER_KEYS = ("batch_size", "num_epochs", "shift", "n_val")
REFERENCE_COST = 15 * 7500 * (784 * 256 + 256 * 128 + 128 * 10)
"""Multiply-adds per forward pass and example, times the examples seen: the lesson's reference
recipe (15 epochs of 7,500 images through 784-256-128-10)."""
MAX_COST = 3 * REFERENCE_COST
"""The most training a recipe may ask of the grader, which runs it once per seed: three times
the reference's (about 18 s of one core per run)."""
MAX_STEPS = 6000
"""The most update steps (epochs x mini-batches per epoch) a recipe may ask for: the grader's
training spends about 1.7 ms of Python per step whatever the widths (the reference takes 570)."""
MAX_BATCH_UNITS = 2_000_000
"""The most hidden activations one mini-batch may hold (batch_size x the sum of hidden_dims:
16 MB per copy; the reference holds 200 x 384)."""
AGREEMENT = 0.015
"""The least tolerance of the probe (:func:`check_training`): the mean held-out accuracy of
the learner's trainings of the probe may lie this far from the mean of the grader's, or 4 sd of
the grader's runs where they spread wider (the reference's spread there is about 0.004; Adam at
1e-2 spreads 0.0085)."""
PROBE_EPOCHS = 2
"""The probe recipe's epochs (:func:`probe_recipe`)."""
PROBE_SEEDS = (0, 1, 2, 3, 4)
"""The grader's trainings of the probe; the learner's are two (the check's seed and the next)."""


def _number(value: Any, key: str, where: str = "", integer: bool = False) -> Any:
    name = f"recipe{where}[{key!r}]"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ExerciseError(f"{name} must be a number, got {value!r:.100}")
    lo, hi = RANGES[key]
    if not math.isfinite(float(value)):
        raise ExerciseError(f"{name} must be a finite number, got {value!r}")
    if integer and float(value) != int(value):
        raise ExerciseError(f"{name} must be a whole number, got {value!r}")
    if not lo <= float(value) <= hi:
        raise ExerciseError(f"{name} = {value!r} is outside its valid range {lo:g} to {hi:g}")
    return int(value) if integer else float(value)


def recipe_of(recipe: Any, n_train: int = 8000, input_dim: int = 784,
              num_classes: int = 10) -> dict[str, Any]:
    """A recipe (``capstone_recipe()``) validated: exactly :data:`RECIPE_KEYS`, each number in
    its range (:data:`RANGES`), ``hidden_dims`` 1 to :data:`MAX_DEPTH` widths of 1 to
    :data:`MAX_WIDTH`; anything else is refused with the reason, and so is a recipe whose
    training would cost more than :data:`MAX_COST`."""
    if not isinstance(recipe, dict):
        raise ExerciseError(f"capstone_recipe() must return a dict of {RECIPE_KEYS}, got "
                            f"{type(recipe).__name__}")
    missing = [k for k in RECIPE_KEYS if k not in recipe]
    unknown = sorted(str(k) for k in recipe if k not in RECIPE_KEYS)
    if missing or unknown:
        wrong = "; ".join(part for part in (f"lacks {missing}" if missing else "",
                                            f"has unknown keys {unknown}" if unknown else "")
                          if part)
        raise ExerciseError(f"the recipe {wrong}; it holds exactly {RECIPE_KEYS}")
    dims = recipe["hidden_dims"]
    if not isinstance(dims, list | tuple) or not 1 <= len(dims) <= MAX_DEPTH or \
            not all(isinstance(h, int | np.integer) and not isinstance(h, bool) and
                    1 <= int(h) <= MAX_WIDTH for h in dims):
        raise ExerciseError(f"recipe['hidden_dims'] must list 1 to {MAX_DEPTH} layer widths, "
                            f"each 1 to {MAX_WIDTH}, got {dims!r:.200}")
    if not isinstance(recipe["normalization"], str | type(None)) or \
            recipe["normalization"] not in NORMALIZATIONS:
        raise ExerciseError(f"recipe['normalization'] must be one of {NORMALIZATIONS}, got "
                            f"{recipe['normalization']!r:.100}")
    out: dict[str, Any] = {"hidden_dims": [int(h) for h in dims],
                           "normalization": recipe["normalization"]}
    for k in RECIPE_KEYS[3:]:
        if k not in ("update_rule", "optim_config"):
            out[k] = _number(recipe[k], k, integer=k in INTEGER_KEYS)
    init = recipe["init"]
    if isinstance(init, str) and init != "kaiming":
        raise ExerciseError(f"recipe['init'] must be 'kaiming' or a weight scale (a number), "
                            f"got {init!r:.100}")
    out["init"] = init if isinstance(init, str) else _number(init, "init")
    rule = recipe["update_rule"]
    if not isinstance(rule, str) or rule not in DEFAULTS:
        raise ExerciseError(f"recipe['update_rule'] must be one of {list(DEFAULTS)}, got "
                            f"{rule!r:.100}")
    config = recipe["optim_config"]
    if not isinstance(config, dict) or not set(config) <= set(DEFAULTS[rule]):
        raise ExerciseError(f"recipe['optim_config'] must be a dict with keys among "
                            f"{list(DEFAULTS[rule])} for {rule}, got {config!r:.200}")
    out["update_rule"] = rule
    out["optim_config"] = {k: _number(v, k, "['optim_config']") for k, v in config.items()}
    if out["shift"] and input_dim != 784:
        raise ExerciseError("shift moves 28 x 28 images; these inputs are not")
    if not out["n_val"] < n_train - 1:
        raise ExerciseError(f"recipe['n_val'] = {out['n_val']} leaves no training images out "
                            f"of {n_train}")
    steps = out["num_epochs"] * math.ceil((n_train - out["n_val"]) / out["batch_size"])
    if steps > MAX_STEPS:
        raise ExerciseError(f"the recipe takes {steps:,} update steps ({out['num_epochs']} "
                            f"epochs of batches of {out['batch_size']}), more than the "
                            f"grader's {MAX_STEPS:,}: larger batches or fewer epochs")
    units = out["batch_size"] * sum(out["hidden_dims"])
    if units > MAX_BATCH_UNITS:
        raise ExerciseError(f"a batch of {out['batch_size']} holds {units:,} hidden "
                            f"activations, more than the grader's {MAX_BATCH_UNITS:,}: "
                            f"smaller batches or narrower layers")
    widths = [input_dim, *out["hidden_dims"], num_classes]
    cost = out["num_epochs"] * (n_train - out["n_val"]) * sum(
        a * b for a, b in zip(widths[:-1], widths[1:], strict=False))
    if cost > MAX_COST:
        raise ExerciseError(f"the recipe's training costs {cost:.3g} multiply-adds in all, "
                            f"more than the grader's {MAX_COST:.3g} (three times the "
                            f"reference's 15 epochs of 784-256-128-10): fewer epochs or "
                            f"narrower layers")
    return out


def probe_recipe(recipe: dict[str, Any], seed: int) -> dict[str, Any]:
    """The smaller recipe the check hands the learner's ``train_capstone``: the same choices,
    every hidden layer 3, 4 or 5 times narrower (at least 16 units; the factor drawn from
    ``seed``), :data:`PROBE_EPOCHS` epochs. A ``train_capstone`` that returns one stored network
    whatever the recipe says cannot match it."""
    factor = int(seeded_rng(seed).integers(3, 6))
    return {**recipe, "hidden_dims": [max(16, h // factor) for h in recipe["hidden_dims"]],
            "num_epochs": min(PROBE_EPOCHS, recipe["num_epochs"])}


def shift_images(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """x (N, 784): every 28 x 28 image moved by its own random -k..k pixels along each axis,
    zeros shifted in (the reference of the lesson's exercise 7)."""
    n = len(x)
    padded = np.pad(x.reshape(n, 28, 28), ((0, 0), (k, k), (k, k)))
    dy, dx = rng.integers(0, 2 * k + 1, size=(2, n))
    rows = dy[:, None, None] + np.arange(28)[None, :, None]
    cols = dx[:, None, None] + np.arange(28)[None, None, :]
    return padded[np.arange(n)[:, None, None], rows, cols].reshape(n, -1)


def train_recipe(x_train: np.ndarray, y_train: np.ndarray, recipe: dict[str, Any],
                 seed: int) -> dict[str, Any]:
    """The grader's own training of a recipe (from :func:`recipe_of`), in plain NumPy with
    this module's references: standardise with the training images' mean and std + eps, keep
    the first ``n_val`` images for choosing the best epoch, initialise (Kaiming or
    N(0, init^2)), then ``num_epochs`` epochs of mini-batches in a new random order, each batch
    shifted by -shift..shift pixels, dropout masks fresh at every step, every parameter updated
    with its own state of the update rule, batch norm's running averages with torch's momentum
    0.1 and unbiased variance, the learning rate times ``lr_decay`` after each epoch. Returns
    the network of the best epoch in :func:`network_from_spec`'s form. Runs NumPy's BLAS on one
    thread (the grader grades several hand-ins at once; a second BLAS thread on a busy machine
    made a run 3x slower, measured 2026-12-07)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _train_recipe(x_train, y_train, recipe, seed)


def _train_recipe(x_train: np.ndarray, y_train: np.ndarray, recipe: dict[str, Any],
                  seed: int) -> dict[str, Any]:
    r = recipe
    x = np.asarray(x_train, dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + r["eps"]
    z, n_val = (x - mean) / std, r["n_val"]
    xt, yt, xv, yv = z[n_val:], y_train[n_val:], z[:n_val], y_train[:n_val]
    rng = np.random.default_rng(seed)
    hidden, norm = r["hidden_dims"], r["normalization"]
    widths = [x.shape[1], *hidden, int(y_train.max()) + 1]
    params: dict[str, np.ndarray] = {}
    for i in range(1, len(widths)):
        scale = math.sqrt(2.0 / widths[i - 1]) if r["init"] == "kaiming" else r["init"]
        params[f"W{i}"] = rng.standard_normal((widths[i - 1], widths[i])) * scale
        params[f"b{i}"] = np.zeros(widths[i])
        if norm is not None and i < len(widths) - 1:
            params[f"gamma{i}"], params[f"beta{i}"] = np.ones(widths[i]), np.zeros(widths[i])
    running = [(np.zeros(h), np.ones(h)) for h in hidden] if norm == "batchnorm" else None
    states = {k: {**DEFAULTS[r["update_rule"]], **r["optim_config"]} for k in params}
    best: tuple[float, dict[str, np.ndarray], Any] = (-1.0, params, running)
    for _epoch in range(r["num_epochs"]):
        order = rng.permutation(len(xt))
        for start in range(0, len(xt), r["batch_size"]):
            idx = order[start:start + r["batch_size"]]
            xb = xt[idx]
            if r["shift"]:
                xb = (shift_images(xb * std + mean, r["shift"], rng) - mean) / std
            stats: list[tuple[np.ndarray, np.ndarray]] = []
            _, grads = reference_loss(params, xb, yt[idx], len(hidden), norm, r["keep_prob"],
                                      r["reg"], int(rng.integers(2**31)), batch_stats=stats)
            params = {k: _reference_step(r["update_rule"], w, grads[k], states[k])
                      for k, w in params.items()}
            if running is not None:
                m = len(idx)
                running = [(0.9 * rm + 0.1 * mu, 0.9 * rv + 0.1 * var * m / max(m - 1, 1))
                           for (rm, rv), (mu, var) in zip(running, stats, strict=True)]
        for state in states.values():
            state["learning_rate"] *= r["lr_decay"]
        acc = float(np.mean(reference_loss(params, xv, None, len(hidden), norm,
                                           running=running).argmax(1) == yv))
        if acc > best[0]:
            best = (acc, params, running)
    return {"hidden": len(hidden), "normalization": norm, "params": best[1],
            "running": best[2], "mean": mean, "std": std}


_RESULTS: dict[tuple[Any, ...], Any] = {}


def _mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from trainlab.data import load_mnist

    x_train, y_train = load_mnist(split="train", flatten=True)
    x_val, y_val = load_mnist(split="val", flatten=True)
    return x_train, y_train, x_val, y_val


def _cached(key: tuple[Any, ...], compute: Callable[[], Any], owner: Any = None) -> Any:
    """One computation per key, shared by every check; an ExerciseError is kept and raised
    again. ``owner`` (the learner's function whose id is in the key) is kept with the result
    and must be the same object: a later function at a freed one's address recomputes."""
    if key not in _RESULTS or _RESULTS[key][0] is not owner:
        try:
            _RESULTS[key] = (owner, compute())
        except NotAttemptedError:
            raise
        except ExerciseError as exc:
            _RESULTS[key] = (owner, exc)
    result = _RESULTS[key][1]
    if isinstance(result, ExerciseError):
        raise ExerciseError(str(result))
    return result


def heldout_accuracies(fn: Callable[..., Any], seeds: Sequence[int] = SEEDS,
                       **kwargs: Any) -> np.ndarray:
    """The held-out accuracy of the network ``fn(x_train, y_train, seed, **kwargs)`` trains
    (checked by :func:`network_from_spec`, predicted by :func:`predict`), for each seed: one
    training per function, seed and keyword arguments, shared by every check."""
    def one(seed: int) -> float:
        x_train, y_train, x_heldout, y_heldout = _mnist()
        spec = call_student(fn, x_train.copy(), y_train.copy(), seed, **kwargs)
        net = network_from_spec(spec, x_train.shape[1])
        if "recipe" in kwargs:
            r = kwargs["recipe"]
            if [int(h) for h in spec["hidden_dims"]] != list(r["hidden_dims"]) or \
                    spec["normalization"] != r["normalization"]:
                raise ExerciseError(
                    f"train_capstone was given the recipe {r!r:.300} but returned a network "
                    f"with hidden_dims {spec['hidden_dims']!r:.100} and normalization "
                    f"{spec['normalization']!r:.50}: train what the recipe says")
        return float(np.mean(predict(net, x_heldout) == y_heldout))

    kw = tuple(sorted((k, repr(sorted(v.items()) if isinstance(v, dict) else v))
                      for k, v in kwargs.items()))     # a recipe in any key order: one key
    return np.array([_cached((id(fn), int(s), kw), lambda s=s: one(int(s)), fn) for s in seeds])


def _recipe(recipe_fn: Callable[[], Any] | dict[str, Any], **changes: Any) -> dict[str, Any]:
    x_train = _mnist()[0]
    recipe = recipe_fn if isinstance(recipe_fn, dict) else \
        _cached((id(recipe_fn), "recipe"), lambda: call_student(recipe_fn), recipe_fn)
    if changes and isinstance(recipe, dict):
        recipe = {**recipe, **changes}
    return recipe_of(recipe, len(x_train), x_train.shape[1])


def rerun_accuracies(recipe_fn: Callable[[], Any] | dict[str, Any],
                     seeds: Sequence[int] = SEEDS, **changes: Any) -> np.ndarray:
    """The grader's own training (:func:`train_recipe`) of the recipe ``recipe_fn()`` returns
    (or of the recipe given as a dict), one run per seed, each network predicted on the
    held-out images by :func:`predict`. ``changes`` replace recipe entries first
    (``shift=0``: the same recipe without the shifts). Cached per recipe and seed."""
    recipe = _recipe(recipe_fn, **changes)

    def one(seed: int) -> float:
        x_train, y_train, x_heldout, y_heldout = _mnist()
        net = train_recipe(x_train, y_train, recipe, seed)
        return float(np.mean(predict(net, x_heldout) == y_heldout))

    key = repr(sorted(recipe.items()))
    return np.array([_cached(("rerun", key, int(s)), lambda s=s: one(int(s))) for s in seeds])


def _hint(acc: float) -> str:
    if acc < 0.2:
        return ("check that the loss falls, that mean and std are the statistics your network "
                "was trained with (the grader feeds it (x - mean) / std), and that bn_params "
                "are the running averages")
    return ("standardise the inputs with training statistics, Kaiming init, batch norm before "
            "ReLU, random one-pixel shifts of the training images, about 15 epochs of SGD with "
            "momentum, the best validation epoch kept")


def check_training(recipe_fn: Callable[[], Any], train_fn: Callable[..., Any],
                   target: float = TARGET_ACCURACY, seed: int = 0) -> None:
    """Exercise 7: ``recipe_fn() -> recipe`` (see :func:`recipe_of`) and
    ``train_fn(x_train, y_train, seed, recipe=None) -> network`` (see
    :func:`network_from_spec`), trained on MNIST-10k's 8,000 training images (float32,
    (8000, 784), values in [0, 1]); the 2,000 held-out images never reach the learner's code.
    Passes when

    - the grader's own training of the recipe (:func:`rerun_accuracies`, seeds :data:`SEEDS`)
      reaches ``target`` in the median held-out accuracy, and
    - the learner's ``train_fn``, handed the smaller :func:`probe_recipe` (drawn from ``seed``)
      for seeds ``seed`` and ``seed + 1``, returns networks of that architecture whose mean
      held-out accuracy lies within max(:data:`AGREEMENT`, 4 sd) of the mean of the grader's
      trainings of the same probe (:data:`PROBE_SEEDS`): the learner's code trains what a
      recipe says (one stored network does not; a model tuned to the probe's accuracy, e.g. a
      linear classifier embedded in the probe's shape, can: it gains nothing, since the points
      come from the grader's training of the recipe)."""
    recipe = _recipe(recipe_fn)
    probe = probe_recipe(recipe, seed)      # first: it costs a few seconds, the recipe more
    mine = heldout_accuracies(train_fn, (seed, seed + 1), recipe=probe)
    theirs = rerun_accuracies(probe, PROBE_SEEDS)
    tolerance = max(AGREEMENT, 4 * float(np.std(theirs, ddof=1)))
    if not abs(float(mine.mean()) - float(theirs.mean())) <= tolerance:
        raise ExerciseError(
            f"handed your recipe with hidden_dims {probe['hidden_dims']} and "
            f"{probe['num_epochs']} epochs, your train_capstone's networks reach "
            f"{', '.join(f'{a:.4f}' for a in mine)} on the held-out images (seeds {seed} and "
            f"{seed + 1}), the grader's trainings of the same recipe "
            f"{', '.join(f'{a:.4f}' for a in theirs)}; the means must agree within "
            f"{tolerance:.4f}: train_capstone must train exactly as the recipe it is given "
            f"says" + (f". Hints: {_hint(0.0)}" if mine.mean() < theirs.mean() - tolerance
                       else ""))
    accs = rerun_accuracies(recipe)
    median = float(np.median(accs))
    per_seed = ", ".join(f"{a:.4f}" for a in accs)
    if not median >= target:
        raise ExerciseError(f"the grader's training of your recipe reaches a median held-out "
                            f"accuracy of {median:.4f} over seeds "
                            f"{', '.join(map(str, SEEDS))} ({per_seed}), below {target}. "
                            f"Hints: {_hint(median)}")
    print(f"✓ your recipe, trained by the grader, reaches a median held-out accuracy of at "
          f"least {target}, and your train_capstone trains what a recipe says")
