"""Is a figure legible? Overlapping titles and labels, legends on the data, missing axis labels.

:func:`figure_problems` looks at a drawn matplotlib figure the way a reader in the back row
would and lists what they could not read:

- two pieces of text that overlap (panel titles, the figure's title, axis labels, legends):
  the overlapping panel titles of a grid of histograms, a suptitle on a panel title;
- a legend on the data: a point of a line or a scatter of its own panel inside the legend's box;
- a panel with data but no label on an axis (a label or tick labels that name the values are
  required on both axes; an image panel (``imshow``) and a colour bar are exempt);
- with ``edges=True``, text cut off at the figure's edge (a tick label, an axis label, a title,
  a legend reaching past it): for a figure drawn at its own size, as the explorers' PNGs are
  (a lesson's inline figure is saved with a tight bounding box, which takes such text in).

With ``TRAINLAB_FIGCHECK_LOG=path`` set, :func:`trainlab.setup_notebook` registers
:func:`install` as a matplotlib figure hook (``rcParams["figure.hooks"]``), so that every
pyplot figure a lesson draws appends its problems, one JSON line per problem, to ``path``;
``make nbval`` sets it and ``scripts/figcheck.py`` then fails on any line. Nothing is printed
into the notebook, so the stored outputs do not change.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

__all__ = ["LOG_ENV", "figure_problems", "install"]

LOG_ENV = "TRAINLAB_FIGCHECK_LOG"
_MIN_OVERLAP_PX = 4.0          # two boxes touching by a few pixels' area are not an overlap


def _texts(fig: Any, renderer: Any) -> list[tuple[str, Any, int | None]]:
    """(description, window extent, owning panel or None) of every visible title, axis label
    and legend."""
    out: list[tuple[str, Any, int | None]] = []

    def add(kind: str, artist: Any, owner: int | None) -> None:
        if artist is None or not artist.get_visible():
            return
        text = artist.get_text() if hasattr(artist, "get_text") else ""
        if hasattr(artist, "get_text") and not text.strip():
            return
        out.append((f"{kind} '{text}'" if text else kind, artist.get_window_extent(renderer),
                    owner))

    add("the figure title", getattr(fig, "_suptitle", None), None)
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        for loc in ("center", "left", "right"):
            add(f"panel {i}'s title", ax.title if loc == "center" else
                getattr(ax, f"_{loc}_title"), i)
        add(f"panel {i}'s x label", ax.xaxis.label, i)
        add(f"panel {i}'s y label", ax.yaxis.label, i)
        add(f"panel {i}'s legend", ax.get_legend(), i)
    for legend in fig.legends:
        add("the figure legend", legend, None)
    return out


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _data_points(ax: Any) -> np.ndarray:
    """Display coordinates of the data of ``ax`` that is drawn: line vertices and scatter
    offsets, those of an artist clipped to the panel only inside it."""
    pts = []
    box = ax.get_window_extent()

    def shown(artist: Any, xy: np.ndarray) -> np.ndarray:
        if artist.get_clip_on() and artist.get_clip_box() is not None:
            xy = xy[(xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0)
                    & (xy[:, 1] <= box.y1)]
        return xy

    for line in ax.get_lines():
        if line.get_visible() and len(line.get_xydata()):
            xy = np.asarray(line.get_xydata(), dtype=float)
            xy = line.get_transform().transform(xy[np.all(np.isfinite(xy), axis=1)])
            pts.append(shown(line, xy))
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=float)
        if coll.get_visible() and offsets.ndim == 2 and len(offsets) > 1:
            trans = coll.get_offset_transform()
            xy = trans.transform(offsets[np.all(np.isfinite(offsets), axis=1)])
            pts.append(shown(coll, xy))
    return np.concatenate(pts) if pts else np.zeros((0, 2))


def _clipped(fig: Any, renderer: Any) -> list[str]:
    """Visible text of ``fig`` that reaches past the figure's edge by more than a pixel."""
    edge = fig.bbox
    found: list[str] = []
    pieces = [(f"the figure title '{t.get_text()}'", t) for t in fig.texts]
    pieces += [("the figure title", getattr(fig, "_suptitle", None))]
    pieces += [("the figure legend", lg) for lg in fig.legends]
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        pieces += [(f"panel {i}'s {what}", a) for what, a in
                   (("title", ax.title), ("x label", ax.xaxis.label),
                    ("y label", ax.yaxis.label), ("legend", ax.get_legend()))]
        for name in ("x", "y"):
            ticks = getattr(ax, f"{name}axis")._update_ticks()      # the ticks drawn
            pieces += [(f"panel {i}'s {name} tick label '{t.get_text()}'", t)
                       for tick in ticks for t in (tick.label1, tick.label2)]
    for name, artist in pieces:
        if artist is None or not artist.get_visible():
            continue
        if hasattr(artist, "get_text") and not artist.get_text().strip():
            continue
        box = artist.get_window_extent(renderer)
        if (box.x0 < edge.x0 - 1 or box.x1 > edge.x1 + 1 or box.y0 < edge.y0 - 1
                or box.y1 > edge.y1 + 1):
            found.append(f"{name} is cut off at the figure's edge")
    return found


