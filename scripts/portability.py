"""Run nbval on the lessons under a matrix of CPU-kernel configurations (``make portability``).

torch (ATen's vectorised kernels, MKL) and NumPy (OpenBLAS) choose float kernels by CPU, so an
AVX2 laptop, an AVX-512 server and Colab compute slightly different last bits. One machine can
imitate those differences with three environment variables, each of which changes float results:

- ``ATEN_CPU_CAPABILITY=default``  torch's ATen kernels without AVX2/AVX-512 vectorisation;
- ``MKL_CBWR=COMPATIBLE``          MKL's conditional numerical reproducibility: SSE2-only paths;
- ``OPENBLAS_CORETYPE=Sandybridge`` OpenBLAS's kernels for an older core.

A stored output that passes nbval under every configuration does not depend on which kernel
computed it. Usage::

    python scripts/portability.py [--config NAME ...] [--jobs N] [notebook ...]

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
}
CONFIGS: dict[str, dict[str, str]] = {
    "native": {},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "openblas-sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "combined": dict(KERNEL_VARIABLES),
}


def nbval_command(notebooks: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval",
            "--nbval-current-env", "--nbval-sanitize-with", "nbval-sanitize.cfg",
            "--timeout", "300", *notebooks]


def config_env(name: str) -> dict[str, str]:
    """The process environment for one configuration: the native one has none of the kernel
    variables (even if the caller's shell set them), the others exactly theirs."""
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}
    env.update(CONFIGS[name])
    env.setdefault("TRAINLAB_NO_PROGRESS", "1")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_config(name: str, notebooks: list[str], log_dir: Path) -> tuple[str, int, str, float]:
    start = time.perf_counter()
    proc = subprocess.run(nbval_command(notebooks), cwd=ROOT, env=config_env(name),
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    log = log_dir / f"{name}.log"
    log.write_text(proc.stdout + proc.stderr)
    return name, proc.returncode, proc.stdout, elapsed


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
                        help="configurations run at once (each kernel uses one thread)")
    parser.add_argument("--log-dir", default="test-artifacts/portability")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    notebooks = args.notebooks or sorted(str(p.relative_to(ROOT))
                                         for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    names = args.config or list(CONFIGS)
    log_dir = ROOT / args.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"nbval on {len(notebooks)} lessons under {len(names)} kernel configuration(s), "
          f"{args.jobs} at a time; logs in {args.log_dir}/", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda n: run_config(n, notebooks, log_dir), names))
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
