"""``python -m trainlab.reproduce``: run the paper-scale experiments, write JSON and PNG."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

import trainlab.reproduce as package
from trainlab.reproduce.batchnorm import MnistSigmoidConfig, plot_mnist_sigmoid, run_mnist_sigmoid
from trainlab.reproduce.initialisation import HeSweepConfig, plot_he_sweep, run_he_sweep
from trainlab.reproduce.why_batchnorm_works import (
    LandscapeConfig,
    NoisyBNConfig,
    plot_landscape,
    plot_noisy_bn,
    run_landscape,
    run_noisy_bn,
)
from trainlab.style import apply_style

__all__ = ["EXPERIMENTS", "main"]

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
    parser = argparse.ArgumentParser(prog="python -m trainlab.reproduce",
                                     description=package.__doc__,
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
