"""What every explorer's result and figure go through: the status line, number formatting,
bounded controls, figures outside pyplot and their PNG. The widget that shows them is
:class:`trainlab.explorers.live.Explorer`; the stored grids are :mod:`trainlab.explorers.spec`.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
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

_LOG_READOUT = ".3"
"""d3-format of a log slider's readout: 3 significant digits, plain decimals from 1e-6 on,
trailing zeros dropped (0.01, 0.00316, 10)."""


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


def _log_slider(description: str, value: float, lo_exp: float, hi_exp: float,
                step: float = 0.1, continuous: bool = False) -> widgets.FloatLogSlider:
    return widgets.FloatLogSlider(value=value, base=10, min=lo_exp, max=hi_exp, step=step,
                                  description=description, continuous_update=continuous,
                                  readout_format=_LOG_READOUT,
                                  style={"description_width": "initial"})


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
