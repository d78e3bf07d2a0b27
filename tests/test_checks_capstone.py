"""The capstone (lesson 08): the checks of the layer library, the network, the update rules,
the solver and the gradient check pass the lesson's own solutions and catch common slips; the
training is graded on the returned *network* (parameters checked against the declared
architecture, held-out images predicted by the grader), so the known hacks earn nothing."""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from trainlab.checks import ExerciseError, NotAttemptedError, grading
from trainlab.checks import capstone as cap_checks

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "08_capstone.ipynb"


def _fails(call, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        call()


def _cells() -> list[dict]:
    return json.loads(LESSON.read_text(encoding="utf-8"))["cells"]


@pytest.fixture(scope="module")
def sol() -> dict:
    """The lesson's solution cells, run in one namespace (as the grader's sandbox runs them)."""
    ns: dict = {"np": np, "math": math}
    for cell in _cells():
        if cell["metadata"].get("nbgrader", {}).get("solution") and cell["cell_type"] == "code":
            exec("".join(cell["source"]), ns)  # noqa: S102 - the committed lesson
    return ns


def test_tiers_rise_to_the_target_and_the_grading_seeds_are_three():
    assert cap_checks.TIERS == tuple(sorted(cap_checks.TIERS))
    assert cap_checks.TIERS[-1] == cap_checks.TARGET_ACCURACY == 0.96
    assert len(set(cap_checks.SEEDS)) >= 3


def test_the_lessons_check_cell_grades_every_tier_once():
    cell = next(c for c in _cells()
                if c["metadata"].get("nbgrader", {}).get("grade_id") == "08-ex7-check")
    targets = [kw.value.value for node in ast.walk(ast.parse("".join(cell["source"])))
               if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "check_training"
               for kw in node.keywords if kw.arg == "target"]
    assert tuple(targets) == cap_checks.TIERS


def test_every_solution_cell_fits_under_the_graders_size_cap():
    for cell in _cells():
        if cell["metadata"].get("nbgrader", {}).get("solution") and cell["cell_type"] == "code":
            assert len("".join(cell["source"])) < grading.MAX_SOLUTION_CHARS / 1.5


# --------------------------------------------------------------------------------------------
# layers, loss, update rules, network, gradient check, solver
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 3])
def test_the_lessons_solutions_pass_every_check(sol, seed):
    cap_checks.check_affine(sol["affine_forward"], sol["affine_backward"], seed=seed)
    cap_checks.check_relu(sol["relu_forward"], sol["relu_backward"], seed=seed)
    cap_checks.check_batchnorm(sol["batchnorm_forward"], sol["batchnorm_backward"], seed=seed)
    cap_checks.check_layernorm(sol["layernorm_forward"], sol["layernorm_backward"], seed=seed)
    cap_checks.check_dropout(sol["dropout_forward"], sol["dropout_backward"], seed=seed)
    cap_checks.check_softmax_loss(sol["softmax_loss"], seed=seed)
    for rule in cap_checks.DEFAULTS:
        cap_checks.check_update_rule(sol[rule], rule, seed=seed)
    for norm in cap_checks.NORMALIZATIONS:
        cap_checks.check_fc_net(sol["FullyConnectedNet"], seed=seed, normalization=norm,
                                keep_prob=0.8)
    cap_checks.check_gradient_errors(sol["gradient_errors"], seed=seed)
    cap_checks.check_solver(sol["Solver"], sol["FullyConnectedNet"], seed=seed)


