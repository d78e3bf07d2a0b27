"""Re-run notebooks in place so their stored outputs match what ``pytest --nbval`` produces.

Usage: python scripts/execute_notebooks.py notebooks/01_activations.ipynb [...]
Runs each notebook top to bottom in a fresh kernel of the current environment with the cwd set
to the notebook's folder, prints its wall time, and writes it back with outputs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

os.environ.setdefault("TRAINLAB_NO_PROGRESS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            record_timing=False)
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    total = 0.0
    for arg in argv:
        path = Path(arg)
        elapsed = execute(path)
        total += elapsed
        print(f"{path.name:<40} {elapsed:6.1f} s", flush=True)
    print(f"{'all notebooks':<40} {total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
