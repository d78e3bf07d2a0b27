"""trainlab.figcheck finds what a reader could not read, and the nbval hook logs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from trainlab import figcheck  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def drawn(fig):
    fig.canvas.draw()
    return figcheck.figure_problems(fig)


def test_a_clean_figure_has_no_problems():
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    x = np.linspace(0, 1, 50)
    for ax, k in zip(axes, (1, 2), strict=True):
        ax.plot(x, x**k, label=f"k = {k}")
        ax.set(xlabel="x", ylabel="y", title=f"power {k}")
        ax.legend(loc="upper left")
    assert drawn(fig) == []
    plt.close(fig)


def test_overlapping_panel_titles_are_found():
    fig, axes = plt.subplots(2, 4, figsize=(6, 3))
    for ax in axes.flat:
        ax.hist(np.random.default_rng(0).normal(size=100))
        ax.set_title("layer 1: mean 0.00, std 1.00 after tanh")
    problems = drawn(fig)
    assert any("panel 0's title" in p and "overlaps panel 1's title" in p for p in problems)
    plt.close(fig)


def test_a_legend_on_the_data_is_found():
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 200)
    ax.plot(x, np.full_like(x, 0.95), label="a long legend entry that sits on the line")
    ax.plot(x, x, label="b")
    ax.set(xlabel="x", ylabel="y", ylim=(0, 1))
    ax.legend(loc="upper right")
    problems = drawn(fig)
    assert any(p.startswith("panel 0's legend covers") for p in problems), problems
    plt.close(fig)


def test_a_suptitle_on_a_panel_title_is_found():
    fig, axes = plt.subplots(1, 2, figsize=(6, 2))
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set_title("a title")
    fig.suptitle("a figure title", y=0.9)
    assert any("the figure title" in p for p in drawn(fig))
    plt.close(fig)


def test_the_hook_logs_problems_and_the_script_fails(tmp_path, monkeypatch):
    log = tmp_path / "fig.log"
    monkeypatch.setenv(figcheck.LOG_ENV, str(log))
    fig, axes = plt.subplots(1, 3, figsize=(4, 2))
    figcheck.install(fig)
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set_title("an overlong panel title here")
    fig.savefig(tmp_path / "out.png")
    plt.close(fig)
    record = json.loads(log.read_text().splitlines()[0])
    assert record["problems"] and "overlaps" in record["problems"][0]
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "figcheck.py"), str(log)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "1 figure(s) with problems" in run.stdout
    clean = subprocess.run([sys.executable, str(ROOT / "scripts" / "figcheck.py"),
                            str(tmp_path / "absent.log")], capture_output=True, text=True)
    assert clean.returncode == 0


def test_a_shared_axis_labelled_once_is_fine_an_unlabelled_one_is_not():
    fig, axes = plt.subplots(2, 2, sharex=True, sharey=True)
    for ax in axes.flat:
        ax.plot([0, 1], [0, 1])
    for ax in axes[1]:
        ax.set_xlabel("x")
    assert drawn(fig) == []
    plt.close(fig)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_xticks([])
    assert drawn(fig) == ["panel 0 has no x label and no x tick labels"]
    plt.close(fig)


def test_a_colour_bar_needs_no_label_on_its_short_side():
    fig, ax = plt.subplots()
    cs = ax.contourf(np.random.default_rng(0).random((5, 5)))
    ax.set(xlabel="w", ylabel="b")
    fig.colorbar(cs, ax=ax, label="log10 loss")
    assert drawn(fig) == []
    plt.close(fig)


def test_text_cut_off_at_the_figure_edge_is_found_with_edges():
    fig = plt.figure(figsize=(4, 3))
    ax = fig.add_axes((0.02, 0.2, 0.9, 0.7))        # no room left of the panel
    ax.plot([1, 2, 3], [1e3, 2e3, 3e3])
    ax.set(xlabel="x", ylabel="a long y label")
    fig.canvas.draw()
    found = figcheck.figure_problems(fig, edges=True)
    assert "panel 0's y label is cut off at the figure's edge" in found
    assert any("y tick label" in p and "cut off" in p for p in found), found
    assert not any("cut off" in p for p in figcheck.figure_problems(fig))
    plt.close(fig)


def test_a_legend_outside_its_panel_covers_only_what_is_drawn():
    """Vertices of a clipped line beyond the panel's limits are not drawn, so a legend below
    the panel covers none of them."""
    fig, ax = plt.subplots(figsize=(4, 4))
    fig.subplots_adjust(bottom=0.4)
    ax.plot([0, 0, 0, 0], [-0.3, -0.25, 0.5, 1], ":", label="a line running past the limits")
    ax.set(xlim=(-1, 1), ylim=(0, 1), xlabel="x", ylabel="y")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))
    assert drawn(fig) == []
    ax.get_lines()[0].set_clip_on(False)          # now drawn past the panel, under the legend
    assert any("legend covers" in p for p in drawn(fig))
    plt.close(fig)
