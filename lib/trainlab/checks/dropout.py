"""Checks for the exercises of lesson 06 (dropout, dropout as ridge, dropout against early
stopping).

The track's layer: :func:`check_dropout_layer` (``dropout_forward(x, dropout_param)``, its own
mask from ``np.random.default_rng(seed)``) and :func:`check_dropout_layer_backward`; the
closed form of the dropped-out least-squares loss, :func:`check_expected_loss`; a two-layer
network with dropout, :func:`check_mlp_loss`, and its training with early stopping,
:func:`check_train_dropout_net` (checked on what any correct run must satisfy, since the
learner chooses the details of the training loop).

Each ``check_*`` calls the learner's function on fresh inputs drawn from ``seed`` and compares
the answer with :mod:`trainlab.dropout` / :mod:`trainlab.ridge`; a wrong answer raises
:class:`~trainlab.checks.ExerciseError`, with a hint when it matches a common slip.

``keep_prob`` is the probability of KEEPING a unit (torch's ``nn.Dropout(p)`` drops with
probability p = 1 - keep_prob). The checks refuse ``keep_prob = 0.5``, where dividing by
``1 - keep_prob`` instead of ``keep_prob`` would go unnoticed.
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
    shape_arg,
)

__all__ = [
    "check_dropout_layer",
    "check_dropout_layer_backward",
    "check_expected_loss",
    "check_mlp_loss",
    "check_train_dropout_net",
]


def _check_keep_prob(keep_prob: float) -> float:
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, int | float) \
            or not 0.0 < keep_prob < 1.0 or keep_prob == 0.5:
        raise ValueError(f"keep_prob must be in (0, 1) and not 0.5 (where keep and drop "
                         f"probabilities coincide), got {keep_prob!r}")
    return float(keep_prob)


def _unchanged(name: str, given: np.ndarray, original: np.ndarray) -> None:
    if not np.array_equal(given, original):
        raise ExerciseError(f"{name} changed an input array in place; return a new array")


def _track_input(seed: int, shape: tuple[int, ...], keep_prob: float
                 ) -> tuple[np.random.Generator, np.ndarray, int]:
    """Activations without zeros (so that out != 0 marks the kept units) and a mask seed."""
    rng = seeded_rng(seed)
    x = rng.normal(size=shape_arg(shape))
    x += np.where(x >= 0, 0.5, -0.5)
    return rng, x, 11 + int(rng.integers(0, 10_000))


def _reference_mask(shape: tuple[int, ...], keep_prob: float, mask_seed: int) -> np.ndarray:
    """The track's mask: np.random.default_rng(seed).random(shape) < keep_prob."""
    return np.random.default_rng(mask_seed).random(shape) < keep_prob


def _forward(fn: Callable[..., Any], x: np.ndarray, param: dict[str, Any]) -> tuple[Any, Any]:
    x_in = x.copy()
    out, cache = result_tuple(call_student(fn, x_in, dict(param)), 2,
                              getattr(fn, "__name__", "dropout_forward"))
    _unchanged(getattr(fn, "__name__", "dropout_forward"), x_in, x)
    return np.asarray(out, dtype=np.float64), cache


