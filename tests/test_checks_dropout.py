"""trainlab.checks.dropout: references pass, common slips fail with their hint, and answers that
only look right (another mask, hard-coded or honest-looking but untrained numbers) fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import dropout as chk


# ---------------------------------------------------------------- the lesson's solutions
def dropout_forward(x, dropout_param):
    """Inverted dropout. x: any shape. dropout_param: {"mode": "train" | "eval",
    "keep_prob": probability of KEEPING a unit, in (0, 1] (torch's p = 1 - keep_prob),
    "seed": optional int}. Returns (out of x's shape, cache for dropout_backward)."""
    keep_prob, mode = dropout_param["keep_prob"], dropout_param["mode"]
    if mode == "eval":
        return x, (None, keep_prob)
    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = rng.random(x.shape) < keep_prob
    return x * mask / keep_prob, (mask, keep_prob)

def dropout_backward(dout, cache):
    """dout: upstream gradient of x's shape; cache: from dropout_forward. Returns dx."""
    mask, keep_prob = cache
    if mask is None:
        return dout
    return dout * mask / keep_prob

def mlp_loss(params, X, y, dropout_param):
    """Two-layer net: scores = dropout(relu(X @ W1 + b1)) @ W2 + b2, with params
    {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}, X (N, D), y (N,) ints or None,
    dropout_param as in exercise 1 (your dropout_forward on the hidden layer, mask (N, H)).
    y None: return scores (N, C). Otherwise return (loss, grads): the mean softmax
    cross-entropy over the N examples and its gradients, keyed like params."""
    z1 = X @ params["W1"] + params["b1"]
    h, drop_cache = dropout_forward(np.maximum(z1, 0), dropout_param)
    scores = h @ params["W2"] + params["b2"]
    if y is None:
        return scores
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(X)
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1
    dscores /= n
    dz1 = dropout_backward(dscores @ params["W2"].T, drop_cache) * (z1 > 0)
    grads = {"W1": X.T @ dz1, "b1": dz1.sum(axis=0), "W2": h.T @ dscores,
             "b2": dscores.sum(axis=0)}
    return -log_p[np.arange(n), y].mean(), grads

def train_dropout_net(data, keep_prob, steps, lr, seed, hidden=64, batch_size=50,
                      record_every=25):
    """data = (X, y, X_val, y_val) -> {"step", "val_acc", "best_step", "best", "last"}."""
    X, y, X_val, y_val = data
    rng = np.random.default_rng(seed)
    d, c = X.shape[1], int(y.max()) + 1
    params = {"W1": rng.normal(0, np.sqrt(2 / d), (d, hidden)), "b1": np.zeros(hidden),
              "W2": rng.normal(0, np.sqrt(2 / hidden), (hidden, c)), "b2": np.zeros(c)}
    out = {"step": [], "val_acc": [], "best_step": None, "best": None}
    for step in range(1, steps + 1):
        batch = rng.choice(len(X), size=min(batch_size, len(X)), replace=False)
        drop = {"mode": "train", "keep_prob": keep_prob, "seed": int(rng.integers(2**31))}
        grads = mlp_loss(params, X[batch], y[batch], drop)[1]
        params = {k: v - lr * grads[k] for k, v in params.items()}   # a new dict every step
        if step % record_every == 0:
            scores = mlp_loss(params, X_val, None, {"mode": "eval", "keep_prob": keep_prob})
            out["val_acc"].append(float(np.mean(scores.argmax(axis=1) == y_val)))
            out["step"].append(step)
            if out["val_acc"][-1] > max(out["val_acc"][:-1], default=-1.0):
                out["best_step"], out["best"] = step, params
    out["last"] = params
    return out


def good_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, p: float) -> float:
    gamma2 = np.sum(X ** 2, axis=0)
    return float(np.sum((y - p * X @ w) ** 2) + p * (1 - p) * np.sum(gamma2 * w ** 2))


def stub(*args: object, **kwargs: object) -> object:
    raise NotImplementedError()


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_references_pass(seed: int) -> None:
    chk.check_dropout_layer(dropout_forward, seed=seed, shape=(3, 4, 2), keep_prob=0.6)
    chk.check_dropout_layer_backward(dropout_forward, dropout_backward, seed=seed,
                                     keep_prob=0.9)
    chk.check_expected_loss(good_loss, seed=seed, n=12, d=3, keep_prob=0.3)
    chk.check_mlp_loss(mlp_loss, seed=seed)


def test_training_reference_passes() -> None:
    chk.check_train_dropout_net(train_dropout_net, seed=0)


def test_torch_autograd_passes_the_layer_and_the_network() -> None:
    def backward(dout, cache):
        x, out = cache
        out.backward(torch.from_numpy(dout))
        return x.grad.numpy()

    def forward(x, param):
        if param["mode"] == "eval":
            xt = torch.from_numpy(x).requires_grad_(True)
            return x, (xt, xt * 1.0)
        mask = np.random.default_rng(param.get("seed")).random(x.shape) < param["keep_prob"]
        xt = torch.from_numpy(x).requires_grad_(True)
        out = xt * torch.from_numpy(mask) / param["keep_prob"]
        return out.detach().numpy(), (xt, out)

    chk.check_dropout_layer(forward, seed=2)
    chk.check_dropout_layer_backward(forward, backward, seed=2)

    def torch_loss(params, X, y, param):
        p = {k: torch.from_numpy(v).requires_grad_(True) for k, v in params.items()}
        h = torch.relu(torch.from_numpy(X) @ p["W1"] + p["b1"])
        if param["mode"] == "train":
            mask = np.random.default_rng(param["seed"]).random(tuple(h.shape)) \
                < param["keep_prob"]
            h = h * torch.from_numpy(mask) / param["keep_prob"]
        scores = h @ p["W2"] + p["b2"]
        if y is None:
            return scores.detach().numpy()
        loss = torch.nn.functional.cross_entropy(scores, torch.from_numpy(y))
        loss.backward()
        return loss.item(), {k: v.grad.numpy() for k, v in p.items()}

    chk.check_mlp_loss(torch_loss, seed=3)


def _layer(scale=lambda kp: 1 / kp, keep=lambda r, kp: r < kp, eval_scale=1.0, rng_seed=None):
    def forward(x, param):
        kp = param["keep_prob"]
        if param["mode"] == "eval":
            return x * eval_scale, None
        seed = param.get("seed") if rng_seed is None else rng_seed
        mask = keep(np.random.default_rng(seed).random(x.shape), kp)
        return x * mask * scale(kp), mask
    return forward


@pytest.mark.parametrize(("fn", "hint"), [
    (_layer(scale=lambda kp: 1.0), "divides the kept values by keep_prob"),
    (_layer(scale=lambda kp: 1 / (1 - kp)), "not by 1 - keep_prob"),
    (_layer(scale=lambda kp: kp), "don't multiply"),
    (_layer(keep=lambda r, kp: r < 1 - kp), "you used 1 - keep_prob"),
    (_layer(keep=lambda r, kp: r >= kp), "where the mask says DROP"),
    (_layer(keep=lambda r, kp: np.ones_like(r, bool)), "apply the mask"),
    (_layer(eval_scale=0.8), "does nothing at test time"),
    (_layer(rng_seed=0), "not with the track's mask"),
    (lambda x, p: (x, None), "relative error"),
    (lambda x, p: x, "tuple of 2 values"),
])
def test_layer_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_dropout_layer(fn)


def test_layer_that_ignores_the_seed_or_changes_x_is_caught() -> None:
    state = {"calls": 0}

    def drifting(x, param):                   # a new mask at every call, whatever the seed
        state["calls"] += 1
        out, cache = dropout_forward(x, {**param, "seed": param.get("seed", 0) + state["calls"]
                                         - 1})
        return out, cache

    with pytest.raises(ExerciseError, match="two outputs for the same seed"):
        chk.check_dropout_layer(drifting)

    def in_place(x, param):
        out, cache = dropout_forward(x, param)
        x *= 0
        return out, cache

    with pytest.raises(ExerciseError, match="in place"):
        chk.check_dropout_layer(in_place)


@pytest.mark.parametrize(("kind", "hint"), [
    ("unscaled", "divided by it too"), ("unmasked", "multiply by the mask"),
    ("one_minus", "not by 1 - keep_prob"), ("eval", "dx = dout")])
def test_backward_slips(kind: str, hint: str) -> None:
    def backward(dout, cache):
        mask, kp = cache
        if mask is None:
            return dout * kp if kind == "eval" else dout
        return {"unscaled": dout * mask, "unmasked": dout / kp,
                "one_minus": dout * mask / (1 - kp), "eval": dout * mask / kp}[kind]

    with pytest.raises(ExerciseError, match=hint):
        chk.check_dropout_layer_backward(dropout_forward, backward)


@pytest.mark.parametrize("kind", ["drops_all", "keeps_all"])
def test_backward_is_checked_only_on_a_correct_forward(kind: str) -> None:
    """A forward that drops every unit (or keeps every one) used to let a backward that never
    touches the mask pass exercise 2 (in the grader the learner's exercise-2 cell may define
    its own dropout_forward over the reference of exercise 1)."""
    def forward(x, param):
        if param["mode"] == "eval":
            return x, 1.0
        if kind == "drops_all":
            return 0 * x, 0.0
        return x / param["keep_prob"], 1.0 / param["keep_prob"]

    def backward(dout, cache):
        return dout * cache

    with pytest.raises(ExerciseError, match="fix exercise 1 first"):
        chk.check_dropout_layer_backward(forward, backward, seed=0, keep_prob=0.7)


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


def _loss_slip(kind):
    def loss(params, X, y, param):
        got = mlp_loss(params, X, y, param)
        if y is None or param["mode"] == "eval":
            return got
        value, grads = got
        if kind == "sum":
            return value * len(X), grads
        if kind == "grads_sum":
            return value, {k: v * len(X) for k, v in grads.items()}
        if kind == "no_dropout":
            return mlp_loss(params, X, y, {"mode": "eval", "keep_prob": 1.0})
        if kind == "keys":
            return value, {"dW1": grads["W1"]}
        return value, grads
    return loss


@pytest.mark.parametrize(("kind", "hint"), [
    ("sum", "MEAN over the N examples"), ("grads_sum", "divide the gradient by N"),
    ("no_dropout", "apply dropout"), ("keys", "keys of params")])
def test_mlp_loss_slips(kind, hint) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_mlp_loss(_loss_slip(kind))


def test_mlp_loss_that_skips_dropout_in_the_backward_pass_gets_its_hint() -> None:
    def loss(params, X, y, param):
        if y is None or param["mode"] == "eval" or param["keep_prob"] == 1.0:
            return mlp_loss(params, X, y, param)
        value = mlp_loss(params, X, y, param)[0]
        mask = np.random.default_rng(param["seed"]).random((len(X), len(params["b1"]))) \
            < param["keep_prob"]
        return value, chk._mlp_reference(params, X, y, mask, param["keep_prob"],
                                         drop_backward=False)[1]

    with pytest.raises(ExerciseError, match="go through dropout"):
        chk.check_mlp_loss(loss)


def _train_cheat(kind):
    def train(data, keep_prob, steps, lr, seed, hidden=64, batch_size=50, record_every=25):
        X, y, Xv, yv = data
        if kind == "untrained":
            steps_run = 0
        else:
            steps_run = steps
        run = train_dropout_net(data, keep_prob, max(steps_run, record_every), lr, seed,
                                hidden, batch_size, record_every)
        if kind == "untrained":
            rng = np.random.default_rng([seed, int(100 * keep_prob)])
            p = {"W1": rng.normal(size=(64, hidden)), "b1": np.zeros(hidden),
                 "W2": rng.normal(size=(hidden, 10)), "b2": np.zeros(10)}
            acc = float(np.mean(mlp_loss(p, Xv, None, {"mode": "eval", "keep_prob": 1})
                                .argmax(1) == yv))
            n = steps // record_every
            return {"step": list(range(record_every, steps + 1, record_every)),
                    "val_acc": [acc] * n, "best_step": record_every, "best": p, "last": p}
        if kind == "fake_acc":
            run["val_acc"] = [a + 0.05 for a in run["val_acc"]]   # same order, better look
        if kind == "best_is_last":
            run["best"] = run["last"]
        if kind == "no_dropout":
            return train_dropout_net(data, 1.0, steps, lr, seed, hidden, batch_size,
                                     record_every)
        if kind == "unseeded":
            return train_dropout_net(data, keep_prob, steps, lr,
                                     int(np.random.default_rng().integers(1000)), hidden,
                                     batch_size, record_every)
        if kind == "steps":
            run["step"] = list(range(len(run["step"])))
        if kind == "trains_on_val":
            both = (np.concatenate([X, Xv]), np.concatenate([y, yv]), Xv, yv)
            return train_dropout_net(both, keep_prob, steps, lr, seed, hidden, batch_size,
                                     record_every)
        return run
    return train


@pytest.mark.parametrize(("kind", "hint"), [
    ("untrained", "only"), ("fake_acc", "your record says"), ("best_is_last", "COPY"),
    ("no_dropout", "apply your dropout"), ("unseeded", "same seed gave another run"),
    ("trains_on_val", "only to measure"),
    ("steps", "record after every")])
def test_training_shortcuts_fail(kind, hint) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_train_dropout_net(_train_cheat(kind), seed=1)


def _closed_form_cheat(kind):
    """train_dropout_net without the training it asks for: seeded random ReLU features (Kaiming
    scale, so they look like an initialisation) and a least-squares readout of the one-hot
    labels, the "steps" and accuracies written to look like a run ("readout_knows_the_probe"
    returns Kaiming-looking weights when lr = 0). "gd_from_closed_form" starts
    honest gradient descent (full batch, no dropout) from that readout instead of from Kaiming
    weights, and runs the honest loop otherwise."""
    def train(data, keep_prob, steps, lr, seed, hidden=64, batch_size=50, record_every=25):
        X, y, Xv, yv = data
        rng = np.random.default_rng([seed, int(1000 * keep_prob)])   # dropout "matters"
        d = X.shape[1]
        W1 = rng.normal(0, np.sqrt(2 / d), (d, hidden))
        b1 = np.zeros(hidden)
        h = np.maximum(X @ W1, 0)
        W2 = np.linalg.lstsq(np.c_[h, np.ones(len(h))], np.eye(10)[y], rcond=None)[0]
        p = {"W1": W1, "b1": b1, "W2": W2[:-1], "b2": W2[-1]}
        if kind == "readout_knows_the_probe" and lr == 0:     # looks like an initialisation
            p = {"W1": W1, "b1": b1, "W2": rng.normal(0, np.sqrt(2 / hidden), (hidden, 10)),
                 "b2": np.zeros(10)}
        if kind == "gd_from_closed_form" and keep_prob == 1.0 and batch_size >= len(X):
            for _ in range(steps):
                grads = mlp_loss(p, X, y, {"mode": "train", "keep_prob": 1.0, "seed": 0})[1]
                p = {k: v - lr * grads[k] for k, v in p.items()}
        elif kind == "gd_from_closed_form":
            return train_dropout_net(data, keep_prob, steps, lr, seed, hidden, batch_size,
                                     record_every)
        acc = float(np.mean(mlp_loss(p, Xv, None, {"mode": "eval", "keep_prob": 1})
                            .argmax(1) == yv))
        n = steps // record_every
        curve = [acc * (i + 1) / n for i in range(n)]                 # a rising "curve"
        return {"step": list(range(record_every, steps + 1, record_every)), "val_acc": curve,
                "best_step": steps, "best": p, "last": p}
    return train


@pytest.mark.parametrize(("kind", "hint"), [
    ("readout", "Kaiming normal"),
    ("readout_knows_the_probe", "not 25 steps of plain gradient descent"),
    ("gd_from_closed_form", "Kaiming normal")])
def test_a_closed_form_classifier_through_a_relu_layer_fails(kind, hint) -> None:
    """The cheat reaches the accuracy, differs with keep_prob and seed and repeats a seed: the
    checks before the last two pass it; the replayed gradient descent and the initial weights
    do not."""
    cheat = _closed_form_cheat(kind)
    with pytest.raises(ExerciseError, match=hint):
        chk.check_train_dropout_net(cheat, seed=1)
    with pytest.raises(ExerciseError, match=hint):
        chk.check_train_dropout_net(cheat, seed=5, keep_prob=0.4)


def _no_dropout_cheat(kind):
    """train_dropout_net that never applies dropout: the honest keep_prob = 1 loop, made to
    differ when keep_prob < 1 by another seed ("new_seed") or a smaller step ("scaled_lr"), so
    that the probes at keep_prob = 1 (the initial weights, the full-batch replay) see an honest
    run."""
    def train(data, keep_prob, steps, lr, seed, hidden=64, batch_size=50, record_every=25):
        if keep_prob < 1 and kind == "new_seed":
            seed += 1
        if keep_prob < 1 and kind == "scaled_lr":
            lr *= keep_prob
        return train_dropout_net(data, 1.0, steps, lr, seed, hidden, batch_size, record_every)
    return train


@pytest.mark.parametrize("kind", ["new_seed", "scaled_lr"])
def test_training_without_dropout_fails(kind) -> None:
    cheat = _no_dropout_cheat(kind)
    for seed, keep_prob in ((0, 0.6), (5, 0.4)):
        with pytest.raises(ExerciseError, match="not a dropout step"):
            chk.check_train_dropout_net(cheat, seed=seed, keep_prob=keep_prob)


def test_one_dropout_mask_for_the_whole_run_fails() -> None:
    """The dropout seed drawn once (a fixed mask: pruning, not dropout) passed every check."""
    def fixed_mask(data, keep_prob, steps, lr, seed, hidden=64, batch_size=50, record_every=25):
        global mlp_loss
        real = mlp_loss

        def one_seed(params, X, y, dropout_param):
            if dropout_param.get("mode") == "train":
                dropout_param = dict(dropout_param, seed=seed)
            return real(params, X, y, dropout_param)
        mlp_loss = one_seed
        try:
            return train_dropout_net(data, keep_prob, steps, lr, seed, hidden, batch_size,
                                     record_every)
        finally:
            mlp_loss = real

    for seed, keep_prob in ((0, 0.6), (5, 0.4)):
        with pytest.raises(ExerciseError, match="new dropout seed for every step"):
            chk.check_train_dropout_net(fixed_mask, seed=seed, keep_prob=keep_prob)


@pytest.mark.parametrize("call", [
    lambda: chk.check_dropout_layer(stub), lambda: chk.check_mlp_loss(stub),
    lambda: chk.check_dropout_layer_backward(dropout_forward, stub),
    lambda: chk.check_expected_loss(stub), lambda: chk.check_train_dropout_net(stub)])
def test_stub_is_not_attempted(call) -> None:
    with pytest.raises(NotAttemptedError, match="not implemented yet"):
        call()


@pytest.mark.parametrize(("call", "match"), [
    (lambda: chk.check_dropout_layer(dropout_forward, keep_prob=0.5), "not 0.5"),
    (lambda: chk.check_dropout_layer(dropout_forward, keep_prob=1.0), r"in \(0, 1\)"),
    (lambda: chk.check_mlp_loss(mlp_loss, seed=-1), "seed must be"),
    (lambda: chk.check_dropout_layer(dropout_forward, shape=(0, 2)), "shape must be"),
    (lambda: chk.check_expected_loss(good_loss, n=1), "n and d must be ints >= 2"),
    (lambda: chk.check_train_dropout_net(train_dropout_net, steps=110), "multiple of 25"),
])
def test_bad_check_arguments(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_a_passing_check_warns_when_the_grader_would_refuse_the_code(capsys):
    """An answer that is right but uses what the grader refuses (here np.testing) passes the
    notebook's check with a warning naming the line, since the grader scores it 0."""
    from trainlab.checks import passed

    def refused_forward(x, dropout_param):
        out, cache = dropout_forward(x, dropout_param)
        np.testing.assert_equal(out.shape, x.shape)
        return out, cache

    chk.check_dropout_layer(refused_forward, seed=0, keep_prob=0.8)
    passed("Exercise 1")
    out = capsys.readouterr().out
    assert "✓ Exercise 1: all checks passed" in out
    assert "⚠ but the grader will score it 0: refused_forward uses `.testing` (line 3 " \
           "counting from its def)" in out
    chk.check_dropout_layer(dropout_forward, seed=0, keep_prob=0.8)
    passed("Exercise 1")
    assert capsys.readouterr().out == "✓ Exercise 1: all checks passed\n"
