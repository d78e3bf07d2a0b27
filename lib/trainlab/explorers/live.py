"""Live explorers for the lessons: one line in a notebook gives sliders and a figure that follows.

Every builder declares its controls as data (a list of
:class:`trainlab.explorers.spec.Control`) and returns an :class:`Explorer`, a real
``ipywidgets.VBox`` (controls on top, an ``ipywidgets.Output`` below) whose widgets
:func:`widget_for` builds from that declaration, and that also exposes what tests and
benchmarks need:

* ``.declared``: the controls as declared; ``.controls``: dict name -> widget (bounded sliders
  and dropdowns, so no value outside the valid range can be entered);
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
import json
import math
import os
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from trainlab.explorers.core import Cancelled, _outputs, _params_text, _status_line, render_png
from trainlab.explorers.spec import Control, exponents, state_key

_PARTIAL_EVERY_S = 0.25
_PARTIAL_RATIO = 2.0
"""A live run redraws its partial curves at most every 0.25 s and leaves at least twice a
redraw's time to training between two redraws (the first segment is drawn at once)."""


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


def widget_for(c: Control) -> widgets.Widget:
    """The ipywidgets control that shows ``c``: a stepped slider (IntSlider, FloatSlider or
    FloatLogSlider), a SelectionSlider over listed values, a Dropdown or a Checkbox, labelled
    with ``c.label``; sliders update on release (``continuous_update=False``)."""
    common = {"value": c.default, "description": c.label}
    if c.kind == "toggle":
        return widgets.Checkbox(**common)
    if c.kind == "choice":
        return widgets.Dropdown(options=list(zip(c.labels, c.values, strict=True)) if c.labels
                                else list(c.values), **common)
    common.update(continuous_update=False, style={"description_width": "initial"})
    if c.readout:
        common["readout_format"] = c.readout
    if c.step is None:
        return widgets.SelectionSlider(options=list(c.values), **common)
    if c.log:
        lo, hi = exponents(c)
        return widgets.FloatLogSlider(base=10, min=lo, max=hi, step=c.step, **common)
    slider = widgets.IntSlider if isinstance(c.values[0], int) else widgets.FloatSlider
    return slider(min=c.values[0], max=c.values[-1], step=c.step, **common)