def test_layer_slips_get_their_hints(sol):
    fwd = sol["affine_forward"]
    _fails(lambda: cap_checks.check_affine(
        fwd, lambda d, c: (d @ c[1].T, c[0].T @ d, d.mean(0))), "sums dout")

    def bn_old_convention(x, g, b, p):
        out, cache = sol["batchnorm_forward"](x, g, b, p)
        if p["mode"] == "train":
            p["running_mean"] = 0.9 * x.mean(0)
        return out, cache

    _fails(lambda: cap_checks.check_batchnorm(bn_old_convention, sol["batchnorm_backward"]),
           "torch's convention")

    def ln_over_batch(x, g, b, p):
        return sol["batchnorm_forward"](x, g, b, {"mode": "train"})

    _fails(lambda: cap_checks.check_layernorm(ln_over_batch, sol["layernorm_backward"]),
           "EXAMPLE")

    def drop_prob(x, p):
        return sol["dropout_forward"](x, {**p, "keep_prob": 1 - p["keep_prob"]})

    _fails(lambda: cap_checks.check_dropout(drop_prob, sol["dropout_backward"]),
           "KEEPING")

    def dropout_in_eval(x, p):
        return sol["dropout_forward"](x, {**p, "mode": "train"})

    _fails(lambda: cap_checks.check_dropout(dropout_in_eval, sol["dropout_backward"]),
           "eval")


def test_update_rule_and_network_slips_fail(sol):
    def adam_uncorrected(w, dw, config=None):
        config = config or {}
        config.setdefault("m", np.zeros_like(w))
        config.setdefault("v", np.zeros_like(w))
        config["m"] = 0.9 * config["m"] + 0.1 * dw
        config["v"] = 0.999 * config["v"] + 0.001 * dw * dw
        return w - 1e-3 * config["m"] / (np.sqrt(config["v"]) + 1e-8), config

    _fails(lambda: cap_checks.check_update_rule(adam_uncorrected, "adam"), "bias-correct")
    _fails(lambda: cap_checks.check_update_rule(sol["sgd"], "sgd_momentum"), "sgd_momentum")

    class NoReg(sol["FullyConnectedNet"]):
        def __init__(self, *args, reg=0.0, **kwargs):
            super().__init__(*args, **kwargs)

    _fails(lambda: cap_checks.check_fc_net(NoReg), "0.5 \\* reg")

    class NoEvalMode(sol["FullyConnectedNet"]):
        def loss(self, X, y=None):
            if y is None:
                return super().loss(X, np.zeros(len(X), dtype=int))[0] * np.ones((len(X), 1))
            return super().loss(X, y)

    _fails(lambda: cap_checks.check_fc_net(NoEvalMode, normalization="batchnorm"),
           "eval mode")


def test_gradient_check_and_solver_slips_fail(sol):
    _fails(lambda: cap_checks.check_gradient_errors(
        lambda f, p, h=1e-6: {k: 0.0 for k in p}), "wrong in one entry")

    def over_h(loss_fn, params, h=1e-6):       # divides the centred difference by h, not 2h
        analytic, out = loss_fn(params)[1], {}
        for k, w in params.items():
            n = np.zeros_like(w)
            for i in np.ndindex(w.shape):
                w[i] += h
                up = loss_fn(params)[0]
                w[i] -= 2 * h
                n[i] = (up - loss_fn(params)[0]) / h
                w[i] += h
            out[k] = float(np.max(np.abs(analytic[k] - n) / (np.abs(analytic[k]) + np.abs(n))))
        return out

    _fails(lambda: cap_checks.check_gradient_errors(over_h), "gradient is right")

    class NoDecay(sol["Solver"]):
        def __init__(self, *args, lr_decay=1.0, **kwargs):
            super().__init__(*args, **kwargs)

    _fails(lambda: cap_checks.check_solver(NoDecay, sol["FullyConnectedNet"]), "lr_decay")

    def stub(*a, **k):
        raise NotImplementedError

    with pytest.raises(NotAttemptedError):
        cap_checks.check_solver(sol["Solver"], stub)