def check_dropout_layer(fn: Callable[..., Any], seed: int = 0, shape: tuple[int, ...] = (4, 6),
                        keep_prob: float = 0.8) -> None:
    """Check the track's ``fn(x, dropout_param) -> (out, cache)``: inverted dropout with its own
    mask. dropout_param = {"mode": "train" | "eval", "keep_prob": in (0, 1], "seed": int};
    in training the mask is ``np.random.default_rng(seed).random(x.shape) < keep_prob``
    (True = keep) and out = x * mask / keep_prob; in eval mode out = x. Also checks that the
    same seed gives the same output, another seed another mask, and keep_prob = 1 keeps all."""
    kp = _check_keep_prob(keep_prob)
    _, x, s = _track_input(seed, shape, kp)
    name = getattr(fn, "__name__", "dropout_forward")
    out, _ = _forward(fn, x, {"mode": "train", "keep_prob": kp, "seed": s})
    mask = _reference_mask(x.shape, kp, s)
    if out.shape == x.shape and np.array_equal(out != 0, ~mask) \
            and np.allclose(out[~mask], x[~mask] / kp):
        raise ExerciseError(f"{name}: you kept the units where the mask says DROP: keep where "
                            "rng.random(x.shape) < keep_prob (keep_prob is the probability of "
                            "KEEPING; torch's p = 1 - keep_prob drops)")
    hints = {
        "inverted dropout divides the kept values by keep_prob, so that the expected output "
        "equals x": x * mask,
        "divide by keep_prob, the probability of KEEPING a unit, not by 1 - keep_prob "
        "(torch's p is the drop probability)": x * mask / (1 - kp),
        "divide by keep_prob, don't multiply (multiplying is the paper's TEST-time rule)":
            x * mask * kp,
        "apply the mask: dropped units must output 0": x / kp,
        "keep a unit where rng.random(x.shape) < keep_prob; you used 1 - keep_prob (that "
        "is torch's p, the DROP probability)": x * _reference_mask(x.shape, 1 - kp, s) / kp,
    }
    try:
        expect_close(out, reference.dropout(x, kp, mask), f"{name} in training mode",
                     hints=hints)
    except ExerciseError as exc:
        kept = out != 0
        if "Hint:" not in str(exc) and out.shape == x.shape and kept.any() \
                and np.allclose(out[kept], x[kept] / kp):
            raise ExerciseError(
                f"{name}: this is inverted dropout, but not with the track's mask: draw it as "
                "np.random.default_rng(dropout_param['seed']).random(x.shape) < keep_prob, so "
                "that a seed gives the same mask everywhere (the network's gradient check "
                "and the grader rely on it)") from exc
        raise
    again, _ = _forward(fn, x, {"mode": "train", "keep_prob": kp, "seed": s})
    if not np.array_equal(again, out):
        raise ExerciseError(f"{name} gave two outputs for the same seed: draw the mask from "
                            "np.random.default_rng(dropout_param['seed'])")
    other, _ = _forward(fn, x, {"mode": "train", "keep_prob": kp, "seed": s + 1})
    if np.array_equal(other, out):
        raise ExerciseError(f"{name} gave the same mask for two seeds")
    ev, _ = _forward(fn, x, {"mode": "eval", "keep_prob": kp})
    expect_close(ev, x, f"{name} in eval mode", hints={
        "inverted dropout does nothing at test time (the paper's formulation multiplies by "
        "keep_prob there; inverted dropout already divided during training)": x * kp,
        "no mask in eval mode: every unit is used": out,
        "no rescaling in eval mode": x / kp})
    full, _ = _forward(fn, x, {"mode": "train", "keep_prob": 1.0, "seed": s})
    expect_close(full, x, f"{name} with keep_prob = 1.0 (keep every unit)")


def check_dropout_layer_backward(forward: Callable[..., Any], backward: Callable[..., Any],
                                 seed: int = 0, shape: tuple[int, ...] = (5, 3),
                                 keep_prob: float = 0.7) -> None:
    """Check the track's ``backward(dout, cache) -> dx`` with the cache of the learner's own
    ``forward(x, dropout_param)``: dx = dout * mask / keep_prob in training (the mask the
    forward pass used, read off its output), dx = dout in eval mode. The forward pass must
    pass :func:`check_dropout_layer`'s comparison first (out = x * track mask / keep_prob;
    x in eval mode): otherwise a forward that drops everything (or nothing) would let a
    backward without the mask pass."""
    kp = _check_keep_prob(keep_prob)
    rng, x, s = _track_input(seed, shape, kp)
    dout = rng.normal(size=x.shape)
    name = getattr(backward, "__name__", "dropout_backward")
    for mode in ("train", "eval"):
        out, cache = _forward(forward, x, {"mode": mode, "keep_prob": kp, "seed": s})
        if out.shape != x.shape:
            raise ExerciseError(f"your dropout_forward returned shape {out.shape} for x of "
                                f"shape {x.shape}: fix exercise 1 first")
        want = x if mode == "eval" else reference.dropout(x, kp, _reference_mask(x.shape, kp, s))
        if not np.allclose(out, want, rtol=1e-6, atol=1e-9):
            raise ExerciseError(f"your dropout_forward does not pass its check yet ({mode} "
                                f"mode): fix exercise 1 first (the backward pass is checked "
                                f"with the cache of a correct forward pass)")
        mask = out != 0
        dout_in = dout.copy()
        dx = call_student(backward, dout_in, cache)
        _unchanged(name, dout_in, dout)
        if mode == "eval":
            expect_close(dx, dout, f"{name} in eval mode (the identity)", hints={
                "eval mode is the identity: dx = dout": dout * kp})
            continue
        expect_close(dx, dout * mask / kp, f"{name} in training mode", hints={
            "the forward pass divided by keep_prob, so the gradient is divided by it too":
                dout * mask,
            "dropped units got no input to their output: their gradient is 0 (multiply by "
            "the mask from the cache)": dout / kp,
            "divide by keep_prob, not by 1 - keep_prob": dout * mask / (1 - kp),
            "the mask is True where a unit is KEPT": dout * ~mask / kp,
        })


