"""Paper-scale versions of the batch-norm experiments of lessons 04 and 05.

    python -m trainlab.reproduce                 # every experiment (``make reproduce``)
    python -m trainlab.reproduce landscape       # one of them
    python -m trainlab.reproduce --quick         # a tiny smoke run (seconds)

Each experiment writes ``results/<name>.json`` (the numbers, the settings and the data used)
and ``results/<name>.png`` (the figure). The notebooks call the same functions with smaller
settings, so the lesson and the script agree on what is measured.

- ``mnist_sigmoid``: Ioffe & Szegedy (2015), figure 1: 3 fully connected layers of 100
  sigmoid units, N(0, 1) weights, batches of 60, 50,000 SGD steps, with and without batch
  norm; held-out accuracy and the 15/50/85th percentiles of one sigmoid's input over training.
  Uses the full MNIST training set when it is on disk and MNIST-10k (8,000 / 2,000) otherwise;
  the JSON says which.
- ``noisy_bn``: Santurkar et al. (2018), figure 2: standard, batch-normalised and "noisy BN"
  networks; accuracy over training and the shift of each layer's input distribution between
  checkpoints (internal covariate shift, measured on a fixed probe batch).
- ``landscape``: Santurkar et al. (2018), figure 4: loss variation and gradient
  predictiveness along the gradient (eta in [0.05, 0.4]) and the effective beta-smoothness,
  with and without batch norm.
- ``he_sweep``: the settings sweep behind lesson 03's laptop version of He et al. (2015):
  30 ReLU layers, Xavier (1/fan-in) vs Kaiming (2/fan-in) weights, at several widths, learning
  rates and with or without momentum; final training loss of each run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from trainlab import landscape, models, plots
from trainlab.data import DataError, load_mnist
from trainlab.notebook import progress
from trainlab.style import apply_style, color
from trainlab.train import train

__all__ = [
    "EXPERIMENTS",
    "HeSweepConfig",
    "LandscapeConfig",
    "MnistSigmoidConfig",
    "NoisyBNConfig",
    "load_data",
    "main",
    "plot_landscape",
    "plot_mnist_sigmoid",
    "plot_he_sweep",
    "plot_noisy_bn",
    "run_he_sweep",
    "run_landscape",
    "run_mnist_sigmoid",
    "run_noisy_bn",
]

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def load_data(subset: str = "auto") -> tuple[Arrays, str]:
    """``((X_train, y_train, X_val, y_val), description)`` with flattened MNIST (N, 784).

    ``subset="full"``: the 60k training set and the 10k test set (needs the downloaded files);
    ``"10k"``: MNIST-10k, the official test set re-split 8,000 / 2,000; ``"auto"``: full when
    available, else 10k.
    """
    if subset not in ("auto", "full", "10k"):
        raise ValueError(f"subset must be 'auto', 'full' or '10k', got {subset!r}")
    if subset in ("auto", "full"):
        try:
            xtr, ytr = load_mnist("full", "train", flatten=True)
            xte, yte = load_mnist("full", "test", flatten=True)
            return (xtr, ytr, xte, yte), "MNIST (60,000 train / 10,000 test)"
        except (DataError, FileNotFoundError):
            if subset == "full":
                raise
    xtr, ytr = load_mnist("10k", "train", flatten=True)
    xva, yva = load_mnist("10k", "val", flatten=True)
    return (xtr, ytr, xva, yva), ("MNIST-10k (8,000 train / 2,000 validation, re-split from "
                                  "the official test set; the 60k training set is not on disk)")


def _maybe_progress(items: Sequence[Any], show: bool, desc: str) -> Any:
    return progress(items, total=len(items), desc=desc) if show else iter(items)


def _check_positive_int(**values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")


# --------------------------------------------------------------------------------------------
# Ioffe & Szegedy (2015), figure 1
# --------------------------------------------------------------------------------------------
@dataclass
class MnistSigmoidConfig:
    """Settings of :func:`run_mnist_sigmoid` (defaults: the paper's scale)."""

    steps: int = 50_000
    record_every: int = 500
    batch_size: int = 60
    lr: float = 0.5
    init_scale: float = 1.0
    width: int = 100
    depth: int = 3
    unit: int = 0
    subset: str = "auto"
    seed: int = 0


def run_mnist_sigmoid(cfg: MnistSigmoidConfig | None = None, data: tuple[Arrays, str] | None =
                      None, show_progress: bool = True) -> dict[str, Any]:
    """Train the 784-100-100-100-10 sigmoid network with and without batch norm.

    Weights start N(0, init_scale^2) ("normal" init), biases 0; plain SGD with ``lr``. Every
    ``record_every`` steps the held-out accuracy is measured (eval mode) and, on the same
    held-out images, the 15/50/85th percentiles of the input to unit ``unit`` of the last
    sigmoid layer (after BN in the BN network). Returns a JSON-serialisable dict:
    ``{"config", "data", "runs": {"no BN"|"BN": {"step", "val_acc", "p15", "p50", "p85",
    "final_val_acc", "seconds", "status"}}}``.
    """
    cfg = cfg or MnistSigmoidConfig()
    _check_positive_int(steps=cfg.steps, record_every=cfg.record_every,
                        batch_size=cfg.batch_size)
    (xtr, ytr, xva, yva), desc = data or load_data(cfg.subset)
    runs = {}
    for label, norm in (("no BN", "none"), ("BN", "bn")):
        model = models.mlp(784, (cfg.depth, cfg.width), 10, activation="sigmoid", init="normal",
                           init_scale=cfg.init_scale, norm=norm, seed=cfg.seed)
        act = getattr(model, f"act{cfg.depth}")
        with landscape.UnitInputRecorder(act, cfg.unit, batch_size=len(xva)) as rec:
            hist = train(model, (xtr, ytr), (xva, yva), steps=cfg.steps,
                         batch_size=cfg.batch_size, lr=cfg.lr, record_every=cfg.record_every,
                         stats=False, seed=cfg.seed, eval_batch=len(xva),
                         progress=show_progress)
        steps, acc = hist.series("val_acc")
        run = rec.series(steps.tolist())
        run.update(val_acc=acc.tolist(), final_val_acc=float(acc[-1]), seconds=hist.seconds,
                   status=hist.status)
        runs[label] = run
    return {"config": asdict(cfg), "data": desc, "runs": runs}


def plot_mnist_sigmoid(result: dict[str, Any]) -> Figure:
    """Figure 1 of Ioffe & Szegedy (2015): accuracy vs step, then the percentile bands of one
    sigmoid's input without and with BN (shared y axis)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
    for i, (label, run) in enumerate(result["runs"].items()):
        axes[0].plot(run["step"], run["val_acc"], color=color(i), label=label)
    axes[0].set_xlabel("training step")
    axes[0].set_ylabel("held-out accuracy")
    axes[0].set_title("(a) accuracy")
    axes[0].legend(loc="lower right")
    plots.percentile_bands(result["runs"], axes=axes[1:],
                           ylabel=f"input to sigmoid unit {result['config']['unit']}")
    axes[2].sharey(axes[1])
    return fig


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
    return models.mlp(784, (cfg.depth, cfg.width), 10, activation=cfg.activation,
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
    _check_positive_int(steps=cfg.steps, checkpoint_every=cfg.checkpoint_every,
                        probe_size=cfg.probe_size)
    (xtr, ytr, xva, yva), desc = data or load_data(cfg.subset)
    probe = torch.from_numpy(np.asarray(xtr[:cfg.probe_size], dtype=np.float32))
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
        for k in _maybe_progress(range(n_chunks), show_progress, label):
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


def plot_noisy_bn(result: dict[str, Any], layer: int | None = None) -> Figure:
    """(a) held-out accuracy vs step for the three networks; (b) the input-distribution shift
    between consecutive checkpoints of layer ``layer`` (default: the middle layer), in units of
    each unit's spread (``shift_rel``), log scale."""
    depth = result["config"]["depth"]
    layer = layer or (depth + 1) // 2
    if not 1 <= layer <= depth:
        raise ValueError(f"layer must be in [1, {depth}], got {layer}")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
    for i, (label, run) in enumerate(result["runs"].items()):
        axes[0].plot(run["step"], run["val_acc"], color=color(i), label=label)
        shift = [row[layer - 1] for row in run["shift_rel"]]
        axes[1].plot(run["step"], shift, color=color(i), label=label)
    axes[0].set(xlabel="training step", ylabel="held-out accuracy", title="(a) accuracy")
    axes[1].set(xlabel="training step", yscale="log",
                ylabel="W1 shift / sd of layer input\n(per unit, mean over units)",
                title=f"(b) input shift of layer {layer} between checkpoints")
    for ax in axes:
        ax.legend(loc="best")
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
    (xtr, ytr, _, _), desc = data or load_data(cfg.subset)
    x = torch.from_numpy(np.asarray(xtr, dtype=np.float32))
    y = torch.from_numpy(np.asarray(ytr, dtype=np.int64))
    runs = {}
    for label, norm in _maybe_progress([("no BN", "none"), ("BN", "bn")], show_progress,
                                       "landscape"):
        model = models.mlp(784, (cfg.depth, cfg.width), 10, activation=cfg.activation,
                           init="kaiming_normal", norm=norm, seed=cfg.seed)
        start = time.perf_counter()
        trace = landscape.sgd_with_probes(model, x, y, lr=cfg.lr, steps=cfg.steps,
                                          batch_size=cfg.batch_size,
                                          probe_every=cfg.probe_every, etas=cfg.etas,
                                          seed=cfg.seed)
        runs[label] = {**trace.as_dict(), "seconds": time.perf_counter() - start}
    return {"config": asdict(cfg), "data": desc, "runs": runs}


def plot_landscape(result: dict[str, Any]) -> Figure:
    """Santurkar et al.'s figure 4 at our scale: shaded min-max range over eta of (a) the loss
    L(x - eta g), (b) the gradient change ||g - grad L(x - eta g)||, and (c) the effective
    beta-smoothness, against the training step, for each run."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
    for i, (label, run) in enumerate(result["runs"].items()):
        steps = np.asarray(run["steps"])
        for ax, lo, hi in ((axes[0], "loss_min", "loss_max"),
                           (axes[1], "grad_change_min", "grad_change_max")):
            ax.fill_between(steps, run[lo], run[hi], color=color(i), alpha=0.35, lw=0,
                            label=label)
            ax.plot(steps, run[hi], color=color(i), lw=0.8)
        axes[2].plot(steps, run["beta"], color=color(i), label=label)
    axes[0].set(xlabel="training step", ylabel="loss L(x - η g), η ∈ [0.05, 0.4]",
                title="(a) loss landscape", yscale="log")
    axes[1].set(xlabel="training step", ylabel="‖g − ∇L(x − η g)‖",
                title="(b) gradient predictiveness", yscale="log")
    axes[2].set(xlabel="training step", ylabel="max_η ‖Δ∇L‖ / ‖η g‖",
                title="(c) effective β-smoothness")
    for ax in axes:
        ax.legend(loc="best")
    return fig


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
    subset: str = "10k"
    seed: int = 0


def run_he_sweep(cfg: HeSweepConfig | None = None, data: tuple[Arrays, str] | None = None,
                 show_progress: bool = True) -> dict[str, Any]:
    """Train ``depth`` ReLU layers of each width from Xavier (``xavier_fan_in``, Var(W) =
    1/fan_in) and Kaiming (``kaiming_normal``, Var(W) = 2/fan_in) weights with every
    (optimizer, learning rate) of ``cfg.optimizers`` ("sgd" or "momentum" with 0.9) on
    standardised MNIST. Returns ``{"config", "data", "runs": {label: {"scheme", "width",
    "optimizer", "lr", "final_train_loss", "final_val_acc", "status"}}}``; a diverged run has
    status "diverged" and a final loss of None.
    """
    cfg = cfg or HeSweepConfig()
    _check_positive_int(depth=cfg.depth, steps=cfg.steps, batch_size=cfg.batch_size)
    (xtr, ytr, xva, yva), desc = data or load_data(cfg.subset)
    mean, std = xtr.mean(), xtr.std()
    xtr, xva = (xtr - mean) / std, (xva - mean) / std
    grid = [(scheme, width, opt, lr) for scheme in ("xavier_fan_in", "kaiming_normal")
            for width in cfg.widths for opt, lr in cfg.optimizers]
    runs = {}
    for scheme, width, opt, lr in _maybe_progress(grid, show_progress, "he sweep"):
        model = models.mlp(784, (cfg.depth, width), 10, activation="relu", init=scheme,
                           seed=cfg.seed)
        hist = train(model, (xtr, ytr), (xva, yva), steps=cfg.steps, batch_size=cfg.batch_size,
                     lr=lr, optimizer=opt, record_every=cfg.steps, stats=False, seed=cfg.seed,
                     progress=False)
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
        ax.legend(loc="lower left", fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Experiment:
    run: Callable[..., dict[str, Any]]
    plot: Callable[[dict[str, Any]], Figure]
    full: Any
    quick: Any


EXPERIMENTS: dict[str, _Experiment] = {
    "mnist_sigmoid": _Experiment(run_mnist_sigmoid, plot_mnist_sigmoid, MnistSigmoidConfig(),
                                 MnistSigmoidConfig(steps=60, record_every=20, subset="10k")),
    "noisy_bn": _Experiment(run_noisy_bn, plot_noisy_bn, NoisyBNConfig(),
                            NoisyBNConfig(steps=40, checkpoint_every=20, depth=2, width=32,
                                          probe_size=64)),
    "landscape": _Experiment(run_landscape, plot_landscape, LandscapeConfig(),
                             LandscapeConfig(steps=20, probe_every=10, depth=2, width=32)),
    "he_sweep": _Experiment(run_he_sweep, plot_he_sweep, HeSweepConfig(),
                            HeSweepConfig(depth=3, widths=(16,), steps=5,
                                          optimizers=(("sgd", 0.01),))),
}
"""Name -> (run function, plot function, paper-scale config, ``--quick`` config)."""


def _summary(name: str, result: dict[str, Any]) -> str:
    parts = []
    for label, run in result["runs"].items():
        if "final_train_loss" in run:
            loss = run["final_train_loss"]
            parts.append(f"{label}: " + ("diverged" if loss is None else
                                         f"final training loss {loss:.3f}"))
        elif "final_val_acc" in run:
            parts.append(f"{label}: final held-out accuracy {run['final_val_acc']:.4f}")
        else:
            parts.append(f"{label}: median beta {np.median(run['beta']):.2f}, max loss range "
                         f"{np.max(np.subtract(run['loss_max'], run['loss_min'])):.3f}")
    return f"{name}: " + "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named experiments (all by default); write JSON and PNG under ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m trainlab.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"experiments to run (default: all of {', '.join(EXPERIMENTS)})")
    parser.add_argument("--quick", action="store_true", help="tiny settings (a smoke test)")
    parser.add_argument("--out", default="results", help="output folder (default: results)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {', '.join(unknown)}; valid: "
                     f"{', '.join(EXPERIMENTS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    apply_style()
    for name in args.names or list(EXPERIMENTS):
        exp = EXPERIMENTS[name]
        cfg = exp.quick if args.quick else exp.full
        start = time.perf_counter()
        result = exp.run(cfg)
        result["seconds"] = time.perf_counter() - start
        result["quick"] = bool(args.quick)
        (out / f"{name}.json").write_text(json.dumps(result, indent=1))
        fig = exp.plot(result)
        fig.savefig(out / f"{name}.png")
        plt.close(fig)
        print(f"{_summary(name, result)}  [{result['seconds']:.1f} s; data: {result['data']}]")
        print(f"  wrote {out / (name + '.json')} and {out / (name + '.png')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
