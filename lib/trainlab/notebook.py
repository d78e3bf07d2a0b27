"""Notebook set-up shared by every lesson: seeds, threads, determinism, plotting, progress bars.

Every lesson's first code cell calls :func:`setup_notebook`, so a "Restart & Run All" gives the
same numbers on every run (``pytest --nbval`` compares them with the stored outputs).
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np

T = TypeVar("T")

NO_PROGRESS_ENV = "TRAINLAB_NO_PROGRESS"
"""When set (``make execute`` and ``make test`` set it), progress bars are silent so that the
stored outputs hold no timings."""


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - lessons may still use the global generator
    torch.manual_seed(seed)


DTYPES = ("float64", "float32")


def setup_notebook(seed: int = 0, threads: int = 1, dtype: str = "float64") -> None:
    """Make a lesson reproducible and give its figures the course style.

    - seeds ``random``, NumPy and torch with ``seed``;
    - makes ``dtype`` torch's default (``torch.set_default_dtype``), so models built afterwards
      and :func:`trainlab.train.train` run in it. The lessons use float64: CPUs pick different
      float kernels (AVX2, AVX-512, MKL's code paths, OpenBLAS's core types) whose results
      differ in the last bits, and training amplifies those differences; float32's last bits
      (~1e-7) can reach a printed third digit after a few hundred steps, float64's (~1e-16)
      do not, so the stored outputs hold on every machine (``make portability`` checks it);
    - fixes torch's intra-op thread count and NumPy's BLAS thread pool to ``threads`` (results
      of a float reduction can change in the last bits with the number of threads, and a busy
      machine runs many-threaded BLAS slower, not faster) and asks torch for deterministic
      algorithms;
    - applies :func:`trainlab.style.apply_style` and inline PNG figures.
    """
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    import torch
    from threadpoolctl import threadpool_limits

    from trainlab.style import apply_style

    seed_everything(seed)
    torch.set_default_dtype(getattr(torch, dtype))
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    np.set_printoptions(precision=4, suppress=True)
    apply_style()
    _inline_figures()


def _inline_figures() -> None:
    """Inside a Jupyter kernel: the inline backend (even if MPLBACKEND says otherwise) and PNG
    figures. Elsewhere: nothing."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover - plain python, no IPython
        return
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in shell.config:
        return
    shell.run_line_magic("matplotlib", "inline")
    set_matplotlib_formats("png")


def progress_enabled() -> bool:
    """False when ``TRAINLAB_NO_PROGRESS`` is set to anything but '' or '0'."""
    return os.environ.get(NO_PROGRESS_ENV, "") in ("", "0")


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "") -> Iterator[T]:
    """A ``tqdm.auto`` progress bar, or the bare iterable when progress bars are silenced."""
    if not progress_enabled():
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, total=total, desc=desc, leave=False)
