"""Lesson 03 (and 00): activations at initialisation, and training after each init."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

from trainlab import health
from trainlab.explorers._training import (
    _curves_figure,
    _Figures,
    _live_hook,
    _loss_ticks,
    _probe,
    _run_summary,
    _RunSpec,
    _train_mlp,
    _trained_problems,
)
from trainlab.explorers.core import (
    DEFAULT_SCHEMES,
    _check_choice,
    _check_int,
    _decade_label,
    _explorer_figure,
    _fit_width,
    _LogTicks,
    fmt,
    render_png,
)
from trainlab.explorers.live import Explorer, serves_grid
from trainlab.explorers.spec import Control, choice, exponents, log_slider, slider, toggle
from trainlab.init import WeightCache, init_forward_grid, init_forward_stats
from trainlab.style import (
    OKABE_ITO,
    color,
    text_size,
)


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
                                     bottom=0.125)
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
        self.sax.yaxis.set_major_formatter(FuncFormatter(_decade_label))   # 1e-5, not 0.00001
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
        _fit_width(self.status, text_size("label"))
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


def _set_scaled_xlabel(ax: Any, extent: float, what: str = "activation") -> None:
    """Tick labels in units of ``10**k`` named in the x label ("activation (×1e-7)") instead of
    matplotlib's offset text, which sits on top of the label of a small panel."""
    k = 0 if not 0 < extent < math.inf else math.floor(math.log10(extent))
    k = 0 if -2 <= k <= 3 else k
    unit = 10.0 ** k
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v / unit:.4g}"))  # 1500
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

    def __init__(self, cache: WeightCache, scale: Control, max_depth: int,
                 bins: int = 30) -> None:
        self.cache, self.max_depth, self.bins = cache, max_depth, bins
        self.lo, self.step = exponents(scale)[0], scale.step
        self.scales = [float(10.0 ** (self.lo + i * self.step))
                       for i in range(len(scale.values))]
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


@serves_grid
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
    _check_int("width", width, 1, 1 << 14)
    controls = [
        choice("scheme", "init", scheme, schemes),
        log_slider("scale", "scale", scale, -3, 1),
        slider("depth", "depth", depth, 1, max_depth),
        choice("width", "width", int(width), sorted({*map(int, widths), int(width)})),
        choice("activation", "activation", list(activations)[0], activations),
        toggle("gain", "activation's gain", True),
        toggle("gradients", "gradients"),
    ]
    if cache is None:
        cache = WeightCache(seed=seed, batch=_check_int("batch", batch, 2, 1 << 16))
    elif not isinstance(cache, WeightCache):
        raise TypeError(f"cache must be a WeightCache or None, got {type(cache).__name__}")
    figures: dict[tuple[int, bool], _InitFigure] = {}
    grid = _Grid(cache, controls[1], max_depth)
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


@serves_grid
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
    spec = _RunSpec(n_train=n_train, n_val=n_val, steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = [
        choice("scheme", "init", scheme, schemes),
        log_slider("scale", "scale", 1.0, -2, 1),
        slider("depth", "depth", depth, 1, 8),
        choice("width", "width", width, sorted({32, 64, 128, 256, width})),
        choice("activation", "activation", activation, activations),
        log_slider("lr", "learning rate", lr, -3, 1),
        toggle("overlay", "overlay runs"),
    ]
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
        res["summary"] = (f"diverged at step {hist.diverged_at}" if hist.diverged else
                          f"train loss {fmt(res['final_train_loss'])}, val accuracy "
                          f"{fmt(res['final_val_acc'])}")
        return res

    figures = _Figures()

    def render(res: dict[str, Any]) -> Figure:
        fig = _curves_figure(figures, res["histories"], metrics=("loss", "acc"),
                             side_by_side=False,
                             title=res["summary"], steps=spec.steps)
        _at_least_a_span(fig.axes[0])
        fig.axes[1].set_ylim(0, 1)   # accuracy: chance (0.1) in its place, its noise not magnified
        return fig

    return Explorer(controls, compute, render, title="Initialisation and training", live=True)


MIN_LOSS_SPAN = 1.1
"""The init-training explorer's loss panel spans at least this factor around its curves: a loss
that barely moves (scale 0.01 at a small learning rate: 2.30252 to 2.30265, nothing learns) is
drawn flat, as it is, instead of its noise magnified to fill the panel, whose six-digit tick
labels then pushed the axis label off the figure."""


def _at_least_a_span(ax: Any) -> None:
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log" and 0 < lo and hi < lo * MIN_LOSS_SPAN:
        mid, half = math.sqrt(lo * hi), math.sqrt(MIN_LOSS_SPAN)
        ax.set_ylim(mid / half, mid * half)
        _loss_ticks(ax)
