"""Lesson 03 (weight initialisation) at full size: the settings sweep behind its laptop
version of He et al. (2015): 30 ReLU layers from Xavier vs Kaiming weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from trainlab import models
from trainlab.reproduce import common
from trainlab.reproduce.common import Arrays, check_positive_int, maybe_progress
from trainlab.style import color
from trainlab.train import train

__all__ = ["HeSweepConfig", "plot_he_sweep", "run_he_sweep"]


# --------------------------------------------------------------------------------------------
# He et al. (2015), figure 3, at laptop scale: the settings sweep of lesson 03
# --------------------------------------------------------------------------------------------
@dataclass
class HeSweepConfig:
    """Settings of :func:`run_he_sweep` (defaults: the sweep quoted in lesson 03)."""

    depth: int = 30
    widths: tuple[int, ...] = (64, 96, 128)
    optimizers: tuple[tuple[str, float], ...] = (("sgd", 0.01), ("sgd", 0.02),
                                                 ("momentum", 0.01), ("momentum", 0.05))
    steps: int = 400
    batch_size: int = 64
    record_every: int = 25
    subset: str = "10k"
    seed: int = 0


def run_he_sweep(cfg: HeSweepConfig | None = None, data: tuple[Arrays, str] | None = None,
                 show_progress: bool = True) -> dict[str, Any]:
    """Train ``depth`` ReLU layers of each width from Xavier (``xavier_fan_in``, Var(W) =
    1/fan_in) and Kaiming (``kaiming_normal``, Var(W) = 2/fan_in) weights with every
    (optimizer, learning rate) of ``cfg.optimizers`` ("sgd" or "momentum" with 0.9) on
    standardised MNIST. ``final_train_loss`` is the running mean of the mini-batch losses of
    the last ``record_every`` steps. Returns ``{"config", "data", "runs": {label: {"scheme",
    "width", "optimizer", "lr", "final_train_loss", "final_val_acc", "status"}}}``; a diverged
    run has status "diverged" and a final loss of None.
    """
    cfg = cfg or HeSweepConfig()
    check_positive_int(depth=cfg.depth, steps=cfg.steps, batch_size=cfg.batch_size,
                       record_every=cfg.record_every)
    (xtr, ytr, xva, yva), desc = data or common.load_data(cfg.subset)
    mean, std = xtr.mean(), xtr.std()
    xtr, xva = (xtr - mean) / std, (xva - mean) / std
    grid = [(scheme, width, opt, lr) for scheme in ("xavier_fan_in", "kaiming_normal")
            for width in cfg.widths for opt, lr in cfg.optimizers]
    runs = {}
    for scheme, width, opt, lr in maybe_progress(grid, show_progress, "he sweep"):
        model = models.mlp(784, [width] * cfg.depth, 10, activation="relu", init=scheme,
                           seed=cfg.seed)
        hist = train(model, (xtr, ytr), (xva, yva), steps=cfg.steps, batch_size=cfg.batch_size,
                     lr=lr, optimizer=opt, record_every=cfg.record_every, stats=False,
                     seed=cfg.seed, progress=False)
        ok = not hist.diverged
        runs[f"{scheme} width {width} {opt} lr {lr}"] = {
            "scheme": scheme, "width": width, "optimizer": opt, "lr": lr,
            "final_train_loss": float(hist.final("train_loss")) if ok else None,
            "final_val_acc": float(hist.final("val_acc")) if ok else 0.0,
            "status": "diverged" if hist.diverged else "ok"}
    return {"config": asdict(cfg), "data": desc, "runs": runs}


def plot_he_sweep(result: dict[str, Any]) -> Figure:
    """Final training loss of every run of :func:`run_he_sweep`, one panel per scheme; a
    diverged run is drawn as a cross at the top; the dotted line is ln 10 (guessing)."""
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.0), sharey=True)
    for ax, scheme in zip(axes, ("xavier_fan_in", "kaiming_normal"), strict=True):
        runs = [r for r in result["runs"].values() if r["scheme"] == scheme]
        settings = list(dict.fromkeys(f"{r['optimizer']} {r['lr']}" for r in runs))
        widths = sorted({r["width"] for r in runs})
        for i, width in enumerate(widths):
            xs = np.arange(len(settings)) + (i - (len(widths) - 1) / 2) * 0.2
            ys = [next(r["final_train_loss"] for r in runs
                       if r["width"] == width and f"{r['optimizer']} {r['lr']}" == s)
                  for s in settings]
            ok = np.array([y is not None for y in ys])
            ax.plot(xs[ok], [y for y in ys if y is not None], "o", color=color(i),
                    label=f"width {width}")
            ax.plot(xs[~ok], np.full(int((~ok).sum()), 2.6), "X", color=color(i), ms=9)
        ax.axhline(np.log(10), color="black", lw=0.8, ls=":")
        ax.set_xticks(np.arange(len(settings)), settings, rotation=20)
        ax.set_xlabel("optimizer and learning rate")
        ax.set_ylabel("final training loss (X: diverged)")
        ax.set_title(scheme)
        ax.legend(loc="lower left")
    return fig
