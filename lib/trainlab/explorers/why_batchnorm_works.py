"""Lesson 05: the loss landscape along the gradient, with and without batch norm."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from trainlab import health
from trainlab.explorers._training import _Figures
from trainlab.explorers.core import (
    Cancelled,
    _check_int,
    _decade_label,
    _explorer_figure,
    _legend_off_data,
    fmt,
)
from trainlab.explorers.live import Explorer, serves_grid
from trainlab.explorers.spec import slider, stepped
from trainlab.style import (
    OKABE_ITO,
    color,
    text_size,
)

# --------------------------------------------------------------------------------------------
# lesson 05: the loss landscape along the gradient, with and without batch norm
# --------------------------------------------------------------------------------------------
_LANDSCAPE_BATCHES = (8, 16, 32, 64, 128, 256)


@serves_grid
def landscape_explorer(*, batch_size: int = 128, noise: float = 0.0, eta: float = 0.4,
                       steps: int = 80, probe_every: int = 16, n_etas: int = 5,
                       depth: int = 6, width: int = 100, lr: float = 0.1,
                       seed: int = 0) -> Explorer:
    """Santurkar et al.'s (2018, figure 4) probe of the loss landscape, live, with and without
    batch norm ("How does batch normalization help optimization?", NeurIPS, arXiv:1805.11604).

    Two ReLU MLPs 784 -> ``[width] * depth`` -> 10 (Kaiming init, float32, one seed), without
    normalisation and with batch norm before every ReLU, are trained by plain SGD (learning
    rate ``lr``) for ``steps`` steps on MNIST-10k (8,000 training images); every
    ``probe_every`` steps the parameters ``x`` and the step's batch are kept
    (:func:`trainlab.landscape.sgd_checkpoints`). At each such point, with the mini-batch
    gradient ``g``, the probe (:func:`trainlab.landscape.probe_checkpoints`) evaluates, for
    ``n_etas`` step sizes ``eta_k = k eta_max / n_etas``, the loss ``L(x - eta_k g)`` and the
    gradient change ``||g - grad L(x - eta_k g)||`` on the same batch, in training mode.

    Controls (``continuous_update=False``): ``batch`` (SelectionSlider 8..256 images per SGD
    step and per BN statistic), ``noise`` (FloatSlider 0..3: the BN network becomes
    Santurkar et al.'s noisy BN, :class:`trainlab.modules.NoisyBatchNorm` with
    ``noise_mean = noise_std = noise / 2`` and ``noise_scale = 1 + noise``; 1 is lesson 05's
    setting, 0 plain BN; the probe holds each step's noise draw fixed) and ``eta`` (FloatSlider
    0.1..2, the largest probed step ``eta_max``; the paper uses 0.4). Trained checkpoints are
    cached, so an ``eta`` change only re-probes. The figure: (a) ``L(x - eta g)`` against
    ``eta`` at every probe (later probes darker); (b) the loss range ``max_eta L - min_eta L``
    per probe against the training step; (c) the gradient predictiveness
    ``max_eta ||g - grad L(x - eta g)||`` per probe, with ``||g||`` dotted; (b) and (c) on log
    scales. ``last_result``: ``loss_range``, ``grad_change``, ``grad_norm`` (dicts: run ->
    list per probe), ``median_loss_range``, ``median_grad_change`` (dicts: run -> float),
    ``probe_steps``, ``etas``, ``status`` (:func:`_landscape_status`).

    Raises ValueError for an opening value outside its control's range.
    """
    controls = [
        stepped("batch", "batch size", batch_size, _LANDSCAPE_BATCHES, arg="batch_size"),
        slider("noise", "BN noise", noise, 0.0, 3.0, 0.25, readout=".2f"),
        slider("eta", "probe η_max", eta, 0.1, 2.0, 0.05, readout=".2f"),
    ]
    steps = _check_int("steps", steps, 1, 1000)
    probe_every = _check_int("probe_every", probe_every, 1, steps)
    n_etas = _check_int("n_etas", n_etas, 2, 16)
    trained: dict[tuple, tuple[Any, list, list]] = {}
    probed: dict[tuple, list] = {}
    data: list[Any] = []
    busy = threading.Lock()

    def tensors() -> tuple[Any, Any]:
        import torch

        from trainlab.data import load_mnist

        if not data:
            x, y = load_mnist(subset="10k", split="train", flatten=True, dtype="float32")
            data.extend([torch.as_tensor(x, dtype=torch.float32),
                         torch.as_tensor(y, dtype=torch.int64)])
        return data[0], data[1]

    def run(key: tuple, cancelled: Any) -> tuple[Any, list, list]:
        from trainlab.landscape import sgd_checkpoints
        from trainlab.models import mlp

        if key not in trained:
            batch, level = key
            kwargs = None
            norm = "none" if level is None else ("bn" if level == 0 else "noisy_bn")
            if norm == "noisy_bn":
                kwargs = {"noise_mean": level / 2, "noise_std": level / 2,
                          "noise_scale": 1 + level, "rng": seed}
            model = mlp(784, [width] * depth, 10, norm=norm, norm_kwargs=kwargs,
                        seed=seed).float()
            x, y = tensors()
            cps, losses = sgd_checkpoints(model, x, y, lr=lr, steps=steps, batch_size=batch,
                                          every=probe_every, seed=seed, cancelled=cancelled)
            if cancelled():
                raise Cancelled
            trained[key] = (model, cps, [float(v) for v in losses])
        return trained[key]

    def compute(batch: int, noise: float, eta: float, report: Any = None,
                cancelled: Any = None) -> dict[str, Any]:
        with busy:     # one run at a time: the cached models are shared
            return probe_all(batch, noise, eta, cancelled or (lambda: False))

    def probe_all(batch: int, noise: float, eta: float, cancelled: Any) -> dict[str, Any]:
        from trainlab.landscape import probe_checkpoints

        level = round(float(noise), 4)
        etas = float(eta) * np.arange(1, n_etas + 1) / n_etas
        bn_label = "BN" if level == 0 else f"noisy BN ({fmt(level)})"
        runs = {"no BN": (int(batch), None), bn_label: (int(batch), level)}
        probes: dict[str, list] = {}
        for key in runs.values():
            pkey = (*key, round(float(eta), 4))
            if pkey not in probed:
                model, cps, _ = run(key, cancelled)
                found = probe_checkpoints(model, cps, etas, cancelled=cancelled,
                                          noise_seed=seed)
                if cancelled():
                    raise Cancelled
                probed[pkey] = found
        for label, key in runs.items():
            probes[label] = probed[(*key, round(float(eta), 4))]
        res = _landscape_numbers(probes, etas, probe_every, batch)
        res["status"] = _landscape_status(probes, {label: run(key, cancelled)[2]
                                                   for label, key in runs.items()}, float(eta))
        return res

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _landscape_figure(figures, res),
                    title="The loss landscape along the gradient, with and without BN",
                    live=True)


def _landscape_numbers(probes: dict[str, list], etas: np.ndarray, every: int,
                       batch: int) -> dict[str, Any]:
    """The explorer's numbers from the probes of each run (loss range, gradient change)."""
    res: dict[str, Any] = {"probes": probes, "etas": etas,
                           "loss_range": {}, "grad_change": {}, "grad_norm": {},
                           "median_loss_range": {}, "median_grad_change": {}}
    for label, found in probes.items():
        with np.errstate(invalid="ignore"):
            ranges = [float(np.ptp(p.losses)) if np.all(np.isfinite(p.losses)) else math.inf
                      for p in found]
        changes = [float(np.max(p.grad_changes)) for p in found]
        res["loss_range"][label] = ranges
        res["grad_change"][label] = changes
        res["grad_norm"][label] = [p.grad_norm for p in found]
        res["median_loss_range"][label] = float(np.median(ranges)) if ranges else math.nan
        res["median_grad_change"][label] = float(np.median(changes)) if changes else math.nan
    res["probe_steps"] = [every * i for i in range(max(map(len, probes.values()), default=0))]
    medians = ", ".join(f"{k} {fmt(v)}" for k, v in res["median_loss_range"].items())
    grads = ", ".join(f"{k} {fmt(v)}" for k, v in res["median_grad_change"].items())
    res["summary"] = (f"batch {batch}, η ≤ {fmt(float(etas[-1]))}: median loss range {medians}; "
                      f"median gradient change {grads}")
    bad = [k for k, v in res["loss_range"].items() if not all(map(math.isfinite, v))]
    res["status"] = ("ok" if not bad else
                     "overflow: non-finite loss along the gradient, " + ", ".join(bad))
    return res


