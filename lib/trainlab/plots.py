"""The course's figures, in one colour-blind-safe style (:mod:`trainlab.style`).

Every function draws on the axes it is given (``ax=`` / ``axes=``) or on a new figure, labels
every axis, and returns the :class:`matplotlib.figure.Figure`. None calls ``plt.show()``: a
notebook displays the returned figure, a test inspects it, a widget renders it to PNG.

Figures follow the papers the lessons discuss: per-layer activation histograms and std per layer
(Glorot & Bengio 2010; He et al. 2015), 15/50/85th percentile bands of a unit's input over
training (Ioffe & Szegedy 2015, figure 1), and update/data ratios per layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from trainlab.gradcheck import as_real_array
from trainlab.style import OKABE_ITO, SEQUENTIAL_CMAP, color, text_size

__all__ = [
    "activation_curves",
    "decision_boundary",
    "gd_path",
    "histogram_grid",
    "loss_surface",
    "percentile_bands",
    "std_per_layer",
    "training_curves",
    "update_ratio_chart",
]

_OVERFLOW_COLOR = OKABE_ITO["vermillion"]
_UNDERFLOW_COLOR = OKABE_ITO["blue"]
_NAN_COLOR = OKABE_ITO["black"]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _fig_ax(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> tuple[Figure, Axes]:
    """The figure of ``ax``, or a new figure with one axes."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return ax.figure, ax
    fig, new_ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, new_ax


def _fig_axes(axes: Sequence[Axes] | np.ndarray | None, n: int, *, ncols: int,
              panel: tuple[float, float] = (2.6, 2.3), sharey: bool = False,
              sharex: bool = False) -> tuple[Figure, list[Axes]]:
    """``n`` axes: the given ones (checked) or a new grid with ``ncols`` columns."""
    if axes is not None:
        flat = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(flat) < n:
            raise ValueError(f"axes must hold at least {n} Axes, got {len(flat)}")
        for a in flat:
            if not isinstance(a, Axes):
                raise TypeError(f"axes must hold matplotlib Axes, got {type(a).__name__}")
        return flat[0].figure, flat[:n]
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows),
                             sharey=sharey, sharex=sharex, squeeze=False, layout="constrained")
    flat = list(grid.ravel())
    for extra in flat[n:]:
        extra.set_visible(False)
    return fig, flat[:n]


