"""Lesson 04 (batch normalisation) at paper scale: Ioffe & Szegedy (2015), figure 1."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from trainlab import landscape, models, plots
from trainlab.reproduce import common
from trainlab.reproduce.common import Arrays, check_positive_int
from trainlab.style import color
from trainlab.train import evaluate, train

__all__ = ["FINAL_LAYER_VARIANTS", "MnistSigmoidConfig", "final_layer_ablation", "initial_loss",
           "plot_mnist_sigmoid", "run_mnist_sigmoid", "weight_scale_sweep"]

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
    as the sigmoid sees its input during training: a training-mode forward pass of the held-out
    batch, so every batch-norm layer of the BN network normalises with that batch's own
    statistics (:class:`trainlab.landscape.UnitInputRecorder`; the running averages, the
    parameters and the training's random state are untouched). ``step`` counts the updates
    done.
    Returns a JSON-serialisable dict: ``{"config", "data", "runs": {"no BN"|"BN": {"step",
    "val_acc", "p15", "p50", "p85", "final_val_acc", "seconds", "status"}}}``.
    """
    cfg = cfg or MnistSigmoidConfig()
    check_positive_int(steps=cfg.steps, record_every=cfg.record_every,
                        batch_size=cfg.batch_size)
    (xtr, ytr, xva, yva), desc = data or common.load_data(cfg.subset)
    runs = {}
    for label, norm in (("no BN", "none"), ("BN", "bn")):
        model = models.mlp(784, [cfg.width] * cfg.depth, 10, activation="sigmoid", init="normal",
                           init_scale=cfg.init_scale, norm=norm, seed=cfg.seed)
        with landscape.UnitInputRecorder(getattr(model, f"act{cfg.depth}"), cfg.unit,
                                         batch_size=len(xva), model=model) as rec:
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
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
    plots.percentile_bands(result["runs"], axes=axes[1:],
                           ylabel=f"input to sigmoid unit {result['config']['unit']}")
    axes[2].sharey(axes[1])
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
                       "bn"), hidden: Sequence[int] = (50, 50, 50, 50), steps: int = 200,
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
            model = models.mlp(784, list(hidden), 10, init="normal", init_scale=float(scale),
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
                         hidden: Sequence[int] = (100, 100)) -> dict[str, dict[str, list[float]]]:
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
    check_positive_int(steps=steps, batch_size=batch_size)
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
            model = models.mlp(784, list(hidden), 10, norm="bn" if variant == "BN" else "none",
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
