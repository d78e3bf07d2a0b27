"""Red-team tests of the capstone's exercise 7 grading (lesson 08, check_training): grader
faults found by a cheating-student review (2026-12-07), each failing before its fix. Left open,
by design: a train_capstone that embeds a linear classifier in the probe's shape passes the
probe (its accuracy, 0.9155, is the probe's); it earns nothing the recipe does not, since the
tiers come from the grader's own training of the recipe (README, lesson 08)."""

from __future__ import annotations

import pytest

from test_checks_capstone import RECIPE, _net, _tiny_split  # the tiny one-hot split
from trainlab.checks import ExerciseError
from trainlab.checks import capstone as cap_checks

REFERENCE = {"hidden_dims": [256, 128], "normalization": "batchnorm", "init": "kaiming",
             "keep_prob": 0.9, "reg": 0.0, "update_rule": "sgd_momentum",
             "optim_config": {"learning_rate": 0.1, "momentum": 0.9}, "lr_decay": 0.9,
             "batch_size": 200, "num_epochs": 15, "shift": 1, "n_val": 500, "eps": 1e-2}
"""The lesson's published recipe (its grader training clears every tier)."""


def test_a_result_is_never_handed_to_another_learners_function(monkeypatch):
    """_RESULTS keys a training by id(train_fn) and is never cleared between submissions (a
    `homework.py grade` worker grades many): a later learner's proxy that gets the address of
    a freed one inherits its result. Here A's right network passes, then B's wrong one (every
    label off by 3) must fail."""
    _tiny_split(monkeypatch)
    recipe = RECIPE

    class Learner:                      # stands for grading.StudentFunction
        def __init__(self, shift: int) -> None:
            self.shift = shift

        def __call__(self, xt, yt, seed, recipe=None):
            return _net(self.shift, recipe["hidden_dims"][0])

    a = Learner(0)
    address = id(a)
    cap_checks.check_training(recipe, a, target=0.96, seed=0)
    del a
    b = next((obj for obj in (Learner(3) for _ in range(1000)) if id(obj) == address),
             Learner(3))      # A's address again where CPython frees A (it does today)
    with pytest.raises(ExerciseError, match="reach 0.0000"):
        cap_checks.check_training(recipe, b, target=0.96, seed=0)


def test_a_recipe_made_of_python_overhead_is_refused():
    """MAX_COST counts multiply-adds only: batch_size 2, 200 epochs of six 16-unit layers costs
    2.3e10 (under 7.9e10) yet 2.4 million steps of the grader's own training, about 1.7 ms CPU
    each: over an hour in the grading process, outside the sandbox's deadline. MAX_STEPS
    refuses it; MAX_BATCH_UNITS a batch of 8,000 through six 1,024-unit layers (2.1 GB)."""
    slow = {**REFERENCE, "hidden_dims": [16] * 6, "batch_size": 2, "num_epochs": 200,
            "n_val": 1, "update_rule": "adam", "optim_config": {}, "keep_prob": 0.5}
    with pytest.raises(ExerciseError, match="update steps"):
        cap_checks.recipe_of(slow)
    wide = {**REFERENCE, "hidden_dims": [1024] * 6, "batch_size": 8000, "num_epochs": 1,
            "n_val": 1}
    with pytest.raises(ExerciseError, match="hidden activations"):
        cap_checks.recipe_of(wide)


def test_an_honest_train_capstone_with_its_own_seed_stream_passes_the_probe():
    """With a fixed AGREEMENT of 0.015 (sized on the reference recipe's seed spread, about
    0.004) a recipe with Adam at 1e-2 and batches of 100, which the grader's own training takes
    to a 0.972 median, failed: its 2-epoch probes spread much wider (sd 0.0085 over 12 seeds,
    0.9005-0.9315), and the grader's own trainer run with the learner's seed stream 3 landed
    0.0305 below the grader's median (about 1 honest learner in 9 failed from seed noise). Now
    two learner runs are compared with five of the grader's, within 4 sd of the latter."""
    recipe = {**REFERENCE, "update_rule": "adam", "optim_config": {"learning_rate": 1e-2},
              "batch_size": 100}

    def honest(x, y, seed, recipe=None):
        net = cap_checks.train_recipe(x, y, cap_checks.recipe_of(recipe), seed + 3)
        return {"hidden_dims": recipe["hidden_dims"], "normalization": "batchnorm",
                "params": net["params"], "mean": net["mean"], "std": net["std"],
                "bn_params": [{"running_mean": m, "running_var": v} for m, v in net["running"]]}

    cap_checks._RESULTS.clear()
    cap_checks.check_training(recipe, honest, target=cap_checks.TIERS[0], seed=0)
