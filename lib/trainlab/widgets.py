"""Live explorers for the lessons: one line in a notebook gives sliders and a figure that follows.

Every builder returns an :class:`Explorer`, a real ``ipywidgets.VBox`` (controls on top, an
``ipywidgets.Output`` below) that also exposes what tests and benchmarks need:

* ``.controls``: dict name -> widget (bounded sliders and dropdowns, so no value outside the
  valid range can be entered);
* ``.output``: the ``Output`` that shows the figure and a one-line status;
* ``.update()``: recompute and redraw now (the controls call it on every change);
* ``.last_result``: the numbers last shown (per-layer stds, final losses, ...) and
  ``"status"`` ("ok", "diverged ...", or "error: ...").

A callback never lets an exception escape: it is caught, written into the output as
``error: ...`` and recorded in ``last_result["status"]``.

The output is replaced in one step by assigning ``Output.outputs`` (a PNG rendered with Agg and
a status line). That is what ``clear_output(wait=True); display(fig); plt.close(fig)`` achieves,
without flicker, and it also works outside a kernel (tests and benchmarks read
``explorer.output.outputs``).
"""

from __future__ import annotations

import base64
import io
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from trainlab.style import OKABE_ITO, color

__all__ = [
    "DEFAULT_SCHEMES",
    "Explorer",
    "WeightCache",
    "dead_relu_explorer",
    "init_explorer",
    "init_forward_stats",
    "init_training_explorer",
    "keep_prob_data",
    "keep_prob_explorer",
    "keep_prob_run",
    "lr_explorer",
    "render_png",
]

DEFAULT_SCHEMES: tuple[str, ...] = (
    "normal", "xavier_fan_in", "xavier_normal", "xavier_uniform", "kaiming_normal",
    "kaiming_uniform", "lecun_normal", "zeros", "constant",
)
"""Schemes the init explorer offers: every :data:`trainlab.init.SCHEMES` entry whose weights are
a fixed standard matrix times a std (so not ``orthogonal``)."""

_UNIFORM_SCHEMES = ("xavier_uniform", "kaiming_uniform")
_GAIN_SCHEMES = ("xavier_normal", "xavier_uniform")
_ACTIVATION_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
_PNG_DPI = 72


# --------------------------------------------------------------------------------------------
# the explorer container
# --------------------------------------------------------------------------------------------
class Explorer(widgets.VBox):
    """A ``VBox`` of controls and an ``Output`` that redraws whenever a control changes.

    ``compute(**values) -> dict`` turns the control values into numbers (with a ``"status"``
    entry); ``render(result) -> Figure | None`` draws them. Both run inside :meth:`update`,
    which never raises.
    """

    def __init__(self, controls: Mapping[str, widgets.Widget],
                 compute: Callable[..., dict[str, Any]],
                 render: Callable[[dict[str, Any]], Figure | None], *, title: str = "") -> None:
        self.controls: dict[str, widgets.Widget] = dict(controls)
        self.output = widgets.Output()
        self.last_result: dict[str, Any] = {}
        self.compute = compute
        self.render = render
        header = [widgets.HTML(f"<b>{title}</b>")] if title else []
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
        self.update()

    def update(self) -> dict[str, Any]:
        """Recompute, redraw the output and return ``last_result``; never raises."""
        params = self.values()
        try:
            result = self.compute(**params)
            fig = self.render(result)
            png = render_png(fig) if fig is not None else None
        except Exception as exc:  # noqa: BLE001 - a slider must never raise into the kernel
            result = {"status": f"error: {type(exc).__name__}: {exc}"}
            png = None
        result["params"] = params
        self.last_result = result
        self.output.outputs = _outputs(png, _status_line(result))
        return result


def render_png(fig: Figure, dpi: int = _PNG_DPI) -> bytes:
    """The figure as PNG bytes (Agg); the figure is closed if pyplot manages it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    if fig.canvas.manager is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buf.getvalue()


def _outputs(png: bytes | None, text: str) -> tuple[dict, ...]:
    out: list[dict] = []
    if png is not None:
        out.append({"output_type": "display_data", "metadata": {},
                    "data": {"image/png": base64.b64encode(png).decode("ascii"),
                             "text/plain": "<Figure>"}})
    out.append({"output_type": "stream", "name": "stdout", "text": text + "\n"})
    return tuple(out)


def _status_line(result: Mapping[str, Any]) -> str:
    summary = result.get("summary", "")
    status = result.get("status", "ok")
    return f"{summary}  |  {status}" if summary else str(status)


def _new_figure(width: float, height: float) -> Figure:
    """A figure outside pyplot (nothing to close, no global state), Agg canvas, laid out by
    hand: no constrained layout even when the course style turns it on (it would fight the
    explicit gridspec margins and warn that the axes collapsed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width, height))
    fig.set_layout_engine("none")
    FigureCanvasAgg(fig)
    return fig


def _log_slider(description: str, value: float, lo_exp: float, hi_exp: float,
                step: float = 0.1, continuous: bool = False) -> widgets.FloatLogSlider:
    return widgets.FloatLogSlider(value=value, base=10, min=lo_exp, max=hi_exp, step=step,
                                  description=description, continuous_update=continuous,
                                  readout_format=".2e", style={"description_width": "initial"})