def check_expected_loss(fn: Callable[[np.ndarray, np.ndarray, np.ndarray, float], float],
                        seed: int = 0, n: int = 30, d: int = 4,
                        keep_prob: float = 0.7) -> None:
    """Check ``fn(X, y, w, p) -> float``: the closed form of ``E_R ||y - (R * X) w||^2``.

    ``||y - p X w||^2 + p (1 - p) ||Gamma w||^2`` with ``Gamma = diag(X^T X)^(1/2)``; X (n, d)
    has columns on different scales so that forgetting Gamma shows. The reference is
    :func:`trainlab.ridge.expected_dropout_loss`.
    """
    p = _check_keep_prob(keep_prob)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2 or \
            isinstance(d, bool) or not isinstance(d, int) or d < 2:
        raise ValueError(f"n and d must be ints >= 2, got n={n!r}, d={d!r}")
    rng = seeded_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.3, 3.0, d)
    w = rng.standard_normal(d)
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    expected = reference.expected_dropout_loss(X, y, w, p)
    got = call_student(fn, X.copy(), y.copy(), w.copy(), p)
    if np.ndim(got) != 0:
        raise ExerciseError(f"expected_loss must return one number, got shape {np.shape(got)}")
    g2w2 = np.sum(X ** 2, axis=0) * w ** 2
    fit = np.sum((y - p * X @ w) ** 2)
    expect_close(float(got), expected, "expected_loss", hints={
        "that is the lecture's slip ||y - Xw||^2 + (1 - q)||w||^2 (q = keep_prob): keep the "
        "factor q in front of Xw and weight the penalty by Gamma^2 = diag(X^T X)":
            np.sum((y - X @ w) ** 2) + (1 - p) * np.sum(w ** 2),
        "the mean of (R * X) w is q X w (q = keep_prob): the data term is ||y - q X w||^2":
            np.sum((y - X @ w) ** 2) + p * (1 - p) * np.sum(g2w2),
        "the penalty is q(1 - q)||Gamma w||^2 with Gamma^2 = diag(X^T X), not ||w||^2":
            fit + p * (1 - p) * np.sum(w ** 2),
        "Gamma = diag(X^T X)^(1/2), so ||Gamma w||^2 = sum_j (X^T X)_jj w_j^2 (squares of "
        "the column norms, not the norms)": fit + p * (1 - p) * np.sum(np.sqrt(g2w2) * np.abs(w)),
        "the variance of a Bernoulli(q) variable is q(1 - q), not (1 - q)":
            fit + (1 - p) * np.sum(g2w2),
    })


# --------------------------------------------------------------------------------------------
# The two-layer network with dropout (exercise 4) and its training with early stopping (5)
# --------------------------------------------------------------------------------------------
PARAM_NAMES = ("W1", "b1", "W2", "b2")


def _mlp_reference(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray | None,
                   mask: np.ndarray | None, keep_prob: float, *, drop_backward: bool = True
                   ) -> Any:
    """scores = (relu(X W1 + b1) * mask / keep_prob) W2 + b2 (mask None: eval mode); with y,
    (mean softmax cross-entropy, grads). ``drop_backward=False`` is the slip that forgets the
    mask in the backward pass."""
    z1 = X @ params["W1"] + params["b1"]
    h = np.maximum(z1, 0.0)
    if mask is not None:
        h = h * mask / keep_prob
    scores = h @ params["W2"] + params["b2"]
    if y is None:
        return scores
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(X)
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1.0
    dscores /= n
    dh = dscores @ params["W2"].T
    if mask is not None and drop_backward:
        dh = dh * mask / keep_prob
    dz1 = dh * (z1 > 0)
    grads = {"W1": X.T @ dz1, "b1": dz1.sum(axis=0), "W2": h.T @ dscores,
             "b2": dscores.sum(axis=0)}
    return float(-log_p[np.arange(n), y].mean()), grads


