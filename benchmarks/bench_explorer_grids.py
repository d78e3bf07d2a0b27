"""Control change -> new figure in the explorer's output, served from the stored grid against
recomputed, for every explorer whose grid is stored (``make explorers``).

For each explorer, two copies are built as its lesson calls it: one with its stored grid
(``served``), one without (``recompute``: the explorer's own compute, as before the grids). The
first control the grid varies is moved to ``MOVES`` grid values next to the lesson's (the way a
learner presses an arrow key), and the wall time from the assignment to the new figure in
``explorer.output`` (``explorer.wait()`` for a live explorer's background run) is taken, after
the served explorer has drawn the stored neighbours of the state shown (what it does between
keypresses); p50 of both and their ratio are printed side by side. This is the Python side
of the keypress latency (no browser, no websocket). Wall times depend on the machine's load:
compare the ratio, which comes from the same run.
``python benchmarks/bench_explorer_grids.py [NAME ...]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import matplotlib

matplotlib.use("Agg")

from trainlab.explorers import spec as S  # noqa: E402

MOVES = 3


def _moves(grid: S.Grid) -> tuple[str, list[Any]]:
    c = next(c for c in grid.doc["controls"] if len(c["grid"]) > 1)
    values = [S.decode(v) for v in c["grid"]]
    keys = [S.state_key({c["name"]: v}) for v in values]
    start = keys.index(S.state_key({c["name"]: S.decode(c["default"])}))
    lo = max(0, min(start - 1, len(values) - MOVES - 1))
    seq = [values[i] for i in range(lo, lo + MOVES + 1) if i != start][:MOVES]
    return c["name"], seq


def _time_moves(explorer: Any, name: str, values: list[Any]) -> list[float]:
    times = []
    for v in values:
        explorer.wait_prerender()     # the time a learner takes between two keypresses
        before = explorer.output.outputs
        start = time.perf_counter()
        explorer.controls[name].value = v
        explorer.wait()
        times.append(time.perf_counter() - start)
        assert explorer.output.outputs is not before
    return times


def run(names: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    print(f"{'explorer':15} {'control':10} {'served p50 ms':>14} {'recompute p50 ms':>17} "
          f"{'ratio':>7}")
    for s in S.SPECS:
        if names and s.name not in names:
            continue
        try:
            grid = S.load(s.name)
        except (FileNotFoundError, S.StaleGrid) as exc:
            print(f"{s.name:15} skipped: {exc}")
            continue
        name, values = _moves(grid)
        served = s.build(attach_grid=True)
        fresh = s.build()
        fresh_init = getattr(fresh, "grid", None)  # the init explorer's own background grid
        if fresh_init is not None and hasattr(fresh_init, "wait"):
            fresh_init.wait()
        t_served = _time_moves(served, name, values)
        assert served.served == 1 + len(values)
        t_fresh = _time_moves(fresh, name, values)
        a, b = statistics.median(t_served) * 1e3, statistics.median(t_fresh) * 1e3
        out[s.name] = {"control": name, "served_ms": a, "recompute_ms": b, "ratio": b / a}
        print(f"{s.name:15} {name:10} {a:14.1f} {b:17.1f} {b / a:7.1f}", flush=True)
    return out


if __name__ == "__main__":
    run(sys.argv[1:] or None)
