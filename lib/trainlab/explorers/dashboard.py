"""Lessons 03 and 04: the live training dashboard (after Karpathy's makemore part 3).

No precomputed grid (the nine other explorers have one, :data:`trainlab.explorers.spec.SPECS`),
measured on 2026-12-07 on the 2-core development machine with the lesson 03 model (784-100×5-10
tanh MLP, 300 SGD steps with stats, 256 probe images):

* its state space is 41 learning rates × 3 optimizers = 123 states per model, and the lessons
  pass two models (03's tanh MLP, 04's with batch norm): 246 states;
* one state is one training run: 46–51 s of CPU time each under that machine's load (load
  average about 14; the compute is deterministic: the same state twice gave identical arrays),
  so the full grid is about 3.3 CPU hours;
* one stored state is 1.04 MB gzip'd (the histograms are drawn from the raw activations and
  gradients of 5 layers × 256 probe images × 100 units), so 123 states are about 128 MB per
  model -- against a committed total of a few MB (the nine grids hold 0.99 MB); even a
  learning-rate-only sub-grid at SGD (41 states) would be 43 MB;
* the model is whatever callable the lesson passes (``model_fn``), not data: a grid would need
  ``model_fn`` described as data and its builder's code in the stored hash.

The 1.04 MB and the 46–51 s are lesson 03's model; lesson 04's (the same MLP with batch norm)
was not measured. So the dashboard always trains live: it reports its state at each recorded
step (``record_every``, every 20 steps by default) and the live explorer draws it as it
trains."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from trainlab import health
from trainlab.data import mnist_subset
from trainlab.explorers._training import _Figures, _trained_problems
from trainlab.explorers.core import Cancelled, _explorer_figure, fmt
from trainlab.explorers.live import Explorer
from trainlab.explorers.spec import choice, log_slider
from trainlab.style import (
    color,
    text_size,
)


# --------------------------------------------------------------------------------------------
# live training dashboard (after Karpathy's "makemore part 3")
# --------------------------------------------------------------------------------------------
def training_dashboard(model_fn: Callable[..., Any], data: tuple[np.ndarray, ...] | None = None,
                       *, lr: float = 0.1, optimizer: str = "sgd", steps: int = 300,
                       batch_size: int = 64, record_every: int = 20, n_probe: int = 256,
                       seed: int = 0) -> Explorer:
    """Watch a network train: per-layer histograms of activations and of their gradients,
    the saturated / dead fraction and the update-to-data ratio of every layer over training.

    ``model_fn()`` builds a fresh trainlab / torch model (its layers are those of
    :func:`trainlab.train.find_layers`), called with no arguments, so any
    ``functools.partial`` of :func:`trainlab.models.mlp` or a CNN builder works. ``data``:
    ``(X, y, Xv, yv)``; ``None`` takes 2,000 + 500 MNIST-10k images
    (:func:`trainlab.data.mnist_subset`, flattened). Controls (``continuous_update=False``):
    ``lr`` (1e-3..1e1) and ``optimizer``. The model trains with :func:`trainlab.train.train`
    (``stats=True``); at each record step the histograms are measured on ``n_probe`` training
    images (:func:`trainlab.train.layer_values`) and the figure is redrawn live. The
    update-to-data ratio ``||ΔW|| / ||W||`` is drawn as log10 with Karpathy's rule of thumb
    1e-3 as a dashed line; ``saturated`` (tanh/sigmoid tails) and ``dead`` (ReLU units off for
    every example) come from the recorder. ``last_result``: ``history``, ``layers``
    (per-layer ``act``/``act_grad`` std, saturated and dead fractions at the end), ``status``
    (:func:`_dashboard_status`).
    """
    X, y, Xv, yv = data if data is not None else mnist_subset(2000, 500, seed)
    probe = (X[:n_probe], y[:n_probe])
    controls = [log_slider("lr", "learning rate", lr, -3, 1),
                choice("optimizer", "optimizer", optimizer, ("sgd", "momentum", "adam"))]

    def compute(lr: float, optimizer: str, report: Any = None, cancelled: Any = None
                ) -> dict[str, Any]:
        from trainlab.train import layer_values, train

        model = model_fn()

        def snapshot(hist: Any) -> dict[str, Any]:
            was_training = model.training
            model.eval()
            values = layer_values(model, *probe)
            model.train(was_training)
            return {"history": hist, "values": values,
                    "summary": f"{optimizer}, lr {fmt(lr)}: step {hist.steps_run} of {steps}"}

        def hook(hist: Any) -> None:
            if cancelled is not None and cancelled():
                raise Cancelled
            if report is not None:
                res = snapshot(hist)
                res["progress"] = f"step {hist.steps_run} of {steps}"
                report(res)

        hist = train(model, (X, y), (Xv, yv), steps=steps, batch_size=min(batch_size, len(X)),
                     lr=float(lr), optimizer=optimizer, record_every=record_every, stats=True,
                     seed=seed, progress=False, on_record=hook)
        res = snapshot(hist)
        res["layers"] = [{"layer": v["layer"], "act_std": float(np.std(v["act"])),
                          "grad_std": float(np.std(v["act_grad"]))} for v in res["values"]]
        res["status"] = _dashboard_status(model, hist, res, probe)
        res["summary"] = (f"{optimizer}, lr {fmt(lr)}: train loss "
                          f"{fmt(hist.final('train_loss'))}, val accuracy "
                          f"{fmt(hist.final('val_acc'))}")
        return res

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _dashboard_figure(figures, res),
                    title="Training dashboard", live=True)


def _dashboard_status(model: Any, hist: Any, res: dict[str, Any], probe: tuple) -> str:
    """The dashboard's status: diverged, dead units, chance accuracy
    (:func:`_trained_problems`), the activations' std per layer against the inputs' std
    (vanished / exploded) and the saturated fraction of tanh / sigmoid layers, all on the
    probe images at the end of training."""
    problems = _trained_problems(model, hist, probe[0],
                                 n_classes=max(2, int(np.max(probe[1])) + 1))
    if hist.diverged:
        return health.status(*problems)
    x_std = float(np.std(np.asarray(probe[0], dtype=np.float64)))
    if x_std > 0:
        problems.append(health.signal_problem([v["act_std"] for v in res["layers"]], x_std))
    sat = [float(np.mean(np.abs(v["act"]) > 0.99)) if v["activation"] == "tanh" else
           float(np.mean((v["act"] < 0.01) | (v["act"] > 0.99)))
           if v["activation"] == "sigmoid" else math.nan for v in res["values"]]
    problems.append(health.saturated_problem(sat))
    return health.status(*problems)


DASHBOARD_HEIGHT = 0.455
"""The figure's height over its width (1056 x 480 px in the screen style): with its controls,
status line and a one-line cell it fits a 1280 x 720 live-deck slide (it was 0.663, 700 px)."""


def _dashboard_axes() -> tuple[Figure, list[Any]]:
    fig = _explorer_figure(DASHBOARD_HEIGHT, widen=1.1)
    grid = fig.add_gridspec(2, 2, hspace=0.7, wspace=0.25, left=0.08, right=0.98, top=0.8,
                            bottom=0.13)
    return fig, [fig.add_subplot(grid[i, j]) for i in range(2) for j in range(2)]


def _dashboard_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    """2 x 2 panels: activation and gradient histograms per layer, saturated/dead fraction
    and log10 update-to-data ratio against the step; one legend row (the layers, a colour
    each, and the 1e-3 rule of thumb) above the panels, off the data."""
    hist = res["history"]
    fig, (ax_a, ax_g, ax_s, ax_u) = figures.get(("dashboard",), _dashboard_axes)
    for i, v in enumerate(res["values"]):
        label = f"layer {v['layer']} ({v['activation']})"
        for ax, key in ((ax_a, "act"), (ax_g, "act_grad")):
            vals = np.asarray(v[key], dtype=np.float64).ravel()
            vals = vals[np.isfinite(vals)]
            if vals.size:
                counts, edges = np.histogram(vals, bins=40)
                ax.stairs(counts / max(1, vals.size), edges, color=color(i), label=label)
    ax_a.set_xlabel("activation a", fontsize=text_size("label"))
    ax_a.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax_g.set_xlabel("gradient dL/da", fontsize=text_size("label"))
    ax_g.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt(float(v))))
    ax_g.xaxis.set_major_locator(MaxNLocator(nbins=4))
    for ax in (ax_a, ax_g):
        ax.set_ylabel("fraction of entries", fontsize=text_size("label"))
    for layer in hist.layers:
        i = layer - 1
        steps, sat = hist.series("saturated", layer=layer)
        _, dead = hist.series("dead", layer=layer)
        frac = np.where(np.isfinite(sat), sat, dead)
        ax_s.plot(steps, frac, "-", color=color(i))
        _, ratio = hist.series("update_ratio", layer=layer)
        with np.errstate(divide="ignore", invalid="ignore"):
            ax_u.plot(steps, np.log10(ratio), "-", color=color(i), label=f"layer {layer}")
    ax_s.set_ylim(-0.02, 1.02)
    ax_s.set_ylabel("saturated (tanh, sigmoid)\nor dead (ReLU) fraction",
                    fontsize=text_size("label"))
    ax_u.axhline(-3, ls="--", color="black", lw=1, label="1e-3 (rule of thumb)")
    ax_u.set_ylabel("log10 update / data ratio", fontsize=text_size("label"))
    handles, labels = ax_a.get_legend_handles_labels()     # one row for the four panels
    rule = ax_u.get_legend_handles_labels()
    fig.legend(handles + rule[0][-1:], labels + rule[1][-1:], loc="upper center",
               bbox_to_anchor=(0.5, 0.93), ncol=len(handles) + 1, frameon=False,
               fontsize=text_size(), handlelength=1.5, columnspacing=1.2)
    for ax in (ax_s, ax_u):
        ax.set_xlabel("training step", fontsize=text_size("label"))
    for ax in (ax_a, ax_g, ax_s, ax_u):
        ax.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"], fontsize=text_size("title"))
    return fig
