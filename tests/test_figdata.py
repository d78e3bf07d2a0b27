"""trainlab.figdata: the numbers behind a figure, and alt text written from them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from trainlab import figdata  # noqa: E402


@pytest.fixture
def fig():
    f, (a, b) = plt.subplots(1, 2)
    steps = np.arange(201)
    loss = 2.5 * np.exp(-steps / 50) + 0.4
    loss[120] = 0.3                                  # a dip below the end value
    a.plot(steps, loss, label="train loss")
    a.axhline(1.0, label="_threshold")
    a.set(title="loss", xlabel="step", ylabel="cross-entropy", yscale="log")
    values = np.concatenate([np.full(5, 0.5), np.linspace(-1, 1, 200)])
    b.hist(values, bins=20, range=(-1, 1))
    b.set(title="layer 1", xlabel="activation", ylabel="count")
    f.suptitle("training")
    yield f
    plt.close(f)


def test_describe_reads_the_plotted_data(fig):
    record = figdata.describe(fig)
    assert record["title"] == "training"
    loss, hist = record["panels"]
    assert (loss["title"], loss["xlabel"], loss["yscale"]) == ("loss", "step", "log")
    line, hline = loss["series"]
    assert line["label"] == "train loss" and line["n"] == 201
    assert line["x"] == [0.0, 200.0] and line["y"][0] == 2.9
    assert line["min"] == [0.3, 120.0] and line["max"] == [2.9, 0.0]
    assert hline == {"kind": "hline", "label": "", "y": 1.0}
    (h,) = hist["series"]
    assert h["kind"] == "hist" and h["bins"] == 20 and h["range"] == [-1.0, 1.0]
    assert h["total"] == 205.0 and h["peak"][1] == 0.55   # the 5 extra values at 0.5


def test_alt_text_states_the_numbers(fig):
    text = figdata.alt_text(figdata.describe(fig), "section 1")
    assert text.startswith("Plot of 2 panels for “training”.")
    assert "“train loss” goes from 2.9 at step 0 to 0.4" in text
    assert "lowest 0.3 at 120" in text
    assert "log scale" in text
    assert "histogram of 20 bins from -1 to 1" in text
    assert len(text) < 600


def test_bar_chart_names_its_bars():
    f, ax = plt.subplots()
    ax.bar(["relu", "tanh", "sigmoid"], [0.91, 0.85, 0.42])
    ax.set_ylabel("accuracy")
    f.canvas.draw()
    text = figdata.alt_text(figdata.describe(f), "activations")
    plt.close(f)
    assert text == ("Plot for “activations”. A panel (y: accuracy): bars: relu 0.91, tanh 0.85, "
                    "sigmoid 0.42.")


def test_image_and_scatter():
    f, (a, b) = plt.subplots(1, 2)
    a.imshow(np.arange(12.0).reshape(3, 4))
    b.scatter([0, 1, 2], [5, -5, 0], label="points")
    record = figdata.describe(f)
    plt.close(f)
    assert record["panels"][0]["series"] == [{"kind": "image", "shape": [3, 4],
                                               "values": [0.0, 11.0]}]
    assert record["panels"][1]["series"][0] == {"kind": "scatter", "label": "points", "n": 3,
                                                "x": [0.0, 2.0], "y": [-5.0, 5.0]}


def test_install_adds_the_record_to_a_figure_display():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    select_figure_formats(shell, {"png"})
    figdata.install(shell)
    figdata.install(shell)                       # idempotent: wrapped once
    f, ax = plt.subplots()
    ax.plot([0, 1, 2], [3.0, 1.0, 2.0], label="y")
    data, metadata = shell.display_formatter.format(f)
    plt.close(f)
    assert "image/png" in data
    series = metadata[figdata.META_KEY]["panels"][0]["series"][0]
    assert series["min"] == [1.0, 1.0]
    data, metadata = shell.display_formatter.format([1, 2])
    assert figdata.META_KEY not in metadata


def test_a_diagram_is_described_by_its_drawing_function():
    from trainlab import diagrams

    f = diagrams.norm_axes_cube(groups=3)
    record = figdata.describe(f)
    plt.close(f)
    group = record["panels"][3]
    assert group["title"] == "Group norm (G = 3)" and group["series"] == []
    assert "2 of 36 columns shaded (example 6, channels 1–2)" in group["description"]
    text = figdata.alt_text(record, "norm axes")
    assert "“Batch norm”: 6 examples × 6 channels" in text and "(examples 1–6, channel 1)" in text


def test_a_single_point_is_a_point():
    f, ax = plt.subplots()
    ax.plot([0.852], [-3.26], "*", label="true minimum")
    ax.set_xlabel("slope w")
    text = figdata.alt_text(figdata.describe(f))
    plt.close(f)
    assert "“true minimum” a point at slope w 0.852, y -3.26" in text, text
