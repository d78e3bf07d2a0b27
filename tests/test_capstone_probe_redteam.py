"""Red-team tests of the capstone's exercise 7 grading (lesson 08, check_training): cheats and
grader faults found by a cheating-student review. Each test fails while the hole is open."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.checks import ExerciseError, grading
from trainlab.checks import capstone as cap_checks

REFERENCE = {"hidden_dims": [256, 128], "normalization": "batchnorm", "init": "kaiming",
             "keep_prob": 0.9, "reg": 0.0, "update_rule": "sgd_momentum",
             "optim_config": {"learning_rate": 0.1, "momentum": 0.9}, "lr_decay": 0.9,
             "batch_size": 200, "num_epochs": 15, "shift": 1, "n_val": 500, "eps": 1e-2}
"""The lesson's published recipe (its grader training clears every tier)."""


def _linear_in_the_probes_shape(w: np.ndarray, b: np.ndarray):
    """A train_capstone that trains nothing: it returns the linear classifier (w, b), fitted
    elsewhere, embedded exactly into whatever architecture the recipe names (layer 1 computes
    the 10 scores plus a constant that keeps them positive, every later layer copies them,
    batch norm at running mean 0 and variance 1)."""
    def train_capstone(x_train, y_train, seed, recipe=None):
        dims, norm = [784, *recipe["hidden_dims"], 10], recipe["normalization"]
        params = {}
        for i in range(1, len(dims)):
            params[f"W{i}"], params[f"b{i}"] = np.zeros(dims[i - 1:i + 1]), np.zeros(dims[i])
            if i > 1:
                params[f"W{i}"][:10, :10] = np.eye(10)
            if norm and i < len(dims) - 1:
                params[f"gamma{i}"], params[f"beta{i}"] = np.ones(dims[i]), np.zeros(dims[i])
        params["W1"][:, :10], params["b1"][:10] = w, b + 1000.0
        return {"hidden_dims": recipe["hidden_dims"], "normalization": norm, "params": params,
                "bn_params": [{"running_mean": np.zeros(h), "running_var": np.ones(h)}
                              for h in recipe["hidden_dims"]],
                "mean": np.zeros(784), "std": np.ones(784)}
    return train_capstone


def test_a_pasted_linear_classifier_in_the_probes_shape_earns_nothing():
    """The lesson's linear baseline (0.9155 held-out) lands within AGREEMENT of the grader's
    2-epoch probe (0.915): 7,840 weights, pasted one Unicode character each, fit under the
    12,000-character cap, and with the published recipe they scored 3/3 in grade_notebook
    (reproducer: /tmp/r25/linear_cheat.py of the review)."""
    from sklearn.linear_model import LogisticRegression

    x_train, y_train, _, _ = cap_checks._mnist()
    x = x_train.astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-2
    model = LogisticRegression(C=0.01, tol=1e-5, max_iter=2000).fit((x - mean) / std, y_train)
    w = model.coef_.T / std[:, None]
    b = model.intercept_ - (mean / std) @ model.coef_.T
    cap_checks._RESULTS.clear()
    with pytest.raises(ExerciseError):
        cap_checks.check_training(dict(REFERENCE), _linear_in_the_probes_shape(w, b),
                                  target=cap_checks.TIERS[0], seed=0)


