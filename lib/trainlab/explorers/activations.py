"""Lesson 01: dead ReLUs as the learning rate grows."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from trainlab import health
from trainlab.data import mnist_subset
from trainlab.explorers._training import (
    _Figures,
    _live_hook,
    _run_summary,
    _RunSpec,
    _train_mlp,
    _trained_problems,
)
from trainlab.explorers.core import _explorer_figure, fmt
from trainlab.explorers.live import Explorer, serves_grid
from trainlab.explorers.spec import choice, log_slider
from trainlab.style import (
    color,
    text_size,
)


@serves_grid
def dead_relu_explorer(*, lr: float = 0.1, depth: int = 3, width: int = 128,
                       init: str = "kaiming_normal", steps: int = 150, n_train: int = 2000,
                       n_probe: int = 1000, seed: int = 0) -> Explorer:
    """Fraction of dead ReLU units after a short training run at a given learning rate.

    Controls (``continuous_update=False``): ``lr`` (FloatLogSlider 1e-3..1e1),
    ``activation`` (``relu`` or ``leaky_relu``, slope 0.01 for z < 0) and ``optimizer``
    (``sgd``, ``momentum``, ``adam``). A unit is dead when its activation is 0 for every one of
    ``n_probe`` training images, and inactive when its pre-activation is <= 0 for all of them
    (a dead ReLU; a leaky unit in that state still passes 0.01 of the gradient and can
    recover), measured after training with ``trainlab.train.pre_activation_stats`` in eval
    mode. The loss curve is drawn live. ``last_result``: ``dead`` and ``inactive`` (lists, one
    fraction per hidden layer), ``dead_total``, ``inactive_total``, ``final_train_loss``,
    ``diverged``, ``diverged_at``, ``status`` (diverged, dead units above
    :data:`trainlab.health.DEAD_FRACTION` in a layer, chance accuracy).
    """
    spec = _RunSpec(n_train=n_train, n_val=min(500, n_probe), steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = [
        log_slider("lr", "learning rate", lr, -3, 1),
        choice("activation", "activation", "relu", ("relu", "leaky_relu")),
        choice("optimizer", "optimizer", "sgd", ("sgd", "momentum", "adam")),
    ]

    def compute(lr: float, activation: str = "relu", optimizer: str = "sgd", report: Any = None,
                cancelled: Any = None, dtype: str = "float32") -> dict[str, Any]:
        from trainlab.train import pre_activation_stats

        def partial(hist: Any) -> dict[str, Any]:
            return {"history": hist, "dead": [], "summary": "training…"}

        model, hist = _train_mlp(spec, hidden=[width] * depth, lr=lr, activation=activation,
                                 init=init, optimizer=optimizer, dtype=dtype,
                                 on_record=_live_hook(report, cancelled, partial, spec.steps))
        model.eval()
        X = mnist_subset(spec.n_train, spec.n_val, spec.seed)[0][:n_probe]
        with np.errstate(invalid="ignore"):
            stats = pre_activation_stats(model, X, return_values=True)
        dead = [float(s["dead"]) for s in stats]
        inactive = [float(np.mean(np.all(np.asarray(s["pre"]) <= 0, axis=0))) for s in stats]
        res = {**_run_summary(hist), "dead": dead, "dead_total": float(np.mean(dead)),
               "inactive": inactive, "inactive_total": float(np.mean(inactive)),
               "history": hist}
        res["status"] = health.status(*_trained_problems(model, hist, X))
        res["summary"] = (f"{activation}, {optimizer}, lr {fmt(lr)}: dead units "
                          f"{100 * res['dead_total']:.1f}%, inactive "
                          f"{100 * res['inactive_total']:.1f}%")
        return res

    figures = _Figures()

    def render(res: dict[str, Any]) -> Figure:
        return _dead_figure(figures, res, spec.steps)

    return Explorer(controls, compute, render, title="Dead ReLUs and the learning rate",
                    live=True)


def _dead_figure(figures: _Figures, res: dict[str, Any], steps: int) -> Figure:
    from trainlab.plots import training_curves

    def build() -> tuple[Figure, list[Any]]:
        fig = _explorer_figure(0.417)
        grid = fig.add_gridspec(1, 2, wspace=0.3, left=0.08, right=0.98, top=0.84,
                                bottom=0.15)
        return fig, [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]

    fig, (ax1, ax2) = figures.get(("dead",), build)
    layers = np.arange(1, len(res["dead"]) + 1)
    if len(layers):
        ax1.bar(layers - 0.2, res["inactive"], width=0.4, color=color(1),
                label="inactive (z <= 0 on every image)")
        ax1.bar(layers + 0.2, res["dead"], width=0.4, color=color(3),
                label="dead (a = 0 on every image)")
        ax1.legend(fontsize=text_size(), loc="upper left")
        ax1.set_xticks(layers)
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("hidden layer", fontsize=text_size("label"))
    ax1.set_ylabel("fraction of units", fontsize=text_size("label"))
    ax1.tick_params(labelsize=text_size())
    training_curves({"": res["history"]}, metrics=("loss",), split=("train",), axes=[ax2],
                    log_loss=True)
    ax2.set_xlim(0, steps)
    ax2.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"], fontsize=text_size("title"))
    return fig