def test_a_network_that_never_updates_its_running_averages_fails(sol):
    """A FullyConnectedNet that hands batchnorm_forward a copy of its bn_params (running mean 0
    and variance 1 forever) used to pass: the eval-mode check compared with the model's own,
    stale, running averages."""
    ns = {"np": np, "math": math}
    for qid in ("08-ex1", "08-ex2"):
        exec(grading.load_lesson(LESSON).references[qid], ns)  # noqa: S102
    src = grading.load_lesson(LESSON).references["08-ex4"]
    old = 'self.bn_params = [{"mode": "train"} for _ in self.hidden_dims]'
    assert old in src and "self.bn_params[i - 1])" in src
    src = src.replace(old, 'self.bn_params = [{"mode": "train", "running_mean": np.zeros(h), '
                           '"running_var": np.ones(h)} for h in self.hidden_dims]')
    exec(src.replace("self.bn_params[i - 1])", "dict(self.bn_params[i - 1]))"), ns)  # noqa: S102
    for seed in (0, 6):
        _fails(lambda seed=seed: cap_checks.check_fc_net(ns["FullyConnectedNet"], seed=seed,
                                                         normalization="batchnorm"),
               "running_mean.*not copies")
    cap_checks.check_fc_net(ns["FullyConnectedNet"], seed=0, normalization="layernorm")


