"""Run nbval on the lessons under a matrix of CPU-kernel configurations (``make portability``).

torch (ATen's vectorised kernels, MKL) and NumPy (OpenBLAS) choose float kernels by CPU, so an
AVX2 laptop, an AVX-512 server and Colab compute slightly different last bits. One machine can
imitate those differences with four environment variables, each of which changes float results:

- ``ATEN_CPU_CAPABILITY=default``  torch's ATen kernels without AVX2/AVX-512 vectorisation;
- ``MKL_CBWR=COMPATIBLE``          MKL's conditional numerical reproducibility: SSE2-only paths;
- ``OPENBLAS_CORETYPE=Sandybridge`` OpenBLAS's kernels for an older core;
- ``NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4"`` NumPy's own SIMD loops (exp, tanh, sin, ...) at
  its x86-64-v2 baseline instead of the AVX2 / AVX-512 versions it dispatches to at run time.

A stored output that passes nbval under every configuration does not depend on which kernel
computed it. Usage::

    python scripts/portability.py [--config NAME ...] [--jobs N] [notebook ...]

``--jobs N`` kernels run at once (each lesson's kernel uses one thread): N configurations at a
time, or, when there are fewer configurations than N (CI runs ``combined`` alone), each
configuration's lessons spread over ``N // configurations`` pytest-xdist workers (at most one
per lesson), every lesson whole on one worker (``--dist loadfile``: its cells in order, in one
kernel). The default is one per core, at most 2; ``make portability`` passes ``--jobs $(JOBS)``
(one per core, at most 4).

Exit status 0 when every configuration passes every lesson, 1 otherwise; a table at the end
says which configuration failed which lesson.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL_VARIABLES = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
    "OPENBLAS_CORETYPE": "Sandybridge",
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4",
}
CONFIGS: dict[str, dict[str, str]] = {
    "native": {},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "openblas-sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "numpy-baseline": {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4"},
    "combined": dict(KERNEL_VARIABLES),
}


def nbval_command(notebooks: list[str], workers: int = 1) -> list[str]:
    """pytest --nbval on ``notebooks``; with ``workers`` > 1, over that many pytest-xdist
    workers, each lesson whole on one of them."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    xdist = ["-n", str(workers), "--dist", "loadfile"] if workers > 1 else []
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *xdist, "--nbval",
            "--nbval-current-env", "--nbval-sanitize-with", "nbval-sanitize.cfg",
            "--timeout", "300", *notebooks]


def workers_per_config(jobs: int, configs: int, notebooks: int) -> int:
    """xdist workers for each configuration's nbval: the ``jobs`` that running ``configs``
    configurations at once leaves idle, at most one per lesson."""
    return max(1, min(jobs // max(1, configs), notebooks))


def config_env(name: str) -> dict[str, str]:
    """The process environment for one configuration: the native one has none of the kernel
    variables (even if the caller's shell set them), the others exactly theirs."""
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}
    env.update(CONFIGS[name])
    env.setdefault("TRAINLAB_NO_PROGRESS", "1")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_config(name: str, notebooks: list[str], log_dir: Path,
               workers: int = 1) -> tuple[str, int, str, float]:
    """nbval under one configuration; its output streams into ``log_dir/<name>.log``."""
    log = log_dir / f"{name}.log"
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(nbval_command(notebooks, workers), cwd=ROOT, env=config_env(name),
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    elapsed = time.perf_counter() - start
    return name, proc.returncode, log.read_text(), elapsed


def failures(stdout: str) -> list[str]:
    """The nbval cell ids (``notebooks/NN.ipynb::Cell K``) that failed."""
    return sorted(set(re.findall(r"^FAILED (\S+::Cell \d+)", stdout, flags=re.MULTILINE)))


def summary_line(stdout: str) -> str:
    lines = [ln for ln in stdout.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
    return lines[-1].strip("= ") if lines else "no pytest summary (see the log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="lessons (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS),
                        help="configuration(s) to run (default: all)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="kernels run at once: configurations at a time, or xdist "
                             "workers for fewer configurations (each kernel uses one thread)")
    parser.add_argument("--log-dir", default="test-artifacts/portability")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    notebooks = args.notebooks or sorted(str(p.relative_to(ROOT))
                                         for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    names = args.config or list(CONFIGS)
    log_dir = ROOT / args.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    workers = workers_per_config(args.jobs, len(names), len(notebooks))
    print(f"nbval on {len(notebooks)} lessons under {len(names)} kernel configuration(s), "
          f"{min(args.jobs, len(names))} at a time"
          + (f", each over {workers} pytest-xdist workers" if workers > 1 else "")
          + f"; logs in {args.log_dir}/", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda n: run_config(n, notebooks, log_dir, workers), names))
    failed = 0
    for name, code, stdout, elapsed in results:
        env = " ".join(f"{k}={v}" for k, v in CONFIGS[name].items()) or "(no variable set)"
        verdict = "PASS" if code == 0 else "FAIL"
        failed += code != 0
        print(f"{verdict}  {name:<22} {elapsed:6.0f} s  {summary_line(stdout)}  [{env}]")
        for cell in failures(stdout):
            print(f"        {cell}")
    print(f"{len(names) - failed} of {len(names)} configurations pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
