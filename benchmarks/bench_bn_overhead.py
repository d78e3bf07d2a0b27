"""Extra cost of batch norm per training step, for an MLP and a small CNN (lesson 04).

Ioffe & Szegedy (2015) report that a batch-normalised Inception step costs about 30 % more
than a plain one (their figure, quoted in the course's lecture material). Here: one plain SGD
step (forward, cross-entropy, backward, update) on a batch of 64 MNIST-sized inputs, timed by
:func:`trainlab.train.sgd_step_seconds` (CPU seconds, the best of several repeats), for

- ``mlp``: 784-256-256-10 ReLU, with and without ``BatchNorm1d`` before each ReLU;
- ``cnn``: ``trainlab.models.cnn(1, (8, 16), 10)``, with and without ``BatchNorm2d``;

in float32 and float64 (the lessons' dtype), one torch thread. The figure is the ratio
``time with BN / time without`` measured in the same run, never an absolute time.

Run: ``.venv/bin/python benchmarks/bench_bn_overhead.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from trainlab.models import cnn, mlp
from trainlab.train import sgd_step_seconds

BUILDERS = {
    "mlp": (lambda norm: mlp(784, [256] * 2, 10, norm=norm, seed=0), (784,)),
    "cnn": (lambda norm: cnn(1, (8, 16), 10, norm=norm, seed=0), (1, 28, 28)),
}


def run(batch_size: int = 64, steps: int = 20, repeats: int = 5) -> dict[str, Any]:
    """``{dtype: {model: {"ms_plain", "ms_bn", "ratio"}}}`` (ms per step)."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=batch_size)
    results: dict[str, Any] = {}
    old = torch.get_default_dtype()
    try:
        for dtype in (torch.float32, torch.float64):
            torch.set_default_dtype(dtype)
            row = {}
            for name, (build, shape) in BUILDERS.items():
                x = rng.uniform(0, 1, size=(batch_size, *shape))
                plain = sgd_step_seconds(build("none"), x, y, steps=steps, repeat=repeats)
                bn = sgd_step_seconds(build("bn"), x, y, steps=steps, repeat=repeats)
                row[name] = {"ms_plain": 1e3 * plain, "ms_bn": 1e3 * bn, "ratio": bn / plain}
                print(f"{str(dtype):>13} {name}: {1e3 * plain:.2f} ms per step without BN, "
                      f"{1e3 * bn:.2f} ms with BN: x{bn / plain:.2f}", flush=True)
            results[str(dtype).removeprefix("torch.")] = row
    finally:
        torch.set_default_dtype(old)
    results["paper_inception_ratio"] = 1.3
    return results


if __name__ == "__main__":
    run()