def _limits(lim: Any, name: str) -> tuple[float, float]:
    """A pair ``(lo, hi)`` of finite numbers with lo < hi, else a ValueError naming ``name``."""
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (lo, hi) with lo < hi, got {lim!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be (lo, hi) of finite numbers with lo < hi, got {lim!r}")
    return lo, hi


def _point(p: Any, name: str) -> tuple[float, float]:
    """A pair ``(x, y)`` of finite numbers, else a ValueError naming ``name``."""
    try:
        x, y = (float(v) for v in p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a point (x, y), got {p!r}") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError(f"{name} must be a point of finite numbers, got {p!r}")
    return x, y


def _str_tuple(value: Any, name: str) -> tuple[str, ...]:
    """A single string or a sequence of strings as a tuple of strings."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a string or a sequence of strings, got {value!r}")
    return tuple(value)


def _legend(ax: Axes) -> None:
    """A legend when something on ``ax`` has a label (matplotlib warns otherwise)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


def _named(items: Any, what: str, default: str = "") -> dict[str, Any]:
    """A ``dict`` name -> item from a dict, or ``{default: items}`` for a single item."""
    if isinstance(items, Mapping):
        if len(items) == 0:
            raise ValueError(f"{what} must not be empty")
        return {str(k): v for k, v in items.items()}
    return {default: items}


_MARKERS = ("o", "s", "^", "D", "v", "P")
_LINESTYLES = ("-", "--", "-.", ":")


def _every(n: int, run: int = 0) -> tuple[int, int]:
    """``markevery`` for run number ``run`` of a line with n points: about 12 markers per line,
    shifted from run to run so that the markers of coinciding lines do not cover each other."""
    step = max(1, n // 12)
    return (run * max(1, step // 3)) % step, step


def _edge_markers(ax: Axes, x: np.ndarray, y: np.ndarray, col: str, *, log: bool) -> set[str]:
    """Mark entries of ``y`` that cannot be drawn at the axes edge; return the kinds seen.

    +inf -> triangle at the top edge, 0 (on a log axis) or -inf -> triangle at the bottom edge,
    nan -> cross at the top edge.
    """
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    kinds = {
        "overflow": (np.isposinf(y), 0.97, "^", _OVERFLOW_COLOR),
        "underflow": (np.isneginf(y) | ((y <= 0) & log & np.isfinite(y)), 0.03, "v",
                      _UNDERFLOW_COLOR),
        "nan": (np.isnan(y), 0.97, "X", _NAN_COLOR),
    }
    seen = set()
    for kind, (mask, ypos, marker, edge) in kinds.items():
        if mask.any():
            seen.add(kind)
            ax.scatter(x[mask], np.full(int(mask.sum()), ypos), transform=trans, marker=marker,
                       s=70, color=col, edgecolors=edge, linewidths=1.5, zorder=5, clip_on=False)
    return seen


_EDGE_LEGEND = {
    "overflow": ("^", _OVERFLOW_COLOR, "overflow → inf (top edge)"),
    "underflow": ("v", _UNDERFLOW_COLOR, "underflow → 0 (bottom edge)"),
    "nan": ("X", _NAN_COLOR, "nan (top edge)"),
}


# --------------------------------------------------------------------------------------------
# activation statistics
# --------------------------------------------------------------------------------------------
def histogram_grid(arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray], *, bins: int = 40,
                   titles: Sequence[str] | None = None, xlabel: str = "activation value",
                   range: tuple[float, float] | None = None,
                   share_y: bool = False, ncols: int = 6,
                   axes: Sequence[Axes] | np.ndarray | None = None,
                   stats: str = "box") -> Figure:
    """One histogram per layer with its mean and std written in the panel.

    ``arrays``: a list of arrays (any shape, flattened; panel titles "layer 1", "layer 2", ...)
    or a dict title -> array. Non-finite entries are left out of the histogram and counted in
    the panel ("3 non-finite"). ``range=(lo, hi)`` fixes a common x-range; by default each
    panel uses the range of its own finite values. Mean and std are of the finite values:
    ``mean = sum(a) / n``, ``std = sqrt(sum((a - mean)^2) / n)``. ``stats="box"`` writes
    them in a box in the panel's upper right corner; ``stats="title"`` adds them to the
    panel's title instead, so they cannot cover a peak of the histogram.
    """
    if stats not in ("box", "title"):
        raise ValueError(f"stats must be 'box' or 'title', got {stats!r}")
    if isinstance(arrays, str) or not (isinstance(arrays, Mapping)
                                       or hasattr(arrays, "__iter__")):
        raise TypeError(f"arrays must be a list of arrays or a dict title -> array, got "
                        f"{type(arrays).__name__}")
    named = dict(arrays) if isinstance(arrays, Mapping) else None
    values = list(named.values()) if named is not None else list(arrays)
    if len(values) == 0:
        raise ValueError("arrays must hold at least one array, got an empty collection")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    if range is not None:
        range = _limits(range, "range")
    values = [as_real_array(a, f"arrays[{i}]") for i, a in enumerate(values)]
    if titles is None:
        titles = (list(named) if named is not None
                  else [f"layer {i + 1}" for i in np.arange(len(values))])
    if len(titles) != len(values):
        raise ValueError(f"titles must have one entry per array ({len(values)}), "
                         f"got {len(titles)}")
    fig, axs = _fig_axes(axes, len(values), ncols=ncols, sharey=share_y)
    for i, (ax, a, title) in enumerate(zip(axs, values, titles, strict=True)):
        label = _histogram_panel(ax, a, bins=int(bins), value_range=range, col=color(i))
        if stats == "box":
            ax.text(0.97, 0.95, label, transform=ax.transAxes, ha="right", va="top",
                    fontsize=text_size(),
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                          "alpha": 0.8})
            ax.set_title(str(title))
        else:
            ax.set_title(f"{title}\n{label.replace(chr(10), ', ')}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
    return fig


def _histogram_panel(ax: Axes, a: np.ndarray, *, bins: int,
                     value_range: tuple[float, float] | None, col: str) -> str:
    flat = a.ravel()
    finite = flat[np.isfinite(flat)].astype(np.float64)
    n_bad = flat.size - finite.size
    if finite.size:
        lo, hi = value_range if value_range is not None else (finite.min(), finite.max())
        if hi - lo <= 1e-9 * max(abs(lo), abs(hi)):
            pad = 0.5 * max(1.0, abs(lo), abs(hi))
            lo, hi = lo - pad, hi + pad
        counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
        ax.stairs(counts, edges, fill=True, color=col, alpha=0.85)
        label = f"mean {finite.mean():.3g}\nstd {finite.std():.3g}"
    else:
        label = "no finite values"
    if n_bad:
        label += f"\n{n_bad} non-finite"
    return label


def std_per_layer(stds: Mapping[str, Sequence[float]] | Sequence[float], *, log: bool = True,
                  ax: Axes | None = None, ylabel: str = "std of activations",
                  xlabel: str = "layer") -> Figure:
    """Std of the activations vs layer index (1, 2, ...) for one or several runs.

    ``stds``: a list of per-layer stds (one run) or a dict run name -> list. With ``log=True``
    the y axis is logarithmic. Each run has its own colour, marker and line style, so runs
    that lie on top of each other stay visible. Values that cannot be drawn are marked, never
    dropped silently:
    ``inf`` (overflow) by a triangle at the top edge, ``0`` on a log axis (underflow) by a
    triangle at the bottom edge, ``nan`` by a cross at the top edge; the legend says which.
    """
    if not isinstance(stds, Mapping) and (isinstance(stds, str)
                                          or not hasattr(stds, "__len__")):
        raise TypeError(f"stds must be a list of per-layer stds or a dict run name -> list, "
                        f"got {stds!r}")
    if (not isinstance(stds, Mapping) and len(stds) > 0
            and np.ndim(next(iter(stds))) == 1):
        stds = {f"run {i + 1}": s for i, s in enumerate(stds)}
    runs = _named(stds, "stds")
    fig, ax = _fig_ax(ax)
    seen: set[str] = set()
    finite_vals: list[np.ndarray] = []
    n_layers = 1
    for i, (name, run) in enumerate(runs.items()):
        y = as_real_array(run, f"stds[{name!r}]").ravel()
        x = np.arange(1, y.size + 1)
        ok = np.isfinite(y) & ((y > 0) if log else True)
        finite_vals.append(y[ok])
        n_layers = max(n_layers, y.size)
        ax.plot(x, np.where(ok, y, np.nan), marker=_MARKERS[i % len(_MARKERS)],
                ls=_LINESTYLES[i % len(_LINESTYLES)], ms=4, markevery=_every(y.size, i),
                color=color(i), label=name or None)
        seen |= _edge_markers(ax, x, y, color(i), log=log)
    _set_std_limits(ax, np.concatenate(finite_vals), log=log)
    ax.set_xlim(0.5, n_layers + 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], ls="none", marker=m, mec=e, mfc="white", mew=1.5, label=t)
                for k, (m, e, t) in _EDGE_LEGEND.items() if k in seen]
    if handles:                 # beside the panel: the curves fill the whole plotting area
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)
    return fig


def _set_std_limits(ax: Axes, vals: np.ndarray, *, log: bool) -> None:
    if log:
        ax.set_yscale("log")
        if vals.size == 0:
            ax.set_ylim(1e-1, 1e1)
        else:
            lo, hi = vals.min(), vals.max()
            ax.set_ylim(lo / 3.0, hi * 3.0)
    elif vals.size == 0:
        ax.set_ylim(0.0, 1.0)


def percentile_bands(history_or_series: Any, layer: Any = None, *,
                     percentiles: Sequence[int] = (15, 50, 85),
                     axes: Sequence[Axes] | np.ndarray | None = None,
                     ylabel: str = "input to the layer") -> Figure:
    """15/50/85th percentiles of one layer's inputs over training, one panel per run.

    The style of Ioffe & Szegedy (2015), figure 1(b, c): without batch norm the distribution
    drifts during training, with batch norm it stays put. ``history_or_series`` is one of: a
    History or a dict run name -> History (``.series(f"pre_p{q}", layer=layer) -> (steps,
    values)``, percentiles of the pre-activation), a series dict ``{"step": [...], "p15": [...],
    "p50": [...], "p85": [...]}`` (keys ``pre_p15``, ... also accepted) or a dict run name ->
    series dict. Panels share the y axis so runs compare directly.
    """
    if len(percentiles) == 0:
        raise ValueError("percentiles must hold at least one value, got ()")
    runs = (_named(history_or_series, "history_or_series", default="run")
            if not _is_series(history_or_series) else {"run": history_or_series})
    fig, axs = _fig_axes(axes, len(runs), ncols=len(runs), panel=(4.0, 3.0), sharey=True)
    for ax, (name, run) in zip(axs, runs.items(), strict=True):
        for j, q in enumerate(percentiles):
            steps, vals = _percentile_series(run, layer, q)
            ls = "-" if q == 50 else "--"
            ax.plot(steps, vals, ls=ls, color=color(j), label=f"{q}th percentile")
        ax.set_title(name if layer is None else f"{name} — layer {layer}")
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
    axs[0].legend(loc="best")
    return fig


def _is_series(obj: Any) -> bool:
    return isinstance(obj, Mapping) and "step" in obj


def _percentile_series(run: Any, layer: Any, q: int) -> tuple[np.ndarray, np.ndarray]:
    if _is_series(run):
        key = next((k for k in (f"p{q}", f"pre_p{q}") if k in run), None)
        if key is None:
            raise ValueError(f"series has no 'p{q}' or 'pre_p{q}' entry; keys are {sorted(run)}")
        steps = as_real_array(run["step"], "series['step']").ravel()
        vals = as_real_array(run[key], f"series[{key!r}]").ravel()
        if steps.shape != vals.shape:
            raise ValueError(f"series[{key!r}] must have one value per step ({steps.size}), "
                             f"got {vals.size}")
        return steps, vals
    if not hasattr(run, "series"):
        raise TypeError("history_or_series must be a History (with .series), a series dict "
                        f"with a 'step' key, or a dict of those; got {type(run).__name__}")
    steps, vals = run.series(f"pre_p{q}", layer=layer)
    return np.asarray(steps), np.asarray(vals, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
_METRIC_LABELS = {"loss": "loss", "acc": "accuracy"}


def training_curves(histories: Mapping[str, Any] | Any, *, metrics: Sequence[str] = ("loss", "acc"),
                    split: Sequence[str] = ("train", "val"),
                    axes: Sequence[Axes] | np.ndarray | None = None,
                    log_loss: bool = False) -> Figure:
    """Loss / accuracy vs training step for several runs, one panel per metric.

    ``histories``: dict run name -> History (or one History) whose ``.curves`` is a list of
    dicts with ``step`` and ``{split}_{metric}`` keys. Colour and marker = run, line style =
    split (train solid, val dashed); the markers, and earlier runs drawn wider underneath later
    ones, keep runs that coincide visible. A diverged
    run (``.diverged``, ``.diverged_at``) is drawn up to its last
    finite value and marked with a cross and the text "diverged at step k".
    """
    split = _str_tuple(split, "split")
    metrics = _str_tuple(metrics, "metrics")
    for s in split:
        if s not in ("train", "val"):
            raise ValueError(f"split entries must be 'train' or 'val', got {s!r}")
    if len(metrics) == 0:
        raise ValueError("metrics must hold at least one of 'loss', 'acc', got ()")
    for m in metrics:
        if m not in _METRIC_LABELS:
            raise ValueError(f"metrics entries must be one of {tuple(_METRIC_LABELS)}, "
                             f"got {m!r}")
    runs = _named(histories, "histories", default="run")
    fig, axs = _fig_axes(axes, len(metrics), ncols=len(metrics), panel=(4.5, 3.2))
    for ax, metric in zip(axs, metrics, strict=True):
        for i, (name, hist) in enumerate(runs.items()):
            for s in split:
                _curve(ax, hist, f"{s}_{metric}", color(i), "-" if s == "train" else "--",
                       f"{name} {s}".strip(), marker=_MARKERS[i % len(_MARKERS)], run=i,
                       under=len(runs) - 1 - i)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{_METRIC_LABELS.get(metric, metric)}")
        if log_loss and metric == "loss":
            ax.set_yscale("log")
        _legend(ax)
    return fig


def _curve(ax: Axes, hist: Any, key: str, col: str, ls: str, label: str,
           marker: str | None = None, run: int = 0, under: int = 0) -> None:
    """One run's curve; ``under`` = how many later runs may lie on top of it: each widens its
    line and marker so that a run hidden under an identical later one still shows as a rim."""
    curves = getattr(hist, "curves", None)
    if curves is None:
        raise TypeError(f"histories must map names to History objects with .curves, "
                        f"got {type(hist).__name__}")
    if not all(isinstance(c, Mapping) and "step" in c for c in curves):
        raise TypeError("histories must hold History objects whose .curves are dicts with a "
                        "'step' key")
    rows = [c for c in curves if c.get(key) is not None]
    if not rows or not np.isfinite(np.array([c[key] for c in rows], dtype=np.float64)).any():
        return
    steps = np.array([c["step"] for c in rows], dtype=np.float64)
    vals = np.array([c[key] for c in rows], dtype=np.float64)
    diverged = bool(getattr(hist, "diverged", False))
    at = getattr(hist, "diverged_at", None) if diverged else None
    ok = np.isfinite(vals) & ((steps <= at) if at is not None else True)
    lw = mpl.rcParams["lines.linewidth"] * (1.0 + 0.6 * under)
    ax.plot(steps[ok], vals[ok], ls=ls, color=col, label=label, marker=marker, ms=4 + 2 * under,
            lw=lw, markevery=_every(int(ok.sum()), run), mfc="white" if ls != "-" else col,
            zorder=2 + 0.01 * run)
    if diverged and ls == "-":
        planned = getattr(hist, "config", {}).get("steps")
        _divergence_marker(ax, steps[ok], vals[ok], at, col, planned)


def _divergence_marker(ax: Axes, steps: np.ndarray, vals: np.ndarray, at: Any, col: str,
                       planned: Any = None) -> None:
    """A cross at the last finite value and "diverged at step k" beside it: to its right when
    the run stopped in the first half of its ``planned`` steps (written to the left, an early
    divergence's text would run over the axis labels), else to its left."""
    k = at if at is not None else (steps[-1] if steps.size else 0)
    y = vals[-1] if vals.size else 0.0
    ax.plot([k], [y], marker="X", ms=10, color=col, mec=_OVERFLOW_COLOR, mew=1.5, ls="none")
    early = isinstance(planned, int | np.integer) and planned > 0 and k < 0.5 * planned
    ax.annotate(f"diverged at step {int(k)}", (k, y), xytext=(8 if early else -6, 8),
                textcoords="offset points", ha="left" if early else "right",
                fontsize=text_size(), color=_OVERFLOW_COLOR)


def update_ratio_chart(history: Any, *, ax: Axes | None = None, reference: float = 1e-3) -> Figure:
    """log10 of the update/data ratio ``||lr * grad|| / ||W||`` per layer over training.

    ``history.series("update_ratio", layer=L) -> (steps, ratios)`` for each layer ``L`` found in
    ``history.records``. A dashed line marks ``log10(reference)`` (the rule of thumb: updates of
    about 1e-3 of the weights' scale). Zero ratios (no update) are left out.
    """
    if isinstance(reference, bool) or not isinstance(reference, int | float | np.floating) \
            or not 0 < reference < np.inf:
        raise ValueError(f"reference must be a finite number > 0, got {reference!r}")
    records = getattr(history, "records", None)
    if records is None or not hasattr(history, "series"):
        raise TypeError(f"history must be a History with .records and .series, "
                        f"got {type(history).__name__}")
    if any("update_ratio" in r and "layer" not in r for r in records):
        raise ValueError("history.records with an 'update_ratio' must also name their 'layer'")
    layers = list(dict.fromkeys(r["layer"] for r in records if "update_ratio" in r))
    fig, ax = _fig_ax(ax)
    for i, layer in enumerate(layers):
        steps, vals = history.series("update_ratio", layer=layer)
        vals = np.asarray(vals, dtype=np.float64)
        ok = np.isfinite(vals) & (vals > 0)
        ax.plot(np.asarray(steps)[ok], np.log10(vals[ok]), color=color(i), label=f"layer {layer}")
    ax.axhline(np.log10(reference), color="0.3", ls="--", lw=1,
               label=f"reference {reference:g}")
    ax.set_xlabel("training step")
    ax.set_ylabel("log10(update / data ratio)")
    _legend(ax)
    return fig


# --------------------------------------------------------------------------------------------
# activations, decision regions, loss surfaces
# --------------------------------------------------------------------------------------------
_ACTIVATION_TITLES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU",
                      "leaky_relu": "leaky ReLU", "elu": "ELU", "selu": "SELU",
                      "softplus": "softplus", "linear": "identity"}


def activation_curves(names: Sequence[str] | str, x: np.ndarray | None = None, *,
                      axes: Sequence[Axes] | np.ndarray | None = None,
                      params: Mapping[str, Mapping[str, float]] | None = None) -> Figure:
    """Each activation ``f(x)`` (solid) with its derivative ``f'(x)`` (dashed), one panel each.

    ``x``: 1-D grid (default ``np.linspace(-5, 5, 401)``). Values come from
    ``trainlab.activations.curve(name, x, **params[name]) -> (y, dy)``; ``params`` maps a name
    to its parameters, e.g. ``{"leaky_relu": {"alpha": 0.1}}``, which the title then shows
    ("leaky ReLU (alpha = 0.1)"). Titles use the usual names (ReLU, ELU, ...).
    """
    from trainlab import activations

    names = _str_tuple(names, "names")
    if len(names) == 0:
        raise ValueError("names must hold at least one activation name, got an empty list")
    params = {} if params is None else dict(params)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"params must only name activations that are drawn ({list(names)}), "
                         f"got {unknown}")
    x = np.linspace(-5.0, 5.0, 401) if x is None else as_real_array(x, "x")
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be a 1-D grid of at least 2 points, got shape {x.shape}")
    fig, axs = _fig_axes(axes, len(names), ncols=min(len(names), 4), panel=(3.0, 2.6))
    for ax, name in zip(axs, names, strict=True):
        kw = dict(params.get(name, {}))
        y, dy = activations.curve(name, x, **kw)
        ax.plot(x, y, color=color(0), label="f(x)")
        ax.plot(x, dy, color=color(1), ls="--", label="derivative f'(x)")
        ax.axhline(0.0, color="0.6", lw=0.8)
        title = _ACTIVATION_TITLES.get(name, name)
        if kw:
            title += " (" + ", ".join(f"{k} = {v:g}" for k, v in kw.items()) + ")"
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x), f'(x)")
    if axes is None:            # our own grid: one legend above the panels, off every curve
        handles, labels = axs[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=2)
    else:
        axs[0].legend(loc="best")
    return fig