def _mlp_params(rng: np.random.Generator, d: int, h: int, c: int) -> dict[str, np.ndarray]:
    return {"W1": rng.normal(0, 1.0 / np.sqrt(d), (d, h)), "b1": rng.normal(0, 0.5, h),
            "W2": rng.normal(0, 1.0 / np.sqrt(h), (h, c)), "b2": rng.normal(0, 0.5, c)}


def _loss_and_grads(got: Any, what: str) -> tuple[float, dict[str, Any]]:
    loss, grads = result_tuple(got, 2, what)
    if np.ndim(loss) != 0:
        raise ExerciseError(f"{what}: the loss must be one number, got shape {np.shape(loss)}")
    if not isinstance(grads, dict) or set(grads) != set(PARAM_NAMES):
        keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise ExerciseError(f"{what}: grads must be a dict with the keys of params "
                            f"{list(PARAM_NAMES)}, got {keys}")
    return float(loss), grads


def check_mlp_loss(fn: Callable[..., Any], seed: int = 0, keep_prob: float = 0.6) -> None:
    """Check ``fn(params, X, y, dropout_param)`` for the two-layer network of exercise 4:
    scores = dropout(relu(X W1 + b1)) W2 + b2 with the track's dropout on the hidden layer
    (mask ``np.random.default_rng(seed).random((N, H)) < keep_prob``); y None -> scores,
    else (mean softmax cross-entropy, grads keyed W1, b1, W2, b2). Compared in eval mode, in
    training mode with a seed, and with keep_prob = 1 (the plain network)."""
    kp = _check_keep_prob(keep_prob)
    rng = seeded_rng(seed)
    n, d, h, c = int(rng.integers(5, 9)), int(rng.integers(3, 7)), int(rng.integers(6, 10)), 4
    params = _mlp_params(rng, d, h, c)
    X, y = rng.normal(size=(n, d)), rng.integers(0, c, n)
    y[:c] = np.arange(c)
    s = 11 + int(rng.integers(0, 10_000))
    name = getattr(fn, "__name__", "mlp_loss")
    kept = {k: v.copy() for k, v in params.items()}

    def call(y_arg: Any, param: dict[str, Any]) -> Any:
        got = call_student(fn, {k: v.copy() for k, v in params.items()}, X.copy(),
                           None if y_arg is None else y_arg.copy(), dict(param))
        return got

    scores = call(None, {"mode": "eval", "keep_prob": kp})
    expect_close(scores, _mlp_reference(params, X, None, None, kp),
                 f"{name}(params, X, None, eval mode): the scores", hints={
                     "in eval mode inverted dropout is the identity":
                         _mlp_reference(params, X, None, np.ones((n, h)), 1.0) * kp})
    mask = _reference_mask((n, h), kp, s)
    for label, m, p in (("training mode", mask, kp), ("keep_prob = 1", None, 1.0)):
        loss, grads = _loss_and_grads(call(y, {"mode": "train", "keep_prob": p, "seed": s}),
                                      f"{name}(params, X, y, {label})")
        ref_loss, ref_grads = _mlp_reference(params, X, y, m, kp)
        expect_close(loss, ref_loss, f"{name} loss, {label}", hints={
            "the loss is the MEAN over the N examples, not the sum": ref_loss * n,
            "apply dropout (your dropout_forward) to the hidden layer in training mode":
                _mlp_reference(params, X, y, None, kp)[0]})
        slip = _mlp_reference(params, X, y, m, kp, drop_backward=False)[1]
        for key in PARAM_NAMES:
            expect_close(grads[key], ref_grads[key], f"{name} grads[{key!r}], {label}", hints={
                "divide the gradient by N too: the loss is a mean": ref_grads[key] * n,
                "the backward pass must go through dropout as well (your dropout_backward "
                "with the forward's cache)": slip[key]})
    for key, value in kept.items():
        if not np.array_equal(value, params[key]):
            raise ExerciseError(f"{name} changed params[{key!r}] in place")


