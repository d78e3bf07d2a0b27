"""Robustness sweep of trainlab.widgets: every explorer driven to the ends of every control.

Each builder is made small (width/depth/steps/data through its keyword arguments) and then:

* every slider is set to its min and its max, every dropdown to each of its options and every
  checkbox to both states, one control at a time, through ``control.value`` (the path a learner
  takes) and through ``.update()``;
* a seeded sweep sets random combinations of all controls at once;

all under the lessons' matplotlib style (:func:`trainlab.style.apply_style`) with warnings
turned into errors.

After every change: no exception escapes, ``last_result["status"]`` is a non-empty string that
is not an ``error: ...`` (an exception caught inside the callback), the output holds a status
line and never a traceback, and a problem is named in :mod:`trainlab.health`'s words
("diverged", "vanished", "exploded", "saturated", "dead units", "chance accuracy"). The
training explorers need MNIST-10k and are skipped without it.
"""

from __future__ import annotations

import math
import random

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import pytest  # noqa: E402

from trainlab import widgets as W  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")
"""A warning inside a callback (e.g. matplotlib's layout complaints, printed under the
slider on every move) becomes an ``error: ...`` status and fails the sweep."""

_WORDS = ("diverged", "diverging", "vanished", "exploded", "saturated", "dead units",
          "chance accuracy")
SMALL_TRAINING = {"steps": 4, "n_train": 32, "n_val": 16, "seed": 0}


def _text(explorer: W.Explorer) -> str:
    """The status line (a display_data with text/plain and nowrap HTML) and any stream."""
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                   for o in explorer.output.outputs)


def _assert_healthy(explorer: W.Explorer) -> str:
    """The invariants after any change of a control (once a live run has finished); returns
    the status."""
    explorer.wait()
    status = explorer.last_result.get("status")
    assert isinstance(status, str) and status.strip(), explorer.last_result
    assert not status.startswith("error"), (status, explorer.values())
    text = _text(explorer)
    assert status in text and "Traceback" not in text
    assert explorer.last_result["params"] == explorer.values()
    if status != "ok":
        assert any(word in status for word in _WORDS), status
    return status


def _ends(control: ipywidgets.Widget) -> list:
    """The extreme values of one control: slider min and max, every option, both states."""
    if isinstance(control, ipywidgets.FloatLogSlider):
        return [control.base ** control.min, control.base ** control.max]
    if isinstance(control, ipywidgets.IntSlider | ipywidgets.FloatSlider):
        return [control.min, control.max]
    if isinstance(control, ipywidgets.Dropdown):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    if isinstance(control, ipywidgets.Checkbox):
        return [False, True]
    raise AssertionError(f"no sweep for control type {type(control).__name__}")


def _random_value(control: ipywidgets.Widget, rng: random.Random):
    if isinstance(control, ipywidgets.FloatLogSlider):
        return control.base ** rng.uniform(control.min, control.max)
    if isinstance(control, ipywidgets.IntSlider):
        return rng.randint(control.min, control.max)
    if isinstance(control, ipywidgets.FloatSlider):
        return rng.uniform(control.min, control.max)
    return rng.choice(_ends(control))


def _sweep_ends(explorer: W.Explorer) -> dict[tuple[str, object], str]:
    """Each control to each of its ends (others at their defaults); returns the statuses."""
    statuses = {}
    for name, control in explorer.controls.items():
        default = control.value
        for value in _ends(control):
            control.value = value
            statuses[name, value] = _assert_healthy(explorer)
        control.value = default
        _assert_healthy(explorer)
    return statuses


def _at(statuses: dict[tuple[str, object], str], name: str, value: float) -> str:
    """The status recorded for control ``name`` at (a float close to) ``value``."""
    return next(st for (n, v), st in statuses.items() if n == name and v == pytest.approx(value))