def figure_problems(fig: Any, edges: bool = False) -> list[str]:
    """What a reader could not read in ``fig`` (drawn first if needed); [] if nothing.
    ``edges``: also text cut off at the figure's edge."""
    renderer = fig.canvas.get_renderer()
    problems: list[str] = _clipped(fig, renderer) if edges else []
    texts = _texts(fig, renderer)
    for i, (name_a, box_a, _) in enumerate(texts):
        for name_b, box_b, _ in texts[i + 1:]:
            if _overlap(box_a, box_b) > _MIN_OVERLAP_PX:
                problems.append(f"{name_a} overlaps {name_b}")
    panels = [(i, ax.get_window_extent(renderer)) for i, ax in enumerate(fig.axes)
              if ax.get_visible() and ax.axison]
    boxes = dict(panels)
    for name, box, owner in texts:
        for i, panel in panels:
            twin = owner is not None and owner in boxes and np.allclose(
                boxes[owner].bounds, panel.bounds, atol=1.0)       # twinx/twiny: one area
            if i != owner and not twin and _overlap(box, panel) > _MIN_OVERLAP_PX:
                problems.append(f"{name} lies on panel {i}'s plotting area")
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            box = legend.get_window_extent(renderer)
            pts = _data_points(ax)
            inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                      & (pts[:, 1] < box.y1)) if len(pts) else np.zeros(0, bool)
            if inside.any():
                problems.append(f"panel {i}'s legend covers {int(inside.sum())} data points")
        has_data = bool(ax.get_lines() or ax.collections or ax.patches)
        if has_data and not ax.images and not hasattr(ax, "_colorbar"):   # a colour bar's
            # own axis is its scale; its label sits on the long side only
            for name in ("x", "y"):
                # a shared axis may be labelled once, on the panel at the edge of the grid
                shared = getattr(ax, f"get_shared_{name}_axes")().get_siblings(ax)
                if not any(_labelled(getattr(a, f"{name}axis")) for a in shared):
                    problems.append(f"panel {i} has no {name} label and no {name} tick labels")
    return problems


def _labelled(axis: Any) -> bool:
    """An axis names its values: a label, or tick labels with text."""
    if axis.label.get_visible() and axis.label.get_text().strip():
        return True
    return any(t.get_visible() and t.get_text().strip() for t in axis.get_ticklabels())


def _title_of(fig: Any) -> str:
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        return suptitle.get_text()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    return " | ".join(titles[:3]) or "(untitled figure)"


def _current_cell() -> str:
    """The first line of the cell being run (in a kernel), to find the figure in its lesson."""
    try:
        from IPython import get_ipython

        ip = get_ipython()
        source = ip.user_ns["In"][-1] if ip is not None else ""
    except (ImportError, KeyError, IndexError):
        source = ""
    lines = [ln for ln in str(source).splitlines() if ln.strip()]
    return lines[0][:80] if lines else ""


def install(fig: Any) -> None:
    """matplotlib figure hook: after each draw, append ``fig``'s problems to the log file named
    by ``TRAINLAB_FIGCHECK_LOG`` (one JSON object per line; nothing when unset)."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return

    def on_draw(event: Any) -> None:
        found = figure_problems(fig)
        if not found:
            return
        record = {"cell": _current_cell(), "figure": _title_of(fig), "problems": found}
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    fig.canvas.mpl_connect("draw_event", on_draw)