def test_a_result_is_never_handed_to_another_learners_function(monkeypatch):
    """_RESULTS keys a training by id(train_fn) and is never cleared between submissions (a
    `homework.py grade` worker grades many): a later learner's proxy that gets the address of
    a freed one inherits its result. Here A's right network passes, then B's wrong one (every
    label off by 3) must fail."""
    rng = np.random.default_rng(0)
    y_train, y_val = rng.integers(0, 10, 40), rng.integers(0, 10, 20)
    x_train = np.hstack([np.eye(10)[y_train], rng.random((40, 2))]).astype(np.float32)
    x_val = np.hstack([np.eye(10)[y_val], rng.random((20, 2))]).astype(np.float32)
    monkeypatch.setattr(cap_checks, "_mnist", lambda: (x_train, y_train, x_val, y_val))
    cap_checks._RESULTS.clear()
    recipe = {"hidden_dims": [10], "normalization": None, "init": 0.5, "keep_prob": 1.0,
              "reg": 0.0, "update_rule": "sgd", "optim_config": {"learning_rate": 0.5},
              "lr_decay": 1.0, "batch_size": 2, "num_epochs": 30, "shift": 0, "n_val": 0,
              "eps": 1e-2}

    class Learner:                      # stands for grading.StudentFunction
        def __init__(self, shift: int) -> None:
            self.shift = shift

        def __call__(self, xt, yt, seed, recipe=None):
            h = recipe["hidden_dims"][0]
            w1, w2 = np.zeros((12, h)), np.zeros((h, 10))
            w1[:10, :10], w2[:10] = np.eye(10), np.roll(np.eye(10), self.shift, axis=1)
            return {"hidden_dims": [h], "normalization": None, "mean": np.zeros(12),
                    "std": np.ones(12),
                    "params": {"W1": w1, "b1": np.zeros(h), "W2": w2, "b2": np.zeros(10)}}

    a = Learner(0)
    address = id(a)
    cap_checks.check_training(recipe, a, target=0.96, seed=0)
    del a
    b = next((obj for obj in (Learner(3) for _ in range(1000)) if id(obj) == address),
             Learner(3))      # A's address again where CPython frees A (it does today)
    with pytest.raises(ExerciseError, match="reaches 0.0000"):
        cap_checks.check_training(recipe, b, target=0.96, seed=0)


def test_a_recipe_made_of_python_overhead_is_refused():
    """MAX_COST counts multiply-adds only: batch_size 2, 200 epochs of six 16-unit layers costs
    2.3e10 (under 7.9e10) yet 2.4 million steps of the grader's own training, about 1.7 ms CPU
    each: over an hour in the grading process, outside the sandbox's deadline."""
    slow = {**REFERENCE, "hidden_dims": [16] * 6, "batch_size": 2, "num_epochs": 200,
            "n_val": 0, "update_rule": "adam", "optim_config": {}, "keep_prob": 0.5}
    with pytest.raises(ExerciseError):
        cap_checks.recipe_of(slow)


def test_the_probe_is_drawn_from_the_lecturers_secret():
    """probe_recipe draws its width factor from the check's seed, but 08-ex7's check calls are
    not hidden parts, so _with_secret_seeds never rewrites their seed=0: with or without a
    secret the probe is always factor 5 ([51, 25] for the lesson's recipe)."""
    from pathlib import Path

    lesson = grading.load_lesson(Path(__file__).resolve().parents[1] / "notebooks" /
                                 "08_capstone.ipynb")
    (q,) = [q for q in lesson.questions if q.qid == "08-ex7"]
    assert any(p.hidden for p in q.parts), [(p.label, p.hidden) for p in q.parts]


def test_an_honest_train_capstone_with_its_own_seed_stream_passes_the_probe():
    """The probe's AGREEMENT (0.015) was sized on the reference recipe's seed spread (about
    0.004). With Adam at 1e-2 and batches of 100, a recipe the grader's own training takes to a
    0.972 median, 2-epoch probes spread much wider (sd 0.0085 over 12 seeds, 0.9005-0.9315): the
    grader's own trainer, run with the learner's seed stream 3 instead of 0-2, lands 0.0305
    below the grader's median and the learner loses all three points; over 12 seeds such an
    honest learner fails about 1 time in 9 from seed noise alone."""
    recipe = {**REFERENCE, "update_rule": "adam", "optim_config": {"learning_rate": 1e-2},
              "batch_size": 100}

    def honest(x, y, seed, recipe=None):
        net = cap_checks.train_recipe(x, y, cap_checks.recipe_of(recipe), seed + 3)
        return {"hidden_dims": recipe["hidden_dims"], "normalization": "batchnorm",
                "params": net["params"], "mean": net["mean"], "std": net["std"],
                "bn_params": [{"running_mean": m, "running_var": v} for m, v in net["running"]]}

    cap_checks._RESULTS.clear()
    cap_checks.check_training(recipe, honest, target=cap_checks.TIERS[0], seed=0)
