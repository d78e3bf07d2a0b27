"""Overhead of :func:`trainlab.train.train`'s bookkeeping over a bare hand-written torch loop.

Same model (784-256-256-10 ReLU MLP, same seed), same data (synthetic 784-dim Gaussian
classes), same minibatch indices, same thread count: 1000 steps of batch-64 SGD, once as the
plainest idiomatic loop (forward, loss, zero_grad, backward, step) and once through ``train``
with per-layer statistics recorded every 50 steps (timed as the whole call: input checks and
the one-off NumPy -> torch conversion included). A second pair adds a 500-example validation
pass every 50 steps to both loops (the validation itself is real work, not overhead). The two are
interleaved ``repeats`` times and the fastest of each is compared (the minimum is the least
noisy estimate on a shared machine). Times are the process's CPU seconds (``process_time``), not
wall time, so that other jobs on a shared machine do not enter them; with the default one torch
thread the two agree on an idle machine. Target: overhead <= 10 %.

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


def _clock() -> float:
    """CPU seconds of this process: on a shared machine, unlike wall time, it does not count
    the time other processes hold the cores (with one torch thread it is the loop's own work)."""
    return time.process_time()


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
              lr: float, val: tuple[torch.Tensor, torch.Tensor] | None = None,
              record_every: int = 50) -> float:
    """CPU seconds for plain SGD over the batches ``rows`` (steps, batch_size).

    With ``val``, the validation loss and accuracy are computed (eval mode, no grad) every
    ``record_every`` steps and at the last step, as a hand-written loop that validates would.
    """
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    last = rows.shape[0] - 1
    start = _clock()
    for step, idx in enumerate(rows.unbind(0)):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if val is not None and (step % record_every == 0 or step == last):
            model.eval()
            with torch.no_grad():
                out = model(val[0])
                float(F.cross_entropy(out, val[1])), float((out.argmax(1) == val[1]).float().mean())
            model.train()
    return _clock() - start


def run(steps: int = 1000, batch_size: int = 64, repeats: int = 3, threads: int = 1,
        record_every: int = 50, lr: float = 0.05) -> dict[str, Any]:
    """Time both loops; returns the seconds, the overhead in percent and the set-up."""
    torch.set_num_threads(threads)
    x, y = make_data()
    train_data = (x[:N_TRAIN], y[:N_TRAIN])
    val_data = (x[N_TRAIN:], y[N_TRAIN:])
    xt, yt = torch.from_numpy(train_data[0]), torch.from_numpy(train_data[1])
    rows = _batch_indices(N_TRAIN, steps, batch_size, seed=0)
    val_t = (torch.from_numpy(val_data[0]), torch.from_numpy(val_data[1]))
    times: dict[str, list[float]] = {"bare": [], "train": [], "bare_val": [], "train_val": []}
    for _ in range(repeats):
        times["bare"].append(bare_loop(mlp(DIM, [256, 256], CLASSES, seed=0), xt, yt, rows, lr))
        times["bare_val"].append(bare_loop(mlp(DIM, [256, 256], CLASSES, seed=0), xt, yt, rows,
                                           lr, val=val_t, record_every=record_every))
        for key, val in (("train", None), ("train_val", val_data)):
            model = mlp(DIM, [256, 256], CLASSES, seed=0)
            start = _clock()
            history = train(model, train_data, val, steps=steps, batch_size=batch_size, lr=lr,
                            record_every=record_every, stats=True, progress=False)
            times[key].append(_clock() - start)
    best = {key: min(values) for key, values in times.items()}
    return {
        "steps": steps, "batch_size": batch_size, "threads": threads, "repeats": repeats,
        "record_every": record_every, "n_val": N_VAL,
        "bare_s": best["bare"], "train_s": best["train"],
        "overhead_pct": 100.0 * (best["train"] - best["bare"]) / best["bare"],
        "bare_val_s": best["bare_val"], "train_val_s": best["train_val"],
        "overhead_val_pct": 100.0 * (best["train_val"] - best["bare_val"]) / best["bare_val"],
        "all_s": times, "final_train_loss": history.final("train_loss"),
        "final_val_acc": history.final("val_acc"), "torch": torch.__version__,
    }


def main() -> None:
    os.environ.setdefault("TRAINLAB_NO_PROGRESS", "1")
    r = run()
    print(f"{r['steps']} steps, batch {r['batch_size']}, {r['threads']} thread(s), "
          f"best of {r['repeats']}; train records stats every {r['record_every']} steps")
    print("CPU seconds (time.process_time)")
    print(f"no validation   : bare {r['bare_s']:.3f} s, trainlab.train {r['train_s']:.3f} s, "
          f"overhead {r['overhead_pct']:+.1f} %  (target <= 10 %)")
    print(f"{r['n_val']} val examples: bare {r['bare_val_s']:.3f} s, trainlab.train "
          f"{r['train_val_s']:.3f} s, overhead {r['overhead_val_pct']:+.1f} %")


if __name__ == "__main__":
    main()