def decision_boundary(predict_fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                      y: np.ndarray, *, ax: Axes | None = None, title: str | None = None,
                      resolution: int = 200, padding: float = 0.5) -> Figure:
    """Decision regions of a 2-D classifier with the data points on top.

    ``predict_fn`` maps a grid of points, shape (m, 2), to class ids (m,) or class
    probabilities (m, C) (argmax taken). ``X``: (n, 2), ``y``: (n,) integer labels. The grid
    covers the data's bounding box widened by ``padding`` on each side.
    """
    X = as_real_array(X, "X")
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] < 1:
        raise ValueError(f"X must have shape (n, 2) with n >= 1, got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must be finite, got nan or inf entries")
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    if isinstance(padding, bool) or not isinstance(padding, int | float | np.floating) \
            or not 0 <= padding < np.inf:
        raise ValueError(f"padding must be a finite number >= 0, got {padding!r}")
    fig, ax = _fig_ax(ax, figsize=(4.5, 4.0))
    xx, yy = np.meshgrid(np.linspace(X[:, 0].min() - padding, X[:, 0].max() + padding, resolution),
                         np.linspace(X[:, 1].min() - padding, X[:, 1].max() + padding, resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    pred = _class_ids(as_real_array(predict_fn(grid), "predict_fn's output"), grid.shape[0])
    classes = np.unique(np.concatenate([np.unique(y), np.unique(pred)])).astype(int)
    cols = [color(int(c)) for c in classes]
    lookup = np.searchsorted(classes, pred).reshape(xx.shape)
    ax.contourf(xx, yy, lookup, levels=np.arange(len(classes) + 1) - 0.5,
                colors=cols, alpha=0.25)
    for c in np.unique(y).astype(int):
        ax.scatter(X[y == c, 0], X[y == c, 1], s=14, color=color(c), edgecolors="white",
                   linewidths=0.4, label=f"class {c}")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)
    _legend(ax)
    return fig


def _class_ids(pred: np.ndarray, m: int) -> np.ndarray:
    if not np.isfinite(pred).all():
        raise ValueError("predict_fn must return finite class ids or probabilities, got nan or "
                         "inf")
    if pred.ndim == 2 and pred.shape[0] == m:
        return pred.argmax(axis=1) if pred.shape[1] > 1 else (pred[:, 0] > 0.5).astype(int)
    if pred.shape == (m,):
        return np.rint(pred).astype(int)
    raise ValueError(f"predict_fn must return shape ({m},) or ({m}, C) for a ({m}, 2) grid, "
                     f"got {pred.shape}")


def loss_surface(loss_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 xlim: tuple[float, float] = (-2.0, 2.0), ylim: tuple[float, float] = (-2.0, 2.0),
                 *, resolution: int = 150, levels: int | Sequence[float] = 25, log: bool = False,
                 ax: Axes | None = None, path: np.ndarray | None = None,
                 labels: tuple[str, str] = ("w1", "w2"),
                 minimum: tuple[float, float] | None = None, cax: Axes | None = None) -> Figure:
    """Contour plot of a 2-D loss ``L(w1, w2)``, optionally with an optimisation path on top.

    ``loss_fn(W1, W2)`` is evaluated elementwise on meshgrid arrays of shape
    (resolution, resolution). ``log=True`` contours ``log10(L)`` (for ill-conditioned bowls).
    ``levels``: the number of contour levels, or the level values themselves (increasing;
    in log10 units when ``log=True``) - pass the same values to several panels to give them
    one colour scale. ``path``: (T, 2) iterates drawn with :func:`gd_path`. ``minimum``: the
    point ``(w1, w2)`` of the true minimum, marked with a labelled plus. ``cax``: the axes for
    the colour bar (``None``: taken from ``ax``'s space).
    """
    xlim, ylim = _limits(xlim, "xlim"), _limits(ylim, "ylim")
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer) \
            or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    if not isinstance(levels, int | np.integer) or isinstance(levels, bool):
        lv = as_real_array(levels, "levels")
        if lv.ndim != 1 or lv.size < 2 or not np.isfinite(lv).all() or np.any(np.diff(lv) <= 0):
            raise ValueError(f"levels must be an int or an increasing 1-D array of at least 2 "
                             f"finite values, got {levels!r}")
        levels = lv
    elif levels < 1:
        raise ValueError(f"levels must be a positive int, got {levels!r}")
    fig, ax = _fig_ax(ax, figsize=(4.8, 4.2))
    w1, w2 = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    z = np.asarray(loss_fn(w1, w2), dtype=np.float64)
    if z.shape != w1.shape:
        raise ValueError(f"loss_fn must return shape {w1.shape} for meshgrid inputs, got {z.shape}")
    if log:
        z = np.log10(np.maximum(z, np.finfo(np.float64).tiny))
    cs = ax.contourf(w1, w2, z, levels=levels, cmap=SEQUENTIAL_CMAP, extend="both")
    if cax is not None and not isinstance(cax, Axes):
        raise TypeError(f"cax must be a matplotlib Axes or None, got {type(cax).__name__}")
    fig.colorbar(cs, ax=None if cax is not None else ax, cax=cax,
                 label="log10(loss)" if log else "loss")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if minimum is not None:
        ax.plot(*_point(minimum, "minimum"), "P", color=OKABE_ITO["sky"], ms=11, mec="black",
                ls="none", label="true minimum", zorder=6)
    if path is not None:
        gd_path(path, ax=ax)
    elif minimum is not None:
        ax.legend(loc="best")
    return fig


def gd_path(path: np.ndarray, *, ax: Axes | None = None, label: str = "gradient descent",
            col: str | None = None) -> Figure:
    """An optimisation path ``w_0, w_1, ..., w_T`` (shape (T+1, 2)) as connected dots.

    The start is a square, the end a star, both named in the legend ("end after T steps").
    Draw it on top of :func:`loss_surface`.
    """
    path = as_real_array(path, "path")
    if path.ndim != 2 or path.shape[1] != 2 or path.shape[0] < 1:
        raise ValueError(f"path must have shape (T, 2) with T >= 1, got {path.shape}")
    fig, ax = _fig_ax(ax)
    col = col or OKABE_ITO["vermillion"]
    ax.plot(path[:, 0], path[:, 1], "-o", ms=3, color=col, label=label)
    ax.plot(*path[0], "s", color=col, ms=7, ls="none", label="start")
    ax.plot(*path[-1], "*", color=col, ms=12, mec="black", ls="none",
            label=f"end after {path.shape[0] - 1} steps")
    if not ax.get_xlabel():
        ax.set_xlabel("w1")
    if not ax.get_ylabel():
        ax.set_ylabel("w2")
    ax.legend(loc="best")
    return fig
