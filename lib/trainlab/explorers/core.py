"""What every explorer's result and figure go through: the status line, number formatting,
checks of a builder's arguments, figures outside pyplot and their PNG. The widget that shows them is
:class:`trainlab.explorers.live.Explorer`; the stored grids are :mod:`trainlab.explorers.spec`.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trainlab.init import SCALED_SCHEMES
from trainlab.style import (
    STYLES,
    explorer_dpi,
    explorer_figsize,
    format_value,
    text_size,
)

DEFAULT_SCHEMES: tuple[str, ...] = SCALED_SCHEMES
"""Schemes the init explorer offers (:data:`trainlab.init.SCALED_SCHEMES`)."""

class Cancelled(Exception):
    """Raised inside a live run when a newer control value has made it stale."""


def render_png(fig: Figure, dpi: int | None = None) -> bytes:
    """The figure as PNG bytes (Agg, fast zlib level) at ``dpi`` (``None``: an explorer's
    figure at its own dpi, another at the course style's :func:`trainlab.style.explorer_dpi`);
    the figure is closed if pyplot manages it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buf = io.BytesIO()
    if type(fig.canvas) is FigureCanvasAgg and fig.canvas.manager is None:
        _encode_png(fig, dpi or fig.dpi, buf)
        return buf.getvalue()
    dpi = dpi or explorer_dpi()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    if fig.canvas.manager is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buf.getvalue()


def _encode_png(fig: Figure, dpi: float, buf: io.BytesIO) -> None:
    """One Agg draw of an explorer's figure (``savefig`` draws a figure whose layout engine is
    switched off twice) and its RGB pixels as a PNG at zlib level 1."""
    from PIL import Image

    if fig.dpi != dpi:
        fig.set_dpi(dpi)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(
        buf, format="png", compress_level=1, dpi=(round(dpi), round(dpi)))


def _outputs(png: bytes | None, text: str) -> tuple[dict, ...]:
    out: list[dict] = []
    if png is not None:
        out.append({"output_type": "display_data", "metadata": {},
                    "data": {"image/png": base64.b64encode(png).decode("ascii"),
                             "text/plain": "<Figure>"}})
    out.append({"output_type": "display_data", "metadata": {},
                "data": {"text/html": _status_html(text), "text/plain": text}})
    return tuple(out)


def _status_html(text: str) -> str:
    """The status line as HTML that breaks only between words, never inside a number (each
    word is a ``nowrap`` span, so not even at the ``-`` of ``7e-22``)."""
    words = "".join(f'<span style="white-space: nowrap">{html.escape(w)}</span> '
                    for w in text.split())
    size = text_size("title") + 1
    return (f'<div style="font-family: monospace; font-size: {size:.0f}px; '
            f'word-break: keep-all">{words}</div>')


def _status_line(result: Mapping[str, Any]) -> str:
    summary = result.get("summary", "")
    status = result.get("status", "ok")
    return f"{summary}  |  {status}" if summary else str(status)


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {fmt(v)}" for k, v in params.items())


def fmt(value: Any) -> str:
    """A float as :func:`trainlab.style.format_value` writes it (3 significant digits, plain
    decimals in [1e-5, 1e6), else ``7e34``: never broken across a line); other values as
    ``str``."""
    if isinstance(value, bool) or not isinstance(value, float | np.floating):
        return str(value)
    return format_value(float(value))


def _new_figure(width: float, height: float) -> Figure:
    """A figure outside pyplot (nothing to close, no global state, safe in a thread), Agg
    canvas, laid out by hand: no constrained layout even when the course style turns it on."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width, height))
    fig.set_layout_engine("none")
    FigureCanvasAgg(fig)
    return fig


def _explorer_figure(height_ratio: float, widen: float = 1.0) -> Figure:
    """:func:`_new_figure` of the course style's explorer width in pixels (960 on screen, 1200
    for a lecture; :func:`trainlab.style.explorer_figsize` at
    :func:`~trainlab.style.explorer_dpi`), ``widen`` times as wide and ``height_ratio`` times
    the width high. Its text has the style's sizes in points, and the figure is as many inches
    wide as keeps text and figure in the proportions of the screen style, for which the
    explorers' layouts are made: the lecture style draws 12 in at 100 dpi with 15 pt labels."""
    screen = STYLES["screen"]
    width_px = explorer_figsize()[0] * explorer_dpi()
    inches = screen.explorer_width_px / screen.dpi * text_size("label") / screen.label
    fig = _new_figure(inches * widen, inches * widen * height_ratio)
    fig.set_dpi(width_px / inches)
    return fig


def _factor_text(f: float) -> str:
    """A per-step factor near 1 as ``(1 − 3e-9)`` rather than a rounded ``1``."""
    if abs(1.0 - f) >= 1e-3:
        return format_value(f, 4)
    return f"(1 − {format_value(1.0 - f, 2)})" if f < 1 else f"(1 + {format_value(f - 1.0, 2)})"


