"""Lesson 04 (batch normalisation) at paper scale: Ioffe & Szegedy (2015), figure 1."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from trainlab import landscape, models, plots
from trainlab.reproduce import common
from trainlab.reproduce.common import Arrays, check_positive_int
from trainlab.style import color
from trainlab.train import train

__all__ = ["MnistSigmoidConfig", "plot_mnist_sigmoid", "run_mnist_sigmoid"]

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
    check_positive_int(steps=cfg.steps, record_every=cfg.record_every,
                        batch_size=cfg.batch_size)
    (xtr, ytr, xva, yva), desc = data or common.load_data(cfg.subset)
    runs = {}
    for label, norm in (("no BN", "none"), ("BN", "bn")):
        model = models.mlp(784, [cfg.width] * cfg.depth, 10, activation="sigmoid", init="normal",
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
