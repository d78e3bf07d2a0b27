"""trainlab.health: each verdict at, just below and just above its threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainlab import health as H

EPS = 1e-9


# ------------------------------------------------------------------ vanished / exploded
def test_signal_ok_between_the_thresholds():
    assert H.signal_problem([1.0, 0.5, 2.0]) is None
    # exactly at either threshold is still ok (strict inequalities)
    assert H.signal_problem([H.VANISHED_RATIO, H.EXPLODED_RATIO]) is None


def test_signal_vanished_just_below_its_threshold():
    text = H.signal_problem([1.0, H.VANISHED_RATIO * (1 - EPS)])
    assert text.startswith("vanished: activation std 0.01 at layer 2")
    assert "(< 0.01 × input std 1)" in text
    assert H.signal_problem([1.0, 0.0]).startswith("vanished: activation std 0 at layer 2")


def test_signal_exploded_just_above_its_threshold_or_not_finite():
    text = H.signal_problem([1.0, 3.0, H.EXPLODED_RATIO * (1 + EPS)])
    assert text.startswith("exploded: activation std 100 at layer 3 (> 100 × input std 1)")
    assert H.signal_problem([1.0, math.inf]).startswith("exploded: activation std inf at layer 2")
    assert H.signal_problem([math.nan]).startswith("exploded")


def test_signal_is_relative_to_the_input_std_and_names_the_reference():
    assert H.signal_problem([0.02], input_std=1.0) is None
    assert H.signal_problem([0.02], input_std=3.0).startswith("vanished")
    text = H.signal_problem([5e-4], input_std=0.1, what="gradient", reference="output std")
    assert text == "vanished: gradient std 5.0e-4 at layer 1 (< 0.01 × output std 0.1)"
    with pytest.raises(ValueError, match="input_std"):
        H.signal_problem([1.0], input_std=0.0)


# ------------------------------------------------------------------ dead / saturated
def test_dead_at_and_around_its_threshold():
    assert H.dead_problem([H.DEAD_FRACTION, 0.1]) is None
    assert H.dead_problem([H.DEAD_FRACTION + EPS]) == "dead units: 50 % of layer 1 (> 50 %)"
    text = H.dead_problem([0.6, 0.2, 0.91])
    assert text == "dead units: 60 % of layer 1, 91 % of layer 3 (> 50 %)"


def test_saturated_at_and_around_its_threshold_ignores_layers_without_tails():
    assert H.saturated_problem([H.SATURATED_FRACTION, math.nan]) is None
    assert H.saturated_problem([math.nan, 0.75]) == "saturated: 75 % of layer 2 (> 50 %)"
    assert H.saturated_problem([H.SATURATED_FRACTION + EPS]).startswith("saturated: 50 %")


# ------------------------------------------------------------------ chance accuracy
@pytest.mark.parametrize("classes", [2, 10])
def test_chance_at_and_around_its_threshold(classes):
    limit = 1 / classes + H.CHANCE_MARGIN
    assert H.at_chance(limit - EPS, classes) and not H.at_chance(limit, classes)
    assert H.chance_problem(limit + EPS, classes) is None
    text = H.chance_problem(limit - 0.01, classes, "validation accuracy")
    assert text.startswith(f"chance accuracy: validation accuracy {limit - 0.01:.2f}")
    assert f"< 1/{classes} + 0.05 = {limit:.2f}" in text


def test_chance_rejects_a_bad_number_of_classes():
    for bad in (1, 2.0, True - 2):
        with pytest.raises(ValueError, match="n_classes"):
            H.at_chance(0.5, bad)


# ------------------------------------------------------------------ diverged
def test_diverged_at_and_around_its_threshold():
    first = 2.0
    assert not H.diverged([first, H.DIVERGED_FACTOR * first])
    assert H.diverged([first, H.DIVERGED_FACTOR * first * (1 + EPS)])
    assert H.diverged([first, 1.0, math.nan]) and H.diverged([first, math.inf])
    assert not H.diverged([]) and H.diverged_problem([]) is None
    assert H.diverged_problem([first, 19.0, 3.0]) is None


def test_diverged_problem_names_the_step_and_the_loss():
    assert H.diverged_problem([2.0, 1.0, 25.0]) == (
        "diverged: loss 25 at record 2 (> 10 × first loss 2)")
    assert H.diverged_problem([2.0, 1.0, 25.0], steps=[0, 10, 20]).startswith(
        "diverged: loss 25 at step 20")
    assert H.diverged_problem(np.array([2.3, math.nan]), steps=[0, 7]) == (
        "diverged: loss not finite at step 7")
    with pytest.raises(ValueError, match="one step per loss"):
        H.diverged_problem([2.0, 30.0], steps=[0])


def test_status_joins_problems_or_says_ok():
    assert H.status() == "ok" and H.status(None, None) == "ok"
    assert H.status(None, "dead units: x", "diverged: y") == "dead units: x; diverged: y"