def _check_choice(name: str, value: Any, valid: Sequence[Any]) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {list(valid)}, got {value!r}")


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an int in [{lo}, {hi}], got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# initialisation explorer: cached standard weights, scaled by the scheme's std
# --------------------------------------------------------------------------------------------
@dataclass
class WeightCache:
    """Standard float32 weight matrices and input batches, each sampled once.

    ``weight(layer, fan_in, fan_out, kind)`` is a (fan_in, fan_out) matrix of unit-variance
    entries: ``kind="normal"`` N(0, 1), ``kind="uniform"`` U(-sqrt 3, sqrt 3). A scheme with
    std ``s`` then has weights ``s * W`` and ``x @ (s W) = s (x @ W)``, so a change of scheme or
    scale costs one matmul per layer and no sampling. Each matrix comes from its own generator
    seeded by ``(seed, layer, fan_in, fan_out, kind)``, so values do not depend on the order of
    requests. Least recently used matrices are dropped beyond ``max_bytes``.
    """

    seed: int = 0
    batch: int = 16
    max_bytes: int = 1 << 30
    _mats: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _inputs: dict = field(default_factory=dict, repr=False)

    def weight(self, layer: int, fan_in: int, fan_out: int, kind: str = "normal") -> np.ndarray:
        """The cached unit-variance (fan_in, fan_out) float32 matrix of ``layer``."""
        _check_choice("kind", kind, ("normal", "uniform"))
        key = (layer, fan_in, fan_out, kind)
        if key in self._mats:
            self._mats.move_to_end(key)
            return self._mats[key]
        rng = np.random.default_rng([self.seed, layer, fan_in, fan_out, kind == "uniform"])
        if kind == "normal":
            w = rng.standard_normal((fan_in, fan_out), dtype=np.float32)
        else:
            w = rng.random((fan_in, fan_out), dtype=np.float32)
            w = (w - np.float32(0.5)) * np.float32(2.0 * math.sqrt(3.0))
        self._mats[key] = w
        while self.nbytes > self.max_bytes and len(self._mats) > 1:
            self._mats.popitem(last=False)
        return w

    def inputs(self, width: int) -> np.ndarray:
        """The cached standard-normal input batch, shape (batch, width), float32."""
        if width not in self._inputs:
            rng = np.random.default_rng([self.seed, width, 7])
            self._inputs[width] = rng.standard_normal((self.batch, width), dtype=np.float32)
        return self._inputs[width]

    def first_product(self, width: int, kind: str = "normal") -> np.ndarray:
        """``inputs(width) @ weight(1, width, width, kind)``, shape (batch, width), cached:
        layer 1's pre-activation before scaling does not depend on the scheme's std."""
        key = ("x@W1", width, kind)
        if key not in self._inputs:
            self._inputs[key] = self.inputs(width) @ self.weight(1, width, width, kind)
        return self._inputs[key]

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached weight matrices."""
        return sum(w.nbytes for w in self._mats.values())


def _activation_fn(name: str) -> Callable[[np.ndarray], np.ndarray]:
    from trainlab import activations

    _check_choice("activation", name, tuple(activations.ACTIVATIONS))
    return activations.ACTIVATIONS[name][0]


def _preactivation(cache: WeightCache, layer: int, x: np.ndarray, width: int, scheme: str,
                   scale: float, std: float) -> np.ndarray:
    """z = x @ W for the layer's weights W (scheme, scale) without building W."""
    if scheme == "zeros":
        return np.zeros((x.shape[0], width), dtype=np.float32)
    if scheme == "constant":
        row = x.sum(axis=1, keepdims=True, dtype=np.float32) * np.float32(scale)
        return np.repeat(row, width, axis=1)
    kind = "uniform" if scheme in _UNIFORM_SCHEMES else "normal"
    if layer == 1 and x is cache.inputs(width):
        return cache.first_product(width, kind) * np.float32(std)
    z = _matmul(x, cache.weight(layer, x.shape[1], width, kind))
    z *= np.float32(std)
    return z


