"""Lesson 04: the learning-rate explorer (with and without batch norm)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from trainlab import health
from trainlab.explorers._training import (
    _curves_figure,
    _Figures,
    _live_hook,
    _probe,
    _run_summary,
    _RunSpec,
    _train_mlp,
    _trained_problems,
)
from trainlab.explorers.core import fmt
from trainlab.explorers.live import Explorer, serves_grid
from trainlab.explorers.spec import choice, log_slider, toggle


@serves_grid
def lr_explorer(*, lr: float = 0.1, activation: str = "relu", init: str = "kaiming_normal",
                depth: int = 3, width: int = 128, steps: int = 150, n_train: int = 2000,
                n_val: int = 500, seed: int = 0,
                activations: Sequence[str] = ("relu", "tanh", "sigmoid")) -> Explorer:
    """The same MLP trained with and without batch norm at one learning rate, side by side.

    Controls (``continuous_update=False``): ``lr`` (FloatLogSlider 1e-3..1e1), ``activation``
    (Dropdown, sigmoid included: the setting of Ioffe & Szegedy's MNIST experiment),
    ``scale`` (init scale 0.1..10 times ``init``'s std) and ``bn`` (Checkbox: also train the BN
    net; off shows only the plain net). Models: ``mlp(784, [width] * depth, 10, norm="none")``
    and ``norm="bn"`` (BN before the non-linearity), same init and seed, ``steps`` SGD steps on
    ``n_train`` MNIST-10k images; drawn live as they train. A diverged run ends at its
    divergence step with "diverged at step k". ``last_result``: ``final_train_loss`` /
    ``final_val_acc`` / ``diverged`` / ``diverged_at`` as dicts by run name, and ``status``
    (each run's problems, :func:`_trained_problems`, prefixed by its name).
    """
    spec = _RunSpec(n_train=n_train, n_val=n_val, steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = [
        log_slider("lr", "learning rate", lr, -3, 1),
        choice("activation", "activation", activation, activations),
        log_slider("scale", "init scale", 1.0, -1, 1),
        toggle("bn", "with BN", True),
    ]

    default_activation = activation

    def compute(lr: float, activation: str = default_activation, scale: float = 1.0,
                bn: bool = True, report: Any = None, cancelled: Any = None,
                dtype: str = "float32") -> dict[str, Any]:
        runs = {"no BN": "none", "BN": "bn"} if bn else {"no BN": "none"}
        hists: dict[str, Any] = {}
        problems: list[str] = []
        for name, norm in runs.items():
            def partial(hist: Any, name: str = name) -> dict[str, Any]:
                return {"histories": {**hists, name: hist}, "runs": list(runs),
                        "summary": f"lr {fmt(lr)}, {activation}: training {name}…"}

            model, hists[name] = _train_mlp(
                spec, hidden=[width] * depth, lr=lr, activation=activation, init=init,
                init_scale=float(scale), norm=norm, dtype=dtype,
                on_record=_live_hook(report, cancelled, partial, spec.steps))
            problems += _trained_problems(model, hists[name], _probe(spec), label=name)
        res: dict[str, Any] = {"histories": hists}
        for key in ("final_train_loss", "final_val_acc", "diverged", "diverged_at"):
            res[key] = {name: _run_summary(h)[key] for name, h in hists.items()}
        res["status"] = health.status(*problems)
        res["summary"] = f"lr {fmt(lr)}, {activation}: " + ", ".join(
            f"{n} diverged at step {h.diverged_at}" if h.diverged
            else f"{n} loss {fmt(h.final('train_loss'))}" for n, h in hists.items())
        return res

    figures = _Figures()

    def render(res: dict[str, Any]) -> Figure:
        return _curves_figure(figures, res["histories"], metrics=("loss",), side_by_side=True,
                              title=res["summary"], steps=spec.steps,
                              panels=res.get("runs", ()))

    return Explorer(controls, compute, render, title="Learning rate with and without BN",
                    live=True)
