"""Lesson 06: keep_prob against the train/validation gap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from trainlab import health
from trainlab.dropout import keep_prob_seeds
from trainlab.explorers._training import _Figures
from trainlab.explorers.core import Cancelled, _check_int, _explorer_figure
from trainlab.explorers.live import Explorer, serves_grid
from trainlab.explorers.spec import choice, slider
from trainlab.style import (
    color,
    text_size,
)

KEEP_PROB_DEFAULTS: dict[str, Any] = {
    "n_train": 300, "label_noise": 0.3, "seeds": (0, 1, 2), "width": 128, "depth": 2,
    "steps": 250, "batch_size": 50, "lr": 2e-3, "record_every": 25}
"""The keep_prob explorer's opening setting: the data of lesson 06's regime where dropout
helps (300 scikit-learn digits, 30 % wrong labels, a 64-128-128-10 ReLU MLP, three seeds),
trained in half the steps (Adam 2e-3 for 250 steps of 50 instead of 1e-3 for 500)."""


@serves_grid
def keep_prob_explorer(*, keep_prob: float = 0.5, n_train: int = 300,
                       label_noise: float = 0.3, seeds: Sequence[int] = (0, 1, 2),
                       width: int = 128, depth: int = 2, steps: int = 250,
                       lr: float = 2e-3, batch_size: int = 50, record_every: int = 25,
                       train_sizes: Sequence[int] = (100, 300, 1000),
                       noise_levels: Sequence[float] = (0.0, 0.1, 0.3, 0.5),
                       widths: Sequence[int] = (32, 128, 512),
                       step_counts: Sequence[int] = (100, 250, 500)) -> Explorer:
    """Dropout where it helps: validation accuracy against ``keep_prob``, mean ± sd over seeds.

    Controls (``continuous_update=False``): ``keep_prob`` (FloatSlider 0.3..1.0, step 0.05), the
    probability of KEEPING a hidden unit (torch's ``nn.Dropout(p=1 - keep_prob)``);
    ``n_train`` (training images, from ``train_sizes``), ``label_noise`` (the fraction of
    training labels replaced by random classes, from ``noise_levels``), ``width`` (units in each
    of the ``depth`` hidden layers, from ``widths``) and ``steps`` (training steps, from
    ``step_counts``); the opening values are added to the options. Each setting runs
    :func:`trainlab.dropout.keep_prob_seeds` in float32: by default the data of lesson 06's
    regime (:data:`KEEP_PROB_DEFAULTS`): ``mlp(64, [128, 128], 10)`` trained with Adam (``lr``
    2e-3) for ``steps`` (250) steps of ``batch_size`` (50) on 300 scikit-learn digits with 30 %
    wrong labels, validated on 797 clean ones, once per seed in ``seeds``; drawn live as it
    trains. There, dropout raises the validation accuracy by about ten points (Srivastava et
    al. 2014: dropout pays off where a network can memorise what it should not).

    The figure, a function of the current state alone (the same whichever states were visited
    before, so a figure served from the stored grid equals the one computed live): validation
    accuracy against the step (mean ± sd over the seeds) of the current ``keep_prob`` and of
    ``keep_prob = 1`` (no dropout; trained after the current value the first time a setting is
    computed), and the final validation accuracy of both, each seed a dot and the mean ± sd an
    error bar, with the gap between the means. Results are cached by state (``keep_prob``, the
    setting), so going back to a value is instant; the cache never changes a figure.
    ``last_result``: what :func:`~trainlab.dropout.keep_prob_seeds` returns, ``reference`` (the
    same for ``keep_prob = 1``) and ``status`` (diverged, or chance accuracy of the mean over
    seeds: :func:`_keep_prob_status`). Raises
    ValueError for ``keep_prob`` outside [0.3, 1], fewer than 3 seeds, or a ``width``,
    ``depth`` or ``steps`` below 1.
    """
    if len(seeds) < 3:
        raise ValueError(f"seeds must hold at least 3 seeds (a mean over seeds), got {seeds!r}")
    for name, value in (("width", width), ("depth", depth), ("steps", steps)):
        _check_int(name, value, 1, 1 << 16)
    fixed = {"seeds": tuple(seeds), "batch_size": batch_size, "lr": lr,
             "record_every": record_every}
    seen: dict[tuple, dict[str, Any]] = {}
    noises = sorted({*noise_levels, label_noise})
    controls = [
        slider("keep_prob", "keep_prob", keep_prob, 0.3, 1.0, 0.05, readout=".2f"),
        choice("n_train", "train images", n_train, sorted({*train_sizes, n_train})),
        choice("label_noise", "wrong labels", label_noise, noises,
               labels=[f"{100 * v:.0f} %" for v in noises]),
        choice("width", "width", width, sorted({*widths, width})),
        choice("steps", "steps", steps, sorted({*step_counts, steps})),
    ]

    def measure(kp: float, setting: tuple, on_record: Any = None) -> dict[str, Any]:
        key = (kp, *setting)
        if key not in seen:
            n, noise, w, n_steps = setting
            seen[key] = keep_prob_seeds(kp, n_train=n, label_noise=noise, hidden=(w,) * depth,
                                        steps=n_steps, on_record=on_record, **fixed)
        return seen[key]

    def compute(keep_prob: float, n_train: int = n_train, label_noise: float = label_noise,
                width: int = width, steps: int = steps, report: Any = None,
                cancelled: Any = None) -> dict[str, Any]:
        kp, setting = round(float(keep_prob), 4), (n_train, label_noise, width, steps)

        def live(what: str, kp_now: float, shown: dict[str, Any] | None) -> Any:
            latest: dict[int, np.ndarray] = {}

            def on_record(i: int, hist: Any) -> None:
                if cancelled is not None and cancelled():
                    raise Cancelled
                steps_i, latest[i] = hist.series("val_acc")
                if report is None or len(steps_i) < 2:
                    return
                progress = f"{what}: seed {i + 1} of {len(seeds)}, step {hist.steps_run} of {steps}"
                part = dict(shown) if shown is not None else {
                    "partial": True, "keep_prob": kp_now, "runs": list(latest.values()),
                    "step": steps_i, "reference": seen.get((1.0, *setting))}
                part.update(progress=progress, summary=f"keep_prob {kp:.2f}: {progress}…")
                report(part)
            return on_record

        res = dict(measure(kp, setting, live(f"keep_prob {kp:.2f}", kp, None)))
        if (1.0, *setting) not in seen:
            shown = {**res, "reference": None}
            measure(1.0, setting, live("no-dropout reference", 1.0, shown))
        res["reference"] = seen[(1.0, *setting)]
        res["summary"] = (f"keep_prob {kp:.2f} (torch p = {1 - kp:.2f}): validation accuracy "
                          f"{res['acc_mean']:.2f} ± {res['acc_sd']:.2f} over {len(seeds)} seeds")
        if kp != 1.0:
            ref = res["reference"]
            res["summary"] += f"; no dropout {ref['acc_mean']:.2f} ± {ref['acc_sd']:.2f}"
        res["status"] = _keep_prob_status(res)
        return res

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _keep_prob_figure(figures, res),
                    title="Dropout on few, noisy labels: validation accuracy", live=True)


def _keep_prob_status(res: dict[str, Any]) -> str:
    """Diverged (a seed's loss was not finite: the status of
    :func:`~trainlab.dropout.keep_prob_seeds`) or chance accuracy (the mean final validation
    accuracy over the seeds, 10 classes), by :mod:`trainlab.health`."""
    found = res.get("status", "ok")
    if found.startswith("diverged"):
        return health.status("diverged: a seed's loss was not finite: " + found)
    return health.status(health.chance_problem(res["acc_mean"], 10,
                                               "validation accuracy (mean over seeds)"))


def _keep_prob_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    """Validation accuracy against the step (mean ± sd over seeds; each seed's curve while
    training) and the final accuracy of the current keep_prob and of no dropout, on the same
    accuracy scale (a function of ``res`` alone)."""
    def build() -> tuple[Figure, list[Any]]:
        fig = _explorer_figure(0.4)
        grid = fig.add_gridspec(1, 2, width_ratios=(1.3, 1.0), wspace=0.3, left=0.08,
                                right=0.98, top=0.84, bottom=0.16)
        ax_curve = fig.add_subplot(grid[0, 0])
        return fig, [ax_curve, fig.add_subplot(grid[0, 1], sharey=ax_curve)]

    fig, (ax_curve, ax_kp) = figures.get(("keep_prob",), build)
    ref = res.get("reference")
    if ref is not None and res["keep_prob"] != 1.0:
        _band(ax_curve, ref["step"], ref["val_acc"], color(1), "--", "no dropout (keep_prob 1)")
    label = f"keep_prob {res['keep_prob']:.2f}"
    if res.get("partial"):
        for i, acc in enumerate(res["runs"]):
            ax_curve.plot(res["step"][:len(acc)], acc, "-", color=color(0), lw=1.2,
                          label=f"{label}, seeds so far" if i == 0 else None)
    else:
        _band(ax_curve, res["step"], res["val_acc"], color(0), "-",
              f"{label}, mean ± sd over {len(res['seeds'])} seeds")
    ax_curve.set_ylim(0, 1)
    ax_curve.set_xlabel("training step", fontsize=text_size("label"))
    ax_curve.set_ylabel("validation accuracy", fontsize=text_size("label"))
    ax_curve.legend(fontsize=text_size(), loc="best")
    _draw_finals(ax_kp, res)
    for ax in (ax_curve, ax_kp):
        ax.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"], fontsize=text_size("title"))
    return fig


def _band(ax: Any, steps: np.ndarray, runs: np.ndarray, col: str, ls: str, label: str) -> None:
    mean, sd = runs.mean(axis=0), runs.std(axis=0)
    ax.plot(steps, mean, ls, color=col, label=label)
    ax.fill_between(steps, mean - sd, mean + sd, color=col, alpha=0.2, lw=0)


def _draw_finals(ax: Any, res: dict[str, Any]) -> None:
    """Final validation accuracy of the current ``keep_prob`` and of no dropout: each seed a
    dot, mean ± sd an error bar, and the gap between the means (none yet while training)."""
    ax.set_title("final validation accuracy", fontsize=text_size("label"))
    runs = [(f"keep_prob\n{res['keep_prob']:.2f}", color(0), res)]
    ref = res.get("reference")
    if ref is not None and res["keep_prob"] != 1.0:
        runs.append(("no dropout\n(1.00)", color(1), ref))
    means = []
    for x, (_, col, run) in enumerate(runs):
        if run.get("partial"):  # still training: no final accuracy yet
            means.append(None)
            continue
        finals = np.asarray(run["val_acc"])[:, -1]
        ax.plot(np.full(finals.size, x) + np.linspace(-0.08, 0.08, finals.size), finals, "o",
                color=col, alpha=0.6, ms=5)
        ax.errorbar([x + 0.22], [finals.mean()], yerr=[finals.std()], fmt="s", color=col,
                    capsize=4, ms=6)
        means.append(float(finals.mean()))
    if len(means) == 2 and None not in means:
        gap = means[0] - means[1]
        ax.annotate(f"keep_prob − no dropout: {100 * gap:+.1f} points", xy=(0.5, 0.04),
                    xycoords="axes fraction", ha="center", fontsize=text_size())
    ax.set_xticks(range(len(runs)), [r[0] for r in runs])
    ax.set_xlim(-0.5, 1.5)
