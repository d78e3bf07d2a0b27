"""Paper-scale versions of the batch-norm experiments of lessons 04 and 05.

    python -m trainlab.reproduce                 # every experiment (``make reproduce``)
    python -m trainlab.reproduce landscape       # one of them
    python -m trainlab.reproduce --quick         # a tiny smoke run (seconds)

Each experiment writes ``results/<name>.json`` (the numbers, the settings and the data used)
and ``results/<name>.png`` (the figure). The notebooks call the same functions with smaller
settings, so the lesson and the script agree on what is measured.

- ``mnist_sigmoid``: Ioffe & Szegedy (2015), figure 1: 3 fully connected layers of 100
  sigmoid units, small random Gaussian weights N(0, 0.01^2), batches of 60, 50,000 SGD steps,
  with and without batch norm; held-out accuracy and the 15/50/85th percentiles of one
  sigmoid's input over training. Uses the full MNIST training set when it is on disk and
  MNIST-10k (8,000 / 2,000) otherwise; the JSON says which.
- ``mnist_sigmoid_n01``: the same with N(0, 1) weights, which start the sigmoids saturated
  (a second case: batch norm rescuing a bad initialisation).
- ``noisy_bn``: Santurkar et al. (2018), figure 2: standard, batch-normalised and "noisy BN"
  networks; accuracy over training and the shift of each layer's input distribution between
  checkpoints (internal covariate shift, measured on a fixed probe batch).
- ``landscape``: Santurkar et al. (2018), figure 4: loss variation and gradient
  predictiveness along the gradient (eta in [0.05, 0.4]) and the effective beta-smoothness,
  with and without batch norm.
"""

from __future__ import annotations

import argparse
import copy
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
from torch import nn

from trainlab import landscape, models, plots
from trainlab.data import DataError, load_mnist
from trainlab.notebook import progress
from trainlab.style import apply_style, color
from trainlab.train import evaluate, train

