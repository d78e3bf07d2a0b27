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
import html
import io
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

from trainlab import health
from trainlab.data import mnist_subset
from trainlab.dropout import keep_prob_data, keep_prob_run, keep_prob_seeds
from trainlab.init import SCALED_SCHEMES, WeightCache, init_forward_grid, init_forward_stats
from trainlab.style import (
    OKABE_ITO,
    STYLES,
    color,
    current,
    explorer_dpi,
    explorer_figsize,
    format_value,
    text_size,
)

__all__ = [
    "DEFAULT_SCHEMES",
    "Explorer",
    "KEEP_PROB_DEFAULTS",
    "WeightCache",
    "batch_groups_explorer",
    "dead_relu_explorer",
    "init_explorer",
    "init_forward_stats",
    "init_training_explorer",
    "keep_prob_data",
    "keep_prob_explorer",
    "keep_prob_run",
    "landscape_explorer",
    "lr_explorer",
    "preprocessing_explorer",
    "render_png",
    "training_dashboard",
]

DEFAULT_SCHEMES: tuple[str, ...] = SCALED_SCHEMES
"""Schemes the init explorer offers (:data:`trainlab.init.SCALED_SCHEMES`)."""

_PARTIAL_EVERY_S = 0.25
_PARTIAL_RATIO = 2.0
"""A live run redraws its partial curves at most every 0.25 s and leaves at least twice a
redraw's time to training between two redraws (the first segment is drawn at once)."""
_LOG_READOUT = ".3"
"""d3-format of a log slider's readout: 3 significant digits, plain decimals from 1e-6 on,
trailing zeros dropped (0.01, 0.00316, 10)."""


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

    def _on_change(self, _change: dict) -> None:
        if not self.live:
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