def check_train_dropout_net(fn: Callable[..., Any], seed: int = 0, keep_prob: float = 0.6,
                            n_train: int = 200, steps: int = 200) -> None:
    """Check ``fn(data, keep_prob, steps, lr, seed, hidden, batch_size, record_every)`` of
    exercise 5 on ``n_train`` clean digits (:func:`trainlab.dropout.digits_split`): the
    recorded steps; that the returned "best" parameters score the highest recorded validation
    accuracy at "best_step" (the first step that reached it) and "last" the last recorded one
    (recomputed here with the reference network); that both keep_prob and 1.0 learn the
    digits (validation accuracy >= 0.8); that the same seed repeats the training even when the
    validation labels change (so the validation set only measures), and another seed or
    keep_prob changes it. Then that the loop *is* the training the exercise asks for, not a
    classifier found another way (say a closed-form readout wired through a ReLU layer): with
    ``lr = 0`` the returned weights are the initial ones, Kaiming normal with zero biases; and
    with the whole training set as one batch and keep_prob 1 (a run then depends on its initial
    weights alone), 25 steps of the grader's own gradient descent from those initial weights
    give the student's 25-step run. Last, that the steps at keep_prob are dropout steps
    (:func:`_check_dropout_steps`: one-step runs on one-example batches, each replayed with
    the mask read off W2's update, the kept fraction of the active units near keep_prob), so
    that training without dropout, made to differ from keep_prob = 1 by its seed or step
    size, does not pass."""
    from trainlab.dropout import digits_split

    kp = _check_keep_prob(keep_prob)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 100 or steps % 25:
        raise ValueError(f"steps must be an int >= 100 and a multiple of 25, got {steps!r}")
    rng = seeded_rng(seed)
    X, y, Xv, yv = digits_split(n_train, seed=int(rng.integers(0, 1000)))
    hidden, every = int(rng.choice([32, 48, 64])), 25
    name = getattr(fn, "__name__", "train_dropout_net")

    def run(p: float, s: int, val_labels: np.ndarray = yv, n_steps: int = steps,
            lr: float = 0.2, batch: int = 50, train: tuple[np.ndarray, np.ndarray] = (X, y),
            rec: int = every) -> dict[str, Any]:
        data = (train[0].copy(), train[1].copy(), Xv.copy(), val_labels.copy())
        got = call_student(fn, data, p, n_steps, lr, s, hidden=hidden, batch_size=batch,
                           record_every=rec)
        if not isinstance(got, dict) or not {"step", "val_acc", "best_step", "best",
                                             "last"} <= set(got):
            raise ExerciseError(f"{name} must return a dict with the keys 'step', 'val_acc', "
                                f"'best_step', 'best' and 'last'")
        return got

    def accuracy(params: Any, what: str) -> float:
        shapes = {"W1": (64, hidden), "b1": (hidden,), "W2": (hidden, 10), "b2": (10,)}
        if not isinstance(params, dict) or any(np.shape(params.get(k)) != v
                                               for k, v in shapes.items()):
            raise ExerciseError(f"{name}: {what} must be the params dict {shapes}")
        p = {k: np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES}
        return float(np.mean(_mlp_reference(p, Xv, None, None, 1.0).argmax(axis=1) == yv))

    s = 11 + int(rng.integers(0, 10_000))
    r = run(kp, s)
    want = list(range(every, steps + 1, every))
    if [int(v) for v in r["step"]] != want or len(r["val_acc"]) != len(want):
        raise ExerciseError(f"{name}: record after every {every} steps: 'step' should be "
                            f"[{every}, {2 * every}, ..., {steps}] with one 'val_acc' each")
    val = np.asarray(r["val_acc"], dtype=np.float64)
    first_best = want[int(np.argmax(val))]
    if int(r["best_step"]) != first_best:
        raise ExerciseError(f"{name}: best_step is {r['best_step']}, but the first step with "
                            f"the highest recorded val_acc ({val.max():.3f}) is {first_best}")
    for key, target in (("best", val.max()), ("last", val[-1])):
        got = accuracy(r[key], f"'{key}'")
        if abs(got - target) > 1e-9:
            raise ExerciseError(
                f"{name}: the '{key}' parameters score a validation accuracy of {got:.4f} "
                f"(eval mode), but your record says {target:.4f} - "
                + ("store a COPY of the parameters at the best step (a later update must not "
                   "change it)" if key == "best" else "measure in eval mode, on X_val"))
    plain = run(1.0, s)
    if np.array_equal(np.asarray(plain["last"]["W1"]), np.asarray(r["last"]["W1"])):
        raise ExerciseError(f"{name}: keep_prob = {kp} trained the same weights as keep_prob = "
                            "1.0: apply your dropout to the hidden layer in training")
    for p in (kp, 1.0):
        last = val[-1] if p == kp else accuracy(plain["last"], "'last'")
        if last < 0.8:
            raise ExerciseError(f"{name} with keep_prob = {p} reaches a validation accuracy of "
                                f"only {last:.3f} after {steps} steps at lr 0.2 on {n_train} "
                                "clean digits; a correct network gets above 0.8")
    again = run(kp, s, yv[::-1].copy())        # other validation labels: same training
    if not np.array_equal(np.asarray(again["last"]["W1"]), np.asarray(r["last"]["W1"])):
        raise ExerciseError(f"{name}: the same seed gave another run when only the validation "
                            "labels changed: train on (X, y) alone, use the validation set only "
                            "to measure, and draw everything (initial weights, batches, dropout "
                            "seeds) from np.random.default_rng(seed)")
    if np.array_equal(np.asarray(run(kp, s + 1)["last"]["W1"]), np.asarray(r["last"]["W1"])):
        raise ExerciseError(f"{name}: another seed gave the same weights")
    _check_gradient_descent(run, accuracy, X, y, hidden, every, s, name)
    _check_dropout_steps(run, accuracy, X, y, kp, s, name)


