"""Batch norm forward + backward: trainlab's NumPy code vs torch's native CPU kernels.

N = 256, D = 1024, float32, training mode, one thread for torch. NumPy's elementwise ufuncs
and reductions are single-threaded anyway and batch norm calls no BLAS routine, so NumPy's
BLAS thread count does not matter here. Each figure is the median over repeats of the mean
time per call (timeit style, after a warm-up).

- ``numpy``: :func:`trainlab.norm.batchnorm_forward` + :func:`trainlab.norm.batchnorm_backward`
  (the public functions, input checks included);
- ``torch_native``: ``aten.native_batch_norm`` + ``aten.native_batch_norm_backward``, the
  kernels under ``torch.nn.BatchNorm1d`` without autograd's bookkeeping;
- ``torch_autograd``: ``F.batch_norm`` forward + ``.backward()``, what a torch user pays.

Run ``python benchmarks/bench_batchnorm.py``; :func:`run` returns the figures as a dict.
"""

from __future__ import annotations

import os
import platform
import statistics
import timeit
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from trainlab import norm

N, D = 256, 1024
EPS = 1e-5


def _time_interleaved(fns: dict[str, Callable[[], object]], number: int,
                      repeat: int) -> dict[str, list[float]]:
    """Per function: ``repeat`` measurements of the mean time of ``number`` calls, after a
    warm-up. The runs of the functions are interleaved, so a change in the load of a shared
    machine hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        for _ in range(max(3, number // 4)):
            fn()
    for _ in range(repeat):
        for name, fn in fns.items():
            times[name].append(timeit.timeit(fn, number=number) / number)
    return times


def _inputs(seed: int) -> tuple[np.ndarray, ...]:
    g = np.random.default_rng(seed)
    x = (g.standard_normal((N, D)) * 2 + 1).astype(np.float32)
    gamma = (1 + 0.1 * g.standard_normal(D)).astype(np.float32)
    beta = (0.1 * g.standard_normal(D)).astype(np.float32)
    dout = g.standard_normal((N, D)).astype(np.float32)
    return x, gamma, beta, dout


def _numpy_step(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                dout: np.ndarray) -> Callable[[], object]:
    def step() -> object:
        _, cache = norm.batchnorm_forward(x, gamma, beta, eps=EPS)
        return norm.batchnorm_backward(dout, cache)

    return step


def _torch_native_step(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                       dout: np.ndarray) -> Callable[[], object]:
    xt, gt, bt, dt = (torch.from_numpy(a) for a in (x, gamma, beta, dout))
    fwd = torch.ops.aten.native_batch_norm
    bwd = torch.ops.aten.native_batch_norm_backward

    def step() -> object:
        _, mean, invstd = fwd(xt, gt, bt, None, None, True, 0.1, EPS)
        return bwd(dt, xt, gt, None, None, mean, invstd, True, EPS, [True, True, True])

    return step


def _torch_autograd_step(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                         dout: np.ndarray) -> Callable[[], object]:
    xt = torch.from_numpy(x).requires_grad_()
    gt = torch.from_numpy(gamma).requires_grad_()
    bt = torch.from_numpy(beta).requires_grad_()
    dt = torch.from_numpy(dout)

    def step() -> object:
        xt.grad = gt.grad = bt.grad = None
        F.batch_norm(xt, None, None, gt, bt, training=True, eps=EPS).backward(dt)
        return xt.grad

    return step


def _agreement(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray) -> float:
    """Largest |dx_numpy - dx_torch| relative to max |dx_torch|: both compute the same thing."""
    _, cache = norm.batchnorm_forward(x, gamma, beta, eps=EPS)
    dx = norm.batchnorm_backward(dout, cache)[0]
    ref = _torch_native_step(x, gamma, beta, dout)()[0].numpy()
    return float(np.max(np.abs(dx - ref)) / np.max(np.abs(ref)))


def run(number: int = 20, repeat: int = 31, seed: int = 0) -> dict:
    """Time the three variants; returns seconds per forward+backward call and the ratios."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        args = _inputs(seed)
        times = _time_interleaved({"numpy": _numpy_step(*args),
                                   "torch_native": _torch_native_step(*args),
                                   "torch_autograd": _torch_autograd_step(*args)},
                                  number, repeat)
        agreement = _agreement(*args)
    finally:
        torch.set_num_threads(threads)
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    return {
        "benchmark": "batchnorm forward+backward (training mode)",
        "shape": [N, D],
        "dtype": "float32",
        "torch_threads": 1,
        **{f"{k}_s": v for k, v in med.items()},
        **{f"{k}_min_s": v for k, v in best.items()},
        "ratio_numpy_over_torch_native": med["numpy"] / med["torch_native"],
        "ratio_numpy_over_torch_autograd": med["numpy"] / med["torch_autograd"],
        "ratio_min_numpy_over_torch_native": best["numpy"] / best["torch_native"],
        "max_rel_diff_dx": agreement,
        "numpy_version": np.__version__,
        "torch_version": torch.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "number": number,
        "repeat": repeat,
    }


def main() -> None:
    r = run()
    print(f"batch norm forward+backward, N={N}, D={D}, float32, torch threads = 1")
    print(f"  {'':22s} {'median':>9s} {'best':>9s}")
    for key, label in (("numpy", "numpy (trainlab.norm)"), ("torch_native", "torch native kernels"),
                       ("torch_autograd", "torch autograd")):
        print(f"  {label:22s} {r[key + '_s'] * 1e6:9.1f} {r[key + '_min_s'] * 1e6:9.1f} us")
    print(f"  ratio numpy / torch native   {r['ratio_numpy_over_torch_native']:.2f}x (median), "
          f"{r['ratio_min_numpy_over_torch_native']:.2f}x (best)")
    print(f"  ratio numpy / torch autograd {r['ratio_numpy_over_torch_autograd']:.2f}x (median)")
    print(f"  max relative difference of dx: {r['max_rel_diff_dx']:.1e}")


if __name__ == "__main__":
    main()