def _landscape_status(probes: dict[str, list], train_losses: dict[str, list[float]],
                      eta: float) -> str:
    """Per run, by :mod:`trainlab.health`: its SGD training diverged (a step's loss not finite
    or above 10 × the first), or a probed step along the gradient diverges (``L(x - η g)`` not
    finite or above 10 × ``L(x)``) at some probes."""
    problems: list[str] = []
    for label, found in probes.items():
        losses = train_losses.get(label, [])
        div = health.diverged_problem(losses, list(range(len(losses)))) if losses else None
        if div:
            problems.append(f"{label}: {div}")
            continue
        bad = [p for p in found if health.diverged([p.loss, *p.losses])]
        if bad:
            problems.append(f"{label}: diverged: a step η ≤ {fmt(eta)} along the gradient "
                            f"at {len(bad)} of {len(found)} probes (loss not finite or > "
                            f"{health.DIVERGED_FACTOR:g} × the loss before the step)")
    return health.status(*problems)


def _landscape_axes() -> tuple[Figure, list[Any]]:
    fig = _explorer_figure(4.2 / (9.6 * 1.25), widen=1.25)
    grid = fig.add_gridspec(1, 3, wspace=0.34, left=0.06, right=0.985, top=0.8, bottom=0.15)
    return fig, [fig.add_subplot(grid[0, i]) for i in range(3)]