# --------------------------------------------------------------------------------------------
# the explorer container
# --------------------------------------------------------------------------------------------
class Explorer(widgets.VBox):
    """A ``VBox`` of controls (built from their declaration, :func:`widget_for`) and an
    ``Output`` that redraws whenever a control changes.

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

    def __init__(self, controls: Sequence[Control],
                 compute: Callable[..., dict[str, Any]],
                 render: Callable[[dict[str, Any]], Figure | None], *, title: str = "",
                 live: bool = False) -> None:
        self.declared: tuple[Control, ...] = tuple(controls)
        self.controls: dict[str, widgets.Widget] = {c.name: widget_for(c) for c in controls}
        self.output = widgets.Output()
        self.last_result: dict[str, Any] = {}
        self.last_png: bytes | None = None
        self.shown_png: bytes | None = None
        """The figure on screen: a live run's latest curves while it trains, else last_png.
        A control change during a run keeps it (with "training…") until the new run draws."""
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
        self._stored_pngs: dict[str, bytes] = {}
        self._pending: list[dict[str, Any]] = []
        self._prerender: threading.Thread | None = None
        self._heading: tuple[str, int] | None = None
        self._received: tuple[float, float] | None = None
        self._title = title
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

    def _on_change(self, change: dict) -> None:
        self._heading = self._direction(change)
        self._received = (time.time(), time.perf_counter())
        if not self.live or self._stored(self.values()) is not None:
            self.update()
            return
        with self._lock:
            self._generation += 1
            token = self._generation
            self._show(self.shown_png, "training… " + _params_text(self.values()))
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
                png = self._stored_pngs.get(self.stored.key(params))
                how = "png" if png is not None else "drawn"
                if png is not None:
                    result["png"] = png
                self._prerender_neighbours(params)
            else:
                how = "computed"
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
            png, how = None, "error"
        result["params"] = params
        with self._lock:
            if cancelled():
                return self.last_result
            self.last_result = result
            self.last_png = png
            self._show(png, _status_line(result))
        self._log_timing(how)
        return result

    def _log_timing(self, how: str) -> None:
        """With ``TRAINLAB_EXPLORER_TIMINGS`` set to a file, append one JSON line per control
        change: when the kernel received it (epoch seconds), the milliseconds until the output
        was replaced, and how the figure came ("png": a stored state drawn beforehand, "drawn":
        a stored state drawn now, "computed", "error"; a live run logs its final figure, a cancelled
        run nothing). The browser
        benchmark splits keypress-to-figure into the kernel's share and the rest with it."""
        path = os.environ.get("TRAINLAB_EXPLORER_TIMINGS")
        received, self._received = self._received, None
        if not path or received is None:
            return
        line = {"title": self._title, "received": received[0],
                "kernel_ms": 1e3 * (time.perf_counter() - received[1]), "how": how}
        with open(path, "a") as f:
            f.write(json.dumps(line) + "\n")

    def _direction(self, change: Mapping[str, Any]) -> tuple[str, int] | None:
        """The control that ``change`` moved and which way along its values (-1 or +1); None
        for a choice, a toggle or a value not among the declared ones."""
        for c in self.declared:
            if self.controls[c.name] is change.get("owner") and c.kind not in ("choice", "toggle"):
                old, new = (state_key({c.name: change.get(k)}) for k in ("old", "new"))
                keys = [state_key({c.name: v}) for v in c.values]
                if old in keys and new in keys and old != new:
                    return c.name, (1 if keys.index(new) > keys.index(old) else -1)
        return None

    def _prerender_neighbours(self, params: Mapping[str, Any]) -> None:
        """Draw, in a background thread, the stored states one or two grid steps away from
        ``params`` along each control (nearest first; the next few along the way the last
        control moved before those), so the next keypress shows a PNG."""
        with self._lock:
            self._pending = [s for s in self.stored.neighbours(params, heading=self._heading)
                             if self.stored.key(s) not in self._stored_pngs]
            if not self._pending or (self._prerender is not None
                                     and self._prerender.is_alive()):
                return
            self._prerender = threading.Thread(target=self._prerender_work, daemon=True)
            self._prerender.start()

    def _prerender_work(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                state = self._pending.pop(0)
            key = self.stored.key(state)
            if key in self._stored_pngs:
                continue
            result = self.stored.get(state)
            try:
                png = self._draw(result) if result is not None else None
            except Exception:  # noqa: BLE001 - a prerender is best effort; update() draws again
                png = None
            if png is not None:
                self._stored_pngs[key] = png

    def wait_prerender(self, timeout: float | None = None) -> None:
        """Block until the background drawing of stored neighbours has finished."""
        if self._prerender is not None:
            self._prerender.join(timeout)

    def _draw(self, result: dict[str, Any]) -> bytes | None:
        """``render(result)`` as PNG bytes; one draw at a time (a run's thread and a newer
        one's may share the explorer's kept figures)."""
        with self._render_lock:
            fig = self.render(result)
            return render_png(fig) if fig is not None else None

    def _show(self, png: bytes | None, text: str) -> None:
        """Replace the output by the figure and the status line in one step; the image carries
        its size (``metadata["image/png"]``), so the front end lays the page out once, at the
        final height, instead of collapsing the output until the new image is decoded (a
        jump of the page below it, and a second layout of a long notebook)."""
        self.shown_png = png
        outputs = _outputs(png, text)
        if png is not None and png[12:16] == b"IHDR":
            width, height = struct.unpack(">II", png[16:24])
            outputs[0]["metadata"] = {"image/png": {"width": width, "height": height}}
        self.output.outputs = outputs

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