# --------------------------------------------------------------------------------------------
# initialisation explorer: the slider's grid computed in the background, artists moved in place
# --------------------------------------------------------------------------------------------
class _InitFigure:
    """A reusable figure: a row of activation histograms (optionally a row of gradient
    histograms) and a std-per-layer panel below.

    Updating moves existing artists (``StepPatch.set_data``, ``Line2D.set_data``) instead of
    building new axes, which keeps a redraw at a few tens of milliseconds.
    """

    def __init__(self, n_hist: int, gradients: bool = False) -> None:
        self.n_hist = n_hist
        rows = 3 if gradients else 2
        self.fig = _explorer_figure(0.583 if gradients else 0.479)
        ratios = (1.0, 1.0, 1.2) if gradients else (1.0, 1.2)
        grid = self.fig.add_gridspec(rows, n_hist, height_ratios=ratios, hspace=0.75,
                                     wspace=0.3, left=0.1, right=0.975, top=0.8,
                                     bottom=0.1)
        self.hax = [self.fig.add_subplot(grid[0, i]) for i in range(n_hist)]
        self.gax = [self.fig.add_subplot(grid[1, i]) for i in range(n_hist)] if gradients \
            else []
        self.sax = self.fig.add_subplot(grid[rows - 1, :])
        self.stairs = [ax.stairs(np.zeros(1), np.arange(2.0), fill=True, color=color(0))
                       for ax in self.hax]
        self.gstairs = [ax.stairs(np.zeros(1), np.arange(2.0), fill=True, color=color(1))
                        for ax in self.gax]
        for ax in self.hax + self.gax:
            ax.tick_params(labelsize=text_size(), left=False, labelleft=False)
            ax.yaxis.set_major_locator(NullLocator())
            ax.yaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_locator(MaxNLocator(nbins=2, symmetric=False))
            ax.grid(False)
        if self.hax:
            self.hax[0].set_ylabel("count", fontsize=text_size("label"), labelpad=1)
        (self.line,) = self.sax.plot([], [], "o-", color=color(0), label="std of activations")
        (self.gline,) = self.sax.plot([], [], "s--", color=color(1),
                                      label="std of gradients dL/da")
        trans = blended_transform_factory(self.sax.transData, self.sax.transAxes)
        (self.over,) = self.sax.plot([], [], "^", ms=10, color=OKABE_ITO["vermillion"],
                                     transform=trans, clip_on=False, ls="none",
                                     label="overflow → inf")
        (self.under,) = self.sax.plot([], [], "v", ms=10, color=OKABE_ITO["blue"],
                                      transform=trans, clip_on=False, ls="none",
                                      label="underflow → 0")
        self.sax.set_yscale("log")
        self.sax.yaxis.set_minor_formatter(NullFormatter())
        self.sax.yaxis.set_major_locator(_LogTicks())
        self.sax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt(float(v))))
        self.sax.tick_params(labelsize=text_size())
        self.sax.grid(False)
        self.sax.set_xlabel("layer", fontsize=text_size("label"))
        self.sax.set_ylabel("std", fontsize=text_size("label"))
        self.banner = self.fig.suptitle("", fontsize=text_size("title"), y=0.985)
        self.status = self.fig.text(0.5, 0.925, "", ha="center", va="top",
                                    fontsize=text_size("label"),
                                    color=OKABE_ITO["vermillion"])
        self._legend_handles: tuple = ()
        self._freeze_xlabels()

    def _freeze_xlabels(self) -> None:
        """Pin each x label where one full draw puts it: matplotlib otherwise measures every
        tick label of the figure on every draw to place them (these tick labels are one line
        high whatever the data, so the place never changes)."""
        self.fig.canvas.draw()
        for ax in self.hax + self.gax + [self.sax]:
            label = ax.xaxis.label
            y_px = label.get_transform().transform(label.get_position())[1]
            ax.xaxis.set_label_coords(0.5, (y_px - ax.bbox.y0) / ax.bbox.height)

    def draw(self, res: dict[str, Any]) -> Figure:
        """Show ``res`` from :func:`trainlab.init.init_forward_stats`; returns the figure."""
        layers = _shown_layers(res["depth"], self.n_hist)
        for ax, stairs, layer in zip(self.hax, self.stairs, layers, strict=True):
            self._draw_hist(ax, stairs, res, layer, "hist", "std", "activation")
        for ax, stairs, layer in zip(self.gax, self.gstairs, layers if self.gax else [],
                                     strict=True):
            self._draw_hist(ax, stairs, res, layer, "grad_hist", "grad_std", "dL/da")
        self._draw_std(res)
        ok = res["status"] == "ok"
        self.banner.set_text(f"{res['scheme']} × {fmt(res['scale'])}, {res['activation']}, "
                             f"width {res['width']}")
        self.status.set_text("" if ok else res["status"])
        return self.fig

    @staticmethod
    def _draw_hist(ax: Any, stairs: Any, res: dict[str, Any], layer: int, hkey: str,
                   skey: str, what: str) -> None:
        if layer - 1 < len(res[hkey]):
            counts, edges = res[hkey][layer - 1]
            stairs.set_data(counts, edges)
            stairs.set_visible(True)
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylim(0, max(1, counts.max()) * 1.05)
            _set_scaled_xlabel(ax, max(abs(edges[0]), abs(edges[-1])), what)
            ax.set_title(f"layer {layer}\nstd {fmt(res[skey][layer - 1])}",
                         fontsize=text_size("label"), pad=2, y=1.0, color="black")
        else:
            stairs.set_visible(False)
            _set_scaled_xlabel(ax, 1.0, what)
            ax.set_title(f"layer {layer}\n{'overflow' if hkey == 'hist' else '-'}",
                         fontsize=text_size("label"), pad=2, y=1.0,
                         color=OKABE_ITO["vermillion"])

    def _draw_std(self, res: dict[str, Any]) -> None:
        y = np.asarray(res["std"], dtype=np.float64)
        x = np.arange(1, y.size + 1)
        good = np.isfinite(y) & (y > 0)
        self.line.set_data(x[good], y[good])
        g = np.asarray(res.get("grad_std", []), dtype=np.float64)
        gx = np.arange(1, g.size + 1)
        ggood = np.isfinite(g) & (g > 0)
        self.gline.set_data(gx[ggood], g[ggood])
        self.over.set_data(x[~np.isfinite(y)], np.full(int((~np.isfinite(y)).sum()), 1.0))
        self.under.set_data(x[y == 0], np.zeros(int((y == 0).sum())))
        vals = np.concatenate([y[good], g[ggood]])
        lo, hi = (vals.min() / 3, vals.max() * 3) if vals.size else (0.1, 10.0)
        self.sax.set_ylim(lo, hi)
        self.sax.set_xlim(0.5, y.size + 0.5)
        self.sax.set_xticks(x if y.size <= 20 else x[:: max(1, y.size // 10)])
        handles = tuple(h for h in (self.line, self.gline, self.over, self.under)
                        if len(h.get_xdata()))
        if handles != self._legend_handles:
            self._legend_handles = handles
            self.sax.legend(handles=list(handles), loc="best", fontsize=text_size())


class _LogTicks(MaxNLocator):
    """At most 4 decades on a log axis, so labels of a range like 1e-30..1e+30 never touch."""

    def __init__(self) -> None:
        super().__init__(nbins=4)

    def tick_values(self, vmin: float, vmax: float) -> np.ndarray:
        lo, hi = math.floor(math.log10(max(vmin, 1e-300))), math.ceil(math.log10(max(vmax,
                                                                                    1e-300)))
        step = max(1, math.ceil((hi - lo) / 4))
        return 10.0 ** np.arange(lo, hi + 1, step, dtype=np.float64)


def _set_scaled_xlabel(ax: Any, extent: float, what: str = "activation") -> None:
    """Tick labels in units of ``10**k`` named in the x label ("activation (×1e-7)") instead of
    matplotlib's offset text, which sits on top of the label of a small panel."""
    k = 0 if not 0 < extent < math.inf else math.floor(math.log10(extent))
    k = 0 if -2 <= k <= 3 else k
    unit = 10.0 ** k
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v / unit:.3g}"))
    ax.set_xlabel(what if k == 0 else f"{what}\n(×1e{k})", fontsize=text_size(), labelpad=1)


def _shown_layers(depth: int, n: int) -> list[int]:
    """``n`` layer numbers spread over 1..depth, always including the first and the last."""
    if depth <= n:
        return list(range(1, depth + 1))
    return [int(round(v)) for v in np.linspace(1, depth, n)]


def _prefix(res: dict[str, Any], depth: int) -> dict[str, Any]:
    """The statistics of the first ``depth`` layers of a deeper forward result (the same
    weights, so the same numbers), with the status of that shorter net."""
    out = dict(res)
    for key in ("std", "mean", "pre_std", "hist", "frac_saturated", "frac_zero",
                "weight_std"):
        out[key] = list(res[key][:depth])
    out.update(depth=depth, grad_std=[], grad_hist=[], activations=[])
    if res["diverged_at"] is None or res["diverged_at"] > depth:
        out["diverged_at"] = None
    return _init_status(out)


def _init_status(res: dict[str, Any]) -> dict[str, Any]:
    """Set ``res["status"]`` of a forward result (:func:`trainlab.init.init_forward_stats`)
    with :mod:`trainlab.health`: the activations' std per layer against the input's std
    (vanished / exploded; an overflow to inf counts as exploded), the gradients' std against
    the std of the gradient fed in at the output (when measured), and the saturated fraction
    of tanh / sigmoid layers. Returns ``res``."""
    problems = [health.signal_problem(res["std"], res["input_std"])]
    grads = res.get("grad_std") or []
    if grads and np.isfinite(grads[-1]) and grads[-1] > 0:
        problems.append(health.signal_problem(grads, grads[-1], what="gradient dL/da",
                                              reference="output gradient std"))
    if res["activation"] in ("tanh", "sigmoid"):
        problems.append(health.saturated_problem(res["frac_saturated"]))
    res["status"] = health.status(*problems)
    return res


class _Grid:
    """Forward statistics for every value of the scale slider, computed in a background
    thread after the first draw, layer by layer for all values at once (one matrix product
    per layer), so that a later slider move or depth change costs only a redraw.

    The thread first computes the ``near`` values (the slider position and its three
    neighbours on each side) down to the depth shown, in a fraction of a second, so the first
    slider moves after a draw are fast too; then the whole grid down to ``max_depth``."""

    near = 3

    def __init__(self, cache: WeightCache, slider: widgets.FloatLogSlider, max_depth: int,
                 bins: int = 30) -> None:
        self.cache, self.max_depth, self.bins = cache, max_depth, bins
        n = int(round((slider.max - slider.min) / slider.step)) + 1
        self.lo, self.step = slider.min, slider.step
        self.scales = [float(10.0 ** (slider.min + i * slider.step)) for i in range(n)]
        self.results: dict[tuple, list[dict[str, Any]]] = {}
        self.nearby: dict[tuple, dict[int, dict[str, Any]]] = {}
        self._key: tuple | None = None
        self._thread: threading.Thread | None = None

    def index(self, scale: float) -> int | None:
        pos = (math.log10(scale) - self.lo) / self.step
        i = int(round(pos))
        return i if abs(pos - i) < 1e-6 and 0 <= i < len(self.scales) else None

    def available(self, key: tuple, depth: int) -> list[int]:
        """Slider positions whose statistics down to ``depth`` are computed."""
        if key in self.results:
            return [i for i, r in enumerate(self.results[key]) if r["depth"] >= depth]
        return [i for i, r in self.nearby.get(key, {}).items() if r["depth"] >= depth]

    def lookup(self, key: tuple, scale: float, depth: int) -> dict[str, Any] | None:
        i = self.index(scale)
        if i is None:
            return None
        done = self.results.get(key)
        res = done[i] if done is not None else self.nearby.get(key, {}).get(i)
        if res is None or res["depth"] < depth:
            return None
        return _prefix(res, depth)

    def start(self, key: tuple, centre: int | None = None, depth: int = 1) -> None:
        """Compute the grid of ``key = (scheme, width, activation, gain)`` (cancels another),
        the positions near ``centre`` down to ``depth`` first."""
        if key in self.results or key == self._key:
            return
        self._key = key
        self._thread = threading.Thread(target=self._fill, args=(key, centre, depth),
                                        daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _fill(self, key: tuple, centre: int | None, depth: int) -> None:
        scheme, width, activation, gain = key
        if centre is not None:
            near = [i for i in range(centre - self.near, centre + self.near + 1)
                    if 0 <= i < len(self.scales)]
            res = init_forward_grid(self.cache, scheme, [self.scales[i] for i in near],
                                    min(depth, self.max_depth), width, activation,
                                    use_gain=gain, bins=self.bins,
                                    cancelled=lambda: self._key != key)
            if res:
                self.nearby[key] = dict(zip(near, res, strict=True))
        res = init_forward_grid(self.cache, scheme, self.scales, self.max_depth, width,
                                activation, use_gain=gain, bins=self.bins,
                                cancelled=lambda: self._key != key)
        if res:
            self.results[key] = res
            self.nearby.pop(key, None)
        if self._key == key:
            self._key = None


class _Prerender:
    """PNGs of the init explorer's figure for every value of the scale slider, drawn in a
    background thread once the :class:`_Grid` of the setting is ready, nearest scales first, on
    figures of its own; a slider move to a drawn value then costs a dictionary lookup. A new
    setting or depth retargets the thread; drawn PNGs are kept (about 0.1 MB each)."""

    def __init__(self, grid: _Grid, max_panels: int) -> None:
        self.grid, self.max_panels = grid, max_panels
        self.pngs: dict[tuple, bytes] = {}
        self._target: tuple | None = None
        self._thread: threading.Thread | None = None
        self._figures: dict[int, _InitFigure] = {}

    def get(self, key: tuple, index: int | None, depth: int) -> bytes | None:
        return None if index is None else self.pngs.get((key, index, depth))

    def request(self, key: tuple, index: int | None, depth: int) -> None:
        """Draw the grid of ``key`` at ``depth`` next, outward from slider position ``index``."""
        self._target = (key, index or 0, depth)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the thread has drawn every value of the current target."""
        self.grid.wait(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self) -> None:
        while (target := self._target) is not None:
            key, centre, depth = target
            todo = sorted((i for i in self.grid.available(key, depth)
                           if (key, i, depth) not in self.pngs), key=lambda i: abs(i - centre))
            if not todo:
                if key in self.grid.results or self.grid._key != key:
                    return
                self.grid.wait(0.1)
                continue
            i = todo[0]
            res = self.grid.lookup(key, self.grid.scales[i], depth)
            if res is None:
                return
            n = min(depth, self.max_panels)
            if n not in self._figures:
                self._figures[n] = _InitFigure(n)
            self.pngs[(key, i, depth)] = render_png(self._figures[n].draw(res))


def init_explorer(*, depth: int = 6, width: int = 4096, batch: int = 16,
                  schemes: Sequence[str] = DEFAULT_SCHEMES,
                  activations: Sequence[str] = ("tanh", "relu", "sigmoid", "linear", "selu"),
                  widths: Sequence[int] = (64, 256, 1024, 4096), max_depth: int = 20,
                  max_panels: int = 6, scheme: str = "normal", scale: float = 0.01,
                  seed: int = 0, cache: WeightCache | None = None,
                  background: bool = True) -> Explorer:
    """Per-layer activation (and gradient) histograms and std per layer of a deep net at
    initialisation.

    Controls: ``scheme`` (Dropdown), ``scale`` (FloatLogSlider 1e-3..1e1, multiplies the
    scheme's std), ``depth`` (IntSlider 1..max_depth), ``width`` (Dropdown of ``widths``),
    ``activation`` (Dropdown), ``gain`` (Checkbox: use the activation's gain), ``gradients``
    (Checkbox: also backpropagate a standard-normal gradient and show the histograms of
    ``dL/da`` per layer). The numbers come from :func:`trainlab.init.init_forward_stats` on a
    :class:`~trainlab.init.WeightCache` (``batch`` inputs). Up to ``max_panels`` layers get a
    histogram (spread over the depth).

    Speed: after each draw a background thread computes the forward statistics of every value
    of the scale slider down to ``max_depth`` (:func:`trainlab.init.init_forward_grid`), so a
    later move of scale or depth is only a redraw; then it draws the figure of every scale at
    the current depth (nearest first, ``explorer.prerender``), so a later move of the scale
    slider shows a stored PNG (``background=False`` turns both off).

    ``cache``: an existing :class:`WeightCache` to draw from (its ``seed`` and ``batch`` then
    apply); ``None`` makes ``WeightCache(seed=seed, batch=batch)``. It is ``explorer.cache``.
    """
    for s in schemes:
        _check_choice("schemes entry", s, DEFAULT_SCHEMES)
    _check_choice("scheme", scheme, schemes)
    if not 1e-3 <= scale <= 10:
        raise ValueError(f"scale must be in [1e-3, 10], got {scale!r}")
    widths = sorted(set(int(w) for w in widths) | {int(width)})
    _check_int("width", width, 1, 1 << 14)
    depth = _check_int("depth", depth, 1, max_depth)
    if cache is None:
        cache = WeightCache(seed=seed, batch=_check_int("batch", batch, 2, 1 << 16))
    elif not isinstance(cache, WeightCache):
        raise TypeError(f"cache must be a WeightCache or None, got {type(cache).__name__}")
    figures: dict[tuple[int, bool], _InitFigure] = {}
    controls = {
        "scheme": widgets.Dropdown(options=list(schemes), value=scheme, description="init"),
        "scale": _log_slider("scale", float(scale), -3, 1, continuous=False),
        "depth": widgets.IntSlider(value=depth, min=1, max=max_depth, description="depth",
                                   continuous_update=False),
        "width": widgets.Dropdown(options=widths, value=int(width), description="width"),
        "activation": widgets.Dropdown(options=list(activations), value=list(activations)[0],
                                       description="activation"),
        "gain": widgets.Checkbox(value=True, description="activation's gain"),
        "gradients": widgets.Checkbox(value=False, description="gradients"),
    }
    grid = _Grid(cache, controls["scale"], max_depth)
    drawn = _Prerender(grid, max_panels)

    def compute(scheme: str, scale: float, depth: int, width: int, activation: str,
                gain: bool, gradients: bool = False) -> dict[str, Any]:
        key = (scheme, width, activation, gain)
        res = None if gradients else grid.lookup(key, scale, depth)
        if res is None:
            res = _init_status(init_forward_stats(cache, scheme, scale, depth, width,
                                                  activation, use_gain=gain,
                                                  backward=gradients, keep_activations=False))
        res["summary"] = "std per layer: " + " ".join(fmt(s) for s in res["std"])
        if background:
            grid.start(key, grid.index(scale), depth)
            if not gradients:
                png = drawn.get(key, grid.index(scale), depth)
                if png is not None:
                    res["png"] = png
                drawn.request(key, grid.index(scale), depth)
        return res

    def render(res: dict[str, Any]) -> Figure:
        shape = (min(res["depth"], max_panels), bool(res["grad_std"]))
        if shape not in figures:
            figures[shape] = _InitFigure(*shape)
        return figures[shape].draw(res)

    explorer = Explorer(controls, compute, render, title="Activations at initialisation")
    explorer.cache = cache
    explorer.grid = grid
    explorer.prerender = drawn
    return explorer


# --------------------------------------------------------------------------------------------
# training explorers (torch MLPs on MNIST-10k)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _RunSpec:
    """What every training explorer fixes: data size, steps, minibatch, seed."""

    n_train: int = 2000
    n_val: int = 500
    steps: int = 150
    batch_size: int = 64
    record_every: int = 10
    seed: int = 0


def _train_mlp(spec: _RunSpec, *, hidden: list[int], lr: float, stats: bool = False,
               optimizer: str = "sgd", on_record: Callable[[Any], None] | None = None,
               dtype: str = "float32", **model_kwargs: Any) -> Any:
    """Build ``trainlab.models.mlp(784, hidden, 10, **model_kwargs)`` in ``dtype`` and train it.

    float32 by default, whatever torch's default dtype: an explorer's curves are looked at,
    not printed, and float32 trains about twice as fast on a CPU. A lesson cell that prints an
    explorer's numbers calls ``explorer.compute(..., dtype="float64")``, the precision whose
    printed digits agree across CPUs (``setup_notebook`` makes it torch's default). Raises
    ValueError for another ``dtype``."""
    import torch

    _check_choice("dtype", dtype, ("float32", "float64"))

    from trainlab.models import mlp
    from trainlab.train import train

    X, y, Xv, yv = mnist_subset(spec.n_train, spec.n_val, spec.seed)
    model = mlp(784, hidden, 10, seed=spec.seed, **model_kwargs).to(getattr(torch, dtype))
    history = train(model, (X, y), (Xv, yv), steps=spec.steps, batch_size=spec.batch_size,
                    lr=float(lr), optimizer=optimizer, record_every=spec.record_every,
                    stats=stats, seed=spec.seed, progress=False, on_record=on_record)
    return model, history


def _probe(spec: _RunSpec) -> np.ndarray:
    """The validation images of a training explorer's data, on which dead units are counted."""
    return mnist_subset(spec.n_train, spec.n_val, spec.seed)[2]


def _live_hook(report: Callable[[dict], None] | None, cancelled: Callable[[], bool] | None,
               partial: Callable[[Any], dict[str, Any]], steps: int) -> Callable[[Any], None]:
    """A ``train(on_record=...)`` callback: stop a stale run, hand the curves so far to the
    explorer to draw."""
    def hook(history: Any) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled
        if report is not None and len(history.curves) >= 2:
            res = partial(history)
            res["progress"] = f"step {history.steps_run} of {steps}"
            report(res)
    return hook


def _run_summary(history: Any) -> dict[str, Any]:
    return {"final_train_loss": history.final("train_loss"),
            "final_val_loss": history.final("val_loss"),
            "final_val_acc": history.final("val_acc"),
            "diverged": history.diverged, "diverged_at": history.diverged_at}


def _trained_problems(model: Any, history: Any, probe: Any, n_classes: int = 10,
                     label: str = "") -> list[str]:
    """What :mod:`trainlab.health` sees in a trained run: ``diverged`` (the training-loss
    records, plus the loss that stopped the run: not finite or above ``max_loss``), ``dead
    units`` (per hidden layer, in eval mode on the images ``probe``, also after a divergence:
    the weights of the last step before it) and, for a run that did not diverge, ``chance
    accuracy`` (the last validation accuracy). ``label`` prefixes each problem ("no BN:
    diverged: ...")."""
    import re

    from trainlab.train import pre_activation_stats

    steps, losses = history.series("train_loss")
    if history.diverged:
        found = re.search(r"loss = ([-+0-9.e]+|nan|inf)", history.status)
        steps = np.append(steps, history.diverged_at)
        losses = np.append(losses, float(found.group(1)) if found else math.nan)
    div = health.diverged_problem(losses, steps) if losses.size else None
    was_training = model.training
    model.eval()
    with np.errstate(invalid="ignore"):
        stats = pre_activation_stats(model, probe)
    model.train(was_training)
    problems = [div, health.dead_problem([s["dead"] for s in stats])]
    acc = history.final("val_acc")
    if div is None and math.isfinite(acc):
        problems.append(health.chance_problem(acc, n_classes, "validation accuracy"))
    prefix = f"{label}: " if label else ""
    return [prefix + p for p in problems if p]


class _Figures:
    """An explorer's figures, one per layout and course style, kept between draws.

    ``get(key, build)`` returns the ``(figure, axes)`` that ``build()`` made for ``key`` (and the
    current style), its axes emptied of data artists (:func:`_clear_axes`): axes, ticks and
    labels stay, so a redraw costs matplotlib's draw, not new axes (0.1 s instead of 0.2-0.3 s
    for a lecture-size figure of training curves). The caller holds the explorer's render lock.
    """

    def __init__(self) -> None:
        self._made: dict[tuple, tuple[Figure, list[Any]]] = {}

    def get(self, key: tuple, build: Callable[[], tuple[Figure, list[Any]]]
            ) -> tuple[Figure, list[Any]]:
        full = (current().name, *key)
        if full not in self._made:
            self._made[full] = build()
        fig, axes = self._made[full]
        _clear_axes(axes)
        for legend in list(fig.legends):
            legend.remove()
        return fig, axes


def _clear_axes(axes: Sequence[Any]) -> None:
    """Remove what a previous draw put in ``axes`` (containers, lines, collections, patches,
    texts, legend) and turn autoscaling back on."""
    for ax in axes:
        for container in list(ax.containers):
            try:
                container.remove()
            except ValueError:  # matplotlib 3.10.0 (Colab's): a child was already removed
                pass
            if container in ax.containers:
                ax.containers.remove(container)
        for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
            artist.remove()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.relim()
        ax.set_autoscale_on(True)


def _curves_axes(n: int, right: float = 0.98) -> tuple[Figure, list[Any]]:
    fig = _explorer_figure(0.417)
    grid = fig.add_gridspec(1, n, wspace=0.25 if right > 0.9 else 0.4, left=0.08, right=right,
                            top=0.8, bottom=0.16)
    return fig, [fig.add_subplot(grid[0, i]) for i in range(n)]


def _runs_legend(fig: Figure, axs: Sequence[Any], names: Sequence[str], left: float) -> None:
    """One legend for overlaid runs, right of the panels: a colour and marker per run, then
    the line styles (the panels' own legends, two long entries per run, would cover the
    curves)."""
    from matplotlib.lines import Line2D

    from trainlab.plots import _MARKERS

    for ax in axs:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles = [Line2D([], [], color=color(i), marker=_MARKERS[i % len(_MARKERS)], label=name)
               for i, name in enumerate(names)]
    handles += [Line2D([], [], color="0.3", ls="-", label="training"),
                Line2D([], [], color="0.3", ls="--", label="validation")]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(left, 0.48),
               fontsize=text_size(), frameon=False)


def _curves_figure(figures: _Figures, histories: dict[str, Any], *, metrics: Sequence[str],
                   side_by_side: bool, title: str, steps: int | None = None,
                   panels: Sequence[str] = ()) -> Figure:
    """Training curves on an explorer's kept figure (outside pyplot: drawn from a thread).
    ``side_by_side``: one panel per run named in ``panels`` (default: the runs in
    ``histories``), so a run not started yet keeps its empty panel and the layout does not
    jump while the runs train one after the other."""
    from trainlab.plots import training_curves

    names = list(panels) or list(histories)
    n = len(names) if side_by_side else len(metrics)
    overlay = not side_by_side and len(histories) > 1
    right = 0.6 if overlay else 0.98
    fig, axs = figures.get(("curves", n, overlay), lambda: _curves_axes(n, right))
    if side_by_side:
        for ax, name in zip(axs, names, strict=True):
            if name in histories:
                training_curves({name: histories[name]}, metrics=metrics[:1], axes=[ax],
                                log_loss=True)
            ax.set_title(name, fontsize=text_size("title"))
    else:
        training_curves(histories, metrics=metrics, axes=axs, log_loss=True)
    for ax in axs:
        ax.tick_params(labelsize=text_size())
        ax.xaxis.label.set_fontsize(text_size("label"))
        ax.yaxis.label.set_fontsize(text_size("label"))
        if steps is not None:
            ax.set_xlim(0, steps)
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(text_size())
    if overlay:
        _runs_legend(fig, axs, list(histories), right + 0.01)
    fig.suptitle(title, fontsize=text_size("title"))
    return fig


def _training_controls(schemes: Sequence[str], activations: Sequence[str], *, scheme: str,
                       activation: str, depth: int, width: int, lr: float) -> dict[str, Any]:
    return {
        "scheme": widgets.Dropdown(options=list(schemes), value=scheme, description="init"),
        "scale": _log_slider("scale", 1.0, -2, 1),
        "depth": widgets.IntSlider(value=depth, min=1, max=8, description="depth",
                                   continuous_update=False),
        "width": widgets.Dropdown(options=sorted({32, 64, 128, 256, width}), value=width,
                                  description="width"),
        "activation": widgets.Dropdown(options=list(activations), value=activation,
                                       description="activation"),
        "lr": _log_slider("learning rate", lr, -3, 1),
        "overlay": widgets.Checkbox(value=False, description="overlay runs"),
    }


def init_training_explorer(*, scheme: str = "kaiming_normal", activation: str = "relu",
                           depth: int = 3, width: int = 128, lr: float = 0.1,
                           schemes: Sequence[str] = DEFAULT_SCHEMES,
                           activations: Sequence[str] = ("relu", "tanh", "sigmoid", "linear",
                                                         "selu"),
                           steps: int = 150, n_train: int = 2000, n_val: int = 500,
                           seed: int = 0, max_overlay: int = 5) -> Explorer:
    """Train a small MLP with the chosen initialisation; its curves are drawn as it trains.

    Controls (all ``continuous_update=False``): ``scheme``, ``scale`` (1e-2..1e1, times the
    scheme's std), ``depth`` (1..8 hidden layers), ``width``, ``activation``, ``lr`` (SGD
    learning rate 1e-3..1e1), ``overlay`` (keep the last ``max_overlay`` runs in the figure,
    each labelled by its settings). Model: ``trainlab.models.mlp(784, [width] * depth, 10,
    ...)``, trained by ``trainlab.train.train`` for ``steps`` SGD steps of 64 on ``n_train``
    MNIST-10k images; the run is live (background thread, newer values cancel it).
    ``last_result``: ``final_train_loss``, ``final_val_loss``, ``final_val_acc``,
    ``diverged``, ``diverged_at``, ``status`` (diverged, dead units on the validation images,
    chance accuracy: :func:`_trained_problems`), ``histories`` (label -> History shown).
    """
    _check_choice("scheme", scheme, schemes)
    _check_choice("activation", activation, activations)
    spec = _RunSpec(n_train=n_train, n_val=n_val, steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = _training_controls(schemes, activations, scheme=scheme, activation=activation,
                                  depth=depth, width=width, lr=lr)
    kept: dict[str, Any] = {}

    def compute(scheme: str, scale: float, depth: int, width: int, activation: str,
                lr: float, overlay: bool = False, report: Any = None, cancelled: Any = None,
                dtype: str = "float32") -> dict[str, Any]:
        label = f"{scheme} × {fmt(scale)}, {activation}, {depth}×{width}, lr {fmt(lr)}"
        earlier = dict(list(kept.items())[-(max_overlay - 1):]) if overlay else {}

        def partial(hist: Any) -> dict[str, Any]:
            return {"histories": {**earlier, label: hist}, "summary": label}

        model, hist = _train_mlp(spec, hidden=[width] * depth, lr=lr, activation=activation,
                                 init=scheme, init_scale=float(scale), dtype=dtype,
                                 on_record=_live_hook(report, cancelled, partial, spec.steps))
        if not overlay:
            kept.clear()
        kept.pop(label, None)
        kept[label] = hist
        res = {**_run_summary(hist), "histories": {**earlier, label: hist}, "label": label}
        res["status"] = health.status(*_trained_problems(model, hist, _probe(spec)))
        res["summary"] = (f"train loss {fmt(res['final_train_loss'])}, val accuracy "
                          f"{fmt(res['final_val_acc'])}")
        return res

    figures = _Figures()

    def render(res: dict[str, Any]) -> Figure:
        return _curves_figure(figures, res["histories"], metrics=("loss", "acc"),
                              side_by_side=False,
                              title=res["summary"], steps=spec.steps)

    return Explorer(controls, compute, render, title="Initialisation and training", live=True)


def lr_explorer(*, lr: float = 0.1, activation: str = "relu", init: str = "kaiming_normal",
                depth: int = 3, width: int = 128, steps: int = 150, n_train: int = 2000,
                n_val: int = 500, seed: int = 0,
                activations: Sequence[str] = ("relu", "tanh", "sigmoid")) -> Explorer:
    """The same MLP trained with and without batch norm at one learning rate, side by side.

    Controls (``continuous_update=False``): ``lr`` (FloatLogSlider 1e-3..1e1), ``activation``
    (Dropdown, sigmoid included: the setting of Ioffe & Szegedy's MNIST experiment),
    ``scale`` (init scale 0.1..10 times ``init``'s std) and ``bn`` (Checkbox: also train the BN
    net; off shows only the plain net). Models: ``mlp(784, [width] * depth, 10, norm="none")``
    and ``norm="bn"`` (BN before the non-linearity), same init and seed, ``steps`` SGD steps on
    ``n_train`` MNIST-10k images; drawn live as they train. A diverged run ends at its
    divergence step with "diverged at step k". ``last_result``: ``final_train_loss`` /
    ``final_val_acc`` / ``diverged`` / ``diverged_at`` as dicts by run name, and ``status``
    (each run's problems, :func:`_trained_problems`, prefixed by its name).
    """
    _check_choice("activation", activation, activations)
    spec = _RunSpec(n_train=n_train, n_val=n_val, steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = {
        "lr": _log_slider("learning rate", lr, -3, 1),
        "activation": widgets.Dropdown(options=list(activations), value=activation,
                                       description="activation"),
        "scale": _log_slider("init scale", 1.0, -1, 1),
        "bn": widgets.Checkbox(value=True, description="with BN"),
    }

    default_activation = activation

    def compute(lr: float, activation: str = default_activation, scale: float = 1.0,
                bn: bool = True, report: Any = None, cancelled: Any = None,
                dtype: str = "float32") -> dict[str, Any]:
        runs = {"no BN": "none", "BN": "bn"} if bn else {"no BN": "none"}
        hists: dict[str, Any] = {}
        problems: list[str] = []
        for name, norm in runs.items():
            def partial(hist: Any, name: str = name) -> dict[str, Any]:
                return {"histories": {**hists, name: hist}, "runs": list(runs),
                        "summary": f"lr {fmt(lr)}, {activation}: training {name}…"}

            model, hists[name] = _train_mlp(
                spec, hidden=[width] * depth, lr=lr, activation=activation, init=init,
                init_scale=float(scale), norm=norm, dtype=dtype,
                on_record=_live_hook(report, cancelled, partial, spec.steps))
            problems += _trained_problems(model, hists[name], _probe(spec), label=name)
        res: dict[str, Any] = {"histories": hists}
        for key in ("final_train_loss", "final_val_acc", "diverged", "diverged_at"):
            res[key] = {name: _run_summary(h)[key] for name, h in hists.items()}
        res["status"] = health.status(*problems)
        res["summary"] = f"lr {fmt(lr)}, {activation}: " + ", ".join(
            f"{n} diverged at step {h.diverged_at}" if h.diverged
            else f"{n} loss {fmt(h.final('train_loss'))}" for n, h in hists.items())
        return res

    figures = _Figures()

    def render(res: dict[str, Any]) -> Figure:
        return _curves_figure(figures, res["histories"], metrics=("loss",), side_by_side=True,
                              title=res["summary"], steps=spec.steps,
                              panels=res.get("runs", ()))

    return Explorer(controls, compute, render, title="Learning rate with and without BN",
                    live=True)


KEEP_PROB_DEFAULTS: dict[str, Any] = {
    "n_train": 300, "label_noise": 0.3, "seeds": (0, 1, 2), "width": 128, "depth": 2,
    "steps": 250, "batch_size": 50, "lr": 2e-3, "record_every": 25}
"""The keep_prob explorer's opening setting: the data of lesson 06's regime where dropout
helps (300 scikit-learn digits, 30 % wrong labels, a 64-128-128-10 ReLU MLP, three seeds),
trained in half the steps (Adam 2e-3 for 250 steps of 50 instead of 1e-3 for 500)."""


def keep_prob_explorer(*, keep_prob: float = 0.5, n_train: int = 300,
                       label_noise: float = 0.3, seeds: Sequence[int] = (0, 1, 2),
                       width: int = 128, depth: int = 2, steps: int = 250,
                       lr: float = 2e-3, batch_size: int = 50, record_every: int = 25,
                       train_sizes: Sequence[int] = (100, 300, 1000),
                       noise_levels: Sequence[float] = (0.0, 0.1, 0.3, 0.5),
                       widths: Sequence[int] = (32, 128, 512),
                       step_counts: Sequence[int] = (100, 250, 500)) -> Explorer:
    """Dropout where it helps: validation accuracy against ``keep_prob``, mean ± sd over seeds.

    Controls (``continuous_update=False``): ``keep_prob`` (FloatSlider 0.3..1.0, step 0.05), the
    probability of KEEPING a hidden unit (torch's ``nn.Dropout(p=1 - keep_prob)``);
    ``n_train`` (training images, from ``train_sizes``), ``label_noise`` (the fraction of
    training labels replaced by random classes, from ``noise_levels``), ``width`` (units in each
    of the ``depth`` hidden layers, from ``widths``) and ``steps`` (training steps, from
    ``step_counts``); the opening values are added to the options. Each setting runs
    :func:`trainlab.dropout.keep_prob_seeds` in float32: by default the data of lesson 06's
    regime (:data:`KEEP_PROB_DEFAULTS`): ``mlp(64, [128, 128], 10)`` trained with Adam (``lr``
    2e-3) for ``steps`` (250) steps of ``batch_size`` (50) on 300 scikit-learn digits with 30 %
    wrong labels, validated on 797 clean ones, once per seed in ``seeds``; drawn live as it
    trains. There, dropout raises the validation accuracy by about ten points (Srivastava et
    al. 2014: dropout pays off where a network can memorise what it should not).

    The figure: validation accuracy against the step (mean ± sd over the seeds) of the current
    ``keep_prob`` and of ``keep_prob = 1`` (no dropout; trained after the current value the
    first time a setting is visited), and the final validation accuracy (mean, error bar ± sd)
    of every ``keep_prob`` visited at the current setting (kept, so going back is instant).
    ``last_result``: what :func:`~trainlab.dropout.keep_prob_seeds` returns, ``reference`` (the
    same for ``keep_prob = 1``), ``seen`` (keep_prob -> (mean, sd)) and ``status`` (diverged,
    or chance accuracy of the mean over seeds: :func:`_keep_prob_status`). Raises
    ValueError for ``keep_prob`` outside [0.3, 1], fewer than 3 seeds, or a ``width``,
    ``depth`` or ``steps`` below 1.
    """
    if not 0.3 <= keep_prob <= 1.0:
        raise ValueError(f"keep_prob must be in [0.3, 1], got {keep_prob!r}")
    if len(seeds) < 3:
        raise ValueError(f"seeds must hold at least 3 seeds (a mean over seeds), got {seeds!r}")
    for name, value in (("width", width), ("depth", depth), ("steps", steps)):
        _check_int(name, value, 1, 1 << 16)
    fixed = {"seeds": tuple(seeds), "batch_size": batch_size, "lr": lr,
             "record_every": record_every}
    seen: dict[tuple, dict[str, Any]] = {}
    controls = {
        "keep_prob": widgets.FloatSlider(value=keep_prob, min=0.3, max=1.0, step=0.05,
                                         description="keep_prob", continuous_update=False,
                                         readout_format=".2f"),
        "n_train": widgets.Dropdown(options=sorted({*train_sizes, n_train}), value=n_train,
                                    description="train images"),
        "label_noise": widgets.Dropdown(
            options=[(f"{100 * v:.0f} %", v) for v in sorted({*noise_levels, label_noise})],
            value=label_noise, description="wrong labels"),
        "width": widgets.Dropdown(options=sorted({*widths, width}), value=width,
                                  description="width"),
        "steps": widgets.Dropdown(options=sorted({*step_counts, steps}), value=steps,
                                  description="steps"),
    }

    def measure(kp: float, setting: tuple, on_record: Any = None) -> dict[str, Any]:
        key = (kp, *setting)
        if key not in seen:
            n, noise, w, n_steps = setting
            seen[key] = keep_prob_seeds(kp, n_train=n, label_noise=noise, hidden=(w,) * depth,
                                        steps=n_steps, on_record=on_record, **fixed)
        return seen[key]

    def compute(keep_prob: float, n_train: int = n_train, label_noise: float = label_noise,
                width: int = width, steps: int = steps, report: Any = None,
                cancelled: Any = None) -> dict[str, Any]:
        kp, setting = round(float(keep_prob), 4), (n_train, label_noise, width, steps)

        def live(what: str, kp_now: float, shown: dict[str, Any] | None) -> Any:
            latest: dict[int, np.ndarray] = {}

            def on_record(i: int, hist: Any) -> None:
                if cancelled is not None and cancelled():
                    raise Cancelled
                steps_i, latest[i] = hist.series("val_acc")
                if report is None or len(steps_i) < 2:
                    return
                progress = f"{what}: seed {i + 1} of {len(seeds)}, step {hist.steps_run} of {steps}"
                part = dict(shown) if shown is not None else {
                    "partial": True, "keep_prob": kp_now, "runs": list(latest.values()),
                    "step": steps_i, "reference": seen.get((1.0, *setting))}
                part.update(seen=_accuracy_seen(seen, setting), progress=progress,
                            summary=f"keep_prob {kp:.2f}: {progress}…")
                report(part)
            return on_record

        res = dict(measure(kp, setting, live(f"keep_prob {kp:.2f}", kp, None)))
        if (1.0, *setting) not in seen:
            shown = {**res, "reference": None}
            measure(1.0, setting, live("no-dropout reference", 1.0, shown))
        res["reference"] = seen.get((1.0, *setting))
        res["seen"] = _accuracy_seen(seen, setting)
        res["summary"] = (f"keep_prob {kp:.2f} (torch p = {1 - kp:.2f}): validation accuracy "
                          f"{res['acc_mean']:.2f} ± {res['acc_sd']:.2f} over {len(seeds)} seeds")
        if kp != 1.0:
            ref = res["reference"]
            res["summary"] += f"; no dropout {ref['acc_mean']:.2f} ± {ref['acc_sd']:.2f}"
        res["status"] = _keep_prob_status(res)
        return res

    if keep_prob != 1.0:
        measure(1.0, (n_train, label_noise, width, steps))
    figures = _Figures()
    return Explorer(controls, compute, lambda res: _keep_prob_figure(figures, res),
                    title="Dropout on few, noisy labels: validation accuracy", live=True)


def _keep_prob_status(res: dict[str, Any]) -> str:
    """Diverged (a seed's loss was not finite: the status of
    :func:`~trainlab.dropout.keep_prob_seeds`) or chance accuracy (the mean final validation
    accuracy over the seeds, 10 classes), by :mod:`trainlab.health`."""
    found = res.get("status", "ok")
    if found.startswith("diverged"):
        return health.status("diverged: a seed's loss was not finite: " + found)
    return health.status(health.chance_problem(res["acc_mean"], 10,
                                               "validation accuracy (mean over seeds)"))


def _accuracy_seen(seen: dict[tuple, dict[str, Any]], setting: tuple) -> dict[float, tuple]:
    return {k[0]: (v["acc_mean"], v["acc_sd"]) for k, v in sorted(seen.items())
            if k[1:] == setting}


def _keep_prob_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    """Validation accuracy against the step (mean ± sd over seeds; each seed's curve while
    training) and the final accuracy of every keep_prob visited."""
    def build() -> tuple[Figure, list[Any]]:
        fig = _explorer_figure(0.4)
        grid = fig.add_gridspec(1, 2, width_ratios=(1.3, 1.0), wspace=0.3, left=0.08,
                                right=0.98, top=0.84, bottom=0.16)
        return fig, [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]

    fig, (ax_curve, ax_kp) = figures.get(("keep_prob",), build)
    ref = res.get("reference")
    if ref is not None and res["keep_prob"] != 1.0:
        _band(ax_curve, ref["step"], ref["val_acc"], color(1), "--", "no dropout (keep_prob 1)")
    label = f"keep_prob {res['keep_prob']:.2f}"
    if res.get("partial"):
        for i, acc in enumerate(res["runs"]):
            ax_curve.plot(res["step"][:len(acc)], acc, "-", color=color(0), lw=1.2,
                          label=f"{label}, seeds so far" if i == 0 else None)
    else:
        _band(ax_curve, res["step"], res["val_acc"], color(0), "-",
              f"{label}, mean ± sd over {len(res['seeds'])} seeds")
    ax_curve.set_ylim(0, 1)
    ax_curve.set_xlabel("training step", fontsize=text_size("label"))
    ax_curve.set_ylabel("validation accuracy", fontsize=text_size("label"))
    ax_curve.legend(fontsize=text_size(), loc="lower right")
    _draw_gaps(ax_kp, res)
    for ax in (ax_curve, ax_kp):
        ax.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"], fontsize=text_size("title"))
    return fig


def _band(ax: Any, steps: np.ndarray, runs: np.ndarray, col: str, ls: str, label: str) -> None:
    mean, sd = runs.mean(axis=0), runs.std(axis=0)
    ax.plot(steps, mean, ls, color=col, label=label)
    ax.fill_between(steps, mean - sd, mean + sd, color=col, alpha=0.2, lw=0)


def _draw_gaps(ax: Any, res: dict[str, Any]) -> None:
    """Final validation accuracy (mean ± sd over seeds) of every keep_prob visited."""
    ax.set_xlim(0.27, 1.03)
    ax.set_xlabel("keep_prob (values visited)", fontsize=text_size("label"))
    ax.set_ylabel("final validation accuracy", fontsize=text_size("label"))
    if not res["seen"]:
        return
    kps = np.array(list(res["seen"]))
    stats = np.array(list(res["seen"].values()))
    ax.errorbar(kps, stats[:, 0], yerr=stats[:, 1], fmt="o-", color=color(2), capsize=4,
                label="mean ± sd over seeds")
    if not res.get("partial"):
        ax.plot([res["keep_prob"]], [res["acc_mean"]], "o", ms=13, mfc="none",
                color="black", label="current")
    lo = float(np.min(stats[:, 0] - stats[:, 1]))
    ax.set_ylim(max(0.0, lo - 0.05), min(1.0, float(np.max(stats.sum(axis=1)))) + 0.03)
    ax.legend(fontsize=text_size(), loc="lower center")


def dead_relu_explorer(*, lr: float = 0.1, depth: int = 3, width: int = 128,
                       init: str = "kaiming_normal", steps: int = 150, n_train: int = 2000,
                       n_probe: int = 1000, seed: int = 0) -> Explorer:
    """Fraction of dead ReLU units after a short training run at a given learning rate.

    Controls (``continuous_update=False``): ``lr`` (FloatLogSlider 1e-3..1e1),
    ``activation`` (``relu`` or ``leaky_relu``, slope 0.01 for z < 0) and ``optimizer``
    (``sgd``, ``momentum``, ``adam``). A unit is dead when its activation is 0 for every one of
    ``n_probe`` training images, and inactive when its pre-activation is <= 0 for all of them
    (a dead ReLU; a leaky unit in that state still passes 0.01 of the gradient and can
    recover), measured after training with ``trainlab.train.pre_activation_stats`` in eval
    mode. The loss curve is drawn live. ``last_result``: ``dead`` and ``inactive`` (lists, one
    fraction per hidden layer), ``dead_total``, ``inactive_total``, ``final_train_loss``,
    ``diverged``, ``diverged_at``, ``status`` (diverged, dead units above
    :data:`trainlab.health.DEAD_FRACTION` in a layer, chance accuracy).
    """
    spec = _RunSpec(n_train=n_train, n_val=min(500, n_probe), steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = {
        "lr": _log_slider("learning rate", lr, -3, 1),
        "activation": widgets.Dropdown(options=["relu", "leaky_relu"], value="relu",
                                       description="activation"),
        "optimizer": widgets.Dropdown(options=["sgd", "momentum", "adam"], value="sgd",
                                      description="optimizer"),
    }

    def compute(lr: float, activation: str = "relu", optimizer: str = "sgd", report: Any = None,
                cancelled: Any = None, dtype: str = "float32") -> dict[str, Any]:
        from trainlab.train import pre_activation_stats

        def partial(hist: Any) -> dict[str, Any]:
            return {"history": hist, "dead": [], "summary": "training…"}

        model, hist = _train_mlp(spec, hidden=[width] * depth, lr=lr, activation=activation,
                                 init=init, optimizer=optimizer, dtype=dtype,
                                 on_record=_live_hook(report, cancelled, partial, spec.steps))
        model.eval()
        X = mnist_subset(spec.n_train, spec.n_val, spec.seed)[0][:n_probe]
        with np.errstate(invalid="ignore"):
            stats = pre_activation_stats(model, X, return_values=True)
        dead = [float(s["dead"]) for s in stats]
        inactive = [float(np.mean(np.all(np.asarray(s["pre"]) <= 0, axis=0))) for s in stats]
        res = {**_run_summary(hist), "dead": dead, "dead_total": float(np.mean(dead)),
               "inactive": inactive, "inactive_total": float(np.mean(inactive)),
               "history": hist}
        res["status"] = health.status(*_trained_problems(model, hist, X))
        res["summary"] = (f"{activation}, {optimizer}, lr {fmt(lr)}: dead units "
                          f"{100 * res['dead_total']:.1f}%, inactive "
                          f"{100 * res['inactive_total']:.1f}%")
        return res

    figures = _Figures()

    def render(res: dict[str, Any]) -> Figure:
        return _dead_figure(figures, res, spec.steps)

    return Explorer(controls, compute, render, title="Dead ReLUs and the learning rate",
                    live=True)


def _dead_figure(figures: _Figures, res: dict[str, Any], steps: int) -> Figure:
    from trainlab.plots import training_curves

    def build() -> tuple[Figure, list[Any]]:
        fig = _explorer_figure(0.417)
        grid = fig.add_gridspec(1, 2, wspace=0.3, left=0.08, right=0.98, top=0.84,
                                bottom=0.15)
        return fig, [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]

    fig, (ax1, ax2) = figures.get(("dead",), build)
    layers = np.arange(1, len(res["dead"]) + 1)
    if len(layers):
        ax1.bar(layers - 0.2, res["inactive"], width=0.4, color=color(1),
                label="inactive (z <= 0 on every image)")
        ax1.bar(layers + 0.2, res["dead"], width=0.4, color=color(3),
                label="dead (a = 0 on every image)")
        ax1.legend(fontsize=text_size(), loc="upper left")
        ax1.set_xticks(layers)
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("hidden layer", fontsize=text_size("label"))
    ax1.set_ylabel("fraction of units", fontsize=text_size("label"))
    ax1.tick_params(labelsize=text_size())
    training_curves({"": res["history"]}, metrics=("loss",), split=("train",), axes=[ax2],
                    log_loss=True)
    ax2.set_xlim(0, steps)
    ax2.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"], fontsize=text_size("title"))
    return fig


# --------------------------------------------------------------------------------------------
# live training dashboard (after Karpathy's "makemore part 3")
# --------------------------------------------------------------------------------------------
def training_dashboard(model_fn: Callable[..., Any], data: tuple[np.ndarray, ...] | None = None,
                       *, lr: float = 0.1, optimizer: str = "sgd", steps: int = 300,
                       batch_size: int = 64, record_every: int = 20, n_probe: int = 256,
                       seed: int = 0) -> Explorer:
    """Watch a network train: per-layer histograms of activations and of their gradients,
    the saturated / dead fraction and the update-to-data ratio of every layer over training.

    ``model_fn()`` builds a fresh trainlab / torch model (its layers are those of
    :func:`trainlab.train.find_layers`), called with no arguments, so any
    ``functools.partial`` of :func:`trainlab.models.mlp` or a CNN builder works. ``data``:
    ``(X, y, Xv, yv)``; ``None`` takes 2,000 + 500 MNIST-10k images
    (:func:`trainlab.data.mnist_subset`, flattened). Controls (``continuous_update=False``):
    ``lr`` (1e-3..1e1) and ``optimizer``. The model trains with :func:`trainlab.train.train`
    (``stats=True``); at each record step the histograms are measured on ``n_probe`` training
    images (:func:`trainlab.train.layer_values`) and the figure is redrawn live. The
    update-to-data ratio ``||ΔW|| / ||W||`` is drawn as log10 with Karpathy's rule of thumb
    1e-3 as a dashed line; ``saturated`` (tanh/sigmoid tails) and ``dead`` (ReLU units off for
    every example) come from the recorder. ``last_result``: ``history``, ``layers``
    (per-layer ``act``/``act_grad`` std, saturated and dead fractions at the end), ``status``
    (:func:`_dashboard_status`).
    """
    X, y, Xv, yv = data if data is not None else mnist_subset(2000, 500, seed)
    probe = (X[:n_probe], y[:n_probe])
    controls = {
        "lr": _log_slider("learning rate", lr, -3, 1),
        "optimizer": widgets.Dropdown(options=["sgd", "momentum", "adam"], value=optimizer,
                                      description="optimizer"),
    }

    def compute(lr: float, optimizer: str, report: Any = None, cancelled: Any = None
                ) -> dict[str, Any]:
        from trainlab.train import layer_values, train

        model = model_fn()

        def snapshot(hist: Any) -> dict[str, Any]:
            was_training = model.training
            model.eval()
            values = layer_values(model, *probe)
            model.train(was_training)
            return {"history": hist, "values": values,
                    "summary": f"{optimizer}, lr {fmt(lr)}: step {hist.steps_run} of {steps}"}

        def hook(hist: Any) -> None:
            if cancelled is not None and cancelled():
                raise Cancelled
            if report is not None:
                res = snapshot(hist)
                res["progress"] = f"step {hist.steps_run} of {steps}"
                report(res)

        hist = train(model, (X, y), (Xv, yv), steps=steps, batch_size=min(batch_size, len(X)),
                     lr=float(lr), optimizer=optimizer, record_every=record_every, stats=True,
                     seed=seed, progress=False, on_record=hook)
        res = snapshot(hist)
        res["layers"] = [{"layer": v["layer"], "act_std": float(np.std(v["act"])),
                          "grad_std": float(np.std(v["act_grad"]))} for v in res["values"]]
        res["status"] = _dashboard_status(model, hist, res, probe)
        res["summary"] = (f"{optimizer}, lr {fmt(lr)}: train loss "
                          f"{fmt(hist.final('train_loss'))}, val accuracy "
                          f"{fmt(hist.final('val_acc'))}")
        return res

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _dashboard_figure(figures, res),
                    title="Training dashboard", live=True)


def _dashboard_status(model: Any, hist: Any, res: dict[str, Any], probe: tuple) -> str:
    """The dashboard's status: diverged, dead units, chance accuracy
    (:func:`_trained_problems`), the activations' std per layer against the inputs' std
    (vanished / exploded) and the saturated fraction of tanh / sigmoid layers, all on the
    probe images at the end of training."""
    problems = _trained_problems(model, hist, probe[0],
                                 n_classes=max(2, int(np.max(probe[1])) + 1))
    if hist.diverged:
        return health.status(*problems)
    x_std = float(np.std(np.asarray(probe[0], dtype=np.float64)))
    if x_std > 0:
        problems.append(health.signal_problem([v["act_std"] for v in res["layers"]], x_std))
    sat = [float(np.mean(np.abs(v["act"]) > 0.99)) if v["activation"] == "tanh" else
           float(np.mean((v["act"] < 0.01) | (v["act"] > 0.99)))
           if v["activation"] == "sigmoid" else math.nan for v in res["values"]]
    problems.append(health.saturated_problem(sat))
    return health.status(*problems)


def _dashboard_axes() -> tuple[Figure, list[Any]]:
    fig = _explorer_figure(0.663, widen=1.1)
    grid = fig.add_gridspec(2, 2, hspace=0.45, wspace=0.25, left=0.08, right=0.98, top=0.9,
                            bottom=0.09)
    return fig, [fig.add_subplot(grid[i, j]) for i in range(2) for j in range(2)]


def _dashboard_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    """2 x 2 panels: activation and gradient histograms per layer, saturated/dead fraction
    and log10 update-to-data ratio against the step."""
    hist = res["history"]
    fig, (ax_a, ax_g, ax_s, ax_u) = figures.get(("dashboard",), _dashboard_axes)
    for i, v in enumerate(res["values"]):
        label = f"layer {v['layer']} ({v['activation']})"
        for ax, key in ((ax_a, "act"), (ax_g, "act_grad")):
            vals = np.asarray(v[key], dtype=np.float64).ravel()
            vals = vals[np.isfinite(vals)]
            if vals.size:
                counts, edges = np.histogram(vals, bins=40)
                ax.stairs(counts / max(1, vals.size), edges, color=color(i), label=label)
    ax_a.set_xlabel("activation a", fontsize=text_size("label"))
    ax_a.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax_g.set_xlabel("gradient dL/da", fontsize=text_size("label"))
    ax_g.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt(float(v))))
    ax_g.xaxis.set_major_locator(MaxNLocator(nbins=4))
    for ax in (ax_a, ax_g):
        ax.set_ylabel("fraction of entries", fontsize=text_size("label"))
    ax_a.legend(fontsize=text_size())
    for layer in hist.layers:
        i = layer - 1
        steps, sat = hist.series("saturated", layer=layer)
        _, dead = hist.series("dead", layer=layer)
        frac = np.where(np.isfinite(sat), sat, dead)
        ax_s.plot(steps, frac, "-", color=color(i))
        _, ratio = hist.series("update_ratio", layer=layer)
        with np.errstate(divide="ignore", invalid="ignore"):
            ax_u.plot(steps, np.log10(ratio), "-", color=color(i), label=f"layer {layer}")
    ax_s.set_ylim(-0.02, 1.02)
    ax_s.set_ylabel("saturated (tanh, sigmoid)\nor dead (ReLU) fraction",
                    fontsize=text_size("label"))
    ax_u.axhline(-3, ls="--", color="black", lw=1, label="1e-3 (rule of thumb)")
    ax_u.set_ylabel("log10 update / data ratio", fontsize=text_size("label"))
    ax_u.legend(fontsize=text_size())
    for ax in (ax_s, ax_u):
        ax.set_xlabel("training step", fontsize=text_size("label"))
    for ax in (ax_a, ax_g, ax_s, ax_u):
        ax.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"], fontsize=text_size("title"))
    return fig


# --------------------------------------------------------------------------------------------
# lesson 02: offset and scale of the inputs -> the loss surface of a line fit
# --------------------------------------------------------------------------------------------
def preprocessing_explorer(*, offset: float = 5.0, scale: float = 1.0,
                           step_fraction: float = 0.5, steps: int = 60, n: int = 50,
                           seed: int = 0) -> Explorer:
    """How the offset and the scale of an input shape the loss surface that gradient descent
    has to cross (LeCun, Bottou, Orr & Müller 1998, "Efficient BackProp", section 4.3).

    The line fit of lesson 02: ``y_hat = w x + b`` with ``L(w, b) = 1/(2N) sum (w x + b - y)^2``
    on ``n`` points whose inputs are presented as ``x = offset + scale * u``, ``u ~ U(-1, 1)``
    (:func:`trainlab.preprocess.line_fit_data`; the targets do not change). The Hessian
    ``H = [[mean(x^2), mean(x)], [mean(x), 1]]`` has condition number
    ``kappa = lambda_max / lambda_min``; gradient descent with ``eta = step_fraction * 2 /
    lambda_max`` multiplies the error along each eigenvector by ``1 - eta lambda`` per step
    (:func:`trainlab.preprocess.line_fit_descent`).

    Controls (``continuous_update=False``): ``offset`` (FloatSlider -10..10, the centre of the
    inputs), ``scale`` (FloatLogSlider 0.01..100, their half-width), ``step`` (FloatSlider
    0.05..1.1, eta in units of the stability limit 2/lambda_max: above 1 the run diverges) and
    ``steps`` (IntSlider 1..200). The figure: (a) the data with the least-squares line and the
    line gradient descent reached; (b) contours of log10 L over (w, b) with the path (square:
    start (-1.5, 1.5), star: end, plus: the minimum; w and b to the same scale, so the
    contours have their true shape); (c) the excess loss ``L - L*`` against
    the step, log scale, with the same run on centred inputs (``x - mean(x)``, same scale) and
    the dominant (largest |factor|) mode's prediction ``rate^(2t)``. ``last_result``:
    ``condition_number``,
    ``eigenvalues`` (2,), ``lr``, ``rate``, ``final_loss``, ``min_loss``, ``excess``,
    ``diverged``, ``centred_condition_number``, ``centred_excess``, ``path`` (steps + 1, 2),
    ``status`` (:func:`_line_fit_status`).

    Raises ValueError for an opening value outside its slider's range.
    """
    if not -10 <= offset <= 10:
        raise ValueError(f"offset must be in [-10, 10], got {offset!r}")
    if not 0.01 <= scale <= 100:
        raise ValueError(f"scale must be in [0.01, 100], got {scale!r}")
    if not 0.05 <= step_fraction <= 1.1:
        raise ValueError(f"step_fraction must be in [0.05, 1.1], got {step_fraction!r}")
    steps = _check_int("steps", steps, 1, 200)
    controls = {
        "offset": widgets.FloatSlider(value=offset, min=-10.0, max=10.0, step=0.5,
                                      description="input offset", continuous_update=False,
                                      readout_format=".1f",
                                      style={"description_width": "initial"}),
        "scale": _log_slider("feature scale", scale, -2, 2),
        "step": widgets.FloatSlider(value=step_fraction, min=0.05, max=1.1, step=0.05,
                                    description="step η × 2/λ_max", continuous_update=False,
                                    readout_format=".2f",
                                    style={"description_width": "initial"}),
        "steps": widgets.IntSlider(value=steps, min=1, max=200, description="GD steps",
                                   continuous_update=False,
                                   style={"description_width": "initial"}),
    }

    def compute(offset: float, scale: float, step: float, steps: int) -> dict[str, Any]:
        from trainlab.preprocess import line_fit_data, line_fit_descent

        x, y = line_fit_data(float(offset), float(scale), n=n, seed=seed)
        run = line_fit_descent(x, y, step_fraction=float(step), steps=int(steps))
        centred = line_fit_descent(x - x.mean(), y, step_fraction=float(step),
                                   steps=int(steps))
        res = {"x": x, "y": y, "run": run, "centred": centred, "offset": float(offset),
               "scale": float(scale), "step_fraction": float(step), "steps": int(steps),
               "condition_number": run["condition_number"], "eigenvalues": run["eigenvalues"],
               "lr": run["lr"], "rate": run["rate"], "final_loss": float(run["losses"][-1]),
               "min_loss": run["min_loss"], "excess": run["excess"],
               "diverged": run["diverged"], "path": run["path"],
               "centred_condition_number": centred["condition_number"],
               "centred_excess": centred["excess"]}
        res["summary"] = (f"x in [{fmt(x.min())}, {fmt(x.max())}]: condition number "
                          f"{_kappa(run['condition_number'])} (centred "
                          f"{_kappa(centred['condition_number'])}); L - L* after {int(steps)} "
                          f"step{'s' if int(steps) != 1 else ''} "
                          f"{fmt(max(run['excess'], 0.0))} "
                          f"(centred {fmt(max(centred['excess'], 0.0))})")
        res["status"] = _line_fit_status(run)
        return res

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _preprocessing_figure(figures, res),
                    title="Offset and scale of the inputs: the loss surface of a line fit")


def _line_fit_status(run: dict[str, Any]) -> str:
    """Diverged by :mod:`trainlab.health` (a loss not finite or above 10 × the first), else,
    when the step is past the stability limit (``|1 - η λ_max| > 1``), that the run is
    diverging although it has not yet reached that threshold."""
    losses = np.asarray(run["losses"], dtype=np.float64)
    found = health.diverged_problem(losses, list(range(losses.size)))
    if found is None and run["diverged"]:
        found = (f"diverging: |1 - η λ_max| = {fmt(run['rate'])} > 1, the loss grows "
                 f"(not yet > {health.DIVERGED_FACTOR:g} × the first)")
    elif found is not None and run["diverged"]:
        found += f"; |1 - η λ_max| = {fmt(run['rate'])} > 1"
    return health.status(found)


def _weight_box(run: dict[str, Any]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Limits (w, b) holding the minimum and every iterate no worse than the start."""
    path, losses = run["path"], run["losses"]
    keep = path[np.isfinite(losses) & (losses <= losses[0] * (1 + 1e-9))]
    pts = np.vstack([keep, np.array(run["minimum"])[None]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * (hi - lo) + 0.25
    return (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])


def _kappa(value: float) -> str:
    """A condition number: whole from 100 to 1e6 (2124, as lesson 02 prints it), else
    :func:`fmt`."""
    return f"{value:.0f}" if 100 <= value < 1e6 else fmt(float(value))


def _decade_label(v: float, _pos: Any = None) -> str:
    """A log-axis tick: a plain decimal from 0.001 to 1e4, else ``1e-8``."""
    if 1e-3 <= v < 1e4:
        return fmt(float(v))
    return f"1e{round(math.log10(v))}" if v > 0 else "0"


def _preprocessing_axes() -> tuple[Figure, list[Any]]:
    """Data, contour (with its colour bar) and excess-loss panels."""
    fig = _explorer_figure(4.4 / (9.6 * 1.3), widen=1.3)
    grid = fig.add_gridspec(1, 3, width_ratios=(0.9, 1.3, 1.0), wspace=0.62, left=0.065,
                            right=0.985, top=0.8, bottom=0.14)
    ax_d, ax_c, ax_l = (fig.add_subplot(grid[0, i]) for i in range(3))
    box = ax_c.get_position()
    ax_c.set_position([box.x0, box.y0, 0.85 * box.width, box.height])
    cax = fig.add_axes((box.x0 + 0.9 * box.width, box.y0, 0.05 * box.width, box.height))
    return fig, [ax_d, ax_c, cax, ax_l]


def _equal_aspect_box(wlim: tuple[float, float], blim: tuple[float, float], ax: Any
                      ) -> tuple[tuple[float, float], tuple[float, float]]:
    """``wlim`` and ``blim`` with the shorter range widened about its centre so that one unit
    of w and one of b have the same length on ``ax``: the contours then show the loss
    surface's true shape (an ill-conditioned bowl as a long, thin valley)."""
    box = ax.get_position()
    width, height = ax.figure.get_size_inches() * (box.width, box.height)
    dw, db = wlim[1] - wlim[0], blim[1] - blim[0]
    if db / dw < height / width:
        half = 0.5 * dw * height / width
        mid = 0.5 * (blim[0] + blim[1])
        return wlim, (mid - half, mid + half)
    half = 0.5 * db * width / height
    mid = 0.5 * (wlim[0] + wlim[1])
    return (mid - half, mid + half), blim


def _valley_floor(ax: Any, run: dict[str, Any], wlim: tuple[float, float],
                  blim: tuple[float, float]) -> None:
    """A dotted white line through the minimum along the Hessian's eigenvector of the smallest
    eigenvalue, the direction gradient descent crawls along (the legend's "best" place then
    avoids the valley too)."""
    direction = run["eigenvectors"][:, -1]
    reach = np.hypot(wlim[1] - wlim[0], blim[1] - blim[0])
    t = np.linspace(-reach, reach, 200)[:, None]
    line = np.asarray(run["minimum"], dtype=np.float64) + t * direction
    ax.plot(line[:, 0], line[:, 1], ":", color="white", lw=1.5, alpha=0.8,
            label="_valley floor")
    ax.set_xlim(*wlim)
    ax.set_ylim(*blim)


def _preprocessing_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    from trainlab.plots import loss_surface
    from trainlab.preprocess import line_fit_loss

    run, centred, x, y = res["run"], res["centred"], res["x"], res["y"]
    fig, (ax_d, ax_c, cax, ax_l) = figures.get(("preprocessing",), _preprocessing_axes)
    cax.clear()
    cax.set_axes_locator(None)
    ax_d.axvline(0.0, color="0.5", lw=0.8)
    ax_d.plot(x, y, "o", ms=4, color=color(0), label="data")
    xs = np.linspace(min(0.0, x.min()), max(0.0, x.max()), 2)
    ax_d.plot(xs, run["minimum"][0] * xs + run["minimum"][1], "-", color="black", lw=1.2,
              label="least squares")
    if not run["diverged"]:
        w_t, b_t = run["path"][-1]
        ax_d.plot(xs, w_t * xs + b_t, "--", color=OKABE_ITO["vermillion"],
                  label=f"after {res['steps']} GD steps")
    ax_d.set_ylim(float(y.min()) - 1.0, float(y.max()) + 1.5)
    ax_d.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax_d.set_xlabel(f"input x = {fmt(res['offset'])} + {fmt(res['scale'])} u",
                    fontsize=text_size("label"))
    ax_d.set_ylabel("target y", fontsize=text_size("label"))
    ax_d.set_title("(a) data and fitted lines", fontsize=text_size("title"))
    ax_d.legend(fontsize=text_size(), loc="upper left")
    wlim, blim = _equal_aspect_box(*_weight_box(run), ax_c)
    losses, path = run["losses"], run["path"]
    out = np.flatnonzero(~(losses <= 100 * losses[0]))
    shown = path[: out[0] + 1] if out.size else path
    loss_surface(lambda w, b: line_fit_loss(w, b, x, y), wlim, blim, resolution=90,
                 levels=20, log=True, ax=ax_c, path=shown, cax=cax,
                 labels=("slope w", "intercept b"), minimum=run["minimum"])
    if out.size:
        for line in ax_c.lines:
            if str(line.get_label()).startswith("end after"):
                line.set_label(f"step {out[0]}: leaving")
    ax_c.set_xlim(*wlim)
    ax_c.set_ylim(*blim)
    ax_c.set_title(f"(b) log10 L(w, b): κ = {_kappa(run['condition_number'])}",
                   fontsize=text_size("title"))
    _valley_floor(ax_c, run, wlim, blim)
    ax_c.legend(fontsize=text_size(), loc="best", framealpha=0.85, handlelength=1.2,
                borderpad=0.3, labelspacing=0.25)
    ax_c.xaxis.label.set_fontsize(text_size("label"))
    ax_c.yaxis.label.set_fontsize(text_size("label"))
    ax_c.xaxis.set_major_locator(MaxNLocator(nbins=5))
    cax.tick_params(labelsize=text_size())
    cax.yaxis.label.set_fontsize(text_size("label"))
    floor = 1e-10
    t = np.arange(res["steps"] + 1)
    for r, name, style, col in ((run, "as given", "-", color(3)),
                                (centred, "centred", "--", color(0))):
        with np.errstate(invalid="ignore", over="ignore"):
            excess = np.clip(r["losses"] - r["min_loss"], floor, 1e30)
        ax_l.plot(t, excess, style, color=col, lw=2,
                  label=f"{name}, κ {_kappa(r['condition_number'])}")
    slow = int(np.argmax(np.abs(run["factors"])))
    with np.errstate(under="ignore", over="ignore"):
        predicted = run["mode_excess"][slow] * np.abs(run["factors"][slow]) ** (2.0 * t)
    ax_l.plot(t, np.clip(predicted, floor, 1e30), ":", color="black", lw=1.5,
              label=f"dominant mode:\n{_factor_text(abs(run['factors'][slow]))}^(2t)")
    ax_l.set_yscale("log")
    ax_l.yaxis.set_major_locator(_LogTicks())
    ax_l.yaxis.set_major_formatter(FuncFormatter(_decade_label))
    ax_l.yaxis.set_minor_formatter(NullFormatter())
    with np.errstate(invalid="ignore", over="ignore"):
        top = float(np.nanmax(np.clip(losses - run["min_loss"], floor, 1e30)))
    ax_l.set_ylim(floor / 3, max(10.0, top) * 3)
    ax_l.set_xlabel("gradient-descent step t", fontsize=text_size("label"))
    ax_l.set_ylabel("excess loss L - L*", fontsize=text_size("label"))
    ax_l.set_title(f"(c) step η = {res['step_fraction']:.2f} × 2/λ_max",
                   fontsize=text_size("title"))
    ax_l.legend(fontsize=text_size(), loc="lower left")
    for ax in (ax_d, ax_c, ax_l):
        ax.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"] + ("" if res["status"] == "ok" else f"\n{res['status']}"),
                 fontsize=text_size("title"),
                 color="black" if res["status"] == "ok" else OKABE_ITO["vermillion"])
    return fig


# --------------------------------------------------------------------------------------------
# lesson 05: the loss landscape along the gradient, with and without batch norm
# --------------------------------------------------------------------------------------------
_LANDSCAPE_BATCHES = (8, 16, 32, 64, 128, 256)


def landscape_explorer(*, batch_size: int = 128, noise: float = 0.0, eta: float = 0.4,
                       steps: int = 80, probe_every: int = 16, n_etas: int = 5,
                       depth: int = 6, width: int = 100, lr: float = 0.1,
                       seed: int = 0) -> Explorer:
    """Santurkar et al.'s (2018, figure 4) probe of the loss landscape, live, with and without
    batch norm ("How does batch normalization help optimization?", NeurIPS, arXiv:1805.11604).

    Two ReLU MLPs 784 -> ``[width] * depth`` -> 10 (Kaiming init, float32, one seed), without
    normalisation and with batch norm before every ReLU, are trained by plain SGD (learning
    rate ``lr``) for ``steps`` steps on MNIST-10k (8,000 training images); every
    ``probe_every`` steps the parameters ``x`` and the step's batch are kept
    (:func:`trainlab.landscape.sgd_checkpoints`). At each such point, with the mini-batch
    gradient ``g``, the probe (:func:`trainlab.landscape.probe_checkpoints`) evaluates, for
    ``n_etas`` step sizes ``eta_k = k eta_max / n_etas``, the loss ``L(x - eta_k g)`` and the
    gradient change ``||g - grad L(x - eta_k g)||`` on the same batch, in training mode.

    Controls (``continuous_update=False``): ``batch`` (SelectionSlider 8..256 images per SGD
    step and per BN statistic), ``noise`` (FloatSlider 0..3: the BN network becomes
    Santurkar et al.'s noisy BN, :class:`trainlab.modules.NoisyBatchNorm` with
    ``noise_mean = noise_std = noise / 2`` and ``noise_scale = 1 + noise``; 1 is lesson 05's
    setting, 0 plain BN; the probe holds each step's noise draw fixed) and ``eta`` (FloatSlider
    0.1..2, the largest probed step ``eta_max``; the paper uses 0.4). Trained checkpoints are
    cached, so an ``eta`` change only re-probes. The figure: (a) ``L(x - eta g)`` against
    ``eta`` at every probe (later probes darker); (b) the loss range ``max_eta L - min_eta L``
    per probe against the training step; (c) the gradient predictiveness
    ``max_eta ||g - grad L(x - eta g)||`` per probe, with ``||g||`` dotted; (b) and (c) on log
    scales. ``last_result``: ``loss_range``, ``grad_change``, ``grad_norm`` (dicts: run ->
    list per probe), ``median_loss_range``, ``median_grad_change`` (dicts: run -> float),
    ``probe_steps``, ``etas``, ``status`` (:func:`_landscape_status`).

    Raises ValueError for an opening value outside its control's range.
    """
    _check_choice("batch_size", batch_size, _LANDSCAPE_BATCHES)
    if not 0.0 <= noise <= 3.0:
        raise ValueError(f"noise must be in [0, 3], got {noise!r}")
    if not 0.1 <= eta <= 2.0:
        raise ValueError(f"eta must be in [0.1, 2], got {eta!r}")
    steps = _check_int("steps", steps, 1, 1000)
    probe_every = _check_int("probe_every", probe_every, 1, steps)
    n_etas = _check_int("n_etas", n_etas, 2, 16)
    controls = {
        "batch": widgets.SelectionSlider(options=list(_LANDSCAPE_BATCHES), value=batch_size,
                                         description="batch size", continuous_update=False,
                                         style={"description_width": "initial"}),
        "noise": widgets.FloatSlider(value=noise, min=0.0, max=3.0, step=0.25,
                                     description="BN noise", continuous_update=False,
                                     readout_format=".2f",
                                     style={"description_width": "initial"}),
        "eta": widgets.FloatSlider(value=eta, min=0.1, max=2.0, step=0.05,
                                   description="probe η_max", continuous_update=False,
                                   readout_format=".2f", style={"description_width": "initial"}),
    }
    trained: dict[tuple, tuple[Any, list, list]] = {}
    probed: dict[tuple, list] = {}
    data: list[Any] = []
    busy = threading.Lock()

    def tensors() -> tuple[Any, Any]:
        import torch

        from trainlab.data import load_mnist

        if not data:
            x, y = load_mnist(subset="10k", split="train", flatten=True, dtype="float32")
            data.extend([torch.as_tensor(x, dtype=torch.float32),
                         torch.as_tensor(y, dtype=torch.int64)])
        return data[0], data[1]

    def run(key: tuple, cancelled: Any) -> tuple[Any, list, list]:
        from trainlab.landscape import sgd_checkpoints
        from trainlab.models import mlp

        if key not in trained:
            batch, level = key
            kwargs = None
            norm = "none" if level is None else ("bn" if level == 0 else "noisy_bn")
            if norm == "noisy_bn":
                kwargs = {"noise_mean": level / 2, "noise_std": level / 2,
                          "noise_scale": 1 + level, "rng": seed}
            model = mlp(784, [width] * depth, 10, norm=norm, norm_kwargs=kwargs,
                        seed=seed).float()
            x, y = tensors()
            cps, losses = sgd_checkpoints(model, x, y, lr=lr, steps=steps, batch_size=batch,
                                          every=probe_every, seed=seed, cancelled=cancelled)
            if cancelled():
                raise Cancelled
            trained[key] = (model, cps, [float(v) for v in losses])
        return trained[key]

    def compute(batch: int, noise: float, eta: float, report: Any = None,
                cancelled: Any = None) -> dict[str, Any]:
        with busy:     # one run at a time: the cached models are shared
            return probe_all(batch, noise, eta, cancelled or (lambda: False))

    def probe_all(batch: int, noise: float, eta: float, cancelled: Any) -> dict[str, Any]:
        from trainlab.landscape import probe_checkpoints

        level = round(float(noise), 4)
        etas = float(eta) * np.arange(1, n_etas + 1) / n_etas
        bn_label = "BN" if level == 0 else f"noisy BN ({fmt(level)})"
        runs = {"no BN": (int(batch), None), bn_label: (int(batch), level)}
        probes: dict[str, list] = {}
        for key in runs.values():
            pkey = (*key, round(float(eta), 4))
            if pkey not in probed:
                model, cps, _ = run(key, cancelled)
                found = probe_checkpoints(model, cps, etas, cancelled=cancelled,
                                          noise_seed=seed)
                if cancelled():
                    raise Cancelled
                probed[pkey] = found
        for label, key in runs.items():
            probes[label] = probed[(*key, round(float(eta), 4))]
        res = _landscape_numbers(probes, etas, probe_every, batch)
        res["status"] = _landscape_status(probes, {label: run(key, cancelled)[2]
                                                   for label, key in runs.items()}, float(eta))
        return res

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _landscape_figure(figures, res),
                    title="The loss landscape along the gradient, with and without BN",
                    live=True)


def _landscape_numbers(probes: dict[str, list], etas: np.ndarray, every: int,
                       batch: int) -> dict[str, Any]:
    """The explorer's numbers from the probes of each run (loss range, gradient change)."""
    res: dict[str, Any] = {"probes": probes, "etas": etas,
                           "loss_range": {}, "grad_change": {}, "grad_norm": {},
                           "median_loss_range": {}, "median_grad_change": {}}
    for label, found in probes.items():
        with np.errstate(invalid="ignore"):
            ranges = [float(np.ptp(p.losses)) if np.all(np.isfinite(p.losses)) else math.inf
                      for p in found]
        changes = [float(np.max(p.grad_changes)) for p in found]
        res["loss_range"][label] = ranges
        res["grad_change"][label] = changes
        res["grad_norm"][label] = [p.grad_norm for p in found]
        res["median_loss_range"][label] = float(np.median(ranges)) if ranges else math.nan
        res["median_grad_change"][label] = float(np.median(changes)) if changes else math.nan
    res["probe_steps"] = [every * i for i in range(max(map(len, probes.values()), default=0))]
    medians = ", ".join(f"{k} {fmt(v)}" for k, v in res["median_loss_range"].items())
    grads = ", ".join(f"{k} {fmt(v)}" for k, v in res["median_grad_change"].items())
    res["summary"] = (f"batch {batch}, η ≤ {fmt(float(etas[-1]))}: median loss range {medians}; "
                      f"median gradient change {grads}")
    bad = [k for k, v in res["loss_range"].items() if not all(map(math.isfinite, v))]
    res["status"] = ("ok" if not bad else
                     "overflow: non-finite loss along the gradient, " + ", ".join(bad))
    return res


def _landscape_status(probes: dict[str, list], train_losses: dict[str, list[float]],
                      eta: float) -> str:
    """Per run, by :mod:`trainlab.health`: its SGD training diverged (a step's loss not finite
    or above 10 × the first), or a probed step along the gradient diverges (``L(x - η g)`` not
    finite or above 10 × ``L(x)``) at some probes."""
    problems: list[str] = []
    for label, found in probes.items():
        losses = train_losses.get(label, [])
        div = health.diverged_problem(losses, list(range(len(losses)))) if losses else None
        if div:
            problems.append(f"{label}: {div}")
            continue
        bad = [p for p in found if health.diverged([p.loss, *p.losses])]
        if bad:
            problems.append(f"{label}: diverged: a step η ≤ {fmt(eta)} along the gradient "
                            f"at {len(bad)} of {len(found)} probes (loss not finite or > "
                            f"{health.DIVERGED_FACTOR:g} × the loss before the step)")
    return health.status(*problems)


def _landscape_axes() -> tuple[Figure, list[Any]]:
    fig = _explorer_figure(4.2 / (9.6 * 1.25), widen=1.25)
    grid = fig.add_gridspec(1, 3, wspace=0.34, left=0.06, right=0.985, top=0.8, bottom=0.15)
    return fig, [fig.add_subplot(grid[0, i]) for i in range(3)]


def _landscape_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    """(a) L(x - eta g) against eta per probe; (b) loss range and (c) gradient change per
    probe against the training step."""
    fig, (ax_e, ax_r, ax_g) = figures.get(("landscape",), _landscape_axes)
    etas = np.concatenate([[0.0], res["etas"]])
    cols = {0: OKABE_ITO["vermillion"], 1: OKABE_ITO["blue"]}
    for i, (label, found) in enumerate(res["probes"].items()):
        col = cols.get(i, color(i))
        n = len(found)
        for j, p in enumerate(found):
            along = np.nan_to_num(np.concatenate([[p.loss], p.losses]), nan=1e6, posinf=1e6)
            ax_e.plot(etas, np.clip(along, 1e-6, 1e6), "-", color=col,
                      alpha=0.25 + 0.75 * (j + 1) / n, lw=1.4,
                      label=label if j == n - 1 else None)
        steps = res["probe_steps"][:n]
        rng = np.clip(np.asarray(res["loss_range"][label], dtype=np.float64), 1e-4, 1e3)
        ax_r.plot(steps, rng, "o-", color=col, label=label)
        change = np.nan_to_num(np.asarray(res["grad_change"][label], dtype=np.float64),
                               nan=1e6, posinf=1e6)
        ax_g.plot(steps, np.clip(change, 1e-6, 1e6), "o-", color=col, label=label)
        ax_g.plot(steps, res["grad_norm"][label], ":", color=col, lw=1.3,
                  label=f"‖g‖, {label}")
    ax_e.set_yscale("log")
    ax_e.set_xlabel("step along the gradient η", fontsize=text_size("label"))
    ax_e.set_ylabel("loss L(x - η g)", fontsize=text_size("label"))
    ax_e.set_title("(a) loss along -g, every probe", fontsize=text_size("title"))
    ax_r.set_ylabel("loss range over η", fontsize=text_size("label"))
    ax_r.set_title("(b) loss variation", fontsize=text_size("title"))
    ax_g.set_ylabel("max over η of ‖g - ∇L(x - η g)‖", fontsize=text_size("label"))
    ax_g.set_title("(c) gradient predictiveness", fontsize=text_size("title"))
    for ax in (ax_r, ax_g):
        ax.set_yscale("log")
        ax.set_xlabel("training step", fontsize=text_size("label"))
    for ax in (ax_e, ax_r, ax_g):
        ax.yaxis.set_major_formatter(FuncFormatter(_decade_label))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(labelsize=text_size())
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=text_size(), loc="best")
    fig.suptitle(res["summary"] + ("" if res["status"] == "ok" else f"\n{res['status']}"),
                 fontsize=text_size("title"))
    return fig


# --------------------------------------------------------------------------------------------
# lesson 07: batch norm depends on the batch, group norm does not
# --------------------------------------------------------------------------------------------
_PER_STAT_BATCHES = (2, 4, 8, 16, 32)


def batch_groups_explorer(*, batch_per_stat: int = 2, groups: int = 10, seeds: int = 1,
                          steps: int = 150) -> Explorer:
    """Batch norm against group norm as the number of images per BN statistic shrinks
    (Wu & He 2018, "Group normalization", ECCV, arXiv:1803.08494, figure 1), at CPU scale.

    The MLP 196-100-100-10 of lesson 07 (ReLU, the norm before each ReLU) on MNIST-10k shrunk to
    14 x 14 pixels, ``steps`` SGD-momentum steps of 32 images (learning rate 0.05), float32,
    for seeds 0, 1, ... (:func:`trainlab.reproduce.beyond_batchnorm.batch_dependence`). Batch
    norm computes its statistics over groups of ``B`` of the 32 images
    (:class:`~trainlab.reproduce.beyond_batchnorm.PerWorkerBatchNorm`) and is tested with
    population statistics; group norm standardises each image's ``100 / G`` units of a group
    on their own, so it never sees the batch (``G = 1`` normalises over all units, as layer
    norm does).

    Controls: ``B`` (SelectionSlider 2, 4, 8, 16, 32 images per BN statistic), ``groups``
    (SelectionSlider of the valid G, :data:`~trainlab.reproduce.beyond_batchnorm.GN_GROUPS`:
    they divide 100 and leave at least 2 units per group) and ``seeds`` (IntSlider 1..3, the
    number of seeds; ``seeds`` is its opening value). Runs are cached per (B, seed) and (G,
    seed), so a group-norm run is never repeated for another B; with several seeds the first
    one is drawn as soon as it is done. The figure: (a) validation error against B: batch norm
    in test mode (population statistics; every seed a dot, the line through the means of the B
    visited) and in training mode (statistics of B validation images), group norm as a line
    with its seeds' range shaded; (b) at the current B and G: test-mode error, training-mode
    error and the fraction of training-mode predictions that change when the validation images
    are regrouped with other batch-mates (0 for group norm). ``last_result``: ``bn`` and ``gn``
    (dicts of lists over seeds: ``eval_error``, ``train_error``, ``flips``), ``bn_mean_error``,
    ``gn_mean_error``, ``bn_sweep`` (B -> mean test-mode error of the B visited), ``status``
    (:func:`_batch_groups_status`).

    Raises ValueError for ``batch_per_stat`` not in (2, 4, 8, 16, 32), ``groups`` not in
    ``GN_GROUPS`` or ``seeds`` outside [1, 3].
    """
    from trainlab.reproduce.beyond_batchnorm import GN_GROUPS

    _check_choice("batch_per_stat", batch_per_stat, _PER_STAT_BATCHES)
    _check_choice("groups", groups, GN_GROUPS)
    seeds = _check_int("seeds", seeds, 1, 3)
    steps = _check_int("steps", steps, 1, 2000)
    controls = {
        "B": widgets.SelectionSlider(options=list(_PER_STAT_BATCHES), value=batch_per_stat,
                                     description="images per BN statistic B",
                                     continuous_update=False,
                                     style={"description_width": "initial"}),
        "groups": widgets.SelectionSlider(options=list(GN_GROUPS), value=groups,
                                          description="GN groups G", continuous_update=False,
                                          style={"description_width": "initial"}),
        "seeds": widgets.IntSlider(value=seeds, min=1, max=3, description="seeds",
                                   continuous_update=False),
    }
    runs: dict[tuple, dict[str, Any]] = {}
    data: list[Any] = []
    busy = threading.Lock()

    def compute(B: int, groups: int, seeds: int = seeds, report: Any = None,
                cancelled: Any = None) -> dict[str, Any]:
        with busy:     # one run at a time: a stale one stops at its next check
            return train_all(B, groups, int(seeds), report, cancelled)

    def train_all(B: int, groups: int, n_seeds: int, report: Any, cancelled: Any
                  ) -> dict[str, Any]:
        import torch

        from trainlab.reproduce.beyond_batchnorm import batch_dependence, shrunk_mnist

        if not data:
            data.append(shrunk_mnist())
        for seed in range(n_seeds):
            for key in (("bn", int(B), seed), ("gn", int(groups), seed)):
                if cancelled is not None and cancelled():
                    raise Cancelled
                if key not in runs:
                    norm, value, _ = key
                    runs[key] = batch_dependence(norm, batch_per_stat=value, groups=value,
                                                 seed=seed, data=data[0], steps=steps,
                                                 dtype=torch.float32)
            if report is not None and seed == 0 and n_seeds > 1:
                partial = _batch_groups_numbers(runs, int(B), int(groups), 1)
                partial["progress"] = f"seed 1 of {n_seeds}"
                report(partial)
        return _batch_groups_numbers(runs, int(B), int(groups), n_seeds)

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _batch_groups_figure(figures, res),
                    title="Batch norm vs group norm: images per statistic", live=True)


def _batch_groups_numbers(runs: dict[tuple, dict[str, Any]], B: int, groups: int,
                          n_seeds: int) -> dict[str, Any]:
    """The numbers of the current (B, G) over the first ``n_seeds`` seeds, and the BN sweep
    over every B with all of those seeds done."""
    keys = ("eval_error", "train_error", "flips", "diverged")
    res: dict[str, Any] = {"B": B, "groups": groups, "seeds": n_seeds}
    for norm, value in (("bn", B), ("gn", groups)):
        done = [runs[(norm, value, s)] for s in range(n_seeds)]
        res[norm] = {k: [r[k] for r in done] for k in keys}
        res[f"{norm}_mean_error"] = float(np.mean(res[norm]["eval_error"]))
    sweep: dict[int, list[tuple[float, float]]] = {}
    for b in _PER_STAT_BATCHES:
        done = [runs.get(("bn", b, s)) for s in range(n_seeds)]
        if all(done):
            sweep[b] = [(r["eval_error"], r["train_error"]) for r in done]
    res["bn_sweep_seeds"] = sweep
    res["bn_sweep"] = {b: float(np.mean([e for e, _ in v])) for b, v in sweep.items()}
    bn, gn = res["bn"], res["gn"]
    seeds_text = f"{n_seeds} seed" + ("s" if n_seeds > 1 else "")
    res["summary"] = (f"B = {B}: BN test error {100 * res['bn_mean_error']:.0f}%, GN (G = "
                      f"{groups}) {100 * res['gn_mean_error']:.0f}% (mean of {seeds_text});\n"
                      f"regrouping the images changes {100 * np.mean(bn['flips']):.0f}% of BN's "
                      f"training-mode predictions, {100 * np.mean(gn['flips']):.0f}% of GN's")
    res["status"] = _batch_groups_status(res)
    return res


def _batch_groups_status(res: dict[str, Any]) -> str:
    """By :mod:`trainlab.health`: a run that diverged, and chance accuracy (10 classes) of
    BN in test mode, BN in training mode and GN (means over the seeds shown)."""
    problems: list[str] = []
    for norm, name in (("bn", f"BN (B = {res['B']})"), ("gn", f"GN (G = {res['groups']})")):
        if any(res[norm]["diverged"]):
            problems.append(f"{name}: diverged: loss not finite in "
                            f"{sum(map(bool, res[norm]['diverged']))} of {res['seeds']} seeds")
            continue
        modes = (("eval_error", "test-mode"), ("train_error", "training-mode")) \
            if norm == "bn" else (("eval_error", "validation"),)
        for key, what in modes:
            acc = 1.0 - float(np.mean(res[norm][key]))
            found = health.chance_problem(acc, 10, f"{what} accuracy")
            if found:
                problems.append(f"{name}: {found}")
    return health.status(*problems)


def _batch_groups_axes() -> tuple[Figure, list[Any]]:
    fig = _explorer_figure(4.6 / (9.6 * 1.15), widen=1.15)
    grid = fig.add_gridspec(1, 2, width_ratios=(1.25, 1.0), wspace=0.25, left=0.07,
                            right=0.985, top=0.78, bottom=0.2)
    return fig, [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]


def _batch_groups_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    """(a) error against B for BN (test and training mode) and GN; (b) the three measures at
    the current B and G."""
    fig, (ax_s, ax_b) = figures.get(("batch_groups",), _batch_groups_axes)
    bn_col, gn_col = color(0), color(1)
    sweep = res["bn_sweep_seeds"]
    if sweep:
        bs = np.array(sorted(sweep))
        vals = np.array([sweep[b] for b in bs]) * 100
        for j in range(vals.shape[1]):
            ax_s.plot(bs, vals[:, j, 0], "o", color=bn_col, alpha=0.45, ms=5)
        ax_s.plot(bs, vals[:, :, 0].mean(axis=1), "o-", color=bn_col, ms=8, lw=2,
                  label="BN, test mode (population statistics)")
        ax_s.plot(bs, vals[:, :, 1].mean(axis=1), "s--", color=bn_col, ms=6,
                  label="BN, training mode (statistics of B images)")
    gn_err = 100 * np.asarray(res["gn"]["eval_error"])
    ax_s.axhspan(gn_err.min(), gn_err.max(), color=gn_col, alpha=0.25, lw=0)
    ax_s.axhline(gn_err.mean(), color=gn_col, lw=2,
                 label=f"GN, G = {res['groups']} (does not depend on B)")
    ax_s.axvline(res["B"], color="0.5", lw=1, ls=":")
    ax_s.set_xscale("log", base=2)
    ax_s.set_xticks(list(_PER_STAT_BATCHES), [str(b) for b in _PER_STAT_BATCHES])
    ax_s.xaxis.set_minor_formatter(NullFormatter())
    ax_s.set_xlim(1.6, 40)
    ax_s.set_ylim(0, 150)
    ax_s.set_yticks([0, 20, 40, 60, 80, 100])
    ax_s.set_xlabel("images per batch-norm statistic B", fontsize=text_size("label"))
    ax_s.set_ylabel("validation error (%)", fontsize=text_size("label"))
    ax_s.set_title("(a) error vs B (the B visited; dots: seeds)", fontsize=text_size("title"))
    ax_s.legend(fontsize=text_size(), loc="upper center")
    names = ("error,\ntest mode", "error,\ntraining mode", "changed by\nregrouping")
    pos = np.arange(len(names))
    for shift, norm, col, label in ((-0.2, "bn", bn_col, f"BN, B = {res['B']}"),
                                    (0.2, "gn", gn_col, f"GN, G = {res['groups']}")):
        r = res[norm]
        means = [100 * np.mean(r[k]) for k in ("eval_error", "train_error", "flips")]
        ax_b.bar(pos + shift, means, 0.4, color=col, label=label)
        for i, k in enumerate(("eval_error", "train_error", "flips")):
            ax_b.plot([pos[i] + shift] * len(r[k]), 100 * np.asarray(r[k]), "o", ms=4,
                      color="black", alpha=0.6)
            ax_b.text(pos[i] + shift, means[i] + 1, f"{means[i]:.0f}%", ha="center",
                      va="bottom", fontsize=text_size())
    ax_b.set_xticks(pos, names)
    ax_b.set_ylim(0, 120)
    ax_b.set_yticks(np.arange(0, 101, 20))
    ax_b.set_ylabel("% of validation images", fontsize=text_size("label"))
    ax_b.set_xlabel("measured on 1,000 validation images", fontsize=text_size("label"))
    ax_b.set_title("(b) at this B and G (dots: seeds)", fontsize=text_size("title"))
    ax_b.legend(fontsize=text_size(), loc="upper center", ncol=2)
    for ax in (ax_s, ax_b):
        ax.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"], fontsize=text_size("label"))
    return fig