def _matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` in float32 through torch (zero-copy views): with a batch of 16 rows the product
    is bound by reading ``w``, and torch's kernel at the notebook's thread count (1, set by
    :func:`trainlab.notebook.setup_notebook`) does that 2-4x faster than multi-threaded
    OpenBLAS on a busy 2-core machine."""
    import torch

    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return (xt @ torch.from_numpy(w)).numpy()


def init_forward_stats(ws_cache: WeightCache, scheme: str, scale: float, depth: int,
                       width: int, activation: str, *, bins: int = 30,
                       use_gain: bool = True) -> dict[str, Any]:
    """Forward a standard-normal batch through ``depth`` fresh layers and measure each layer.

    Layer ``l`` (1-based) computes ``z_l = a_{l-1} W_l`` and ``a_l = f(z_l)``, with
    ``a_0 = x`` of shape (batch, width), ``W_l`` of shape (width, width) drawn by ``scheme``
    with std ``trainlab.init.init_std(scheme, width, width, scale=scale)`` (no biases); with
    ``use_gain`` the activation's gain enters explicitly: as ``nonlinearity`` for kaiming, as a
    factor ``init.gain(activation)`` on ``scale`` for xavier_normal/xavier_uniform. Returns
    per-layer lists (index 0 = layer 1):
    ``std`` and ``mean`` of ``a_l``, ``pre_std`` of ``z_l``, ``weight_std``, ``hist`` =
    ``(counts, edges)`` of ``a_l``, ``frac_saturated`` (|tanh| > 0.99, sigmoid outside
    [0.01, 0.99]), ``frac_zero`` (exact zeros, e.g. dead ReLU), ``activations`` (the arrays),
    plus ``input_std``, ``status`` and ``diverged_at`` (first layer with a non-finite value, else
    None). Layers after a divergence are not computed (std ``inf``).
    """
    from trainlab.init import gain, init_std

    _check_choice("scheme", scheme, DEFAULT_SCHEMES)
    depth = _check_int("depth", depth, 1, 100)
    width = _check_int("width", width, 1, 1 << 14)
    f = _activation_fn(activation)
    kaiming = scheme in ("kaiming_normal", "kaiming_uniform")
    explicit_gain = gain(activation) if use_gain and scheme in _GAIN_SCHEMES else 1.0
    std = init_std(scheme, width, width, scale=float(scale) * explicit_gain,
                   nonlinearity=activation if use_gain and kaiming else None)
    x = ws_cache.inputs(width)
    res = _empty_stats(scheme, scale, depth, width, activation, std, x)
    a = x
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for layer in range(1, depth + 1):
            z = _preactivation(ws_cache, layer, a, width, scheme, scale, std)
            a = f(z)
            if not (np.isfinite(z).all() and np.isfinite(a).all()):
                _mark_diverged(res, layer, depth)
                break
            _layer_stats(res, z, a, activation, bins)
    return res


def _empty_stats(scheme: str, scale: float, depth: int, width: int, activation: str, std: float,
                 x: np.ndarray) -> dict[str, Any]:
    keys = ("std", "mean", "pre_std", "hist", "frac_saturated", "frac_zero", "activations")
    res: dict[str, Any] = {k: [] for k in keys}
    res.update(scheme=scheme, scale=float(scale), depth=depth, width=width,
               activation=activation, batch=x.shape[0], weight_std=[float(std)] * depth,
               input_std=float(x.std(dtype=np.float64)), status="ok", diverged_at=None)
    return res


def _layer_stats(res: dict[str, Any], z: np.ndarray, a: np.ndarray, activation: str,
                 bins: int) -> None:
    res["std"].append(float(a.std(dtype=np.float64)))
    res["mean"].append(float(a.mean(dtype=np.float64)))
    res["pre_std"].append(float(z.std(dtype=np.float64)))
    lo, hi = _ACTIVATION_RANGE.get(activation, (float(a.min()), float(a.max())))
    if activation not in _ACTIVATION_RANGE:
        m = max(abs(lo), abs(hi), 1e-30)
        lo, hi = (0.0 if lo >= 0 else -m), m
    counts, edges = np.histogram(a, bins=bins, range=(lo, hi))
    res["hist"].append((counts, edges.astype(np.float64)))
    if activation == "tanh":
        sat = float(np.mean(np.abs(a) > 0.99))
    elif activation == "sigmoid":
        sat = float(np.mean((a < 0.01) | (a > 0.99)))
    else:
        sat = 0.0
    res["frac_saturated"].append(sat)
    res["frac_zero"].append(float(np.mean(a == 0)))
    res["activations"].append(a)
    if res["std"][-1] == 0.0 and res["status"] == "ok":
        value = float(a.flat[0]) + 0.0  # -0.0 + 0.0 == +0.0, so never "exactly -0"
        res["status"] = (f"vanished: every activation is exactly {value:.3g} "
                         f"from layer {len(res['std'])} on (std 0)")


def _mark_diverged(res: dict[str, Any], layer: int, depth: int) -> None:
    res["diverged_at"] = layer
    res["status"] = f"diverged: activations overflow to inf at layer {layer}"
    for key in ("std", "mean", "pre_std"):
        res[key] += [math.inf] * (depth - len(res[key]))


class _InitFigure:
    """A reusable figure: a row of histogram panels and a std-per-layer panel below.

    Updating moves existing artists (``StepPatch.set_data``, ``Line2D.set_data``) instead of
    building new axes, which keeps a redraw at a few tens of milliseconds.
    """

    def __init__(self, n_hist: int) -> None:
        self.n_hist = n_hist
        self.fig = _new_figure(max(6.0, 1.45 * n_hist), 4.2)
        grid = self.fig.add_gridspec(2, n_hist, height_ratios=(1.0, 1.3), hspace=0.5,
                                     wspace=0.3, left=0.075, right=0.96, top=0.85, bottom=0.11)
        self.hax = [self.fig.add_subplot(grid[0, i]) for i in range(n_hist)]
        self.sax = self.fig.add_subplot(grid[1, :])
        self.stairs = [ax.stairs(np.zeros(1), np.arange(2.0), fill=True, color=color(0))
                       for ax in self.hax]
        for ax in self.hax:
            ax.set_ylabel("count", fontsize=8, labelpad=1)
            ax.tick_params(labelsize=7, left=False, labelleft=False)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=2, symmetric=False))
            ax.grid(False)
        (self.line,) = self.sax.plot([], [], "o-", color=color(0), label="std of activations")
        trans = blended_transform_factory(self.sax.transData, self.sax.transAxes)
        (self.over,) = self.sax.plot([], [], "^", ms=9, color=OKABE_ITO["vermillion"],
                                     transform=trans, clip_on=False, ls="none",
                                     label="overflow → inf")
        (self.under,) = self.sax.plot([], [], "v", ms=9, color=OKABE_ITO["blue"],
                                      transform=trans, clip_on=False, ls="none",
                                      label="underflow → 0")
        self.sax.set_yscale("log")
        self.sax.yaxis.set_minor_formatter(NullFormatter())
        self.sax.tick_params(labelsize=8)
        self.sax.grid(False)
        self.sax.set_xlabel("layer", fontsize=9)
        self.sax.set_ylabel("std of activations", fontsize=9)
        self.banner = self.fig.suptitle("", fontsize=10)

    def draw(self, res: dict[str, Any]) -> Figure:
        """Show ``res`` from :func:`init_forward_stats`; returns the figure."""
        depth = res["depth"]
        layers = _shown_layers(depth, self.n_hist)
        for ax, stairs, layer in zip(self.hax, self.stairs, layers, strict=True):
            self._draw_hist(ax, stairs, res, layer)
        self._draw_std(res)
        ok = res["status"] == "ok"
        self.banner.set_text(f"{res['scheme']} × {res['scale']:.3g}, {res['activation']}, "
                             f"width {res['width']}" + ("" if ok else f" — {res['status']}"))
        self.banner.set_color("black" if ok else OKABE_ITO["vermillion"])
        return self.fig

    @staticmethod
    def _draw_hist(ax: Any, stairs: Any, res: dict[str, Any], layer: int) -> None:
        if layer - 1 < len(res["hist"]):
            counts, edges = res["hist"][layer - 1]
            stairs.set_data(counts, edges)
            stairs.set_visible(True)
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylim(0, max(1, counts.max()) * 1.05)
            _set_scaled_xlabel(ax, max(abs(edges[0]), abs(edges[-1])))
            ax.set_title(f"layer {layer}\nstd {res['std'][layer - 1]:.2g}", fontsize=8, pad=2,
                         color="black")
        else:
            stairs.set_visible(False)
            _set_scaled_xlabel(ax, 1.0)
            ax.set_title(f"layer {layer}\noverflow", fontsize=8, pad=2,
                         color=OKABE_ITO["vermillion"])

    def _draw_std(self, res: dict[str, Any]) -> None:
        y = np.asarray(res["std"], dtype=np.float64)
        x = np.arange(1, y.size + 1)
        good = np.isfinite(y) & (y > 0)
        self.line.set_data(x[good], y[good])
        self.over.set_data(x[~np.isfinite(y)], np.full(int((~np.isfinite(y)).sum()), 1.0))
        self.under.set_data(x[y == 0], np.zeros(int((y == 0).sum())))
        vals = y[good]
        lo, hi = (vals.min() / 3, vals.max() * 3) if vals.size else (0.1, 10.0)
        self.sax.set_ylim(lo, hi)
        self.sax.set_xlim(0.5, y.size + 0.5)
        self.sax.set_xticks(x if y.size <= 20 else x[:: max(1, y.size // 10)])
        handles = [h for h in (self.line, self.over, self.under) if len(h.get_xdata())]
        self.sax.legend(handles=handles, loc="upper right", fontsize=8)


def _set_scaled_xlabel(ax: Any, extent: float) -> None:
    """Tick labels in units of ``10**k`` named in the x label ("activation (×1e-7)") instead of
    matplotlib's offset text, which sits on top of the label of a small panel."""
    k = 0 if not 0 < extent < math.inf else math.floor(math.log10(extent))
    k = 0 if -2 <= k <= 3 else k
    unit = 10.0 ** k
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v / unit:.3g}"))
    ax.set_xlabel("activation" if k == 0 else f"activation (×1e{k})", fontsize=8, labelpad=1)


def _shown_layers(depth: int, n: int) -> list[int]:
    """``n`` layer numbers spread over 1..depth, always including the first and the last."""
    if depth <= n:
        return list(range(1, depth + 1))
    return [int(round(v)) for v in np.linspace(1, depth, n)]


def init_explorer(*, depth: int = 6, width: int = 4096, batch: int = 16,
                  schemes: Sequence[str] = DEFAULT_SCHEMES,
                  activations: Sequence[str] = ("tanh", "relu", "sigmoid", "linear", "selu"),
                  widths: Sequence[int] = (64, 256, 1024, 4096), max_depth: int = 20,
                  max_panels: int = 8, scheme: str = "normal", scale: float = 0.01,
                  seed: int = 0, cache: WeightCache | None = None) -> Explorer:
    """Per-layer activation histograms and std per layer of a deep net at initialisation.

    Controls: ``scheme`` (Dropdown), ``scale`` (FloatLogSlider 1e-3..1e1, multiplies the
    scheme's std), ``depth`` (IntSlider 1..max_depth), ``width`` (Dropdown of ``widths``),
    ``activation`` (Dropdown), ``gain`` (Checkbox: use the activation's gain). The numbers come
    from :func:`init_forward_stats` on a :class:`WeightCache` (``batch`` inputs), so a change
    costs ``depth`` matmuls of (batch, width) x (width, width) and no sampling. Up to
    ``max_panels`` layers get a histogram (spread over the depth).

    ``cache``: an existing :class:`WeightCache` to draw from (a lesson that already sampled its
    4096 x 4096 matrices passes them in and the explorer starts without sampling); its own
    ``seed`` and ``batch`` then apply and the ``seed``/``batch`` arguments are ignored. ``None``
    makes a new ``WeightCache(seed=seed, batch=batch)``. The explorer's cache is
    ``explorer.cache``.
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
    figures: dict[int, _InitFigure] = {}
    controls = {
        "scheme": widgets.Dropdown(options=list(schemes), value=scheme, description="init"),
        "scale": _log_slider("scale", float(scale), -3, 1, continuous=False),
        "depth": widgets.IntSlider(value=depth, min=1, max=max_depth, description="depth",
                                   continuous_update=False),
        "width": widgets.Dropdown(options=widths, value=int(width), description="width"),
        "activation": widgets.Dropdown(options=list(activations), value=list(activations)[0],
                                       description="activation"),
        "gain": widgets.Checkbox(value=True, description="activation's gain"),
    }

    def compute(scheme: str, scale: float, depth: int, width: int, activation: str,
                gain: bool) -> dict[str, Any]:
        res = init_forward_stats(cache, scheme, scale, depth, width, activation, use_gain=gain)
        res["summary"] = "std per layer: " + " ".join(f"{s:.3g}" for s in res["std"])
        return res

    def render(res: dict[str, Any]) -> Figure:
        n = min(res["depth"], max_panels)
        if n not in figures:
            figures[n] = _InitFigure(n)
        return figures[n].draw(res)

    explorer = Explorer(controls, compute, render, title="Activations at initialisation")
    explorer.cache = cache
    return explorer


# --------------------------------------------------------------------------------------------
# training explorers (torch MLPs on MNIST-10k)
# --------------------------------------------------------------------------------------------
_MNIST_CACHE: dict[tuple[int, int, int], tuple[np.ndarray, ...]] = {}


def _mnist_subset(n_train: int, n_val: int, seed: int) -> tuple[np.ndarray, ...]:
    """``(X, y, Xv, yv)``: ``n_train`` random MNIST-10k training images and ``n_val`` validation
    images, flattened to (N, 784) float32 in [0, 1]; loaded once per process."""
    key = (n_train, n_val, seed)
    if key not in _MNIST_CACHE:
        from trainlab.data import load_mnist

        X, y = load_mnist("10k", "train", flatten=True)
        Xv, yv = load_mnist("10k", "val", flatten=True)
        _check_int("n_train", n_train, 10, len(X))
        _check_int("n_val", n_val, 10, len(Xv))
        rng = np.random.default_rng(seed)
        i, j = rng.permutation(len(X))[:n_train], rng.permutation(len(Xv))[:n_val]
        _MNIST_CACHE[key] = (X[i], y[i], Xv[j], yv[j])
    return _MNIST_CACHE[key]


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
               **model_kwargs: Any) -> Any:
    """Build ``trainlab.models.mlp(784, hidden, 10, **model_kwargs)`` and train it with SGD."""
    from trainlab.models import mlp
    from trainlab.train import train

    X, y, Xv, yv = _mnist_subset(spec.n_train, spec.n_val, spec.seed)
    model = mlp(784, hidden, 10, seed=spec.seed, **model_kwargs)
    history = train(model, (X, y), (Xv, yv), steps=spec.steps, batch_size=spec.batch_size,
                    lr=float(lr), optimizer="sgd", record_every=spec.record_every, stats=stats,
                    seed=spec.seed, progress=False)
    return model, history


def _run_summary(history: Any) -> dict[str, Any]:
    return {"final_train_loss": history.final("train_loss"),
            "final_val_loss": history.final("val_loss"),
            "final_val_acc": history.final("val_acc"),
            "diverged": history.diverged, "diverged_at": history.diverged_at}


def _curves_figure(histories: dict[str, Any], *, metrics: Sequence[str], side_by_side: bool,
                   title: str) -> Figure:
    import matplotlib.pyplot as plt

    from trainlab.plots import training_curves

    if side_by_side:
        fig, axs = plt.subplots(1, len(histories), figsize=(4.2 * len(histories), 3.2),
                                sharey=True, layout="constrained")
        for ax, (name, hist) in zip(np.ravel(axs), histories.items(), strict=True):
            training_curves({name: hist}, metrics=metrics[:1], axes=[ax], log_loss=True)
            ax.set_title(name)
    else:
        fig = training_curves(histories, metrics=metrics)
    fig.suptitle(title, fontsize=10)
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
    }


def init_training_explorer(*, scheme: str = "kaiming_normal", activation: str = "relu",
                           depth: int = 3, width: int = 128, lr: float = 0.1,
                           schemes: Sequence[str] = DEFAULT_SCHEMES,
                           activations: Sequence[str] = ("relu", "tanh", "sigmoid", "linear",
                                                         "selu"),
                           steps: int = 150, n_train: int = 2000, n_val: int = 500,
                           seed: int = 0) -> Explorer:
    """Train a small MLP for a few steps with the chosen initialisation; show its loss curve.

    Controls (all ``continuous_update=False``): ``scheme``, ``scale`` (1e-2..1e1, times the
    scheme's std), ``depth`` (1..8 hidden layers), ``width``, ``activation``, ``lr`` (SGD
    learning rate 1e-3..1e1). Model: ``trainlab.models.mlp(784, [width] * depth, 10, ...)``,
    trained by ``trainlab.train.train`` for ``steps`` SGD steps of 64 on ``n_train`` MNIST-10k
    images (a fraction of a second to ~2 s). ``last_result``: ``final_train_loss``,
    ``final_val_loss``, ``final_val_acc``, ``diverged``, ``diverged_at``, ``status``.
    """
    _check_choice("scheme", scheme, schemes)
    _check_choice("activation", activation, activations)
    spec = _RunSpec(n_train=n_train, n_val=n_val, steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = _training_controls(schemes, activations, scheme=scheme, activation=activation,
                                  depth=depth, width=width, lr=lr)

    def compute(scheme: str, scale: float, depth: int, width: int, activation: str,
                lr: float) -> dict[str, Any]:
        _, hist = _train_mlp(spec, hidden=[width] * depth, lr=lr, activation=activation,
                             init=scheme, init_scale=float(scale))
        res = {**_run_summary(hist), "history": hist, "label": f"{scheme} × {scale:.3g}"}
        res["status"] = hist.status if hist.diverged else "ok"
        res["summary"] = (f"train loss {res['final_train_loss']:.4g}, val acc "
                          f"{res['final_val_acc']:.3f}")
        return res

    def render(res: dict[str, Any]) -> Figure:
        return _curves_figure({res["label"]: res["history"]}, metrics=("loss", "acc"),
                              side_by_side=False, title=res["summary"])

    return Explorer(controls, compute, render, title="Initialisation and training")


def lr_explorer(*, lr: float = 0.1, activation: str = "relu", init: str = "kaiming_normal",
                depth: int = 3, width: int = 128, steps: int = 150, n_train: int = 2000,
                n_val: int = 500, seed: int = 0) -> Explorer:
    """The same MLP trained with and without batch norm at one learning rate, side by side.

    Control: ``lr`` (FloatLogSlider 1e-3..1e1, ``continuous_update=False``). Models:
    ``mlp(784, [width] * depth, 10, norm="none")`` and ``norm="bn"`` (BN before the
    non-linearity, Ioffe & Szegedy 2015), same init and seed, ``steps`` SGD steps on ``n_train``
    MNIST-10k images. A diverged run ends at its divergence step with "diverged at step k".
    ``last_result``: ``final_train_loss`` / ``final_val_acc`` / ``diverged`` /
    ``diverged_at`` as dicts ``{"no BN": ..., "BN": ...}``, and ``status``.
    """
    spec = _RunSpec(n_train=n_train, n_val=n_val, steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = {"lr": _log_slider("learning rate", lr, -3, 1)}
    runs = {"no BN": "none", "BN": "bn"}

    def compute(lr: float) -> dict[str, Any]:
        hists = {name: _train_mlp(spec, hidden=[width] * depth, lr=lr, activation=activation,
                                  init=init, norm=norm)[1] for name, norm in runs.items()}
        res: dict[str, Any] = {"histories": hists}
        for key in ("final_train_loss", "final_val_acc", "diverged", "diverged_at"):
            res[key] = {name: _run_summary(h)[key] for name, h in hists.items()}
        bad = [f"{name} at step {h.diverged_at}" for name, h in hists.items() if h.diverged]
        res["status"] = "diverged: " + ", ".join(bad) if bad else "ok"
        res["summary"] = f"lr {lr:.3g}: " + ", ".join(
            f"{n} loss {v:.4g}" for n, v in res["final_train_loss"].items())
        return res

    def render(res: dict[str, Any]) -> Figure:
        return _curves_figure(res["histories"], metrics=("loss",), side_by_side=True,
                              title=res["summary"])

    return Explorer(controls, compute, render, title="Learning rate with and without BN")


def keep_prob_data(n_train: int = 1000, n_val: int = 1000,
                   seed: int = 0) -> tuple[np.ndarray, ...]:
    """The fixed images the keep_prob explorer trains and validates on: ``(X, y, Xv, yv)``.

    ``X`` (n_train, 784) and ``Xv`` (n_val, 784) float32 in [0, 1] are random MNIST-10k training
    and validation images (a permutation drawn with ``np.random.default_rng(seed)``), ``y`` and
    ``yv`` their int64 labels. Loaded once per process; the same arguments give the same arrays.
    """
    return _mnist_subset(n_train, n_val, seed)


class _SplitEval:
    """Forward hook that splits the eval-mode outputs of ``train(..., val_data=train + val)``.

    :func:`trainlab.train.train` evaluates its ``val_data`` in eval mode at every record step,
    here in one batch (``eval_batch`` = all rows). Given the training images followed by the
    validation images, this hook takes each eval-mode output of exactly that many rows (other
    calls, e.g. train's two-row shape probe or training steps, are ignored) and records the mean
    cross-entropy ``-log softmax(f(x))[y]`` and the accuracy on each part separately.
    """

    def __init__(self, y_train: np.ndarray, y_val: np.ndarray) -> None:
        import torch

        self.labels = torch.from_numpy(np.concatenate([y_train, y_val]).astype(np.int64))
        self.n_train = len(y_train)
        self.rows: dict[str, list[float]] = {k: [] for k in
                                              ("train_loss", "train_acc", "val_loss", "val_acc")}

    def __call__(self, module: Any, _inputs: Any, output: Any) -> None:
        if module.training or len(output) != len(self.labels):
            return
        import torch.nn.functional as F

        logits = output.detach().double()
        losses = F.cross_entropy(logits, self.labels, reduction="none")
        hits = (logits.argmax(dim=1) == self.labels).double()
        for split, sl in (("train", slice(0, self.n_train)), ("val", slice(self.n_train, None))):
            self.rows[f"{split}_loss"].append(float(losses[sl].mean()))
            self.rows[f"{split}_acc"].append(float(hits[sl].mean()))


def keep_prob_run(keep_prob: float, *, hidden: list[int] | None = None,
                  n_train: int = 1000, n_val: int = 1000, steps: int = 500,
                  batch_size: int = 50, optimizer: str = "adam", lr: float = 1e-3,
                  record_every: int = 25, seed: int = 0) -> dict[str, Any]:
    """Train ``mlp(784, hidden, 10, keep_prob=keep_prob)`` and measure train and validation.

    Data: :func:`keep_prob_data` (``n_train`` training, ``n_val`` validation images). Training:
    :func:`trainlab.train.train`, ``steps`` minibatch steps of ``batch_size`` with
    ``optimizer``/``lr``. Every ``record_every`` steps and after the last one, both image sets go
    through the network in eval mode (dropout off, inverted dropout needs no rescaling), giving
    curves of the mean cross-entropy and the accuracy. Returns ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc`` (after the last step), ``gap_loss = val_loss - train_loss``,
    ``gap_acc = train_acc - val_acc``, ``min_val_loss`` and ``min_val_step`` (where validation
    loss was lowest), ``curves`` (dict of ``step`` and the four metrics, 1-D arrays),
    ``keep_prob`` and ``status`` ("ok" or the divergence message).
    """
    from trainlab.models import mlp
    from trainlab.train import train

    if isinstance(keep_prob, bool) or not isinstance(keep_prob, int | float | np.floating) \
            or not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")
    X, y, Xv, yv = keep_prob_data(n_train, n_val, seed)
    model = mlp(784, [512, 512] if hidden is None else hidden, 10, keep_prob=float(keep_prob),
                seed=seed)
    split = _SplitEval(y, yv)
    handle = model.register_forward_hook(split)
    try:
        hist = train(model, (X, y), (np.concatenate([X, Xv]), np.concatenate([y, yv])),
                     steps=steps, batch_size=min(batch_size, n_train), lr=float(lr),
                     optimizer=optimizer, record_every=record_every, stats=False, seed=seed,
                     eval_batch=len(X) + len(Xv), progress=False)
    finally:
        handle.remove()
    curves = {"step": hist.series("val_loss")[0]}
    curves.update({k: np.asarray(v, dtype=np.float64) for k, v in split.rows.items()})
    res: dict[str, Any] = {k: float(v[-1]) if v.size else math.nan
                           for k, v in curves.items() if k != "step"}
    best = int(np.argmin(curves["val_loss"])) if curves["val_loss"].size else 0
    res.update(keep_prob=float(keep_prob), curves=curves,
               gap_loss=res["val_loss"] - res["train_loss"],
               gap_acc=res["train_acc"] - res["val_acc"],
               min_val_loss=float(curves["val_loss"][best]) if curves["step"].size else math.nan,
               min_val_step=int(curves["step"][best]) if curves["step"].size else 0,
               status=hist.status if hist.diverged else "ok")
    return res


def keep_prob_explorer(*, keep_prob: float = 1.0,
                       hidden: list[int] | None = None,
                       n_train: int = 1000, n_val: int = 1000, steps: int = 500,
                       lr: float = 1e-3, optimizer: str = "adam", batch_size: int = 50,
                       record_every: int = 25, seed: int = 0) -> Explorer:
    """Dropout against over-fitting: train/validation curves and the gap, per ``keep_prob``.

    Control: ``keep_prob`` (FloatSlider 0.3..1.0, step 0.05, ``continuous_update=False``), the
    probability of KEEPING a hidden unit (torch's ``nn.Dropout(p=1 - keep_prob)``). Each value
    runs :func:`keep_prob_run`: by default ``mlp(784, [512] * 2, 10)`` (about 670,000 weights)
    trained with Adam (lr 1e-3) for 500 steps of 50 on a fixed set of 1,000 MNIST-10k images
    (25 epochs) and validated on 1,000 others (:func:`keep_prob_data`); 2-3 s per value on two
    cores. These defaults come from a sweep over width, data size, steps and optimizer: without
    dropout the training loss falls towards 0 while the validation loss passes its minimum
    early and climbs (over-confident wrong answers); lowering ``keep_prob`` keeps the training
    loss up and shrinks both gaps (Srivastava et al. 2014). At this scale validation accuracy
    itself moves by under a point.

    The figure: cross-entropy and accuracy of both sets against the step (eval mode), and the
    gaps ``gap_loss = val_loss - train_loss`` and ``gap_acc = train_acc - val_acc`` of every
    ``keep_prob`` visited so far (results are kept per value, so going back is instant).
    ``last_result``: everything :func:`keep_prob_run` returns, plus ``status``. ``compute``
    (``explorer.compute(keep_prob=...)``) is what the slider calls.
    """
    if not 0.3 <= keep_prob <= 1.0:
        raise ValueError(f"keep_prob must be in [0.3, 1], got {keep_prob!r}")
    run = {"hidden": hidden, "n_train": n_train, "n_val": n_val, "steps": steps, "lr": lr,
           "optimizer": optimizer, "batch_size": batch_size, "record_every": record_every,
           "seed": seed}
    seen: dict[float, dict[str, Any]] = {}
    controls = {"keep_prob": widgets.FloatSlider(
        value=keep_prob, min=0.3, max=1.0, step=0.05, description="keep_prob",
        continuous_update=False, readout_format=".2f")}

    def compute(keep_prob: float) -> dict[str, Any]:
        key = round(float(keep_prob), 4)
        if key not in seen:
            seen[key] = keep_prob_run(key, **run)
        res = dict(seen[key])
        res["summary"] = (f"keep_prob {key:.2f} (torch p = {1 - key:.2f}): loss gap "
                          f"{res['gap_loss']:.3f}, accuracy gap {res['gap_acc']:.3f} "
                          f"(train {res['train_acc']:.3f}, val {res['val_acc']:.3f})")
        res["seen"] = {k: (v["gap_loss"], v["gap_acc"]) for k, v in sorted(seen.items())}
        return res

    return Explorer(controls, compute, _keep_prob_figure, title="Dropout: train vs validation")


def _keep_prob_figure(res: dict[str, Any]) -> Figure:
    """Loss and accuracy curves (train / validation) and the gaps of the values seen so far."""
    fig = _new_figure(11.0, 3.3)
    grid = fig.add_gridspec(1, 3, width_ratios=(1.2, 1.2, 1.0), wspace=0.34, left=0.06,
                            right=0.98, top=0.84, bottom=0.16)
    ax_loss, ax_acc, ax_gap = (fig.add_subplot(grid[0, i]) for i in range(3))
    c = res["curves"]
    for ax, metric in ((ax_loss, "loss"), (ax_acc, "acc")):
        ax.plot(c["step"], c[f"train_{metric}"], "-", color=color(0), label="train")
        ax.plot(c["step"], c[f"val_{metric}"], "--", color=color(1), label="validation")
        ax.set_xlabel("step")
    ax_loss.set_yscale("log")
    ax_loss.plot([res["min_val_step"]], [res["min_val_loss"]], "v", color=color(1), ms=7,
                 label=f"lowest val loss {res['min_val_loss']:.3f}")
    ax_loss.set_ylabel("cross-entropy (eval mode)")
    ax_loss.legend(fontsize=8)
    ax_acc.set_ylabel("accuracy (eval mode)")
    ax_acc.set_ylim(max(0.0, min(0.8, float(np.nanmin(c["val_acc"])) - 0.02)), 1.005)
    ax_acc.legend(fontsize=8, loc="lower right")
    _draw_gaps(ax_gap, res)
    fig.suptitle(res["summary"], fontsize=10)
    return fig


def _draw_gaps(ax: Any, res: dict[str, Any]) -> None:
    kps = np.array(list(res["seen"]))
    gaps = np.array(list(res["seen"].values()))
    ax.plot(kps, gaps[:, 0], "o-", color=color(3), label="loss gap (val - train)")
    ax.plot(kps, gaps[:, 1], "s--", color=color(2), label="accuracy gap (train - val)")
    ax.plot([res["keep_prob"]] * 2, [res["gap_loss"], res["gap_acc"]], "o", ms=11,
            mfc="none", color="black", label="current")
    ax.set_xlim(0.27, 1.03)
    ax.set_ylim(0, max(0.1, float(np.nanmax(gaps)) * 1.15))
    ax.set_xlabel("keep_prob (values visited)")
    ax.set_ylabel("generalisation gap")
    ax.legend(fontsize=7, loc="center right")


def dead_relu_explorer(*, lr: float = 0.1, depth: int = 3, width: int = 128,
                       init: str = "kaiming_normal", steps: int = 150, n_train: int = 2000,
                       n_probe: int = 1000, seed: int = 0) -> Explorer:
    """Fraction of dead ReLU units after a short training run at a given learning rate.

    Control: ``lr`` (FloatLogSlider 1e-3..1e1, ``continuous_update=False``). A unit is dead
    when its activation is 0 for every one of ``n_probe`` training images (measured after
    training with ``trainlab.train.pre_activation_stats`` in eval mode). ``last_result``:
    ``dead`` (list, one fraction per hidden layer), ``dead_total`` (over all hidden units),
    ``final_train_loss``, ``diverged``, ``diverged_at``, ``status``.
    """
    spec = _RunSpec(n_train=n_train, n_val=min(500, n_probe), steps=steps, seed=seed,
                    batch_size=min(64, n_train))
    controls = {"lr": _log_slider("learning rate", lr, -3, 1)}

    def compute(lr: float) -> dict[str, Any]:
        from trainlab.train import pre_activation_stats

        model, hist = _train_mlp(spec, hidden=[width] * depth, lr=lr, activation="relu",
                                 init=init)
        model.eval()
        X = _mnist_subset(spec.n_train, spec.n_val, spec.seed)[0][:n_probe]
        dead = [float(s["dead"]) for s in pre_activation_stats(model, X)]
        res = {**_run_summary(hist), "dead": dead, "dead_total": float(np.mean(dead)),
               "history": hist, "status": hist.status if hist.diverged else "ok"}
        res["summary"] = f"dead ReLU units: {100 * res['dead_total']:.1f}%"
        return res

    def render(res: dict[str, Any]) -> Figure:
        return _dead_figure(res)

    return Explorer(controls, compute, render, title="Dead ReLUs and the learning rate")


def _dead_figure(res: dict[str, Any]) -> Figure:
    import matplotlib.pyplot as plt

    from trainlab.plots import training_curves

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.2), layout="constrained")
    layers = np.arange(1, len(res["dead"]) + 1)
    ax1.bar(layers, res["dead"], color=[color(i) for i in range(len(layers))])
    ax1.set_ylim(0, 1)
    ax1.set_xticks(layers)
    ax1.set_xlabel("hidden layer")
    ax1.set_ylabel("fraction of dead units")
    ax1.set_title(res["summary"])
    training_curves({"": res["history"]}, metrics=("loss",), split=("train",), axes=[ax2],
                    log_loss=True)
    return fig