def test_a_solver_that_only_fills_in_its_histories_fails(sol):
    """train() that reports plausible histories (one loss per batch, falling; the model's own
    validation accuracy every epoch) but never updates the parameters used to pass."""
    class NoTraining:
        def __init__(self, model, data, update_rule="sgd", optim_config=None, lr_decay=1.0,
                     batch_size=100, num_epochs=10, seed=0, augment=None):
            self.model, self.data = model, data
            self.lr_decay, self.batch_size, self.num_epochs = lr_decay, batch_size, num_epochs

        def train(self):
            per_epoch = -(-len(self.data["X_train"]) // self.batch_size)
            scores = self.model.loss(self.data["X_val"])
            acc = float(np.mean(scores.argmax(axis=1) == self.data["y_val"]))
            first = [2.0 if self.lr_decay > 0 else 1.0] * per_epoch
            self.loss_history = first + [1.0] * (per_epoch * (self.num_epochs - 1))
            self.val_acc_history = [acc] * self.num_epochs
            self.best_val_acc = acc
            return self

    for seed in (0, 3, 4):
        _fails(lambda seed=seed: cap_checks.check_solver(NoTraining, sol["FullyConnectedNet"],
                                                         seed=seed), "did not train")


def test_a_solver_that_ignores_the_update_rule_fails(sol):
    """train() that always takes plain SGD steps (whatever update_rule names, never calling the
    learner's update rules) with the right histories and lr_decay used to pass: the check ran
    the Solver with "sgd" only. Now it also replays a full-batch Adam run."""
    class SgdOnly(sol["Solver"]):
        def __init__(self, model, data, update_rule="sgd", *args, **kwargs):
            super().__init__(model, data, "sgd", *args, **kwargs)

    for seed in (0, 3, 4):
        _fails(lambda seed=seed: cap_checks.check_solver(SgdOnly, sol["FullyConnectedNet"],
                                                         seed=seed), "update_rule='adam'")


# --------------------------------------------------------------------------------------------
# the trained network: graded on its parameters, on a split it never saw
# --------------------------------------------------------------------------------------------
def _tiny_split(monkeypatch):
    """200 training and 40 held-out 12-pixel 'images' whose first 10 pixels one-hot encode the
    label."""
    rng = np.random.default_rng(0)
    y_train, y_val = rng.integers(0, 10, 200), rng.integers(0, 10, 40)
    x_train = np.hstack([np.eye(10)[y_train], rng.random((200, 2))]).astype(np.float32)
    x_val = np.hstack([np.eye(10)[y_val], rng.random((40, 2))]).astype(np.float32)
    monkeypatch.setattr(cap_checks, "_mnist", lambda: (x_train, y_train, x_val, y_val))
    cap_checks._RESULTS.clear()
    return x_train, y_train, x_val, y_val


RECIPE = {"hidden_dims": [10], "normalization": None, "init": 0.5, "keep_prob": 1.0,
          "reg": 0.0, "update_rule": "sgd", "optim_config": {"learning_rate": 0.5},
          "lr_decay": 1.0, "batch_size": 5, "num_epochs": 30, "shift": 0, "n_val": 20,
          "eps": 1e-2}
"""A recipe that learns the tiny split: the grader's training reaches a median of 1.0 over
seeds, also for its 2-epoch probe."""


def _net(shift_labels=0, hidden=10, normalization=None):
    """A network reading the one-hot pixels: right when shift_labels == 0."""
    w1, w2 = np.zeros((12, hidden)), np.zeros((hidden, 10))
    w1[:10, :10], w2[:10] = np.eye(10), np.roll(np.eye(10), shift_labels, axis=1)
    return {"hidden_dims": [hidden], "normalization": normalization,
            "params": {"W1": w1, "b1": np.zeros(hidden), "W2": w2, "b2": np.zeros(10)},
            "mean": np.zeros(12), "std": np.ones(12)}


def _honest(xt, yt, seed, recipe=None):
    """A learner's train_capstone that trains (with the grader's own trainer)."""
    net = cap_checks.train_recipe(xt, yt, cap_checks.recipe_of(recipe or RECIPE, 200, 12), seed)
    return {"hidden_dims": (recipe or RECIPE)["hidden_dims"], "normalization": None,
            "params": net["params"], "mean": net["mean"], "std": net["std"]}


def test_the_grader_trains_the_recipe_itself_and_grades_its_median(monkeypatch):
    x_train, y_train, x_val, y_val = _tiny_split(monkeypatch)
    calls = []

    def spy(xt, yt, seed, recipe=None):
        calls.append((seed, recipe))
        return _honest(xt, yt, seed, recipe)

    for target in cap_checks.TIERS:       # the runs are shared by the tiers
        cap_checks.check_training(lambda: RECIPE, spy, target=target, seed=0)
    assert [seed for seed, _ in calls] == [0, 1]          # two trainings of the probe
    probe = calls[0][1]
    assert probe == cap_checks.probe_recipe(cap_checks.recipe_of(RECIPE, 200, 12), 0)
    assert probe["hidden_dims"] == [16] and probe["num_epochs"] == cap_checks.PROBE_EPOCHS
    accs = cap_checks.rerun_accuracies(lambda: RECIPE)
    assert len(accs) == 3 and np.median(accs) == 1.0 and accs.min() >= 0.9
    recipe = cap_checks.recipe_of(RECIPE, 200, 12)
    runs = [cap_checks.train_recipe(x_train, y_train, recipe, seed) for seed in (0, 1)]
    assert not np.array_equal(runs[0]["params"]["W1"], runs[1]["params"]["W1"])  # per seed
    # the median of the grader's runs is graded, whatever the learner's code returns
    real = cap_checks.train_recipe

    def wrong_for_seeds_1_and_2(xt, yt, recipe, seed):
        if recipe["num_epochs"] == RECIPE["num_epochs"] and seed != 0:   # not the probe
            return cap_checks.network_from_spec(_net(1), 12)
        return real(xt, yt, recipe, seed)

    monkeypatch.setattr(cap_checks, "train_recipe", wrong_for_seeds_1_and_2)
    cap_checks._RESULTS.clear()
    _fails(lambda: cap_checks.check_training(lambda: RECIPE, spy, seed=0),
           r"median held-out accuracy of 0\.0000 over seeds 0, 1, 2 \(\d\.\d{4}, 0\.0000, "
           r"0\.0000\), below 0\.96")


def test_a_train_capstone_that_does_not_train_what_the_recipe_says_fails(monkeypatch):
    _tiny_split(monkeypatch)
    # one stored network whatever the recipe: not the probe's architecture
    _fails(lambda: cap_checks.check_training(lambda: RECIPE, lambda xt, yt, seed, recipe=None:
                                             _net()), "train what the recipe says")
    # the probe's architecture, but not trained by it (wrong labels)
    _fails(lambda: cap_checks.check_training(
        lambda: RECIPE, lambda xt, yt, seed, recipe=None: _net(3, recipe["hidden_dims"][0])),
        r"reach 0\.0000, 0\.0000 .* the grader's trainings of the same recipe .* within 0\.0")


def test_the_training_code_never_gets_the_held_out_split(monkeypatch):
    x_train, y_train, x_val, y_val = _tiny_split(monkeypatch)
    seen = []

    def spy(*args, **kwargs):
        seen.append((args, kwargs))
        return _honest(*args, **kwargs)

    cap_checks.check_training(lambda: RECIPE, spy, target=0.94, seed=3)
    assert [(len(args), list(kwargs), args[2]) for args, kwargs in seen] == [
        (3, ["recipe"], 3), (3, ["recipe"], 4)]
    args, _ = seen[0]
    assert np.array_equal(args[0], x_train) and np.array_equal(args[1], y_train)


@pytest.mark.parametrize("hack, why", [
    (lambda net: net["params"]["W2"].argmax(1), "not ndarray"),   # predictions, not a network
    (lambda net: [3] * 20, "not list"),                            # pasted labels
    (lambda net: {**net, "hidden_dims": [8000]}, "hidden_dims"),   # a lookup of every image
    (lambda net: {**net, "params": {**net["params"], "W1": np.zeros((12, 9))}}, "shape"),
    (lambda net: {**net, "params": {**net["params"], "W3": np.zeros((10, 10))}}, "exactly"),
    (lambda net: {**net, "params": {**net["params"], "b2": np.full(10, np.nan)}}, "nan"),
    (lambda net: {**net, "normalization": "batchnorm"}, "exactly"),
    (lambda net: {**net, "std": np.zeros(12)}, "positive"),
    (lambda net: {**net, "mean": [0.0] * 12}, "NumPy array"),
])
def test_networks_that_do_not_match_their_architecture_are_refused(monkeypatch, hack, why):
    _tiny_split(monkeypatch)
    with pytest.raises(ExerciseError) as info:
        cap_checks.check_training(lambda: RECIPE, lambda xt, yt, seed, recipe=None:
                                  hack(_net(hidden=recipe["hidden_dims"][0])))
    message = str(info.value)
    if why.startswith("not "):
        assert "the trained network" in message and why[4:] in message
    else:
        assert why in message


@pytest.mark.parametrize("change, why", [
    ({"warmup": 3}, r"unknown keys \['warmup'\]"),
    ({"eps": "DROP"}, r"lacks \['eps'\]"),
    ({"keep_prob": 0.0}, r"recipe\['keep_prob'\] = 0\.0 is outside its valid range 0\.05 to 1"),
    ({"batch_size": 2.5}, "whole number"),
    ({"num_epochs": True}, "must be a number"),
    ({"update_rule": "lbfgs"}, "update_rule"),
    ({"optim_config": {"beta1": 0.9}}, "keys among"),
    ({"optim_config": {"learning_rate": 50}},
     r"recipe\['optim_config'\]\['learning_rate'\] = 50 is outside"),
    ({"hidden_dims": [0]}, "hidden_dims"),
    ({"normalization": "groupnorm"}, "normalization"),
    ({"init": "xavier"}, "'kaiming' or a weight scale"),
    ({"init": [0.1]}, "must be a number"),
    ({"batch_size": float("nan")}, "finite"),
    ({"update_rule": ["adam"]}, "update_rule"),
    ({"hidden_dims": [True, 8]}, "hidden_dims"),
    ({"shift": 1}, "28 x 28"),
    ({"n_val": 199}, "leaves no training images"),
    ({"n_val": 0}, r"n_val.\] = 0 is outside its valid range 1 to 4000"),
])
def test_recipes_the_grader_cannot_run_are_refused_with_the_reason(monkeypatch, change, why):
    _tiny_split(monkeypatch)
    recipe = {k: v for k, v in {**RECIPE, **change}.items() if v != "DROP"}
    with pytest.raises(ExerciseError) as info:
        cap_checks.check_training(lambda: recipe, _honest)
    assert re.search(why, str(info.value)), str(info.value)


def test_a_recipe_that_costs_more_than_three_references_is_refused():
    recipe = {**RECIPE, "hidden_dims": [1024] * 3, "num_epochs": 30, "batch_size": 200}
    _fails(lambda: cap_checks.recipe_of(recipe), "more than the grader's")
    assert cap_checks.recipe_of({**recipe, "num_epochs": 3})["num_epochs"] == 3


def test_batch_norm_networks_need_their_running_averages():
    net = _net(normalization="batchnorm")
    net["params"].update(gamma1=np.ones(10), beta1=np.zeros(10))
    _fails(lambda: cap_checks.network_from_spec(net, 12), "bn_params")
    net["bn_params"] = [{"running_mean": np.full(10, 0.5), "running_var": np.full(10, 4.0)}]
    x = np.hstack([np.eye(10), np.zeros((10, 2))])
    np.testing.assert_array_equal(cap_checks.predict(cap_checks.network_from_spec(net, 12), x),
                                  np.arange(10))      # (1 - 0.5) / 2 > (0 - 0.5) / 2: as trained


def test_the_graders_training_matches_the_lessons_train_capstone(sol):
    """train_recipe, fed a small version of the lesson's recipe, lands where the lesson's own
    train_capstone does (within the agreement the check asks for)."""
    x_train, y_train, x_val, y_val = cap_checks._mnist()
    small = cap_checks.probe_recipe(cap_checks.recipe_of(sol["capstone_recipe"]()), 0)
    spec = sol["train_capstone"](x_train, y_train, 0, recipe=small)
    mine = np.mean(cap_checks.predict(cap_checks.network_from_spec(spec), x_val) == y_val)
    grader = cap_checks.train_recipe(x_train, y_train, small, 0)
    theirs = np.mean(cap_checks.predict(grader, x_val) == y_val)
    assert 0.85 < theirs and abs(mine - theirs) <= cap_checks.AGREEMENT, (mine, theirs)


def test_a_linear_classifier_earns_no_credit():
    """The bar's baseline, measured as in the lesson: multinomial logistic regression on the
    standardised pixels at the lesson's best C stays 2 points below the lowest tier."""
    from sklearn.linear_model import LogisticRegression

    x_train, y_train, x_val, y_val = cap_checks._mnist()
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-2
    model = LogisticRegression(C=0.01, tol=1e-5, max_iter=2000)
    model.fit((x_train.astype(np.float64) - mean) / std, y_train)
    acc = float(np.mean(model.predict((x_val.astype(np.float64) - mean) / std) == y_val))
    assert 0.9 < acc < cap_checks.TIERS[0] - 0.02
    assert cap_checks.TARGET_ACCURACY >= acc + 0.04


# --------------------------------------------------------------------------------------------
# the grader, end to end: cheats in the student's cell
# --------------------------------------------------------------------------------------------
def _graded_with(ex7_source: str) -> grading.Question:
    nb = nbformat.read(LESSON, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if gid == "08-ex7-solution":
            cell.source = ex7_source
    lesson = grading.load_lesson(LESSON)
    lesson.questions = [q for q in lesson.questions if q.qid == "08-ex7"]
    sub = grading.grade_notebook(json.loads(nbformat.writes(nb)), lesson, timeout=120.0)
    (q,) = sub.questions
    return q


GOOD_RECIPE = ("def capstone_recipe():\n"
               "    return {'hidden_dims': [256, 128], 'normalization': 'batchnorm',\n"
               "            'init': 'kaiming', 'keep_prob': 0.9, 'reg': 0.0,\n"
               "            'update_rule': 'sgd_momentum', 'lr_decay': 0.9,\n"
               "            'optim_config': {'learning_rate': 0.1, 'momentum': 0.9},\n"
               "            'batch_size': 200, 'num_epochs': 15, 'shift': 1, 'n_val': 500,\n"
               "            'eps': 1e-2}\n")
"""The lesson's recipe: every cheat below declares it, so the grader's own training of it
would clear every tier; what is tested is the learner's train_capstone."""


def _random_features_cheat() -> str:
    """A network fitted offline on the held-out images and pasted: 512 random ReLU features
    (drawn from a seed, so they cost no characters) and a 4-bit readout fitted by ridge
    regression to the held-out labels, as hex (about 5,100 characters). Its held-out accuracy
    is above the bar."""
    x_train, _, x_val, y_val = cap_checks._mnist()
    x = x_train.astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-2
    w1 = np.random.default_rng(0).standard_normal((784, 512)) * math.sqrt(2 / 784)
    h = np.maximum((x_val - mean) / std @ w1, 0)
    w2 = np.linalg.solve(h.T @ h + 10 * np.eye(512), h.T @ np.eye(10)[y_val])
    scale = float(np.abs(w2).max() / 7)
    q = (np.clip(np.round(w2 / scale), -8, 7).astype(int) + 8).ravel()
    assert np.mean((h @ ((q.reshape(512, 10) - 8) * scale)).argmax(1) == y_val) > 0.96
    return (GOOD_RECIPE + f"Q = '{''.join('0123456789abcdef'[v] for v in q)}'\n"
            "def train_capstone(x_train, y_train, seed, recipe=None):\n"
            "    x = x_train.astype(np.float64)\n"
            "    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-2\n"
            "    w1 = np.random.default_rng(0).standard_normal((784, 512)) * np.sqrt(2 / 784)\n"
            "    q = np.array([int(c, 16) for c in Q]).reshape(512, 10) - 8\n"
            f"    w2 = q * {scale!r}\n"
            "    params = {'W1': w1, 'b1': np.zeros(512), 'W2': w2, 'b2': np.zeros(10)}\n"
            "    return {'hidden_dims': [512], 'normalization': None, 'mean': mean, 'std': std,\n"
            "            'params': params}\n")


CHEATS = {
    "pasted labels": GOOD_RECIPE + "def train_capstone(x_train, y_train, seed, recipe=None):\n"
                     "    return np.array([7, 2, 1, 0] * 500)\n",
    "reads files": GOOD_RECIPE + "def train_capstone(x_train, y_train, seed, recipe=None):\n"
                   "    return np.load('/work/shared/data/mnist.npz')\n",
    "imports trainlab": GOOD_RECIPE +
                        "def train_capstone(x_train, y_train, seed, recipe=None):\n"
                        "    from trainlab.data import load_mnist\n"
                        "    return load_mnist(split='val')[1]\n",
    "pasted weights": "W = [" + ", ".join(["0.123456"] * 3000) + "]\n" + GOOD_RECIPE +
                      "def train_capstone(x_train, y_train, seed, recipe=None):\n    return W\n",
    "1-NN": GOOD_RECIPE + "def train_capstone(x_train, y_train, seed, recipe=None):\n"
            "    return {'hidden_dims': [len(x_train)], 'normalization': None,\n"
            "            'params': {'W1': x_train.T.copy(), 'b1': np.zeros(len(x_train)),\n"
            "                       'W2': np.eye(10)[y_train], 'b2': np.zeros(10)},\n"
            "            'mean': np.zeros(784), 'std': np.ones(784)}\n",
    "network fitted on the held-out images": None,   # built by _random_features_cheat
}


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_known_hacks_score_nothing_in_the_grader(cheat):
    source = CHEATS[cheat] or _random_features_cheat()
    assert len(source) <= grading.MAX_SOLUTION_CHARS or cheat == "pasted weights"
    q = _graded_with(source)
    assert q.score == 0, [(p.status, p.message) for p in q.parts]
    messages = " ".join(p.message for p in q.parts) + q.note
    expected = {"pasted labels": "the trained network", "reads files": "may not use",
                "imports trainlab": "trainlab", "pasted weights": "12,000",
                "1-NN": "hidden_dims", "network fitted on the held-out images":
                    "train what the recipe says"}[cheat]
    assert expected in messages, messages
