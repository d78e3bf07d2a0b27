"""Run every benchmark and write benchmarks/results.json (used by `make bench`).

Each benchmark module exposes ``run() -> dict``; this script adds the machine they ran on and
the date. ``python benchmarks/run_all.py bench_init_explorer`` re-runs one benchmark and keeps
the others' stored figures.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
BENCHMARKS = ["bench_batchnorm", "bench_bn_overhead", "bench_train_overhead",
              "bench_init_explorer", "bench_training_explorers", "bench_notebooks",
              "bench_grading"]


def machine() -> dict:
    import numpy as np
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "system": platform.platform()}


def main(names: list[str]) -> int:
    out = HERE / "results.json"
    previous = json.loads(out.read_text())["results"] if names and out.exists() else {}
    results = {"date": dt.date.today().isoformat(), "machine": machine(), "results": previous}
    for name in names or BENCHMARKS:
        print(f"== {name}", flush=True)
        results["results"][name] = importlib.import_module(name).run()
    out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"written {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
