"""Measure every slide of jupyterlab-slideshow's live deck in a JupyterLab page.

The live deck presents the notebook itself: for the active cell it marks the cells of its
slide (the slide's first cell, its "continue" cells and the fragments shown so far) with
``jp-deck-mod-onscreen`` and hides the rest. :func:`measure` makes every cell the active one in
turn (through ``window.jupyterapp``, which the ``lab`` fixture exposes), and for each distinct
set of on-screen cells records the height they take; a slide fits when that height is no more
than the height of the window the deck has. The deck has no zoom: a slide that does not fit
runs off the bottom of the screen, as 00's explorer slide did.
"""

from __future__ import annotations

import json
from pathlib import Path

MEASURE = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  const nb = panel.content;
  const available = window.innerHeight;
  const seen = new Set();
  const slides = [];
  for (let i = 0; i < nb.widgets.length; i++) {
    nb.activeCellIndex = i;
    await new Promise(r => setTimeout(r, 80));
    const on = [];
    nb.widgets.forEach((w, k) => { if (w.hasClass('jp-deck-mod-onscreen')) on.push(k); });
    const key = on.join(',');
    if (!on.length || seen.has(key)) continue;
    seen.add(key);
    for (const img of nb.node.querySelectorAll('.jp-deck-mod-onscreen img')) {
      if (!img.complete) await new Promise(r => { img.onload = img.onerror = r; });
    }
    let top = Infinity, bottom = -Infinity, right = 0;
    const heights = [];
    for (const k of on) {
      const r = nb.widgets[k].node.getBoundingClientRect();
      heights.push(Math.round(r.height));
      if (r.height > 0) {
        top = Math.min(top, r.top); bottom = Math.max(bottom, r.bottom);
        right = Math.max(right, r.right);
      }
    }
    slides.push({cells: on, cell_heights: heights, height: Math.round(bottom - top),
                 right: Math.round(right),
                 text: nb.widgets[on[0]].node.innerText.trim().slice(0, 70)});
  }
  return {available: Math.round(available), width: window.innerWidth, slides: slides};
}"""


def enter_deck(page) -> None:
    """Deck mode on the notebook shown in ``page`` (from its first cell)."""
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0; }")
    page.evaluate("() => window.jupyterapp.commands.execute('deck:start')")
    page.locator("body[data-jp-deck-mode='presenting']").wait_for(state="attached",
                                                                   timeout=30_000)


def measure(page) -> dict:
    """Every slide of the live deck shown in ``page``: the window height it has, and per slide
    its cells, height (px), right edge (px) and first words, plus the zoom it would need to fit
    (1.0 when it fits)."""
    found = page.evaluate(MEASURE)
    for s in found["slides"]:
        s["zoom_to_fit"] = round(min(1.0, found["available"] / max(s["height"], 1)), 3)
    return found


def too_tall(found: dict) -> list[dict]:
    """The slides that run off the window (taller than it, or wider)."""
    return [s for s in found["slides"]
            if s["height"] > found["available"] + 1 or s["right"] > found["width"] + 1]


def record(path: Path, lesson: str, found: dict) -> None:
    """Add ``lesson``'s measurements to the JSON report at ``path``."""
    report = json.loads(path.read_text()) if path.exists() else {}
    report[lesson] = {"available_px": found["available"], "slides": len(found["slides"]),
                      "tallest_px": max((s["height"] for s in found["slides"]), default=0),
                      "too_tall": [{k: s[k] for k in ("cells", "height", "text")}
                                   for s in too_tall(found)]}
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False))
