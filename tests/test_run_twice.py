"""Restart & Run All, then Run All again in the same kernel: every checked output must be the
same both times, so no cell depends on state left behind by a later cell (the set-up cell
reseeds everything when it runs again)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.twice


def _texts(nb: nbformat.NotebookNode) -> list[str]:
    """The text outputs that nbval would compare, one string per code cell."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        parts = []
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(out.get("data", {}).get("text/plain", ""))
            elif out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}")
        texts.append("".join(parts))
    return texts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_run_all_twice_in_one_kernel_gives_the_same_outputs(path, monkeypatch):
    monkeypatch.setenv("TRAINLAB_NO_PROGRESS", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel(cwd=str(path.parent), env=dict(os.environ)):
        runs = []
        for _ in range(2):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
            runs.append(_texts(nb))
    first, second = runs
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        assert a == b, f"{path.name}: code cell {i} printed something else on the second run:\n" \
                       f"--- first\n{a[:800]}\n--- second\n{b[:800]}"