def _check_gradient_descent(run: Callable[..., dict[str, Any]], accuracy: Callable[..., float],
                            X: np.ndarray, y: np.ndarray, hidden: int, every: int, seed: int,
                            name: str) -> None:
    """check_train_dropout_net's last two probes (see its docstring): the initial weights
    (a run with lr = 0) and plain full-batch gradient descent, replayed by the grader."""
    n = len(X)
    start = run(1.0, seed, n_steps=every, lr=0.0, batch=n)["last"]
    accuracy(start, "'last'")                                   # the shapes, with a message
    init = {k: np.asarray(start[k], dtype=np.float64) for k in PARAM_NAMES}
    for key, fan_in in (("W1", X.shape[1]), ("W2", hidden)):
        ratio = float(init[key].std()) / np.sqrt(2.0 / fan_in)
        if not (abs(float(init[key].mean())) < 0.2 * np.sqrt(2.0 / fan_in)
                and 0.75 < ratio < 1.25):
            raise ExerciseError(
                f"{name}: with lr = 0 the 'last' parameters are the initial ones, and "
                f"{key}'s have mean {float(init[key].mean()):.3g} and std "
                f"{float(init[key].std()):.3g}: draw {key} from a Kaiming normal, "
                f"N(0, 2 / fan_in) = N(0, {2.0 / fan_in:.3g}), with your seeded rng")
    if np.any(init["b1"] != 0) or np.any(init["b2"] != 0):
        raise ExerciseError(f"{name}: with lr = 0 the 'last' parameters are the initial ones, "
                            "and their biases are not 0: start b1 and b2 at zero")
    lr = 0.2
    trained = run(1.0, seed, n_steps=every, lr=lr, batch=n)["last"]
    replay = dict(init)
    for _ in range(every):
        grads = _mlp_reference(replay, X, y, None, 1.0)[1]
        replay = {k: v - lr * grads[k] for k, v in replay.items()}
    for key in PARAM_NAMES:
        got = np.asarray(trained[key], dtype=np.float64)
        if got.shape != replay[key].shape or not \
                np.abs(got - replay[key]).max() <= 1e-6 * (1.0 + np.abs(replay[key]).max()):
            raise ExerciseError(
                f"{name}: your {every}-step run at lr {lr} is not {every} steps of plain "
                f"gradient descent from your initial weights (the lr = 0 run's; batch_size = "
                f"all {n} training examples, keep_prob = 1, same seed: {key} differs from the "
                "grader's replay): update every parameter as params - lr * grads, with the "
                "gradients of your network's loss on each mini-batch")


