"""Keypress -> new figure in JupyterLab + Chromium, per explorer: served from its stored grid
against the recompute path, from the same run.

The browser side of ``bench_explorer_grids.py``: for each of two JupyterLab servers on copies
of the lessons -- one as the lessons run (``served``: every explorer built with its lesson's
arguments serves its grid states from ``data/explorers/``), one with
``TRAINLAB_EXPLORER_GRIDS=0`` (``recompute``: every state computed and, for the training
explorers, trained, as before the grids) -- each lesson is run with Run All Cells, then every
explorer's grid slider (:data:`test_browser.CASES`) is pressed ``PRESSES`` times with the left
arrow right away, and the time from each keypress to the explorer's new figure on screen is
taken in the page, as in the browser test (keydown time stamp to the frame after the new image
is decoded; a live explorer's first new image, its first curves, counts). p50 of both, their
ratio, and the max are printed side by side, with the p50 of the kernel's share (from the
keypress's arrival in the kernel to the output replaced, logged by the explorer with
``TRAINLAB_EXPLORER_TIMINGS``: the rest is the browser, the websocket and the server); the
samples go to ``test-artifacts/latency-bench.json``. Explorers without a grid (the training
dashboards) are left out: both servers compute them.

Wall times depend on the machine's load: compare the ratio, whose two sides come from the same
run, one lesson after the other. Needs Debian's chromium (``/usr/bin/chromium``) and
playwright's Python package; takes about two Run Alls of every lesson with an explorer
(``python benchmarks/bench_explorer_latency.py [LESSON_STEM ...]``, e.g. ``06_dropout``).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import livedeck  # noqa: E402
import test_browser as TB  # noqa: E402

MODES = {"served": {}, "recompute": {"TRAINLAB_EXPLORER_GRIDS": "0"}}


def _measure(mode: str, env: dict[str, str], cases: list[tuple]
             ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Keypress-to-figure latencies (s) and the kernel's shares (ms) per explorer."""
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {}
    kernel: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        log = root / "timings.jsonl"
        env = {**env, "TRAINLAB_EXPLORER_TIMINGS": str(log)}
        lessons = [TB.ROOT / "notebooks" / notebook for notebook, _sliders in cases]
        with livedeck.lab_server(lessons, root, env) as lab, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(TB.CHROMIUM),
                                        args=TB.CHROMIUM_ARGS)
            try:
                for notebook, sliders in cases:
                    page = TB.open_and_run_all(browser, lab, notebook)
                    for explorer, label, nth in sliders:
                        if TB.grid_of(explorer) is None:
                            continue
                        before = len(log.read_text().splitlines()) if log.exists() else 0
                        out[explorer], _image, _before = TB.press_and_time(page, label, nth)
                        lines = log.read_text().splitlines()[before:] if log.exists() else []
                        kernel[explorer] = [json.loads(x)["kernel_ms"] for x in lines]
                        p50 = TB.latency_summary(out[explorer])["p50_ms"]
                        print(f"  {mode:9} {explorer:16} p50 {p50:7.0f} ms", flush=True)
                    page.close()
            finally:
                browser.close()
    return out, kernel


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ms(value: float) -> str:
    """A kernel share in ms, or "-" where no run finished (each live run was cancelled by the
    next keypress: its kernel time is not a keypress's)."""
    return "-" if value != value else f"{value:.0f}"


def run(lessons: list[str] | None = None) -> dict[str, Any]:
    if not TB.CHROMIUM.exists():
        print(f"skipped: {TB.CHROMIUM} is missing (apt-get install -y chromium)")
        return {}
    cases = [c for c in TB.CASES if not lessons or Path(c[0]).stem in lessons]
    measured = {mode: _measure(mode, env, cases) for mode, env in MODES.items()}
    samples = {mode: m[0] for mode, m in measured.items()}
    kernel = {mode: m[1] for mode, m in measured.items()}
    results: dict[str, Any] = {}
    print(f"{'explorer':16} {'served p50 ms':>14} {'(kernel)':>9} {'recompute p50 ms':>17} "
          f"{'(kernel)':>9} {'ratio':>6} {'served max ms':>14} {'recompute max ms':>17}")
    for explorer in samples["served"]:
        a = TB.latency_summary(samples["served"][explorer])
        b = TB.latency_summary(samples["recompute"][explorer])
        ka, kb = _p50(kernel["served"][explorer]), _p50(kernel["recompute"][explorer])
        results[explorer] = {"served": {**a, "kernel_p50_ms": ka},
                             "recompute": {**b, "kernel_p50_ms": kb},
                             "ratio": b["p50_ms"] / a["p50_ms"]}
        print(f"{explorer:16} {a['p50_ms']:14.0f} {_ms(ka):>9} {b['p50_ms']:17.0f} {_ms(kb):>9} "
              f"{results[explorer]['ratio']:6.1f} {a['max_ms']:14.0f} {b['max_ms']:17.0f}")
    TB.ARTIFACTS.mkdir(exist_ok=True)
    (TB.ARTIFACTS / "latency-bench.json").write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    run(sys.argv[1:] or None)