__all__ = [
    "EXPERIMENTS",
    "FINAL_LAYER_VARIANTS",
    "LandscapeConfig",
    "MnistSigmoidConfig",
    "NoisyBNConfig",
    "load_data",
    "main",
    "plot_landscape",
    "plot_mnist_sigmoid",
    "plot_noisy_bn",
    "run_landscape",
    "run_mnist_sigmoid",
    "run_noisy_bn",
    "final_layer_ablation",
    "initial_loss",
    "weight_scale_sweep",
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
    init_scale: float = 0.01
    width: int = 100
    depth: int = 3
    unit: int = 0
    subset: str = "auto"
    seed: int = 0


def run_mnist_sigmoid(cfg: MnistSigmoidConfig | None = None, data: tuple[Arrays, str] | None =
                      None, show_progress: bool = True) -> dict[str, Any]:
    """Train the 784-100-100-100-10 sigmoid network with and without batch norm.

    Weights start N(0, init_scale^2) ("normal" init; the default 0.01 is the paper's "small
    random Gaussian values", the scale AlexNet used), biases 0; plain SGD with ``lr``. Before
    training (step 0) and after every ``record_every`` updates, the held-out accuracy is
    measured (eval mode) and, on the same held-out images, the 15/50/85th percentiles of the
    input to unit ``unit`` of the last sigmoid layer. Both networks are measured the same way,
    as the sigmoid sees its input during training: the BN network's input is normalised with
    the held-out batch's own statistics (:class:`trainlab.landscape.UnitInputRecorder` with
    ``batch_norm``; the running averages are untouched). ``step`` counts the updates done.
    Returns a JSON-serialisable dict: ``{"config", "data", "runs": {"no BN"|"BN": {"step",
    "val_acc", "p15", "p50", "p85", "final_val_acc", "seconds", "status"}}}``.
    """
    cfg = cfg or MnistSigmoidConfig()
    _check_positive_int(steps=cfg.steps, record_every=cfg.record_every,
                        batch_size=cfg.batch_size)
    (xtr, ytr, xva, yva), desc = data or load_data(cfg.subset)
    runs = {}
    for label, norm in (("no BN", "none"), ("BN", "bn")):
        model = models.mlp(784, (cfg.depth, cfg.width), 10, activation="sigmoid", init="normal",
                           init_scale=cfg.init_scale, norm=norm, seed=cfg.seed)
        bn = getattr(model, f"norm{cfg.depth}", None)
        with landscape.UnitInputRecorder(bn or getattr(model, f"act{cfg.depth}"), cfg.unit,
                                         batch_size=len(xva), batch_norm=bn) as rec:
            _, acc0 = evaluate(model, xva, yva, batch_size=len(xva))
            hist = train(model, (xtr, ytr), (xva, yva), steps=cfg.steps,
                         batch_size=cfg.batch_size, lr=cfg.lr, record_every=cfg.record_every,
                         stats=False, seed=cfg.seed, eval_batch=len(xva),
                         progress=show_progress)
        steps, acc = hist.series("val_acc")
        run = rec.series([0, *(int(s) + 1 for s in steps)])
        run.update(val_acc=[acc0, *acc.tolist()], final_val_acc=float(acc[-1]),
                   seconds=hist.seconds, status=hist.status)
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
    x = torch.as_tensor(np.asarray(xtr), dtype=torch.get_default_dtype())
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
# CS231n's batch-norm / weight-scale experiment
# --------------------------------------------------------------------------------------------
def initial_loss(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Cross-entropy of an untrained ``model`` on ``x`` (N, ...), ``y`` (N,), computed as
    training sees it: in train mode (batch norm uses the batch's statistics), on a copy, so
    the model's running statistics stay untouched. A classifier over K balanced classes that
    starts with near-equal logits gives ln K (ln 10 = 2.303 for MNIST): the first sanity check
    of a training run."""
    net = copy.deepcopy(model).train()
    xt = torch.as_tensor(np.asarray(x), dtype=torch.get_default_dtype())
    with torch.no_grad():
        return float(nn.functional.cross_entropy(net(xt), torch.as_tensor(y, dtype=torch.int64)))


def weight_scale_sweep(data: Arrays, scales: Sequence[float], *, norms: Sequence[str] = ("none",
                       "bn"), hidden: tuple[int, int] = (4, 50), steps: int = 200,
                       batch_size: int = 50, lr: float = 0.05, seed: int = 0
                       ) -> dict[str, dict[str, list[float]]]:
    """Train a ReLU MLP ``784 -> hidden -> 10`` whose weights start N(0, scale^2), for every
    ``scale`` in ``scales``, without (``"none"``) and with (``"bn"``) batch norm - the
    weight-initialisation experiment of the CS231n batch-norm assignment.

    ``data = (X_train, y_train, X_val, y_val)``. Returns per norm the lists over ``scales`` of
    ``initial_loss`` (cross-entropy on the validation set before training,
    :func:`initial_loss`),
    ``train_acc`` (running accuracy over the last record interval), ``val_acc`` (after
    ``steps`` SGD steps; NaN if the run diverged) and ``diverged`` (0 or 1).
    """
    xtr, ytr, xva, yva = data
    out: dict[str, dict[str, list[float]]] = {}
    for norm in norms:
        rows: dict[str, list[float]] = {k: [] for k in ("initial_loss", "train_acc", "val_acc",
                                                         "diverged")}
        for scale in scales:
            model = models.mlp(784, hidden, 10, init="normal", init_scale=float(scale),
                               norm=norm, seed=seed)
            rows["initial_loss"].append(initial_loss(model, xva, yva))
            hist = train(model, (xtr, ytr), (xva, yva), steps=steps, batch_size=batch_size,
                         lr=lr, record_every=steps, stats=False, seed=seed, progress=False)
            rows["diverged"].append(float(hist.diverged))
            rows["train_acc"].append(float("nan") if hist.diverged else hist.final("train_acc"))
            rows["val_acc"].append(float("nan") if hist.diverged else hist.final("val_acc"))
        out[norm] = rows
    return out


# --------------------------------------------------------------------------------------------
# Dauphin & Cubuk (2021): how much of BN's regularisation is the final layer kept small?
# --------------------------------------------------------------------------------------------
FINAL_LAYER_VARIANTS: tuple[str, ...] = ("no BN", "no BN + feature penalty", "BN")
"""The networks of :func:`final_layer_ablation`."""


def _head_input_penalty(model: nn.Module, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, mean_i ||h_i||^2)`` with ``h`` the input of ``model.out`` (the features the
    classifier reads)."""
    seen: list[torch.Tensor] = []
    handle = model.out.register_forward_hook(lambda _m, inp, _o: seen.append(inp[0]))
    try:
        logits = model(xb)
    finally:
        handle.remove()
    return logits, seen[0].pow(2).sum(dim=1).mean()


def final_layer_ablation(data: Arrays, *, seeds: Sequence[int] = (0, 1, 2), steps: int = 400,
                         batch_size: int = 64, lr: float = 0.1, penalty: float = 1e-3,
                         hidden: tuple[int, int] = (2, 100)) -> dict[str, dict[str, list[float]]]:
    """Dauphin & Cubuk (2021, ICLR), "Deconstructing the regularization of BatchNorm", at
    laptop scale: a ReLU MLP ``784 -> hidden -> 10`` trained with plain SGD (cross-entropy)
    three ways, once per seed:

    - ``"no BN"``;
    - ``"no BN + feature penalty"``: the loss plus ``penalty * mean_i ||h_i||^2``, h the input of
      the final (classifier) layer - their "standardizing explicit regularization", which keeps
      the final layer's features from growing;
    - ``"BN"``: batch norm before every ReLU (models.mlp ``norm="bn"``).

    ``data = (X_train, y_train, X_val, y_val)``. Returns, per variant, lists over ``seeds`` of
    ``val_acc``, ``val_loss`` (eval mode, the whole validation set), ``feature_rms`` = the root
    mean square of h on the validation set, and ``logit_rms`` = that of the logits.
    """
    _check_positive_int(steps=steps, batch_size=batch_size)
    if not penalty >= 0:
        raise ValueError(f"penalty must be >= 0, got {penalty}")
    xtr, ytr, xva, yva = data
    dtype = torch.get_default_dtype()
    x, y = torch.as_tensor(xtr, dtype=dtype), torch.as_tensor(ytr, dtype=torch.int64)
    xv, yv = torch.as_tensor(xva, dtype=dtype), torch.as_tensor(yva, dtype=torch.int64)
    out: dict[str, dict[str, list[float]]] = {}
    for variant in FINAL_LAYER_VARIANTS:
        rows: dict[str, list[float]] = {k: [] for k in ("val_acc", "val_loss", "feature_rms",
                                                         "logit_rms")}
        lam = penalty if variant == "no BN + feature penalty" else 0.0
        for seed in seeds:
            model = models.mlp(784, hidden, 10, norm="bn" if variant == "BN" else "none",
                               seed=seed)
            gen = torch.Generator().manual_seed(seed)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            model.train()
            for _ in range(steps):
                idx = torch.randint(len(x), (batch_size,), generator=gen)
                logits, feat = _head_input_penalty(model, x[idx])
                loss = nn.functional.cross_entropy(logits, y[idx]) + lam * feat
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                logits, feat = _head_input_penalty(model, xv)
            rows["val_acc"].append(float((logits.argmax(1) == yv).double().mean()))
            rows["val_loss"].append(float(nn.functional.cross_entropy(logits, yv)))
            rows["feature_rms"].append(float(torch.sqrt(feat / model.out.in_features)))
            rows["logit_rms"].append(float(logits.pow(2).mean().sqrt()))
        out[variant] = rows
    return out


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
    "mnist_sigmoid_n01": _Experiment(run_mnist_sigmoid, plot_mnist_sigmoid,
                                     MnistSigmoidConfig(init_scale=1.0),
                                     MnistSigmoidConfig(steps=60, record_every=20, subset="10k",
                                                        init_scale=1.0)),
    "noisy_bn": _Experiment(run_noisy_bn, plot_noisy_bn, NoisyBNConfig(),
                            NoisyBNConfig(steps=40, checkpoint_every=20, depth=2, width=32,
                                          probe_size=64)),
    "landscape": _Experiment(run_landscape, plot_landscape, LandscapeConfig(),
                             LandscapeConfig(steps=20, probe_every=10, depth=2, width=32)),
}
"""Name -> (run function, plot function, paper-scale config, ``--quick`` config)."""


def _summary(name: str, result: dict[str, Any]) -> str:
    parts = []
    for label, run in result["runs"].items():
        if "final_val_acc" in run:
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
