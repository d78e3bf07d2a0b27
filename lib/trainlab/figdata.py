"""The numbers behind a figure, stored beside its image, and alt text written from them.

A figure's PNG says nothing to a screen reader, and a caption written from the cell's code
("Figure for 'Batch norm', showing loss") says little more. When a lesson shows a matplotlib
figure in a kernel, :func:`install` (called by :func:`trainlab.setup_notebook`) records, in the
output's metadata under :data:`META_KEY`, what :func:`describe` reads from the figure's artists:
per panel its title, axis labels, ranges and scales, and per plotted series its label and a short
numeric summary (a line's first and last point, its lowest and highest; a histogram's bins and
peak; a bar chart's bars; an image's size and value range; a scatter's extent), and, for a
diagram, the words its drawing function left on the panel (:data:`DESCRIPTION_ATTR`). Numbers
are kept to 4 significant digits, so a CPU's last-bit differences seldom reach the record (a
value next to a rounding boundary can still differ); nbval does not compare output metadata
(its default ``skip_compare`` lists ``metadata``), so the record changes no checked output.

:func:`alt_text` turns that record into a few sentences (numbers to 3 significant digits,
whole numbers from 1000 on), which the website build (``scripts/build_site.py``) puts on the
figure's ``<img>``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["DESCRIPTION_ATTR", "META_KEY", "alt_text", "describe", "install"]

META_KEY = "trainlab_figure"
"""The key of a figure output's metadata that holds :func:`describe`'s record."""

DESCRIPTION_ATTR = "trainlab_description"
"""An axes attribute a drawing function may set to say in words what a panel without plotted
series shows (a diagram drawn from patches, :func:`trainlab.diagrams.norm_axes_cube`); it is
recorded as the panel's ``description``."""

MAX_SERIES = 4      # series described per panel; the rest are counted
MAX_PANELS = 4      # panels described per figure; the rest are counted
MAX_CHARS = 600     # panels after the text reaches this length are counted, not described
_HIST_MIN_BARS = 8  # this many adjacent bars of equal width are read as a histogram