def _landscape_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    """(a) L(x - eta g) against eta per probe; (b) loss range and (c) gradient change per
    probe against the training step."""
    fig, (ax_e, ax_r, ax_g) = figures.get(("landscape",), _landscape_axes)
    etas = np.concatenate([[0.0], res["etas"]])
    cols = {0: OKABE_ITO["vermillion"], 1: OKABE_ITO["blue"]}
    for i, (label, found) in enumerate(res["probes"].items()):
        col = cols.get(i, color(i))
        n = len(found)
        for j, p in enumerate(found):
            along = np.nan_to_num(np.concatenate([[p.loss], p.losses]), nan=1e6, posinf=1e6)
            ax_e.plot(etas, np.clip(along, 1e-6, 1e6), "-", color=col,
                      alpha=0.25 + 0.75 * (j + 1) / n, lw=1.4,
                      label=label if j == n - 1 else None)
        steps = res["probe_steps"][:n]
        rng = np.clip(np.asarray(res["loss_range"][label], dtype=np.float64), 1e-4, 1e3)
        ax_r.plot(steps, rng, "o-", color=col, label=label)
        change = np.nan_to_num(np.asarray(res["grad_change"][label], dtype=np.float64),
                               nan=1e6, posinf=1e6)
        ax_g.plot(steps, np.clip(change, 1e-6, 1e6), "o-", color=col, label=label)
        ax_g.plot(steps, res["grad_norm"][label], ":", color=col, lw=1.3,
                  label=f"‖g‖, {label}")
    ax_e.set_yscale("log")
    ax_e.set_xlabel("step along the gradient η", fontsize=text_size("label"))
    ax_e.set_ylabel("loss L(x - η g)", fontsize=text_size("label"))
    ax_e.set_title("(a) loss along -g, every probe", fontsize=text_size("title"))
    ax_r.set_ylabel("loss range over η", fontsize=text_size("label"))
    ax_r.set_title("(b) loss variation", fontsize=text_size("title"))
    ax_g.set_ylabel("max over η of ‖g - ∇L(x - η g)‖", fontsize=text_size("label"))
    ax_g.set_title("(c) gradient predictiveness", fontsize=text_size("title"))
    for ax in (ax_r, ax_g):
        ax.set_yscale("log")
        ax.set_xlabel("training step", fontsize=text_size("label"))
    for ax in (ax_e, ax_r, ax_g):
        ax.yaxis.set_major_formatter(FuncFormatter(_decade_label))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(labelsize=text_size())
        if ax.get_legend_handles_labels()[0]:
            _legend_off_data(ax, headroom=True, fontsize=text_size())
    fig.suptitle(res["summary"] + ("" if res["status"] == "ok" else f"\n{res['status']}"),
                 fontsize=text_size("title"))
    return fig
