"""Lesson 05 (why batch norm works) at paper scale: Santurkar et al. (2018), figures 2 and 4."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from trainlab import landscape, models
from trainlab.reproduce import common
from trainlab.reproduce.common import Arrays, check_positive_int, maybe_progress
from trainlab.style import color
from trainlab.train import train

__all__ = ["LandscapeConfig", "NoisyBNConfig", "plot_landscape", "plot_noisy_bn",
           "run_landscape", "run_noisy_bn", "seed_mean_sd"]

# --------------------------------------------------------------------------------------------
# Santurkar et al. (2018), figure 2: noisy batch norm
# --------------------------------------------------------------------------------------------
@dataclass
class NoisyBNConfig:
    """Settings of :func:`run_noisy_bn` (defaults: the larger scale of ``make reproduce``)."""

    steps: int = 6000
    checkpoint_every: int = 200
    batch_size: int = 128
    lr: float = 0.1
    depth: int = 6
    width: int = 256
    activation: str = "relu"
    probe_size: int = 512
    noise_mean: float = 0.5
    noise_std: float = 0.5
    noise_scale: float = 2.0
    subset: str = "10k"
    seed: int = 0


NOISY_RUNS: dict[str, str] = {"standard": "none", "BN": "bn", "noisy BN": "noisy_bn"}
"""Run label -> ``models.mlp`` norm."""


def _noisy_model(cfg: NoisyBNConfig, norm: str) -> torch.nn.Sequential:
    kwargs = ({"noise_mean": cfg.noise_mean, "noise_std": cfg.noise_std,
               "noise_scale": cfg.noise_scale} if norm == "noisy_bn" else None)
    return models.mlp(784, [cfg.width] * cfg.depth, 10, activation=cfg.activation,
                      init="kaiming_normal", norm=norm, norm_kwargs=kwargs, seed=cfg.seed)


def _layer_groups(model: torch.nn.Sequential, depth: int) -> list[list[torch.nn.Parameter]]:
    """Parameters of each block (fc{i} with its norm{i}) and of the head, in forward order."""
    groups = []
    for i in range(1, depth + 1):
        names = [f"fc{i}", f"norm{i}"]
        groups.append([p for n in names if hasattr(model, n)
                       for p in getattr(model, n).parameters()])
    groups.append(list(model.out.parameters()))
    return groups


def run_noisy_bn(cfg: NoisyBNConfig | None = None, data: tuple[Arrays, str] | None = None,
                 show_progress: bool = True) -> dict[str, Any]:
    """Standard vs BN vs noisy-BN networks: accuracy and internal covariate shift.

    Training runs in chunks of ``checkpoint_every`` SGD steps (trainlab.train.train, chunk k
    seeded with ``seed + k``). At every checkpoint the inputs of each activation layer are
    captured on a fixed probe batch of ``probe_size`` training images in *training* mode (so
    the noisy network's noise is part of what the next layer sees), and compared with the
    previous checkpoint by :func:`trainlab.landscape.distribution_shift` (per-unit 1-Wasserstein
    distance, averaged over units; ``shift_rel`` divides it by each unit's spread at the
    previous checkpoint). At each checkpoint Santurkar et al.'s gradient-based ICS
    (:func:`trainlab.landscape.gradient_ics`, step ``lr``) is also measured on the probe batch
    for every block and the head (``grad_ics_l2``, ``grad_ics_cos``: one list per checkpoint).
    Returns ``{"config", "data", "runs": {label: {"step", "val_acc", "train_loss", "shift":
    [[w1 per layer] per checkpoint], "shift_rel", "mean_shift", "std_shift", "grad_ics_l2",
    "grad_ics_cos", "final_val_acc", "seconds"}}}``.
    """
    cfg = cfg or NoisyBNConfig()
    check_positive_int(steps=cfg.steps, checkpoint_every=cfg.checkpoint_every,
                        probe_size=cfg.probe_size)
    (xtr, ytr, xva, yva), desc = data or common.load_data(cfg.subset)
    probe = torch.as_tensor(np.asarray(xtr[:cfg.probe_size]), dtype=torch.get_default_dtype())
    probe_y = torch.from_numpy(np.asarray(ytr[:cfg.probe_size], dtype=np.int64))
    n_chunks = -(-cfg.steps // cfg.checkpoint_every)
    runs = {}
    for label, norm in NOISY_RUNS.items():
        model = _noisy_model(cfg, norm)
        acts = [getattr(model, f"act{i}") for i in range(1, cfg.depth + 1)]
        run: dict[str, list[Any]] = {k: [] for k in (
            "step", "val_acc", "train_loss", "shift", "shift_rel", "mean_shift", "std_shift",
            "grad_ics_l2", "grad_ics_cos")}
        groups = _layer_groups(model, cfg.depth)
        torch.manual_seed(cfg.seed)
        prev = landscape.layer_inputs(model, acts, probe)
        start, done = time.perf_counter(), 0
        for k in maybe_progress(range(n_chunks), show_progress, label):
            steps = min(cfg.checkpoint_every, cfg.steps - done)
            hist = train(model, (xtr, ytr), (xva, yva), steps=steps, batch_size=cfg.batch_size,
                         lr=cfg.lr, record_every=steps, stats=False, seed=cfg.seed + k,
                         progress=False)
            done += hist.steps_run
            now = landscape.layer_inputs(model, acts, probe)
            shifts = [landscape.distribution_shift(a, b) for a, b in zip(prev, now, strict=True)]
            prev = now
            run["step"].append(done)
            run["val_acc"].append(hist.final("val_acc"))
            run["train_loss"].append(hist.final("train_loss"))
            for key, name in (("shift", "w1"), ("shift_rel", "w1_rel"),
                              ("mean_shift", "mean_shift"), ("std_shift", "std_shift")):
                run[key].append([s[name] for s in shifts])
            ics = landscape.gradient_ics(model, torch.nn.functional.cross_entropy, probe, probe_y,
                                         groups, cfg.lr)
            run["grad_ics_l2"].append([r["l2"] for r in ics])
            run["grad_ics_cos"].append([r["cosine"] for r in ics])
            if hist.diverged:
                break
        run_out: dict[str, Any] = dict(run)
        run_out.update(final_val_acc=run["val_acc"][-1], seconds=time.perf_counter() - start)
        runs[label] = run_out
    return {"config": asdict(cfg), "data": desc, "runs": runs}


def _over_seeds(results: dict[str, Any] | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result or several (one per seed, same settings) -> a non-empty list of results."""
    seeds = [results] if isinstance(results, dict) else list(results)
    if not seeds:
        raise ValueError("expected a result or a non-empty sequence of results, got none")
    return seeds


def seed_mean_sd(results: dict[str, Any] | Sequence[dict[str, Any]], label: str, key: str,
                 reduce: Callable[[np.ndarray], np.ndarray] = np.asarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof 0) over seeds of ``reduce(run[key])`` for the run
    ``label`` of each result (one result per seed, same settings; a single result gives sd 0).

    ``reduce`` maps one run's array to what is compared across seeds, e.g.
    ``lambda a: a.mean(axis=0)`` (the mean over checkpoints, per layer) or ``np.median``.
    Raises ``ValueError`` for an empty sequence and ``KeyError`` for an unknown label or key.
    """
    values = np.array([reduce(np.asarray(r["runs"][label][key], dtype=float))
                       for r in _over_seeds(results)])
    return values.mean(axis=0), values.std(axis=0)


NOISY_METRICS: dict[str, str] = {"val_acc": "held-out accuracy",
                                 "train_loss": "training loss (mean since last checkpoint)"}
"""Curves :func:`plot_noisy_bn` can draw in panel (a) -> axis label."""


def plot_noisy_bn(results: dict[str, Any] | Sequence[dict[str, Any]],
                  layer: int | None = None, metric: str = "val_acc") -> Figure:
    """(a) ``metric`` vs step for the three networks (``"val_acc"``: held-out accuracy in eval
    mode; ``"train_loss"``: the mean mini-batch loss since the previous checkpoint, each network
    measured as it trains, log scale); (b) the input-distribution shift between consecutive
    checkpoints of layer ``layer`` (default: the middle layer), in units of each unit's spread
    (``shift_rel``), log scale. Both titles give the learning rate; the legend is in (a).
    ``results``: one result of :func:`run_noisy_bn` or several (one per seed, same settings):
    then each curve is the mean over seeds with error bars of ± 1 standard deviation."""
    seeds = _over_seeds(results)
    depth = seeds[0]["config"]["depth"]
    layer = layer or (depth + 1) // 2
    if not 1 <= layer <= depth:
        raise ValueError(f"layer must be in [1, {depth}], got {layer}")
    if metric not in NOISY_METRICS:
        raise ValueError(f"metric must be one of {', '.join(NOISY_METRICS)}, got {metric!r}")
    lr = seeds[0]["config"]["lr"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
    for i, label in enumerate(seeds[0]["runs"]):
        steps = seeds[0]["runs"][label]["step"]
        for ax, key, reduce in ((axes[0], metric, np.asarray),
                                (axes[1], "shift_rel", lambda a: a[:, layer - 1])):
            mean, sd = seed_mean_sd(seeds, label, key, reduce)
            ax.errorbar(steps, mean, yerr=sd if len(seeds) > 1 else None, color=color(i),
                        capsize=3, label=label)
    over = f"mean ± sd over {len(seeds)} seeds" if len(seeds) > 1 else "one seed"
    axes[0].set(xlabel="training step", ylabel=NOISY_METRICS[metric],
                title=f"(a) {NOISY_METRICS[metric].split(' (')[0]}, lr {lr:g} ({over})")
    if metric == "train_loss":
        axes[0].set(yscale="log")
    axes[1].set(xlabel="training step", yscale="log",
                ylabel="W1 shift / sd of layer input\n(per unit, mean over units)",
                title=f"(b) input shift of layer {layer}, lr {lr:g}")
    axes[0].legend(loc="best")     # one legend: the same networks in the same colours in (b)
    return fig


# --------------------------------------------------------------------------------------------
# Santurkar et al. (2018), figure 4: the loss landscape along the gradient
# --------------------------------------------------------------------------------------------
@dataclass
class LandscapeConfig:
    """Settings of :func:`run_landscape` (defaults: the larger scale of ``make reproduce``).

    1,500 steps: on the 8,000 images of MNIST-10k both networks drive the training loss to
    about 1e-4 within ~1,000-2,000 steps, after which the probes only measure the flat bottom
    of a memorised training set (a 5,000-step run showed the no-BN network *smoother* there).
    """

    steps: int = 1500
    probe_every: int = 15
    batch_size: int = 128
    lr: float = 0.1
    depth: int = 8
    width: int = 256
    activation: str = "relu"
    etas: tuple[float, ...] = landscape.DEFAULT_ETAS
    subset: str = "10k"
    seed: int = 0


def run_landscape(cfg: LandscapeConfig | None = None, data: tuple[Arrays, str] | None = None,
                  show_progress: bool = True) -> dict[str, Any]:
    """SGD on an MLP with and without BN, probing the landscape along the gradient.

    Uses :func:`trainlab.landscape.sgd_with_probes`: every ``probe_every`` steps, on the
    current mini-batch, L(x - eta g) and ||g - grad L(x - eta g)|| for each eta, and the
    effective beta-smoothness. Returns ``{"config", "data", "runs": {"no BN"|"BN":
    LandscapeTrace.as_dict() + {"seconds"}}}``.
    """
    cfg = cfg or LandscapeConfig()
    (xtr, ytr, _, _), desc = data or common.load_data(cfg.subset)
    x = torch.as_tensor(np.asarray(xtr), dtype=torch.get_default_dtype())
    y = torch.from_numpy(np.asarray(ytr, dtype=np.int64))
    runs = {}
    for label, norm in maybe_progress([("no BN", "none"), ("BN", "bn")], show_progress,
                                       "landscape"):
        model = models.mlp(784, [cfg.width] * cfg.depth, 10, activation=cfg.activation,
                           init="kaiming_normal", norm=norm, seed=cfg.seed)
        start = time.perf_counter()
        trace = landscape.sgd_with_probes(model, x, y, lr=cfg.lr, steps=cfg.steps,
                                          batch_size=cfg.batch_size,
                                          probe_every=cfg.probe_every, etas=cfg.etas,
                                          seed=cfg.seed)
        runs[label] = {**trace.as_dict(), "seconds": time.perf_counter() - start}
    return {"config": asdict(cfg), "data": desc, "runs": runs}


def plot_landscape(results: dict[str, Any] | Sequence[dict[str, Any]]) -> Figure:
    """Santurkar et al.'s figure 4 at our scale, against the training step, for each run.

    One result of :func:`run_landscape`: shaded min-max range over eta of (a) the loss
    L(x - eta g) and (b) the gradient change ||g - grad L(x - eta g)||, and (c) the effective
    beta-smoothness. Several results (one per seed, same settings): (a) the loss range
    max_eta L - min_eta L, (b) the largest gradient change and (c) the effective beta, each the
    mean over seeds with error bars of ± 1 standard deviation.
    """
    seeds = _over_seeds(results)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
    for i, (label, run) in enumerate(seeds[0]["runs"].items()):
        steps = np.asarray(run["steps"])
        if len(seeds) == 1:
            for ax, lo, hi in ((axes[0], "loss_min", "loss_max"),
                               (axes[1], "grad_change_min", "grad_change_max")):
                ax.fill_between(steps, run[lo], run[hi], color=color(i), alpha=0.35, lw=0,
                                label=label)
                ax.plot(steps, run[hi], color=color(i), lw=0.8)
            axes[2].plot(steps, run["beta"], color=color(i), label=label)
            continue
        loss_range = np.array([np.subtract(r["runs"][label]["loss_max"],
                                           r["runs"][label]["loss_min"]) for r in seeds])
        curves = [(loss_range.mean(axis=0), loss_range.std(axis=0)),
                  seed_mean_sd(seeds, label, "grad_change_max"),
                  seed_mean_sd(seeds, label, "beta")]
        for ax, (mean, sd) in zip(axes, curves, strict=True):
            ax.errorbar(steps, mean, yerr=sd, color=color(i), capsize=2, lw=1, label=label)
    if len(seeds) == 1:
        axes[0].set(ylabel="loss L(x - η g), η ∈ [0.05, 0.4]", title="(a) loss landscape")
        axes[1].set(ylabel="‖g − ∇L(x − η g)‖", title="(b) gradient predictiveness")
        axes[2].set(title="(c) effective β-smoothness")
    else:
        axes[0].set(ylabel="max_η L − min_η L, η ∈ [0.05, 0.4]", title="(a) loss variation")
        axes[1].set(ylabel="max_η ‖g − ∇L(x − η g)‖", title="(b) gradient change")
        axes[2].set(title="(c) effective β-smoothness")
        fig.suptitle(f"mean ± sd over {len(seeds)} seeds")
    axes[0].set(yscale="log")
    axes[1].set(yscale="log")
    axes[2].set(ylabel="max_η ‖Δ∇L‖ / ‖η g‖")
    for ax in axes:
        ax.set(xlabel="training step")
    # one legend below the panels (the same runs in the same colours everywhere), off the data
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
    return fig
