"""Lesson 07: batch norm depends on the batch, group norm does not."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from trainlab import health
from trainlab.explorers._training import _Figures
from trainlab.explorers.core import (
    Cancelled,
    _check_int,
    _explorer_figure,
)
from trainlab.explorers.live import Explorer, serves_grid
from trainlab.explorers.spec import slider, stepped
from trainlab.style import (
    color,
    text_size,
)

# --------------------------------------------------------------------------------------------
# lesson 07: batch norm depends on the batch, group norm does not
# --------------------------------------------------------------------------------------------
_PER_STAT_BATCHES = (2, 4, 8, 16, 32)


@serves_grid
def batch_groups_explorer(*, batch_per_stat: int = 2, groups: int = 10, seeds: int = 1,
                          steps: int = 150) -> Explorer:
    """Batch norm against group norm as the number of images per BN statistic shrinks
    (Wu & He 2018, "Group normalization", ECCV, arXiv:1803.08494, figure 1), at CPU scale.

    The MLP 196-100-100-10 of lesson 07 (ReLU, the norm before each ReLU) on MNIST-10k shrunk to
    14 x 14 pixels, ``steps`` SGD-momentum steps of 32 images (learning rate 0.05), float32,
    for seeds 0, 1, ... (:func:`trainlab.reproduce.beyond_batchnorm.batch_dependence`). Batch
    norm computes its statistics over groups of ``B`` of the 32 images
    (:class:`~trainlab.reproduce.beyond_batchnorm.PerWorkerBatchNorm`) and is tested with
    population statistics; group norm standardises each image's ``100 / G`` units of a group
    on their own, so it never sees the batch (``G = 1`` normalises over all units, as layer
    norm does).

    Controls: ``B`` (SelectionSlider 2, 4, 8, 16, 32 images per BN statistic), ``groups``
    (SelectionSlider of the valid G, :data:`~trainlab.reproduce.beyond_batchnorm.GN_GROUPS`:
    they divide 100 and leave at least 2 units per group) and ``seeds`` (IntSlider 1..3, the
    number of seeds; ``seeds`` is its opening value). Runs are cached per (B, seed) and (G,
    seed), so a group-norm run is never repeated for another B; with several seeds the first
    one is drawn as soon as it is done. The figure: (a) validation error against B: batch norm
    in test mode (population statistics; every seed a dot, the line through the means of the B
    visited) and in training mode (statistics of B validation images), group norm as a line
    with its seeds' range shaded; (b) at the current B and G: test-mode error, training-mode
    error and the fraction of training-mode predictions that change when the validation images
    are regrouped with other batch-mates (0 for group norm). ``last_result``: ``bn`` and ``gn``
    (dicts of lists over seeds: ``eval_error``, ``train_error``, ``flips``), ``bn_mean_error``,
    ``gn_mean_error``, ``bn_sweep`` (B -> mean test-mode error of the B visited), ``status``
    (:func:`_batch_groups_status`).

    Raises ValueError for ``batch_per_stat`` not in (2, 4, 8, 16, 32), ``groups`` not in
    ``GN_GROUPS`` or ``seeds`` outside [1, 3].
    """
    from trainlab.reproduce.beyond_batchnorm import GN_GROUPS

    controls = [
        stepped("B", "images per BN statistic B", batch_per_stat, _PER_STAT_BATCHES,
                arg="batch_per_stat"),
        stepped("groups", "GN groups G", groups, GN_GROUPS),
        slider("seeds", "seeds", seeds, 1, 3),
    ]
    steps = _check_int("steps", steps, 1, 2000)
    runs: dict[tuple, dict[str, Any]] = {}
    data: list[Any] = []
    busy = threading.Lock()

    def compute(B: int, groups: int, seeds: int = seeds, report: Any = None,
                cancelled: Any = None) -> dict[str, Any]:
        with busy:     # one run at a time: a stale one stops at its next check
            return train_all(B, groups, int(seeds), report, cancelled)

    def train_all(B: int, groups: int, n_seeds: int, report: Any, cancelled: Any
                  ) -> dict[str, Any]:
        import torch

        from trainlab.reproduce.beyond_batchnorm import batch_dependence, shrunk_mnist

        if not data:
            data.append(shrunk_mnist())
        for seed in range(n_seeds):
            for key in (("bn", int(B), seed), ("gn", int(groups), seed)):
                if cancelled is not None and cancelled():
                    raise Cancelled
                if key not in runs:
                    norm, value, _ = key
                    runs[key] = batch_dependence(norm, batch_per_stat=value, groups=value,
                                                 seed=seed, data=data[0], steps=steps,
                                                 dtype=torch.float32)
            if report is not None and seed == 0 and n_seeds > 1:
                partial = _batch_groups_numbers(runs, int(B), int(groups), 1)
                partial["progress"] = f"seed 1 of {n_seeds}"
                report(partial)
        return _batch_groups_numbers(runs, int(B), int(groups), n_seeds)

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _batch_groups_figure(figures, res),
                    title="Batch norm vs group norm: images per statistic", live=True)


def _batch_groups_numbers(runs: dict[tuple, dict[str, Any]], B: int, groups: int,
                          n_seeds: int) -> dict[str, Any]:
    """The numbers of the current (B, G) over the first ``n_seeds`` seeds, and the BN sweep
    over every B with all of those seeds done."""
    keys = ("eval_error", "train_error", "flips", "diverged")
    res: dict[str, Any] = {"B": B, "groups": groups, "seeds": n_seeds}
    for norm, value in (("bn", B), ("gn", groups)):
        done = [runs[(norm, value, s)] for s in range(n_seeds)]
        res[norm] = {k: [r[k] for r in done] for k in keys}
        res[f"{norm}_mean_error"] = float(np.mean(res[norm]["eval_error"]))
    sweep: dict[int, list[tuple[float, float]]] = {}
    for b in _PER_STAT_BATCHES:
        done = [runs.get(("bn", b, s)) for s in range(n_seeds)]
        if all(done):
            sweep[b] = [(r["eval_error"], r["train_error"]) for r in done]
    res["bn_sweep_seeds"] = sweep
    res["bn_sweep"] = {b: float(np.mean([e for e, _ in v])) for b, v in sweep.items()}
    bn, gn = res["bn"], res["gn"]
    seeds_text = f"{n_seeds} seed" + ("s" if n_seeds > 1 else "")
    res["summary"] = (f"B = {B}: BN test error {100 * res['bn_mean_error']:.0f}%, GN (G = "
                      f"{groups}) {100 * res['gn_mean_error']:.0f}% (mean of {seeds_text});\n"
                      f"regrouping the images changes {100 * np.mean(bn['flips']):.0f}% of BN's "
                      f"training-mode predictions, {100 * np.mean(gn['flips']):.0f}% of GN's")
    res["status"] = _batch_groups_status(res)
    return res


def _batch_groups_status(res: dict[str, Any]) -> str:
    """By :mod:`trainlab.health`: a run that diverged, and chance accuracy (10 classes) of
    BN in test mode, BN in training mode and GN (means over the seeds shown)."""
    problems: list[str] = []
    for norm, name in (("bn", f"BN (B = {res['B']})"), ("gn", f"GN (G = {res['groups']})")):
        if any(res[norm]["diverged"]):
            problems.append(f"{name}: diverged: loss not finite in "
                            f"{sum(map(bool, res[norm]['diverged']))} of {res['seeds']} seeds")
            continue
        modes = (("eval_error", "test-mode"), ("train_error", "training-mode")) \
            if norm == "bn" else (("eval_error", "validation"),)
        for key, what in modes:
            acc = 1.0 - float(np.mean(res[norm][key]))
            found = health.chance_problem(acc, 10, f"{what} accuracy")
            if found:
                problems.append(f"{name}: {found}")
    return health.status(*problems)


def _batch_groups_axes() -> tuple[Figure, list[Any]]:
    fig = _explorer_figure(4.6 / (9.6 * 1.15), widen=1.15)
    grid = fig.add_gridspec(1, 2, width_ratios=(1.25, 1.0), wspace=0.25, left=0.07,
                            right=0.985, top=0.78, bottom=0.2)
    return fig, [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]


def _batch_groups_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    """(a) error against B for BN (test and training mode) and GN; (b) the three measures at
    the current B and G."""
    fig, (ax_s, ax_b) = figures.get(("batch_groups",), _batch_groups_axes)
    bn_col, gn_col = color(0), color(1)
    sweep = res["bn_sweep_seeds"]
    if sweep:
        bs = np.array(sorted(sweep))
        vals = np.array([sweep[b] for b in bs]) * 100
        for j in range(vals.shape[1]):
            ax_s.plot(bs, vals[:, j, 0], "o", color=bn_col, alpha=0.45, ms=5)
        ax_s.plot(bs, vals[:, :, 0].mean(axis=1), "o-", color=bn_col, ms=8, lw=2,
                  label="BN, test mode (population statistics)")
        ax_s.plot(bs, vals[:, :, 1].mean(axis=1), "s--", color=bn_col, ms=6,
                  label="BN, training mode (statistics of B images)")
    gn_err = 100 * np.asarray(res["gn"]["eval_error"])
    ax_s.axhspan(gn_err.min(), gn_err.max(), color=gn_col, alpha=0.25, lw=0)
    ax_s.axhline(gn_err.mean(), color=gn_col, lw=2,
                 label=f"GN, G = {res['groups']} (does not depend on B)")
    ax_s.axvline(res["B"], color="0.5", lw=1, ls=":")
    ax_s.set_xscale("log", base=2)
    ax_s.set_xticks(list(_PER_STAT_BATCHES), [str(b) for b in _PER_STAT_BATCHES])
    ax_s.xaxis.set_minor_formatter(NullFormatter())
    ax_s.set_xlim(1.6, 40)
    ax_s.set_ylim(0, 150)
    ax_s.set_yticks([0, 20, 40, 60, 80, 100])
    ax_s.set_xlabel("images per batch-norm statistic B", fontsize=text_size("label"))
    ax_s.set_ylabel("validation error (%)", fontsize=text_size("label"))
    ax_s.set_title("(a) error vs B (the B visited; dots: seeds)", fontsize=text_size("title"))
    ax_s.legend(fontsize=text_size(), loc="upper center")
    names = ("error,\ntest mode", "error,\ntraining mode", "changed by\nregrouping")
    pos = np.arange(len(names))
    for shift, norm, col, label in ((-0.2, "bn", bn_col, f"BN, B = {res['B']}"),
                                    (0.2, "gn", gn_col, f"GN, G = {res['groups']}")):
        r = res[norm]
        means = [100 * np.mean(r[k]) for k in ("eval_error", "train_error", "flips")]
        ax_b.bar(pos + shift, means, 0.4, color=col, label=label)
        for i, k in enumerate(("eval_error", "train_error", "flips")):
            ax_b.plot([pos[i] + shift] * len(r[k]), 100 * np.asarray(r[k]), "o", ms=4,
                      color="black", alpha=0.6)
            ax_b.text(pos[i] + shift, means[i] + 1, f"{means[i]:.0f}%", ha="center",
                      va="bottom", fontsize=text_size())
    ax_b.set_xticks(pos, names)
    ax_b.set_ylim(0, 120)
    ax_b.set_yticks(np.arange(0, 101, 20))
    ax_b.set_ylabel("% of validation images", fontsize=text_size("label"))
    ax_b.set_xlabel("measured on 1,000 validation images", fontsize=text_size("label"))
    ax_b.set_title("(b) at this B and G (dots: seeds)", fontsize=text_size("title"))
    ax_b.legend(fontsize=text_size(), loc="upper center", ncol=2)
    for ax in (ax_s, ax_b):
        ax.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"], fontsize=text_size("label"))
    return fig
