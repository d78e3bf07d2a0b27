"""The capstone's training check (lesson 08, exercise 6): graded on the median over seeds, with
tiers that a linear softmax classifier and the old one-hidden-layer network do not reach."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from trainlab.checks import ExerciseError
from trainlab.checks import capstone as cap_checks

ROOT = Path(__file__).resolve().parents[1]


def _fails(call, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        call()


def test_tiers_rise_to_the_target_and_the_grading_seeds_are_three():
    assert cap_checks.TIERS == tuple(sorted(cap_checks.TIERS))
    assert cap_checks.TIERS[-1] == cap_checks.TARGET_ACCURACY == 0.96
    assert len(set(cap_checks.SEEDS)) >= 3


def test_the_lessons_check_cell_grades_every_tier_once():
    nb = json.loads((ROOT / "notebooks" / "08_capstone.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == "08-ex6-check")
    targets = [kw.value.value for node in ast.walk(ast.parse("".join(cell["source"])))
               if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "check_training"
               for kw in node.keywords if kw.arg == "target"]
    assert tuple(targets) == cap_checks.TIERS


def test_the_median_over_seeds_is_graded(monkeypatch):
    rng = np.random.default_rng(0)
    x_train, y_train = rng.random((20, 4), dtype=np.float32), rng.integers(0, 10, 20)
    x_val, y_val = rng.random((10, 4), dtype=np.float32), rng.integers(0, 10, 10)
    monkeypatch.setattr(cap_checks, "_mnist", lambda: (x_train, y_train, x_val, y_val))
    calls = []

    def right_but_seed_2(xt, yt, xv, seed):
        calls.append(seed)
        return y_val.copy() if seed != 2 else (y_val + 1) % 10

    for target in cap_checks.TIERS:          # one training per seed, shared by the tiers
        cap_checks.check_training(right_but_seed_2, target=target)
    assert sorted(calls) == [0, 1, 2]

    def right_only_for_seed_0(xt, yt, xv, seed):
        return y_val.copy() if seed == 0 else (y_val + 1) % 10

    _fails(lambda: cap_checks.check_training(right_only_for_seed_0),
           r"median validation accuracy 0\.0000 over seeds 0, 1, 2 \(1\.0000, 0\.0000, 0\.0000\)"
           r".*chance level")
    accs = cap_checks.validation_accuracies(right_only_for_seed_0)
    np.testing.assert_array_equal(accs, [1.0, 0.0, 0.0])


def _linear(x_train, y_train, x_val, seed):
    """A linear softmax classifier (multinomial logistic regression) on the standardised pixels,
    at the lesson's best C."""
    from sklearn.linear_model import LogisticRegression

    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-2
    model = LogisticRegression(C=0.01, tol=1e-5, max_iter=2000)
    model.fit((x_train.astype(np.float64) - mean) / std, y_train)
    return model.predict((x_val.astype(np.float64) - mean) / std)


def test_a_linear_classifier_earns_no_credit():
    acc = cap_checks.validation_accuracies(_linear, seeds=(0,))[0]
    assert 0.9 < acc < cap_checks.TIERS[0] - 0.02
    assert cap_checks.TARGET_ACCURACY >= acc + 0.04
    for target in cap_checks.TIERS:
        _fails(lambda t=target: cap_checks.check_training(_linear, seeds=(0,), target=t),
               "below")


def _one_hidden_layer(x_train, y_train, x_val, seed):
    """The capstone's network before issue 24: affine -> BN -> ReLU -> dropout -> affine,
    128 hidden units, 5 epochs of SGD with momentum, no shifted images (float32)."""
    rng = np.random.default_rng(seed)
    d, h, c = x_train.shape[1], 128, 10
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + np.float32(1e-2)
    xt, xv = (x_train - mean) / std, (x_val - mean) / std
    p = {"w1": rng.standard_normal((d, h)) * math.sqrt(2 / d), "b1": np.zeros(h),
         "gamma": np.ones(h), "beta": np.zeros(h),
         "w2": rng.standard_normal((h, c)) * math.sqrt(1 / h), "b2": np.zeros(c)}
    p = {k: a.astype(np.float32) for k, a in p.items()}
    vel = {k: np.zeros_like(a) for k, a in p.items()}
    run_mean, run_var, keep, eps = np.zeros(h, np.float32), np.ones(h, np.float32), 0.9, 1e-5
    for _epoch in range(5):
        order = rng.permutation(len(xt))
        for i in range(0, len(xt), 200):
            idx = order[i:i + 200]
            x, y = xt[idx], y_train[idx]
            a1 = x @ p["w1"] + p["b1"]
            mu, var = a1.mean(0), a1.var(0)
            run_mean, run_var = 0.9 * run_mean + 0.1 * mu, 0.9 * run_var + 0.1 * a1.var(0, ddof=1)
            inv = 1 / np.sqrt(var + eps)
            x_hat = (a1 - mu) * inv
            bn = p["gamma"] * x_hat + p["beta"]
            mask = rng.random(bn.shape) < keep
            hid = np.maximum(bn, 0) * mask / keep
            s = hid @ p["w2"] + p["b2"]
            prob = np.exp(s - s.max(1, keepdims=True))
            prob /= prob.sum(1, keepdims=True)
            prob[np.arange(len(y)), y] -= 1
            ds = prob / len(y)
            g = {"w2": hid.T @ ds, "b2": ds.sum(0)}
            dbn = (ds @ p["w2"].T) * mask / keep * (bn > 0)
            g["beta"], g["gamma"] = dbn.sum(0), (dbn * x_hat).sum(0)
            da = p["gamma"] * inv * (dbn - g["beta"] / len(y) - x_hat * g["gamma"] / len(y))
            g["w1"], g["b1"] = x.T @ da, da.sum(0)
            for k in p:
                vel[k] = 0.9 * vel[k] - 0.1 * g[k]
                p[k] += vel[k]
    bn = p["gamma"] * (xv @ p["w1"] + p["b1"] - run_mean) / np.sqrt(run_var + eps) + p["beta"]
    return (np.maximum(bn, 0) @ p["w2"] + p["b2"]).argmax(axis=1)


def test_the_old_one_hidden_layer_network_misses_the_bar():
    accs = cap_checks.validation_accuracies(_one_hidden_layer)
    assert np.all(accs > 0.92)                         # it learns: well above chance
    assert np.median(accs) < cap_checks.TARGET_ACCURACY - 0.01
    _fails(lambda: cap_checks.check_training(_one_hidden_layer), "below 0.96")
