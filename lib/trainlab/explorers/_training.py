"""What the training explorers share: one MNIST run spec, a torch MLP trained with live
reports, the curves figure and its legend, the run summary and the health status."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from trainlab import health
from trainlab.data import mnist_subset
from trainlab.explorers.core import Cancelled, _check_choice, _explorer_figure, _legend_off_data
from trainlab.style import (
    color,
    current,
    text_size,
)


# --------------------------------------------------------------------------------------------
# training explorers (torch MLPs on MNIST-10k)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _RunSpec:
    """What every training explorer fixes: data size, steps, minibatch, seed."""

    n_train: int = 2000
    n_val: int = 500
    steps: int = 150
    batch_size: int = 64
    record_every: int = 10
    seed: int = 0


def _train_mlp(spec: _RunSpec, *, hidden: list[int], lr: float, stats: bool = False,
               optimizer: str = "sgd", on_record: Callable[[Any], None] | None = None,
               dtype: str = "float32", **model_kwargs: Any) -> Any:
    """Build ``trainlab.models.mlp(784, hidden, 10, **model_kwargs)`` in ``dtype`` and train it.

    float32 by default, whatever torch's default dtype: an explorer's curves are looked at,
    not printed, and float32 trains about twice as fast on a CPU. A lesson cell that prints an
    explorer's numbers calls ``explorer.compute(..., dtype="float64")``, the precision whose
    printed digits agree across CPUs (``setup_notebook`` makes it torch's default). Raises
    ValueError for another ``dtype``."""
    import torch

    _check_choice("dtype", dtype, ("float32", "float64"))

    from trainlab.models import mlp
    from trainlab.train import train

    X, y, Xv, yv = mnist_subset(spec.n_train, spec.n_val, spec.seed)
    model = mlp(784, hidden, 10, seed=spec.seed, **model_kwargs).to(getattr(torch, dtype))
    history = train(model, (X, y), (Xv, yv), steps=spec.steps, batch_size=spec.batch_size,
                    lr=float(lr), optimizer=optimizer, record_every=spec.record_every,
                    stats=stats, seed=spec.seed, progress=False, on_record=on_record)
    return model, history


def _probe(spec: _RunSpec) -> np.ndarray:
    """The validation images of a training explorer's data, on which dead units are counted."""
    return mnist_subset(spec.n_train, spec.n_val, spec.seed)[2]


def _live_hook(report: Callable[[dict], None] | None, cancelled: Callable[[], bool] | None,
               partial: Callable[[Any], dict[str, Any]], steps: int) -> Callable[[Any], None]:
    """A ``train(on_record=...)`` callback: stop a stale run, hand the curves so far to the
    explorer to draw."""
    def hook(history: Any) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled
        if report is not None and len(history.curves) >= 2:
            res = partial(history)
            res["progress"] = f"step {history.steps_run} of {steps}"
            report(res)
    return hook


def _run_summary(history: Any) -> dict[str, Any]:
    return {"final_train_loss": history.final("train_loss"),
            "final_val_loss": history.final("val_loss"),
            "final_val_acc": history.final("val_acc"),
            "diverged": history.diverged, "diverged_at": history.diverged_at}


def _trained_problems(model: Any, history: Any, probe: Any, n_classes: int = 10,
                     label: str = "") -> list[str]:
    """What :mod:`trainlab.health` sees in a trained run: ``diverged`` (the training-loss
    records, plus the loss that stopped the run: not finite or above ``max_loss``), ``dead
    units`` (per hidden layer, in eval mode on the images ``probe``, also after a divergence:
    the weights of the last step before it) and, for a run that did not diverge, ``chance
    accuracy`` (the last validation accuracy). ``label`` prefixes each problem ("no BN:
    diverged: ...")."""
    import re

    from trainlab.train import pre_activation_stats

    steps, losses = history.series("train_loss")
    if history.diverged:
        found = re.search(r"loss = ([-+0-9.e]+|nan|inf)", history.status)
        steps = np.append(steps, history.diverged_at)
        losses = np.append(losses, float(found.group(1)) if found else math.nan)
    div = health.diverged_problem(losses, steps) if losses.size else None
    was_training = model.training
    model.eval()
    with np.errstate(invalid="ignore"):
        stats = pre_activation_stats(model, probe)
    model.train(was_training)
    problems = [div, health.dead_problem([s["dead"] for s in stats])]
    acc = history.final("val_acc")
    if div is None and math.isfinite(acc):
        problems.append(health.chance_problem(acc, n_classes, "validation accuracy"))
    prefix = f"{label}: " if label else ""
    return [prefix + p for p in problems if p]


class _Figures:
    """An explorer's figures, one per layout and course style, kept between draws.

    ``get(key, build)`` returns the ``(figure, axes)`` that ``build()`` made for ``key`` (and the
    current style), its axes emptied of data artists (:func:`_clear_axes`): axes, ticks and
    labels stay, so a redraw costs matplotlib's draw, not new axes (0.1 s instead of 0.2-0.3 s
    for a lecture-size figure of training curves). The caller holds the explorer's render lock.
    """

    def __init__(self) -> None:
        self._made: dict[tuple, tuple[Figure, list[Any]]] = {}

    def get(self, key: tuple, build: Callable[[], tuple[Figure, list[Any]]]
            ) -> tuple[Figure, list[Any]]:
        full = (current().name, *key)
        if full not in self._made:
            self._made[full] = build()
        fig, axes = self._made[full]
        _clear_axes(axes)
        for legend in list(fig.legends):
            legend.remove()
        return fig, axes


def _clear_axes(axes: Sequence[Any]) -> None:
    """Remove what a previous draw put in ``axes`` (containers, lines, collections, patches,
    texts, legend) and turn autoscaling back on."""
    for ax in axes:
        for container in list(ax.containers):
            try:
                container.remove()
            except ValueError:  # matplotlib 3.10.0 (Colab's): a child was already removed
                pass
            if container in ax.containers:
                ax.containers.remove(container)
        for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
            artist.remove()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.relim()
        ax.set_autoscale_on(True)


def _curves_axes(n: int, right: float = 0.98, top: float = 0.8) -> tuple[Figure, list[Any]]:
    fig = _explorer_figure(0.417)
    grid = fig.add_gridspec(1, n, wspace=0.25 if right > 0.9 else 0.4, left=0.1, right=right,
                            top=top, bottom=0.16)
    return fig, [fig.add_subplot(grid[0, i]) for i in range(n)]


def _runs_legend(fig: Figure, axs: Sequence[Any], names: Sequence[str],
                 left: float | None) -> None:
    """One legend for the runs, off the panels (their own legends, two long entries per run,
    covered the curves): for overlaid runs right of the panels, a colour and marker per run,
    then the line styles; for one run (``left`` None) the line styles in a row above them."""
    from matplotlib.lines import Line2D

    from trainlab.plots import _MARKERS

    for ax in axs:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles = [Line2D([], [], color=color(i), marker=_MARKERS[i % len(_MARKERS)], label=name)
               for i, name in enumerate(names)]
    handles += [Line2D([], [], color="0.3", ls="-", label="training"),
                Line2D([], [], color="0.3", ls="--", label="validation")]
    if left is None:
        fig.legend(handles=handles[-2:], loc="lower center", ncol=2, frameon=False,
                   bbox_to_anchor=(0.5, axs[0].get_position().y1), fontsize=text_size())
    else:
        fig.legend(handles=handles, loc="center left", bbox_to_anchor=(left, 0.48),
                   fontsize=text_size(), frameon=False)


def _loss_ticks(ax: Any) -> None:
    """Plain-number ticks on a log loss axis: a decade apart (1e-3, 0.01, ...) over more than
    a decade, else a few plain decimals (2.299, 2.3, 2.301): matplotlib's own labels of the
    minor ticks of a narrow range (``2.299×10^0``) ran past the figure's left edge."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator

    from trainlab.explorers.core import _decade_label, _LogTicks

    lo, hi = ax.get_ylim()
    if hi > 10 * lo:
        ax.yaxis.set_major_locator(_LogTicks())
        ax.yaxis.set_major_formatter(FuncFormatter(_decade_label))
        ax.yaxis.set_minor_formatter(NullFormatter())
        return
    locator = MaxNLocator(nbins=5, steps=[1, 2, 5, 10])     # a step 10**k times 1, 2 or 5
    ticks = locator.tick_values(lo, hi)
    digits = max(0, -int(math.floor(math.log10(ticks[1] - ticks[0])))) if len(ticks) > 1 else 3
    ax.yaxis.set_major_locator(locator)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.{digits}f}"))
    ax.yaxis.set_minor_locator(NullLocator())


def _curves_figure(figures: _Figures, histories: dict[str, Any], *, metrics: Sequence[str],
                   side_by_side: bool, title: str, steps: int | None = None,
                   panels: Sequence[str] = ()) -> Figure:
    """Training curves on an explorer's kept figure (outside pyplot: drawn from a thread).
    ``side_by_side``: one panel per run named in ``panels`` (default: the runs in
    ``histories``), so a run not started yet keeps its empty panel and the layout does not
    jump while the runs train one after the other."""
    from trainlab.plots import training_curves

    names = list(panels) or list(histories)
    n = len(names) if side_by_side else len(metrics)
    overlay = not side_by_side and len(histories) > 1
    right = 0.6 if overlay else 0.98
    top = 0.8 if side_by_side or overlay else 0.76     # one run: its legend row above
    fig, axs = figures.get(("curves", n, overlay), lambda: _curves_axes(n, right, top))
    if side_by_side:
        for ax, name in zip(axs, names, strict=True):
            if name in histories:
                training_curves({name: histories[name]}, metrics=metrics[:1], axes=[ax],
                                log_loss=True)
            ax.set_title(name, fontsize=text_size("title"))
    else:
        training_curves(histories, metrics=metrics, axes=axs, log_loss=True)
    for ax in axs:
        ax.tick_params(labelsize=text_size())
        ax.xaxis.label.set_fontsize(text_size("label"))
        ax.yaxis.label.set_fontsize(text_size("label"))
        if steps is not None:
            ax.set_xlim(0, steps)
        if side_by_side and ax.get_legend() is not None:
            _legend_off_data(ax, headroom=True, fontsize=text_size())
        if ax.get_yscale() == "log":
            _loss_ticks(ax)
    if not side_by_side:
        _runs_legend(fig, axs, list(histories), right + 0.01 if overlay else None)
    fig.suptitle(title, fontsize=text_size("title"))
    return fig