def _check_choice(name: str, value: Any, valid: Sequence[Any]) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {list(valid)}, got {value!r}")


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an int in [{lo}, {hi}], got {value!r}")
    return int(value)


class _LogTicks(MaxNLocator):
    """At most 4 decades on a log axis, so labels of a range like 1e-30..1e+30 never touch."""

    def __init__(self) -> None:
        super().__init__(nbins=4)

    def tick_values(self, vmin: float, vmax: float) -> np.ndarray:
        lo, hi = math.floor(math.log10(max(vmin, 1e-300))), math.ceil(math.log10(max(vmax,
                                                                                    1e-300)))
        step = max(1, math.ceil((hi - lo) / 4))
        return 10.0 ** np.arange(lo, hi + 1, step, dtype=np.float64)


def _decade_label(v: float, _pos: Any = None) -> str:
    """A log-axis tick: a plain decimal from 0.001 to 1e4, else ``1e-8``."""
    if 1e-3 <= v < 1e4:
        return fmt(float(v))
    return f"1e{round(math.log10(v))}" if v > 0 else "0"


_LEGEND_PLACES = ("upper right", "upper left", "lower left", "lower right", "center right",
                  "center left", "upper center", "lower center")


def _data_display_points(ax: Any) -> np.ndarray:
    """Display coordinates of what ``ax`` plots, inside its box: its lines (every vertex, and
    points along each segment of a line of up to 200 vertices, as drawn) and every point of
    its scatters."""
    pts = []
    for line in ax.lines:
        xy = np.asarray(line.get_xydata(), dtype=np.float64)
        xy = line.get_transform().transform(xy[np.isfinite(xy).all(axis=1)])
        if 2 <= len(xy) <= 200 and line.get_linestyle() not in ("None", "none", ""):
            t = np.linspace(0.0, 1.0, 12)[:, None, None]
            xy = (xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2)
        pts.append(xy)
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=np.float64)
        if offsets.ndim == 2 and len(offsets) > 1:
            offsets = offsets[np.isfinite(offsets).all(axis=1)]
            pts.append(coll.get_offset_transform().transform(offsets))
    found = np.concatenate(pts) if pts else np.zeros((0, 2))
    box = ax.get_window_extent()
    return found[(found[:, 0] >= box.x0) & (found[:, 0] <= box.x1) & (found[:, 1] >= box.y0)
                 & (found[:, 1] <= box.y1)]


def _legend_off_data(ax: Any, headroom: bool = False, **kwargs: Any) -> None:
    """The axes' legend in the first of :data:`_LEGEND_PLACES` whose box holds the fewest
    points of the panel's data (:func:`_data_display_points`; matplotlib's ``"best"`` left
    legends on the data). ``headroom``: if every place holds some, raise the top of the y
    range (on a log axis, in decades) by the legend's height, up to three times, so an upper
    place comes free."""
    renderer = ax.figure.canvas.get_renderer()
    for attempt in range(4 if headroom else 1):
        ax.get_xlim(), ax.get_ylim()    # autoscale now: transData is where the data will be
        ax.apply_aspect()     # the box the panel will be drawn in (equal units, say)
        pts = _data_display_points(ax)
        best, fewest, height = _LEGEND_PLACES[0], None, 0.0
        for place in _LEGEND_PLACES:
            legend = ax.legend(loc=place, **kwargs)
            ext = legend.get_window_extent(renderer)
            inside = int(np.sum((pts[:, 0] >= ext.x0) & (pts[:, 0] <= ext.x1)
                                & (pts[:, 1] >= ext.y0) & (pts[:, 1] <= ext.y1)))
            if fewest is None or inside < fewest:
                best, fewest = place, inside
            height = ext.height / ax.get_window_extent(renderer).height
            if inside == 0:
                return
        if attempt == 3 or not headroom:
            break
        lo, hi = ax.get_ylim()
        grow = 1.0 / max(0.2, 1.0 - 1.15 * height)
        if ax.get_yscale() == "log":
            ax.set_ylim(lo, lo * (hi / lo) ** grow)
        else:
            ax.set_ylim(lo, lo + (hi - lo) * grow)
    ax.legend(loc=best, **kwargs)


def _fit_width(text: Any, size: float, smallest: float = 6.0) -> None:
    """``text`` at font ``size``, or smaller (down to ``smallest`` points) so that one line of
    it fits the figure's width (a long status line ran past both edges)."""
    text.set_fontsize(size)
    if not text.get_text():
        return
    fig = text.get_figure()
    width = text.get_window_extent(fig.canvas.get_renderer()).width
    if width > 0.98 * fig.bbox.width:
        text.set_fontsize(max(smallest, size * 0.98 * fig.bbox.width / width))
