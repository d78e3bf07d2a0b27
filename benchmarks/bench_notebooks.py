"""Execution time and peak memory of every lesson, each in a fresh kernel.

    python benchmarks/bench_notebooks.py [notebooks/03_initialisation.ipynb ...]

Targets: the whole series in at most 5 minutes, no lesson over 60 s, peak RSS of a lesson's
kernel at most 2 GB. The notebooks are executed in a temporary copy (nothing is written back).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S, SERIES_LIMIT_S, RSS_LIMIT_MB = 60.0, 300.0, 2048.0

_RUNNER = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
elapsed = time.perf_counter() - start
kernel_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "kernel_peak_rss_mb": kernel_kb / 1024}))
"""


def measure(path: Path) -> dict:
    env = {**os.environ, "TRAINLAB_NO_PROGRESS": "1", "PYTHONHASHSEED": "0"}
    out = subprocess.run([sys.executable, "-c", _RUNNER, str(path), str(path.parent)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(paths: list[Path] | None = None) -> dict:
    paths = paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    rows = {}
    start = time.perf_counter()
    for path in paths:
        rows[path.name] = measure(path)
        r = rows[path.name]
        print(f"{path.name:<34}{r['seconds']:7.1f} s  peak RSS {r['kernel_peak_rss_mb']:7.0f} MB",
              flush=True)
    total = time.perf_counter() - start
    worst = max(r["seconds"] for r in rows.values())
    peak = max(r["kernel_peak_rss_mb"] for r in rows.values())
    print(f"{'whole series':<34}{total:7.1f} s  (target <= {SERIES_LIMIT_S:.0f} s; slowest "
          f"{worst:.1f} s, target <= {LIMIT_S:.0f} s; peak {peak:.0f} MB, target <= "
          f"{RSS_LIMIT_MB:.0f} MB)")
    return {"notebooks": rows, "series_seconds": total, "slowest_seconds": worst,
            "peak_rss_mb": peak,
            "targets_met": total <= SERIES_LIMIT_S and worst <= LIMIT_S and peak <= RSS_LIMIT_MB}


if __name__ == "__main__":
    run([Path(a).resolve() for a in sys.argv[1:]] or None)
