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

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from servers import free_port, stop_process_group

MEASURE = """async (only) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const nb = panel.content;
  const available = window.innerHeight;
  const seen = new Set();
  const slides = [];
  const steps = only || nb.widgets.map((w, i) => i);
  for (const i of steps) {
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


WIDGET_EXTRA_PX = 170
"""How much taller an explorer's cell is live than from its stored outputs: opened without a
kernel, JupyterLab shows the explorer's saved state without the parts a running explorer adds
below its histograms (00's explorer: 548 px stored, 709 px after Run All)."""


def widget_cells(cells: list[dict]) -> list[int]:
    """Indices of the code cells that display a widget (an explorer)."""
    return [k for k, c in enumerate(cells) if c.get("cell_type") == "code"
            and any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                    for o in c.get("outputs", []))]


def too_tall_live(found: dict, cells: list[dict]) -> list[dict]:
    """The slides measured on stored outputs that would run off the window live: as
    :func:`too_tall`, with ``WIDGET_EXTRA_PX`` added to a slide that shows an explorer."""
    widgets = set(widget_cells(cells))
    return [s for s in found["slides"]
            if s["height"] + WIDGET_EXTRA_PX * len(widgets.intersection(s["cells"]))
            > found["available"] + 1 or s["right"] > found["width"] + 1]


def enter_deck(page) -> None:
    """Deck mode on the notebook shown in ``page`` (from its first cell)."""
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0; }")
    page.evaluate("() => window.jupyterapp.commands.execute('deck:start')")
    page.locator("body[data-jp-deck-mode='presenting']").wait_for(state="attached",
                                                                   timeout=30_000)


def leave_deck(page) -> None:
    """Deck mode off. jupyterlab-slideshow saves deck mode in the user's settings (``active``),
    so without this a notebook opened later on the same server starts presenting, with the
    status bar hidden."""
    page.evaluate("() => window.jupyterapp.commands.execute('deck:stop')")
    page.wait_for_function("() => document.body.dataset.jpDeckMode !== 'presenting'",
                           timeout=30_000)


def last_cells(cells: list[dict]) -> list[int]:
    """Per slide or sub-slide of ``cells`` (a notebook's), the index of its last shown cell:
    made the active one, it puts the whole slide on screen (all its fragments shown)."""
    last: list[int] = []
    for k, cell in enumerate(cells):
        kind = cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")
        if kind in ("skip", "notes"):
            continue
        if kind in ("slide", "subslide") or not last:
            last.append(k)
        else:
            last[-1] = k
    return last


def measure(page, only: list[int] | None = None) -> dict:
    """Every slide of the live deck shown in ``page``: the window height it has, and per slide
    its cells, height (px), right edge (px) and first words, plus the zoom it would need to fit
    (1.0 when it fits). Every cell is made the active one in turn, or only the cells ``only``
    lists (:func:`last_cells`: a slide's last cell shows all of it, about a third fewer steps)."""
    found = page.evaluate(MEASURE, only)
    for s in found["slides"]:
        s["zoom_to_fit"] = round(min(1.0, found["available"] / max(s["height"], 1)), 3)
    return found


def unshown(found: dict, cells: list[dict]) -> list[int]:
    """The cells (not "skip" or "notes") that no measured slide put on screen."""
    shown = {k for s in found["slides"] for k in s["cells"]}
    return [k for k, c in enumerate(cells)
            if c.get("metadata", {}).get("slideshow", {}).get("slide_type") not in ("skip", "notes")
            and k not in shown]


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


@contextlib.contextmanager
def lab_server(notebooks: Path | list[Path], root: Path,
               env_extra: dict[str, str] | None = None):
    """A JupyterLab server on a copy of the lessons in ``root`` (so autosave never touches the
    repo): every ``*.ipynb`` of ``notebooks`` when it is a folder, else the listed files; with
    ``window.jupyterapp`` exposed; yields its base URL, token and root. ``env_extra``: more
    environment for the server and its kernels (``TRAINLAB_EXPLORER_GRIDS=0``: explorers compute
    every state). Raises RuntimeError (with the end of its log) when it does not start in 90 s."""
    files = sorted(notebooks.glob("*.ipynb")) if isinstance(notebooks, Path) else notebooks
    for nb in files:
        shutil.copy(nb, root / nb.name)
    port, token = free_port(), secrets.token_hex(16)
    # Render every cell (no windowing), so off-screen widgets exist in the DOM; no news pop-up.
    settings = root / ".settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings") \
        .write_text('{"windowingMode": "none"}')
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings") \
        .write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = {**os.environ, "TRAINLAB_NO_PROGRESS": "1", "JUPYTER_CONFIG_DIR": str(root / ".cfg"),
           "JUPYTER_RUNTIME_DIR": str(root / ".run"), **(env_extra or {})}
    env.pop("MPLBACKEND", None)
    log = open(root / "jupyter.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.open_browser=False", "--allow-root",
         "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: measure()
         f"--LabApp.user_settings_dir={settings}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError("JupyterLab did not start:\n"
                                   + (root / "jupyter.log").read_text()[-3000:])
            time.sleep(0.5)
        yield {"base": base, "token": token, "root": root}
    finally:
        stop_process_group(proc)
        log.close()


def open_stored(page, base: str, token: str, name: str) -> None:
    """Open lesson ``name`` (a file in the server's root) in ``page`` without running it: its
    stored outputs are what the deck shows (the explorers from their saved widget state or their
    stored figure); wait until every output area and image has rendered."""
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
    page.wait_for_function(
        "() => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " return p && p.content && p.content.widgets.length > 0"
        " && p.context && p.context.isReady; }", timeout=90_000)
    time.sleep(1.0)


def shut_down_kernel(page) -> None:
    """Shut down the kernel JupyterLab started for the notebook shown in ``page`` (opening a
    notebook starts one; a measurement on stored outputs does not need it)."""
    page.evaluate("async () => { const p = window.jupyterapp.shell.currentWidget;"
                  " if (p && p.sessionContext) { await p.sessionContext.shutdown(); } }")