def _sweep_random(explorer: W.Explorer, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    statuses = []
    for _ in range(n):
        with explorer.hold_trait_notifications():
            for control in explorer.controls.values():
                control.value = _random_value(control, rng)
        explorer.update()
        statuses.append(_assert_healthy(explorer))
    return statuses


@pytest.fixture(autouse=True, scope="module")
def course_style():
    """The lessons' matplotlib style (constrained layout on), restored afterwards."""
    from trainlab.style import apply_style

    with matplotlib.rc_context():
        apply_style()
        yield


# --------------------------------------------------------------------------------------------
# initialisation explorer (no training: cheap, so the full sweep)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def init_ex() -> W.Explorer:
    return W.init_explorer(depth=4, width=32, widths=(8, 32), batch=4, max_depth=30,
                           max_panels=4)


def test_init_explorer_every_control_at_its_ends(init_ex):
    statuses = _sweep_ends(init_ex)
    assert statuses["scheme", "zeros"].startswith("vanished")
    # normal x 0.01 (the opening value) shrinks the std 17x per layer at width 32, 1e-3 more so
    assert statuses["depth", 30].startswith("vanished")
    assert _at(statuses, "scale", 1e-3).startswith("vanished")
    assert all(len(init_ex.last_result[k]) == init_ex.controls["depth"].value
               for k in ("std", "mean", "pre_std"))


def test_init_explorer_overflow_and_underflow_are_reported_in_words(init_ex):
    c = init_ex.controls
    with init_ex.hold_trait_notifications():
        c["scheme"].value, c["activation"].value, c["depth"].value = "normal", "linear", 30
        c["scale"].value, c["width"].value = 10.0, 32
    res = init_ex.update()
    assert res["status"].startswith("exploded: activation std ")
    assert math.isinf(res["std"][-1]) and res["diverged_at"] is not None
    _assert_healthy(init_ex)
    c["scale"].value = 1e-3
    res = init_ex.last_result
    assert res["status"] == "ok" or "vanish" in res["status"]
    assert all(s >= 0 and math.isfinite(s) for s in res["std"])


def test_init_explorer_random_combinations():
    ex = W.init_explorer(depth=3, width=8, widths=(8, 16), batch=4, max_depth=12,
                         max_panels=3)
    statuses = _sweep_random(ex, n=15, seed=1)
    assert "ok" in statuses


def test_update_never_raises_on_an_impossible_state():
    ex = W.init_explorer(depth=2, width=8, widths=(8,), batch=2, max_depth=4)
    ex.compute = lambda **_: {"status": "ok", "scheme": "normal"}
    res = ex.update()
    assert res["status"].startswith("error: KeyError")
    assert "Traceback" not in _text(ex)


# --------------------------------------------------------------------------------------------
# training explorers (MNIST-10k; a few steps on a few dozen images)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist_ok() -> None:
    from trainlab.data import DataError, load_mnist

    try:
        load_mnist("10k", "val")
    except DataError as exc:
        pytest.skip(f"MNIST-10k not available: {exc}")


@pytest.mark.slow
def test_init_training_explorer_every_control_at_its_ends(mnist_ok):
    ex = W.init_training_explorer(depth=1, width=32, **SMALL_TRAINING)
    statuses = _sweep_ends(ex)
    # 4 steps at lr 1e-3 learn nothing: the status may honestly say "chance accuracy"
    assert "diverged" not in _at(statuses, "lr", 1e-3)
    assert 0 <= ex.last_result["final_val_acc"] <= 1


@pytest.mark.slow
def test_init_training_explorer_random_combinations(mnist_ok):
    ex = W.init_training_explorer(depth=1, width=32, **SMALL_TRAINING)
    _sweep_random(ex, n=3, seed=2)


@pytest.mark.slow
def test_lr_explorer_at_both_ends(mnist_ok):
    ex = W.lr_explorer(depth=2, width=32, **SMALL_TRAINING)
    statuses = _sweep_ends(ex)
    assert "diverged" not in _at(statuses, "lr", 1e-3)
    high = _at(statuses, "lr", 10.0)
    assert high == "ok" or "diverged: " in high
    ex.controls["lr"].value = 10.0
    ex.wait()
    for name, diverged in ex.last_result["diverged"].items():
        at = ex.last_result["diverged_at"][name]
        assert (at is not None) == diverged
        if diverged:
            status = ex.last_result["status"]
            assert f"{name}: diverged: " in status and f"at step {at} " in status, status


@pytest.mark.slow
def test_keep_prob_explorer_random_combinations(mnist_ok):
    ex = W.keep_prob_explorer(width=1, widths=(1, 32), step_counts=(4, 8), depth=2,
                              train_sizes=(16, 32), steps=4, n_train=32)
    _sweep_random(ex, n=4, seed=3)


@pytest.mark.slow
def test_lr_and_dead_relu_explorers_random_combinations(mnist_ok):
    for ex in (W.lr_explorer(depth=2, width=16, **SMALL_TRAINING),
               W.dead_relu_explorer(depth=2, width=16, n_probe=16, steps=4, n_train=32)):
        _sweep_random(ex, n=4, seed=4)


@pytest.mark.slow
def test_keep_prob_explorer_at_both_ends(mnist_ok):
    ex = W.keep_prob_explorer(width=32, depth=1, widths=(8, 32), step_counts=(4, 8),
                              train_sizes=(16, 32), steps=4, n_train=32)
    statuses = _sweep_ends(ex)
    assert {("keep_prob", 0.3), ("keep_prob", 1.0), ("n_train", 16), ("label_noise", 0.5),
            ("width", 8), ("steps", 8)} <= set(statuses)
    assert 0 <= ex.last_result["acc_mean"] <= 1


@pytest.mark.slow
def test_dead_relu_explorer_at_both_ends(mnist_ok):
    ex = W.dead_relu_explorer(depth=2, width=16, n_probe=16, steps=4, n_train=32, seed=0)
    _sweep_ends(ex)
    for value in (1e-3, 10.0):
        ex.controls["lr"].value = value
        ex.wait()
        res = ex.last_result
        assert len(res["dead"]) == 2 and 0 <= res["dead_total"] <= 1


@pytest.mark.slow
def test_training_dashboard_at_both_ends_and_random(mnist_ok):
    from functools import partial

    from trainlab.models import mlp

    ex = W.training_dashboard(partial(mlp, 784, [8] * 2, 10, activation="relu"),
                              W.mnist_subset(32, 16, 0), steps=4, record_every=2, n_probe=8)
    _sweep_ends(ex)
    _sweep_random(ex, n=3, seed=5)
