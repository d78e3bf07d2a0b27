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


SIMULATE_COLAB_ENV = "TRAINLAB_SIMULATE_COLAB"
"""When set, the set-up cell behaves as on Colab (``make colab-check`` sets it)."""


def in_colab() -> bool:
    """True when running inside Google Colab (or simulating it with ``TRAINLAB_SIMULATE_COLAB``)."""
    return "google.colab" in sys.modules or bool(os.environ.get(SIMULATE_COLAB_ENV))


def missing_requirements(dist: str = "trainlab") -> tuple[list[str], list[str]]:
    """``(missing, mismatched)`` for the install requirements of the installed ``dist``:
    requirements whose package is not installed (as written in the metadata, e.g.
    ``"tqdm>=4.66"``) and installed packages outside the required range (``"name version"``).
    Extras are ignored. Raises ``importlib.metadata.PackageNotFoundError`` if ``dist`` is not
    installed."""
    from importlib import metadata

    from packaging.requirements import Requirement

    missing, mismatched = [], []
    for line in metadata.requires(dist) or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(str(req))
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            mismatched.append(f"{req.name} {version}")
    return missing, mismatched


def installed_pins() -> str:
    """``name==version`` of every installed distribution, one a line: a pip constraints file
    that forbids pip to change any of them."""
    from importlib import metadata

    pins: dict[str, str] = {}
    for d in metadata.distributions():
        name = d.metadata["Name"]
        if name and name.lower() not in pins:
            pins[name.lower()] = f"{name}=={d.version}"
    return "\n".join(sorted(pins.values())) + "\n"


def colab_setup(started: float | None = None, fetch_data: bool = True) -> list[str]:
    """Finish trainlab's installation on Colab without changing any installed package.

    The set-up cell installs trainlab itself with ``pip install --no-deps``; this function
    then (1) installs only the requirements that are missing, with every installed
    distribution pinned by a constraints file (so pip fails rather than up- or downgrade
    anything Colab's running kernel has imported); (2) with ipywidgets 8 on Colab, turns on
    Colab's custom widget manager (``google.colab.output.enable_custom_widget_manager()``,
    googlecolab/colabtools#3020) — ipywidgets 7 needs nothing; (3) fetches the course data
    with checksums. Prints one line saying what it did (and the seconds since ``started``, a
    ``time.perf_counter()`` value); returns the actions. Raises ``subprocess.CalledProcessError``
    if pip fails.
    """
    import subprocess
    import tempfile
    import time

    actions: list[str] = []
    missing, mismatched = missing_requirements()
    if missing:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
            pins.write(installed_pins())
        try:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", pins.name,
                            *missing], check=True)
        finally:
            os.unlink(pins.name)
        actions.append(f"installed {', '.join(missing)} (no installed package changed)")
    else:
        actions.append("every requirement already installed (nothing changed)")
    if mismatched:
        actions.append(f"kept {', '.join(mismatched)} though outside trainlab's tested range")
    actions.append(_enable_widgets())
    if fetch_data:
        from trainlab.data import fetch_course_data

        ok = fetch_course_data(verbose=False)
        actions.append("course data ready" if ok else "course data MISSING (see trainlab.data)")
    took = f" in {time.perf_counter() - started:.0f} s" if started is not None else ""
    print(f"Colab set-up{took}: " + "; ".join(actions) + ".")
    return actions


def _enable_widgets() -> str:
    import ipywidgets

    major = int(ipywidgets.__version__.split(".")[0])
    if major < 8:
        return f"ipywidgets {ipywidgets.__version__}: Colab renders it as is"
    if "google.colab" not in sys.modules:
        return f"ipywidgets {ipywidgets.__version__}: not on Colab, no widget manager to enable"
    from google.colab import output

    output.enable_custom_widget_manager()
    return f"ipywidgets {ipywidgets.__version__}: enabled Colab's custom widget manager"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - lessons may still use the global generator
    torch.manual_seed(seed)


DTYPES = ("float64", "float32")


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables by which a native library loaded after :func:`setup_notebook` learns its
thread count."""


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
      algorithms. ``threadpool_limits`` reaches only the libraries loaded by then, so it also
      sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS``, which a library
      loaded later reads when it loads (scikit-learn's OpenMP and SciPy's OpenBLAS, imported by
      a lesson after this call, otherwise start a thread per core, whose waiting burns CPU);
    - applies :func:`trainlab.style.apply_style` and inline PNG figures, each displayed with
      the numbers behind it in its output metadata (:mod:`trainlab.figdata`, for alt text).
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
    for var in THREAD_VARIABLES:
        os.environ[var] = str(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    np.set_printoptions(precision=4, suppress=True)
    apply_style()
    _inline_figures()
    _figure_check_hook()


def _figure_check_hook() -> None:
    """With ``TRAINLAB_FIGCHECK_LOG`` set (``make nbval``), every pyplot figure logs what a
    reader could not read (:mod:`trainlab.figcheck`); prints nothing into the notebook."""
    from trainlab.figcheck import LOG_ENV

    if not os.environ.get(LOG_ENV):
        return
    import matplotlib as mpl

    hooks = list(mpl.rcParams.get("figure.hooks", []))
    if "trainlab.figcheck:install" not in hooks:
        mpl.rcParams["figure.hooks"] = [*hooks, "trainlab.figcheck:install"]


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
    from trainlab.figdata import install

    install(shell)  # each figure's numbers go into its output's metadata, for its alt text


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
