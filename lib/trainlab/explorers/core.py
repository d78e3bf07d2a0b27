"""Live explorers for the lessons: one line in a notebook gives sliders and a figure that follows.

Every builder returns an :class:`Explorer`, a real ``ipywidgets.VBox`` (controls on top, an
``ipywidgets.Output`` below) that also exposes what tests and benchmarks need:

* ``.controls``: dict name -> widget (bounded sliders and dropdowns, so no value outside the
  valid range can be entered);
* ``.output``: the ``Output`` that shows the figure and a one-line status;
* ``.update()``: recompute and redraw now, in the calling thread;
* ``.wait()``: block until a run started by a control change has finished;
* ``.last_result``: the numbers last shown (per-layer stds, final losses, ...) and
  ``"status"``: ``"ok"``, or what the explorer sees, named with the thresholds of
  :mod:`trainlab.health` that the lessons' claims use ("vanished: ...", "exploded: ...",
  "saturated: ...", "dead units: ...", "chance accuracy: ...", "diverged: ...", joined by
  "; "), or "error: ...".

A callback never lets an exception escape: it is caught, written into the output as
``error: ...`` and recorded in ``last_result["status"]``.

The training explorers are *live*: a control change starts the run in a background thread,
shows "training…" at once, redraws the curves as the run records them (the first segment after
a fraction of a second) and a newer control value cancels the stale run; they train in float32
whatever torch's default dtype (their curves are looked at, not printed; a lesson cell that prints
an explorer's numbers calls ``explorer.compute(..., dtype="float64")``). This module only wires
controls to computations; the measurements live in their topic modules
(:mod:`trainlab.init`, :mod:`trainlab.dropout`, :mod:`trainlab.train`).

The output is replaced in one step by assigning ``Output.outputs`` (a PNG rendered with Agg and
a status line), which works from a thread and outside a kernel (tests and benchmarks read
``explorer.output.outputs``). An explorer displayed in a notebook also stores that PNG as a
plain ``image/png`` output next to the widget, so an untrusted notebook, GitHub and nbviewer
show the figure.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import html
import io
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
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

_PARTIAL_EVERY_S = 0.25
_PARTIAL_RATIO = 2.0
"""A live run redraws its partial curves at most every 0.25 s and leaves at least twice a
redraw's time to training between two redraws (the first segment is drawn at once)."""
_LOG_READOUT = ".3"
"""d3-format of a log slider's readout: 3 significant digits, plain decimals from 1e-6 on,
trailing zeros dropped (0.01, 0.00316, 10)."""


_PENDING_GRID: contextvars.ContextVar[Any] = contextvars.ContextVar("trainlab_pending_grid",
                                                                 default=None)


def serves_grid(builder: Callable[..., Explorer]) -> Callable[..., Explorer]:
    """Give the explorer that ``builder(**kwargs)`` makes the stored grid precomputed for these
    arguments (:func:`trainlab.explorers.spec.grid_for`; none if there is no fresh one)."""

    @functools.wraps(builder)
    def wrapper(**kwargs: Any) -> Explorer:
        from trainlab.explorers.spec import grid_for

        token = _PENDING_GRID.set(grid_for(builder.__name__, kwargs))
        try:
            return builder(**kwargs)
        finally:
            _PENDING_GRID.reset(token)

    return wrapper


class Cancelled(Exception):
    """Raised inside a live run when a newer control value has made it stale."""


