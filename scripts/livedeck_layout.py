"""Sub-slide breaks for the live deck (jupyterlab-slideshow at 1280x720), from measured heights.

The live deck shows a slide's cells at full size, with no zoom, so a slide taller than the
window runs off the screen. This tool opens each lesson in JupyterLab without running it (the
stored outputs are what the deck shows), enters deck mode, measures every cell's height
(``tests/livedeck.py``) and then spreads each too-tall slide over sub-slides:

* cells are taken in order; a cell that would take the slide past the window (less
  :data:`MARGIN_PX`) starts a sub-slide (``slideshow.slide_type = "subslide"``), so a slide
  keeps as many cells as fit; an explorer's cell counts ``livedeck.WIDGET_EXTRA_PX`` taller
  than its stored outputs, as it is once running;
* a code cell keeps the text that introduces it: when the break would fall between a markdown
  cell and the code cell after it, the markdown cell starts the sub-slide instead (the claim
  goes with its code and plot), unless that markdown cell already starts the slide or the
  two together are taller than the window;
* existing "slide"/"subslide" breaks, "skip" and "notes" cells are kept; a fragment that has to
  start a sub-slide becomes that sub-slide.

The result depends only on the measured heights, so a second ``apply`` on unchanged lessons
adds no break (heights vary by a few pixels between runs: :data:`MARGIN_PX`). A cell taller
than the window on its own gets a sub-slide of its own and is reported: breaks cannot fit it
(split the cell or shorten its output).

    python scripts/livedeck_layout.py measure notebooks/0[1-8]_*.ipynb   # report only
    python scripts/livedeck_layout.py apply notebooks/0[1-8]_*.ipynb     # write the breaks
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

VIEWPORT = {"width": 1280, "height": 720}
MARGIN_PX = 12
"""Room kept below a slide's cells: heights vary by a few pixels between runs (fonts, images)."""


def measure_lessons(paths: list[Path]) -> dict[str, dict]:
    """Each lesson's live deck measured on its stored outputs (``livedeck.measure``)."""
    from playwright.sync_api import sync_playwright

    import livedeck
    from test_browser import CHROMIUM, CHROMIUM_ARGS

    found = {}
    with tempfile.TemporaryDirectory() as tmp, \
            livedeck.lab_server(paths[0].parent, Path(tmp)) as lab, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for path in paths:
            page = browser.new_page(viewport=VIEWPORT)
            livedeck.open_stored(page, lab["base"], lab["token"], path.name)
            livedeck.enter_deck(page)
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            found[path.stem] = livedeck.measure(page, livedeck.last_cells(cells))
            livedeck.leave_deck(page)
            livedeck.shut_down_kernel(page)
            page.close()
        browser.close()
    return found


def cell_heights(found: dict, cells: list[dict]) -> tuple[list[int], int]:
    """Per cell, its height on screen (0 for a cell the deck never shows; an explorer's cell
    with ``livedeck.WIDGET_EXTRA_PX`` added, see there), and the gap between two cells of a
    slide (the median over the measured slides, px)."""
    import livedeck

    heights = [0] * len(cells)
    gaps = []
    for s in found["slides"]:
        for k, h in zip(s["cells"], s["cell_heights"], strict=True):
            heights[k] = max(heights[k], h)
        shown = [h for h in s["cell_heights"] if h > 0]
        if len(shown) > 1:
            gaps.append((s["height"] - sum(shown)) / (len(shown) - 1))
    for k in livedeck.widget_cells(cells):
        if heights[k]:
            heights[k] += livedeck.WIDGET_EXTRA_PX
    gaps.sort()
    return heights, max(0, round(gaps[len(gaps) // 2])) if gaps else 0


def slide_type(cell: dict) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def layout(cells: list[dict], heights: list[int], gap: int, budget: int) -> dict[int, str]:
    """The cells that must start a sub-slide so that every slide is at most ``budget`` px tall:
    {cell index: "subslide"}. Cells whose slide type is "skip" or "notes" are not shown."""
    breaks: dict[int, str] = {}
    screen: list[int] = []
    used = 0
    for k, cell in enumerate(cells):
        kind = slide_type(cell)
        if kind in ("skip", "notes") or heights[k] == 0:
            continue
        if kind in ("slide", "subslide") or not screen:
            screen, used = [k], heights[k]
            continue
        if used + gap + heights[k] <= budget:
            screen.append(k)
            used += gap + heights[k]
            continue
        start = k
        prev = screen[-1]
        if (cell["cell_type"] == "code" and cells[prev]["cell_type"] == "markdown"
                and len(screen) > 1 and heights[prev] + gap + heights[k] <= budget):
            start = prev          # the text that introduces the code goes with it
            screen.pop()
        breaks[start] = "subslide"
        screen = [start] if start == k else [start, k]
        used = sum(heights[i] for i in screen) + gap * (len(screen) - 1)
    return breaks


def summary(found: dict, cells: list[dict]) -> tuple[int, int, int]:
    """(slides too tall live, slides, tallest px live), explorers counted at their live height."""
    import livedeck

    widgets = set(livedeck.widget_cells(cells))
    live = [s["height"] + livedeck.WIDGET_EXTRA_PX * len(widgets.intersection(s["cells"]))
            for s in found["slides"]]
    return len(livedeck.too_tall_live(found, cells)), len(live), max(live, default=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("measure", "apply"))
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--json", type=Path, help="write the measurements here")
    ap.add_argument("--measured", type=Path,
                    help="use these measurements (a --json of an earlier run on the same "
                         "lessons) instead of measuring again")
    args = ap.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks]
    found = (json.loads(args.measured.read_text()) if args.measured
             else measure_lessons(paths))
    if args.json:
        args.json.write_text(json.dumps(found, indent=1, ensure_ascii=False))
    budget = VIEWPORT["height"] - MARGIN_PX
    for path in paths:
        f = found[path.stem]
        nb = json.loads(path.read_text(encoding="utf-8"))
        heights, gap = cell_heights(f, nb["cells"])
        tall = [(k, h) for k, h in enumerate(heights) if h > budget]
        bad, n, tallest = summary(f, nb["cells"])
        print(f"{path.stem}: {bad}/{n} slides taller than {f['available']} px, tallest "
              f"{tallest} px; cells taller on their own: {tall or 'none'}")
        if args.action == "apply":
            breaks = layout(nb["cells"], heights, gap, budget)
            for k, kind in breaks.items():
                nb["cells"][k].setdefault("metadata", {}).setdefault("slideshow", {})[
                    "slide_type"] = kind
            if breaks:
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")
            print(f"  {len(breaks)} sub-slide breaks added at cells {sorted(breaks)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
