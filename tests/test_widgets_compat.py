"""Explorers on the matplotlib versions students have: Colab's 3.10.0 raised
``list.remove(x): x not in list`` when an explorer cleared an errorbar whose children had
already been removed (the keep_prob explorer's status showed that error)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trainlab import widgets  # noqa: E402


def test_clear_axes_removes_an_errorbar_in_either_order():
    fig, ax = plt.subplots()
    ax.errorbar([0, 1], [0, 1], yerr=[0.1, 0.2], fmt="o-", capsize=4, label="keep_prob")
    for artist in [*ax.lines, *ax.collections]:      # children first, then the container
        artist.remove()
    widgets._clear_axes([ax])
    assert not ax.containers and not ax.lines and not ax.collections
    ax.errorbar([0, 1], [0, 1], yerr=[0.1, 0.2], fmt="o-", capsize=4, label="again")
    ax.legend()
    widgets._clear_axes([ax])
    assert not ax.containers and not ax.lines and not ax.collections and ax.get_legend() is None
    fig.canvas.draw()
    plt.close(fig)
