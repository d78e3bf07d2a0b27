"""Tests of trainlab.plots: every figure labels its axes and shows the numbers it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from trainlab import plots  # noqa: E402
from trainlab.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labelled(fig: Figure) -> None:
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert visible
    for ax in visible:
        assert ax.get_xlabel().strip(), f"axes {ax.get_title()!r} has no x label"
        assert ax.get_ylabel().strip(), f"axes {ax.get_title()!r} has no y label"


def _texts(fig: Figure) -> str:
    parts = [t.get_text() for ax in fig.axes for t in ax.texts]
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None:
            parts += [t.get_text() for t in leg.get_texts()]
    return "\n".join(parts)


def _history(diverged_at: int | None = None) -> History:
    steps = range(0, 50, 5)
    curves = []
    for k in steps:
        bad = diverged_at is not None and k > diverged_at
        curves.append({"step": k, "train_loss": np.inf if bad else 2.0 / (k + 1),
                       "train_acc": 0.5 + k / 100, "val_loss": np.nan if bad else 2.5 / (k + 1),
                       "val_acc": 0.4 + k / 100})
    records = [{"step": k, "layer": layer, "pre_p15": -1.0 + k / 50, "pre_p50": k / 50,
                "pre_p85": 1.0 + k / 50, "update_ratio": 1e-3 * layer * (1 + k)}
               for k in steps for layer in (1, 2)]
    info = [{"layer": layer, "name": f"act{layer}"} for layer in (1, 2)]
    return History(curves=curves, records=records, layer_info=info,
                   diverged=diverged_at is not None, diverged_at=diverged_at)


def test_histogram_grid_annotates_mean_std_and_nonfinite():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(500), 3.0 * rng.standard_normal(500)
    fig = plots.histogram_grid({"first": a, "second": np.append(b, [np.inf, np.nan])}, bins=20)
    assert isinstance(fig, Figure)
    _labelled(fig)
    text = _texts(fig)
    assert f"std {a.std():.3g}" in text and f"std {b.std():.3g}" in text
    assert "2 non-finite" in text
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["first", "second"]


def test_histogram_grid_counts_and_given_axes():
    data = [np.array([0.1, 0.2, 0.9]), np.array([0.5, 0.5])]
    fig0, axs = plt.subplots(1, 2)
    fig = plots.histogram_grid(data, bins=2, range=(0.0, 1.0), axes=axs)
    assert fig is fig0
    counts = axs[0].patches[0].get_data().values
    np.testing.assert_array_equal(counts, [2, 1])
    assert axs[1].get_title() == "layer 2"


@pytest.mark.parametrize("kwargs, match", [
    ({"arrays": []}, "at least one"),
    ({"arrays": [np.ones(3)], "bins": 0}, "bins"),
    ({"arrays": [np.ones(3)], "titles": ["a", "b"]}, "titles"),
])
def test_histogram_grid_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.histogram_grid(**kwargs)


def test_std_per_layer_marks_inf_nan_and_zero():
    fig = plots.std_per_layer({"big": [1.0, 100.0, np.inf, np.inf],
                               "small": [1.0, 1e-3, 0.0, np.nan]})
    _labelled(fig)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    text = _texts(fig)
    assert "overflow → inf" in text and "underflow → 0" in text and "nan" in text
    lo, hi = ax.get_ylim()
    assert 0 < lo < 1e-3 and hi > 100.0 and np.isfinite(hi)
    marked = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections])
    assert sorted(marked.tolist()) == [3, 3, 4, 4]


def test_an_early_divergence_is_labelled_to_the_right_of_its_cross():
    """Diverging at step 2 of 150, "diverged at step 2" written leftwards would run over the
    y-axis label; it goes to the right of the cross, a late one to the left."""
    early, late = _history(diverged_at=5), _history(diverged_at=40)
    early.config["steps"] = late.config["steps"] = 50
    fig = plots.training_curves({"early": early, "late": late}, metrics=("loss",))
    notes = {t.get_text(): t for t in fig.axes[0].texts}
    assert notes["diverged at step 5"].get_ha() == "left"
    assert notes["diverged at step 40"].get_ha() == "right"


def test_std_per_layer_single_run_and_all_nonfinite():
    fig = plots.std_per_layer([np.inf, np.nan], log=True)
    assert np.isfinite(fig.axes[0].get_ylim()).all()
    fig = plots.std_per_layer([[1.0, 2.0], [1.0, 0.5]], log=False)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[1].get_ydata(), [1.0, 0.5])


def test_training_curves_marks_divergence():
    fig = plots.training_curves({"ok": _history(), "lr 10": _history(diverged_at=20)})
    _labelled(fig)
    assert "diverged at step 20" in _texts(fig)
    diverged_lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "lr 10 train"]
    assert max(diverged_lines[0].get_xdata()) <= 20
    assert all(np.isfinite(ln.get_ydata()).all() for ln in fig.axes[0].get_lines())


def test_training_curves_rejects_bad_split():
    with pytest.raises(ValueError, match="split"):
        plots.training_curves({"a": _history()}, split=("test",))
    with pytest.raises(TypeError, match="History"):
        plots.training_curves({"a": object()})


def test_percentile_bands_from_history_and_series():
    fig = plots.percentile_bands({"no BN": _history(), "BN": _history()}, layer=2)
    _labelled(fig)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2
    median = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "50th percentile"][0]
    np.testing.assert_allclose(median.get_ydata(), np.arange(0, 50, 5) / 50)
    series = {"step": [0, 1, 2], "p15": [-1, -1, -1], "p50": [0, 0.5, 1], "p85": [1, 2, 3]}
    fig = plots.percentile_bands(series)
    _labelled(fig)
    with pytest.raises(ValueError, match="p99"):
        plots.percentile_bands(series, percentiles=(99,))


def test_update_ratio_chart_has_reference_line():
    fig = plots.update_ratio_chart(_history())
    _labelled(fig)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3
    np.testing.assert_allclose(lines[-1].get_ydata(), [-3.0, -3.0])
    np.testing.assert_allclose(lines[0].get_ydata()[0], np.log10(1e-3))


def test_activation_curves_match_activations_module():
    from trainlab.activations import curve

    x = np.linspace(-3, 3, 61)
    fig = plots.activation_curves(["tanh", "relu"], x)
    _labelled(fig)
    y, dy = curve("tanh", x)
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), y)
    np.testing.assert_allclose(lines[1].get_ydata(), dy)
    with pytest.raises(ValueError, match="x must"):
        plots.activation_curves("tanh", np.zeros((2, 2)))


def test_decision_boundary_on_tiny_classifier():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def proba(g: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(g[:, 0] + g[:, 1])))
        return np.column_stack([1 - p, p])

    fig = plots.decision_boundary(proba, X, y, title="logistic", resolution=50)
    _labelled(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "logistic"
    assert len(ax.collections) >= 3
    fig = plots.decision_boundary(lambda g: (g[:, 0] > 0).astype(int), X, y, resolution=20)
    assert isinstance(fig, Figure)
    with pytest.raises(ValueError, match="predict_fn"):
        plots.decision_boundary(lambda g: np.zeros(3), X, y, resolution=10)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        plots.decision_boundary(proba, np.zeros((5, 3)), np.zeros(5))


def test_loss_surface_with_gd_path():
    path = np.array([[1.5, 1.0], [1.0, 0.5], [0.5, 0.1]])
    fig = plots.loss_surface(lambda a, b: a**2 + 10 * b**2, path=path, log=True, resolution=40)
    _labelled(fig)
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_xdata(), path[:, 0])
    with pytest.raises(ValueError, match="xlim"):
        plots.loss_surface(lambda a, b: a, xlim=(1.0, 0.0))
    with pytest.raises(ValueError, match="path"):
        plots.gd_path(np.zeros(3))


def test_loss_surface_puts_its_colour_bar_into_cax():
    fig, (ax, cax) = plt.subplots(1, 2)
    plots.loss_surface(lambda a, b: a**2 + b**2, ax=ax, cax=cax, resolution=20)
    assert cax.get_ylabel() == "loss" and len(fig.axes) == 2
    with pytest.raises(TypeError, match="cax"):
        plots.loss_surface(lambda a, b: a**2 + b**2, ax=ax, cax="right", resolution=20)
    plt.close(fig)


def test_histogram_grid_stats_in_title_leave_the_panel_free():
    a = np.random.default_rng(1).standard_normal(300)
    fig = plots.histogram_grid({"layer 1": a}, stats="title")
    ax = fig.axes[0]
    assert not ax.texts
    assert ax.get_title() == f"layer 1\nmean {a.mean():.3g}, std {a.std():.3g}"
    with pytest.raises(ValueError, match="stats"):
        plots.histogram_grid([a], stats="legend")


def test_std_per_layer_gives_coinciding_runs_distinct_styles():
    fig = plots.std_per_layer({"a": [1.0, 1.0, 1.0], "b": [1.0, 1.0, 1.0]})
    first, second = fig.axes[0].get_lines()[:2]
    assert (first.get_marker(), first.get_linestyle()) != (second.get_marker(),
                                                           second.get_linestyle())


def test_training_curves_give_runs_distinct_markers():
    fig = plots.training_curves({"a": _history(), "b": _history()}, metrics="loss",
                                split="train")
    markers = [ln.get_marker() for ln in fig.axes[0].get_lines()]
    assert len(set(markers)) == 2


def test_loss_surface_shared_levels_minimum_and_labelled_end_point():
    path = np.array([[1.5, 1.0], [1.0, 0.5], [0.5, 0.1]])
    levels = np.linspace(-2.0, 2.0, 9)
    fig = plots.loss_surface(lambda a, b: a**2 + 10 * b**2, path=path, log=True, resolution=30,
                             levels=levels, minimum=(0.0, 0.0))
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].levels, levels)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "true minimum" in labels and "end after 2 steps" in labels and "start" in labels
    mark = [ln for ln in ax.get_lines() if ln.get_label() == "true minimum"][0]
    np.testing.assert_allclose([mark.get_xdata()[0], mark.get_ydata()[0]], [0.0, 0.0])
    with pytest.raises(ValueError, match="levels"):
        plots.loss_surface(lambda a, b: a + b, levels=[1.0, 0.0])
    with pytest.raises(ValueError, match="minimum"):
        plots.loss_surface(lambda a, b: a + b, minimum=(np.nan, 0.0))


def test_activation_curves_with_parameters_and_readable_titles():
    from trainlab.activations import curve

    x = np.linspace(-3, 3, 61)
    fig = plots.activation_curves(["relu", "leaky_relu"], x, params={"leaky_relu": {"alpha": 0.2}})
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == \
        ["ReLU", "leaky ReLU (alpha = 0.2)"]
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(),
                               curve("leaky_relu", x, alpha=0.2)[0])
    with pytest.raises(ValueError, match="params"):
        plots.activation_curves(["relu"], x, params={"elu": {"alpha": 1.0}})