def _num(x: Any) -> float | None:
    """``x`` as a float kept to 4 significant digits (None when not finite)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    return float(f"{v:.4g}")


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _text(artist: Any) -> str:
    return artist.get_text().strip() if artist is not None else ""


def _label(artist: Any) -> str:
    label = str(artist.get_label() or "")
    return "" if label.startswith("_") else label.strip()


def _line(line: Any) -> dict | None:
    import numpy as np

    x = np.asarray(line.get_xdata(orig=False), dtype=float).ravel()
    y = np.asarray(line.get_ydata(orig=False), dtype=float).ravel()
    ok = np.isfinite(x) & np.isfinite(y) if x.shape == y.shape else np.isfinite(y)
    if x.shape != y.shape or not ok.any():
        return None
    x, y = x[ok], y[ok]
    if len(x) == 2 and x[0] == x[1]:
        return {"kind": "vline", "label": _label(line), "x": _num(x[0])}
    if len(y) == 2 and y[0] == y[1]:
        return {"kind": "hline", "label": _label(line), "y": _num(y[0])}
    lo, hi = int(np.argmin(y)), int(np.argmax(y))
    return {"kind": "line", "label": _label(line), "n": int(len(y)),
            "x": [_num(x[0]), _num(x[-1])], "y": [_num(y[0]), _num(y[-1])],
            "min": [_num(y[lo]), _num(x[lo])], "max": [_num(y[hi]), _num(x[hi])]}


def _bars(container: Any, ax: Any) -> dict | None:
    import numpy as np

    patches = [p for p in container.patches if p.get_visible()]
    if not patches:
        return None
    horizontal = getattr(container, "orientation", "vertical") == "horizontal"
    pos = np.array([p.get_y() if horizontal else p.get_x() for p in patches], dtype=float)
    size = np.array([p.get_height() if horizontal else p.get_width() for p in patches],
                    dtype=float)
    val = np.array([p.get_width() if horizontal else p.get_height() for p in patches],
                   dtype=float)
    label = _label(container)
    order = np.argsort(pos)
    pos, size, val = pos[order], size[order], val[order]
    adjacent = len(pos) > 1 and np.allclose(pos[:-1] + size[:-1], pos[1:], rtol=1e-6,
                                             atol=1e-12 * max(1.0, float(np.abs(pos).max())))
    if len(patches) >= _HIST_MIN_BARS and adjacent:
        k = int(np.argmax(val))
        return {"kind": "hist", "label": label, "bins": len(patches),
                "range": [_num(pos[0]), _num(pos[-1] + size[-1])],
                "peak": [_num(val[k]), _num(pos[k] + size[k] / 2)], "total": _num(val.sum())}
    ticks = ax.get_yticklabels() if horizontal else ax.get_xticklabels()
    where = ax.get_yticks() if horizontal else ax.get_xticks()
    names = []
    for p, s in zip(pos, size, strict=True):
        centre = p + s / 2
        near = [t.get_text() for t, w in zip(ticks, where, strict=False)
                if abs(w - centre) <= s / 2 and t.get_text()]
        names.append(near[0] if near else _fmt(_num(centre)))
    return {"kind": "bars", "label": label,
            "bars": [[n, _num(v)] for n, v in zip(names, val, strict=True)][:12],
            "count": len(patches)}


def _collection(coll: Any) -> dict | None:
    import numpy as np

    offsets = np.asarray(coll.get_offsets(), dtype=float)
    if offsets.ndim != 2 or len(offsets) < 2:
        return None
    ok = np.isfinite(offsets).all(axis=1)
    if not ok.any():
        return None
    o = offsets[ok]
    return {"kind": "scatter", "label": _label(coll), "n": int(len(o)),
            "x": [_num(o[:, 0].min()), _num(o[:, 0].max())],
            "y": [_num(o[:, 1].min()), _num(o[:, 1].max())]}


def _image(im: Any) -> dict | None:
    import numpy as np

    a = np.ma.masked_invalid(np.asarray(im.get_array(), dtype=float))
    if a.ndim < 2 or a.count() == 0:
        return None
    return {"kind": "image", "shape": [int(a.shape[0]), int(a.shape[1])],
            "values": [_num(a.min()), _num(a.max())]}


def describe(fig: Any) -> dict:
    """What ``fig`` shows, as plain data: its title and, per visible panel (colour bars
    left out), the title, axis labels, ranges, scales and a summary of every series."""
    panels = []
    for ax in fig.get_axes():
        if not ax.get_visible() or getattr(ax, "_colorbar", None) is not None \
                or ax.get_label() == "<colorbar>":
            continue
        series: list[dict] = []
        for line in ax.get_lines():
            if line.get_visible() and (s := _line(line)):
                series.append(s)
        for container in ax.containers:
            if hasattr(container, "patches") and (s := _bars(container, ax)):
                series.append(s)
        for coll in ax.collections:
            if coll.get_visible() and type(coll).__name__ == "PathCollection" \
                    and (s := _collection(coll)):
                series.append(s)
        for im in ax.get_images():
            if (s := _image(im)):
                series.append(s)
        description = str(getattr(ax, DESCRIPTION_ATTR, "") or "")
        if not series and not _text(ax.title) and not description:
            continue
        panels.append({
            "title": _text(ax.title) or _text(getattr(ax, "_left_title", None)),
            "xlabel": ax.get_xlabel().strip(), "ylabel": ax.get_ylabel().strip(),
            "xlim": [_num(v) for v in ax.get_xlim()], "ylim": [_num(v) for v in ax.get_ylim()],
            "xscale": ax.get_xscale(), "yscale": ax.get_yscale(), "series": series,
            **({"description": description} if description else {})})
    suptitle = _text(fig._suptitle) if getattr(fig, "_suptitle", None) is not None else ""
    return {"title": suptitle, "panels": panels}


# --- alt text ---------------------------------------------------------------------------------

def _clip(text: str, limit: int) -> str:
    text = " ".join(text.replace("$", "").replace("\\", "").split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _series_text(s: dict, xlabel: str) -> str:
    name = f"“{_clip(s['label'], 40)}” " if s.get("label") else ""
    x = f"{xlabel} " if xlabel and len(xlabel) <= 20 else "x = "
    kind = s["kind"]
    if kind == "line" and s["n"] == 1:
        return f"{name}a point at {x}{_fmt(s['x'][0])}, y {_fmt(s['y'][0])}"
    if kind == "line":
        name = name or "a line "
        (y0, y1), (xa, xb) = s["y"], s["x"]
        text = f"{name}goes from {_fmt(y0)} at {x}{_fmt(xa)} to {_fmt(y1)} at {_fmt(xb)}"
        lo, hi = s["min"], s["max"]
        extremes = []
        if lo[0] not in (y0, y1):
            extremes.append(f"lowest {_fmt(lo[0])} at {_fmt(lo[1])}")
        if hi[0] not in (y0, y1):
            extremes.append(f"highest {_fmt(hi[0])} at {_fmt(hi[1])}")
        return text + (f" ({', '.join(extremes)})" if extremes else "")
    if kind == "hline":
        return f"{name}a horizontal line at {_fmt(s['y'])}"
    if kind == "vline":
        return f"{name}a vertical line at {x}{_fmt(s['x'])}"
    if kind == "hist":
        (a, b), (peak, at) = s["range"], s["peak"]
        return (f"{name}a histogram of {s['bins']} bins from {_fmt(a)} to {_fmt(b)}, "
                f"peaking at {_fmt(peak)} near {_fmt(at)}")
    if kind == "bars":
        bars = ", ".join(f"{_clip(str(n), 20)} {_fmt(v)}" for n, v in s["bars"][:6])
        more = f" and {s['count'] - 6} more" if s["count"] > 6 else ""
        return f"{name}bars: {bars}{more}"
    if kind == "scatter":
        return (f"{name}{s['n']} points, x from {_fmt(s['x'][0])} to {_fmt(s['x'][1])}, "
                f"y from {_fmt(s['y'][0])} to {_fmt(s['y'][1])}")
    if kind == "image":
        return (f"an image of {s['shape'][0]}×{s['shape'][1]} values from "
                f"{_fmt(s['values'][0])} to {_fmt(s['values'][1])}")
    return ""


def _log(scale: str, label: str) -> str:
    return ", log scale" if scale == "log" and "log" not in label else ""


def _panel_text(p: dict) -> str:
    head = f"“{_clip(p['title'], 60)}”" if p["title"] else "a panel"
    axes = []
    if p["xlabel"]:
        axes.append(f"x: {_clip(p['xlabel'], 40)}" + _log(p["xscale"], p["xlabel"]))
    if p["ylabel"]:
        axes.append(f"y: {_clip(p['ylabel'], 40)}" + _log(p["yscale"], p["ylabel"]))
    series = [t for s in p["series"][:MAX_SERIES] if (t := _series_text(s, p["xlabel"]))]
    more = len(p["series"]) - MAX_SERIES
    if more > 0:
        series.append(f"{more} more series")
    if p.get("description"):
        series.insert(0, _clip(p["description"], 240))
    text = head + (f" ({'; '.join(axes)})" if axes else "")
    return text + (": " + "; ".join(series) if series else "")


def alt_text(record: dict, context: str = "") -> str:
    """A few sentences from :func:`describe`'s ``record``: what the figure is about (its title,
    or ``context``, e.g. the section it is in), then each panel's axes and series with their
    numbers."""
    panels = record.get("panels", [])
    about = record.get("title") or context
    n = len(panels)
    first = (f"Plot{' of ' + str(n) + ' panels' if n > 1 else ''}"
             + (f" for “{_clip(about, 80)}”" if about else "") + ".")
    parts, described = [first], 0
    for k, p in enumerate(panels[:MAX_PANELS]):
        lead = f"Panel {k + 1}, " if n > 1 else ""
        body = _panel_text(p)
        text = lead + body + "." if lead else body[0].upper() + body[1:] + "."
        if described and len(" ".join(parts)) + len(text) > MAX_CHARS:
            break
        parts.append(_clip(text, MAX_CHARS))
        described += 1
    if n > described:
        parts.append(f"{n - described} more panel{'s' if n - described > 1 else ''}"
                     + (" like these." if described > 1 else "."))
    return " ".join(parts)


# --- kernel hook ------------------------------------------------------------------------------

def install(shell: Any) -> None:
    """Make ``shell``'s display formatter add :func:`describe`'s record to the metadata of
    every matplotlib figure it displays (idempotent)."""
    formatter = shell.display_formatter
    if getattr(formatter, "_trainlab_figdata", False):
        return
    original = formatter.format

    def format(obj, include=None, exclude=None):  # noqa: A001 - the method it wraps
        data, metadata = original(obj, include=include, exclude=exclude)
        if "image/png" in data and type(obj).__name__ == "Figure" \
                and type(obj).__module__.startswith("matplotlib"):
            try:
                record = describe(obj)
            except Exception as exc:  # noqa: BLE001 - a figure must show even if unreadable
                record = {"error": f"{type(exc).__name__}: {exc}"}
            metadata = {**metadata, META_KEY: record}
        return data, metadata

    formatter.format = format
    formatter._trainlab_figdata = True