# --------------------------------------------------------------------------------------------
# the explorer container
# --------------------------------------------------------------------------------------------
class Explorer(widgets.VBox):
    """A ``VBox`` of controls and an ``Output`` that redraws whenever a control changes.

    ``compute(**values) -> dict`` turns the control values into numbers (with a ``"status"``
    entry; a ``"png"`` entry, the figure already rendered, skips ``render``);
    ``render(result) -> Figure | None`` draws them. Both run inside :meth:`update`,
    which never raises.

    ``live=True``: ``compute`` also takes ``report`` (call it with a partial result to have it
    drawn: the first at once, then at most every 0.25 s and never more than a third of the
    time) and ``cancelled`` (a callable that is True once a newer value
    has been set; raise :class:`Cancelled` then). A control change runs it in a background
    thread; :meth:`wait` joins it. One run computes at a time: a newer one waits until the
    stale one has stopped, so two runs never share torch's global random state (a run's
    numbers do not depend on how fast the controls moved).
    """

    def __init__(self, controls: Mapping[str, widgets.Widget],
                 compute: Callable[..., dict[str, Any]],
                 render: Callable[[dict[str, Any]], Figure | None], *, title: str = "",
                 live: bool = False) -> None:
        self.controls: dict[str, widgets.Widget] = dict(controls)
        self.output = widgets.Output()
        self.last_result: dict[str, Any] = {}
        self.last_png: bytes | None = None
        self.compute = compute
        self.render = render
        self.live = live
        self.partial_draws = 0
        self.stored = _PENDING_GRID.get()
        """The precomputed grid this explorer serves states from (None: computes them all)."""
        self.served = 0
        """How many updates were served from :attr:`stored` instead of computed."""
        self._generation = 0
        self._threads: list[threading.Thread] = []
        self._lock = threading.RLock()
        self._render_lock = threading.Lock()
        self._compute_lock = threading.Lock()
        header = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        boxes = widgets.Box(list(self.controls.values()),
                            layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__(header + [boxes, self.output])
        for w in self.controls.values():
            w.observe(self._on_change, names="value")
        self.update()

    def values(self) -> dict[str, Any]:
        """The current value of every control, by name."""
        return {name: w.value for name, w in self.controls.items()}

    def _stored(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.stored.get(params) if self.stored is not None else None

    def _on_change(self, _change: dict) -> None:
        if not self.live or self._stored(self.values()) is not None:
            self.update()
            return
        with self._lock:
            self._generation += 1
            token = self._generation
            self._show(self.last_png, "training… " + _params_text(self.values()))
        thread = threading.Thread(target=self._run, args=(self.values(), token), daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until every background run has finished (or ``timeout`` seconds passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in list(self._threads):
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def update(self) -> dict[str, Any]:
        """Recompute, redraw the output and return ``last_result``; never raises."""
        with self._lock:
            self._generation += 1
            token = self._generation
        return self._run(self.values(), token)

    def _run(self, params: dict[str, Any], token: int) -> dict[str, Any]:
        next_draw = [-math.inf]

        def cancelled() -> bool:
            return token != self._generation

        def report(partial: dict[str, Any]) -> None:
            if cancelled():
                raise Cancelled
            start = time.perf_counter()
            if start < next_draw[0]:
                return
            try:
                png = self._draw(partial)
            except Exception:  # noqa: BLE001 - a partial figure is best effort
                return
            finally:
                end = time.perf_counter()
                next_draw[0] = end + max(_PARTIAL_EVERY_S, _PARTIAL_RATIO * (end - start))
            with self._lock:
                if not cancelled():
                    self.partial_draws += 1
                    self._show(png, "training… " + str(partial.get("progress", "")))

        extra = {"report": report, "cancelled": cancelled} if self.live else {}
        try:
            result = self._stored(params)
            if result is not None:
                self.served += 1
            else:
                with self._compute_lock:  # a stale run stops at its next record step first
                    if cancelled():
                        raise Cancelled
                    result = self.compute(**params, **extra)
            png = result.pop("png", None)
            if png is None:
                png = self._draw(result)
        except Cancelled:
            return self.last_result
        except Exception as exc:  # noqa: BLE001 - a slider must never raise into the kernel
            result = {"status": f"error: {type(exc).__name__}: {exc}"}
            png = None
        result["params"] = params
        with self._lock:
            if cancelled():
                return self.last_result
            self.last_result = result
            self.last_png = png
            self._show(png, _status_line(result))
        return result

    def _draw(self, result: dict[str, Any]) -> bytes | None:
        """``render(result)`` as PNG bytes; one draw at a time (a run's thread and a newer
        one's may share the explorer's kept figures)."""
        with self._render_lock:
            fig = self.render(result)
            return render_png(fig) if fig is not None else None

    def _show(self, png: bytes | None, text: str) -> None:
        self.output.outputs = _outputs(png, text)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget view plus the current figure as a plain PNG and the status as text, for
        front ends without the widget manager (untrusted notebooks, GitHub, nbviewer)."""
        parent = getattr(super(), "_repr_mimebundle_", None)  # absent in ipywidgets 7
        bundle = (parent(**kwargs) if parent is not None else None) or {}
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if self.last_png is not None:
            data["image/png"] = base64.b64encode(self.last_png).decode("ascii")
        data["text/plain"] = _status_line(self.last_result)
        return bundle


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
