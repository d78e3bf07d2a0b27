"""Overhead of :func:`trainlab.train.train`'s bookkeeping over a bare hand-written torch loop.

Same model (784-256-256-10 ReLU MLP, same seed), same data (synthetic 784-dim Gaussian
classes), same minibatch indices, same thread count: 1000 steps of batch-64 SGD, once as the
plainest idiomatic loop (forward, loss, zero_grad, backward, step) and once through ``train``
with per-layer statistics recorded every 50 steps and a small validation set (timed as the
whole call: input checks and the one-off NumPy -> torch conversion included). The two are
interleaved ``repeats`` times and the fastest of each is compared (the minimum is the least
noisy estimate on a shared machine). Target: overhead <= 10 %.

Run: ``.venv/bin/python benchmarks/bench_train_overhead.py``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from trainlab.models import mlp
from trainlab.train import train

N_TRAIN, N_VAL, DIM, CLASSES = 10_000, 500, 784, 10


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``N_TRAIN + N_VAL`` examples ``x = mu_y + noise`` (float32, shape (N, 784)), labels (N,)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 0.3, size=(CLASSES, DIM))
    y = rng.integers(0, CLASSES, size=N_TRAIN + N_VAL)
    x = means[y] + rng.normal(0.0, 1.0, size=(len(y), DIM))
    return x.astype(np.float32), y.astype(np.int64)


def _batch_indices(n: int, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """(steps, batch_size) indices from concatenated permutations, as ``train`` draws them."""
    rng = np.random.default_rng(seed)
    perms = np.concatenate([rng.permutation(n) for _ in range(steps * batch_size // n + 1)])
    return torch.from_numpy(perms[: steps * batch_size].reshape(steps, batch_size))


def bare_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor,
              lr: float) -> float:
    """Seconds for plain SGD over the batches ``rows`` (steps, batch_size)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    start = time.perf_counter()
    for idx in rows.unbind(0):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def run(steps: int = 1000, batch_size: int = 64, repeats: int = 3, threads: int = 1,
        record_every: int = 50, lr: float = 0.05) -> dict[str, Any]:
    """Time both loops; returns the seconds, the overhead in percent and the set-up."""
    torch.set_num_threads(threads)
    x, y = make_data()
    train_data = (x[:N_TRAIN], y[:N_TRAIN])
    val_data = (x[N_TRAIN:], y[N_TRAIN:])
    xt, yt = torch.from_numpy(train_data[0]), torch.from_numpy(train_data[1])
    rows = _batch_indices(N_TRAIN, steps, batch_size, seed=0)
    bare, instrumented = [], []
    for _ in range(repeats):
        bare.append(bare_loop(mlp(DIM, [256, 256], CLASSES, seed=0), xt, yt, rows, lr))
        model = mlp(DIM, [256, 256], CLASSES, seed=0)
        start = time.perf_counter()
        history = train(model, train_data, val_data, steps=steps, batch_size=batch_size, lr=lr,
                        record_every=record_every, stats=True, progress=False)
        instrumented.append(time.perf_counter() - start)
    bare_s, train_s = min(bare), min(instrumented)
    return {
        "steps": steps, "batch_size": batch_size, "threads": threads, "repeats": repeats,
        "record_every": record_every, "bare_s": bare_s, "train_s": train_s,
        "overhead_pct": 100.0 * (train_s - bare_s) / bare_s,
        "bare_all_s": bare, "train_all_s": instrumented,
        "final_train_loss": history.final("train_loss"), "final_val_acc": history.final("val_acc"),
        "torch": torch.__version__,
    }


def main() -> None:
    os.environ.setdefault("TRAINLAB_NO_PROGRESS", "1")
    result = run()
    print(f"{result['steps']} steps, batch {result['batch_size']}, "
          f"{result['threads']} thread(s), best of {result['repeats']}")
    print(f"bare torch loop : {result['bare_s']:.3f} s")
    print(f"trainlab.train  : {result['train_s']:.3f} s  (stats every "
          f"{result['record_every']} steps, {N_VAL} validation examples)")
    print(f"overhead        : {result['overhead_pct']:+.1f} %  (target <= 10 %)")


if __name__ == "__main__":
    main()