def _dropout_step(before: dict[str, np.ndarray], after: dict[str, np.ndarray],
                  Xs: np.ndarray, ys: np.ndarray, keep_prob: float, lr: float
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """The mask of one step on a one-example batch, read off W2's update (its zero rows are
    the dropped units), and the active hidden units of that example; None when the step is
    not the network's dropout step with that mask for any of the examples Xs."""
    rows = np.abs(before["W2"] - after["W2"]).max(axis=1)
    mask = rows > 1e-9 * (1.0 + np.abs(before["W2"]).max())
    for i in range(len(Xs)):
        x1, y1 = Xs[i:i + 1], ys[i:i + 1]
        grads = _mlp_reference(before, x1, y1, mask[None, :], keep_prob)[1]
        if all(np.abs(after[k] - (before[k] - lr * grads[k])).max()
               <= 1e-6 * (1.0 + np.abs(before[k]).max()) for k in PARAM_NAMES):
            return mask, (x1 @ before["W1"] + before["b1"])[0] > 0
    return None


def _check_dropout_steps(run: Callable[..., dict[str, Any]], accuracy: Callable[..., float],
                         X: np.ndarray, y: np.ndarray, keep_prob: float, seed: int,
                         name: str) -> None:
    """check_train_dropout_net's dropout probe: runs of one and two steps at keep_prob with
    mini-batches of one example (from a few training examples), after their lr = 0 twin (the
    initial weights). With one example, W2's update is outer(h * mask / keep_prob, dscores):
    its zero rows among the active hidden units are the dropped ones. Each step must be the
    network's gradient step with that mask (replayed here for each example the batch could
    be); over the runs the units kept among the active ones must be a Bernoulli(keep_prob)
    sample, and the second step's mask not always the first's. So training without dropout
    (differing from keep_prob = 1 only by its seed or step size), rescaling without a mask,
    or one fixed mask for every step does not pass."""
    pick = np.r_[np.flatnonzero(y == y.max())[:1], np.flatnonzero(y != y.max())[:5]]
    Xs, ys = X[pick], y[pick]          # the largest label included: the same classes
    lr, active, kept, same = 0.2, 0, 0, 0
    trials = 4
    for trial in range(trials):
        s = seed + 101 * (trial + 1)
        states = []
        for n_steps, rate in ((1, 0.0), (1, lr), (2, lr)):
            got = run(keep_prob, s, n_steps=n_steps, lr=rate, batch=1, train=(Xs, ys),
                      rec=1)["last"]
            accuracy(got, "'last'")                             # the shapes, with a message
            states.append({k: np.asarray(got[k], dtype=np.float64) for k in PARAM_NAMES})
        steps = [_dropout_step(a, b, Xs, ys, keep_prob, lr)
                 for a, b in zip(states[:-1], states[1:], strict=True)]
        if any(step is None for step in steps):
            raise ExerciseError(
                f"{name}: one step at lr {lr} with keep_prob = {keep_prob} and batch_size = 1 "
                f"is not a dropout step of your network from the weights before it (the "
                f"initial ones: the lr = 0 run's; then the 1-step run's): each step, apply "
                f"your dropout (a fresh mask, kept units divided by keep_prob) to the hidden "
                f"layer, forward and backward, and update every parameter as params - lr * "
                f"grads")
        (m1, on1), (m2, on2) = steps
        active, kept = active + int(on1.sum()), kept + int((m1 & on1).sum())
        both = on1 & on2                # an inactive unit's row is zero whatever its mask
        same += bool(np.array_equal(m1[both], m2[both]))
    sd = np.sqrt(keep_prob * (1.0 - keep_prob) / max(active, 1))
    if active < 20 or abs(kept / active - keep_prob) > 5 * sd:
        raise ExerciseError(
            f"{name}: in one-step runs with keep_prob = {keep_prob} your steps kept {kept} of "
            f"{active} active hidden units, not a fraction near {keep_prob}: this is not a "
            f"dropout step - keep each unit with probability keep_prob "
            f"(rng.random(shape) < keep_prob, a new mask every step)")
    if same == trials:
        raise ExerciseError(
            f"{name}: the first two steps of a run dropped the same hidden units in each of "
            f"{trials} runs: draw a new dropout seed for every step from your "
            f"np.random.default_rng(seed), not one seed for the whole run")
