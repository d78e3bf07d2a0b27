"""One colour-blind-safe look for every figure of the course, in a screen and a lecture size.

The palette is Okabe & Ito's (2008) eight colours, distinguishable under the common forms of
colour blindness. Sequential maps use ``viridis`` and diverging ones ``PuOr`` (also safe).

Two styles, one switch:

* ``"screen"`` (default): a laptop or a student's browser — 100 dpi, 11 pt text and up.
* ``"lecture"``: a projector seen from the back of a hall — 120 dpi, 14 pt text, thicker lines.

Choose with ``trainlab.style.use("lecture")`` or, before the set-up cell runs, the environment
variable ``TRAINLAB_STYLE=lecture``. Both styles print numbers as plain decimals: log axes label
``0.01, 0.1, 1, 10`` instead of ``10⁻²`` and ``2.42`` instead of ``2.42 × 10⁰`` (see
:func:`format_value` and :class:`PlainLogFormatter`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
from cycler import cycler
from matplotlib import scale as mscale
from matplotlib import ticker

OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
PALETTE: list[str] = [OKABE_ITO[k] for k in
                      ("blue", "orange", "green", "vermillion", "sky", "purple", "yellow", "black")]
SEQUENTIAL_CMAP = "viridis"
DIVERGING_CMAP = "PuOr"

STYLE_ENV = "TRAINLAB_STYLE"
"""Environment variable read by :func:`use` when called without a name (``screen``/``lecture``)."""



@dataclass(frozen=True)
class Style:
    """Sizes of one style. Font sizes in points, ``dpi`` in pixels per inch."""

    name: str
    dpi: int
    text: float          # ticks, legends, annotations: the smallest text in a figure
    label: float         # axis labels
    title: float         # axes titles and suptitles
    linewidth: float
    figsize: tuple[float, float]
    explorer_width_px: int   # width of a live explorer's figure


STYLES: dict[str, Style] = {
    "screen": Style("screen", dpi=100, text=11, label=12, title=13, linewidth=1.6,
                    figsize=(7.0, 4.0), explorer_width_px=960),
    "lecture": Style("lecture", dpi=120, text=14, label=15, title=16, linewidth=2.4,
                     figsize=(8.0, 4.5), explorer_width_px=1200),
}

_current: Style = STYLES["screen"]


def color(i: int) -> str:
    """The i-th colour of the course palette (wraps around)."""
    return PALETTE[i % len(PALETTE)]


def current() -> Style:
    """The style last applied by :func:`use` (``screen`` before any call)."""
    return _current


def text_size(kind: str = "text") -> float:
    """Font size in points of ``kind`` (``"text"`` for ticks, legends and annotations,
    ``"label"`` or ``"title"``) in the current style. Raises ValueError for another kind."""
    if kind not in ("text", "label", "title"):
        raise ValueError(f"kind must be 'text', 'label' or 'title', got {kind!r}")
    return float(getattr(_current, kind))


def format_value(x: float, digits: int = 3) -> str:
    """``x`` as a plain decimal with ``digits`` significant digits, trailing zeros dropped.

    ``0.01 -> "0.01"``, ``2.4213 -> "2.42"``, ``1500 -> "1500"``, ``1e-5 -> "0.00001"``.
    Magnitudes outside ``[1e-5, 1e6)`` would need many zeros and are written ``7e34`` or
    ``1.5e-7`` (no ``+``, no leading zeros in the exponent, no spaces: a status line can never
    break it in two). ``nan``, ``inf`` and ``-inf`` are spelt out. Raises ValueError unless
    ``1 <= digits <= 15``.
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 15:
        raise ValueError(f"digits must be an int in [1, 15], got {digits!r}")
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits - 1}e}")
    exponent = math.floor(math.log10(abs(rounded)))
    if -5 <= exponent < 6:
        decimals = max(digits - 1 - exponent, 0)
        text = f"{rounded:.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa = f"{rounded / 10.0 ** exponent:.{digits - 1}f}".rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent}"


class PlainLogFormatter(ticker.LogFormatter):
    """Log-axis tick labels as plain decimals (``0.01``, ``2``, ``300``); which ticks get a
    label is matplotlib's :class:`~matplotlib.ticker.LogFormatter` choice (minor ticks only
    when the axis spans few decades)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        label = super().__call__(x, pos)
        return format_value(x) if label else ""

    def format_ticks(self, values: Any) -> list[str]:
        """The labels of ``values`` with the fewest significant digits (3 to 6) that write
        every labelled tick exactly, else that tell them apart: on an axis spanning a few
        percent, minor ticks at 2.2975, 2.3 and 2.3025 must not all read ``2.3``."""
        labels = super().format_ticks(values)
        shown = [i for i, text in enumerate(labels) if text]
        if len(shown) < 2:
            return labels
        unique = None
        for digits in range(3, 7):
            texts = [format_value(values[i], digits) for i in shown]
            if all(math.isclose(float(t), values[i], rel_tol=1e-9)
                   for t, i in zip(texts, shown, strict=True)):
                unique = texts
                break
            if unique is None and len(set(texts)) == len(texts):
                unique = texts
        for i, text in zip(shown, unique or [], strict=False):
            labels[i] = text
        return labels


class PlainLogScale(mscale.LogScale):
    """matplotlib's ``"log"`` scale with :class:`PlainLogFormatter` tick labels; registered by
    :func:`use` under the name ``"log"``, so ``ax.set_yscale("log")``, ``semilogy`` and
    ``loglog`` use it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # matplotlib < 3.11 passes the axis first, >= 3.11 passes none (its *axis* parameter is
        # pending deprecation): accept both without a warning.
        super().__init__(*(args or (None,)), **kwargs)

    def set_default_locators_and_formatters(self, axis: Any) -> None:
        super().set_default_locators_and_formatters(axis)
        axis.set_major_formatter(PlainLogFormatter(self.base))
        axis.set_minor_formatter(PlainLogFormatter(self.base, labelOnlyBase=False))


def plain_ticks(ax: Any, which: str = "both") -> None:
    """Plain-decimal tick labels on ``ax``'s x, y or both axes, log or linear."""
    if which not in ("x", "y", "both"):
        raise ValueError(f"which must be 'x', 'y' or 'both', got {which!r}")
    axes = [ax.xaxis, ax.yaxis] if which == "both" else [getattr(ax, f"{which}axis")]
    for axis in axes:
        if axis.get_scale() == "log":
            base = axis.get_transform().base
            axis.set_major_formatter(PlainLogFormatter(base))
            axis.set_minor_formatter(PlainLogFormatter(base, labelOnlyBase=False))
        else:
            axis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: format_value(v)))


def explorer_figsize(height_ratio: float = 0.45) -> tuple[float, float]:
    """``(width, height)`` in inches of a live explorer's figure at :func:`explorer_dpi`:
    ``explorer_width_px`` wide (960 px on screen, 1200 px for a lecture; a 1400 px window shows
    either at full width) and ``height_ratio`` times as high. Raises ValueError unless
    ``0.1 <= height_ratio <= 2``."""
    if not (isinstance(height_ratio, int | float) and 0.1 <= height_ratio <= 2):
        raise ValueError(f"height_ratio must be in [0.1, 2], got {height_ratio!r}")
    width = _current.explorer_width_px / _current.dpi
    return (width, round(width * height_ratio, 3))


def explorer_dpi() -> int:
    """Pixels per inch for an explorer's PNG (the current style's dpi)."""
    return _current.dpi


def rc_params(name: str) -> dict[str, Any]:
    """The matplotlib rcParams of style ``name`` (``"screen"`` or ``"lecture"``)."""
    if name not in STYLES:
        raise ValueError(f"style must be one of {sorted(STYLES)}, got {name!r}")
    s = STYLES[name]
    return {
        "axes.prop_cycle": cycler(color=PALETTE),
        "image.cmap": SEQUENTIAL_CMAP,
        "figure.figsize": s.figsize,
        "figure.dpi": s.dpi,
        "savefig.dpi": s.dpi,
        "font.size": s.text,
        "xtick.labelsize": s.text,
        "ytick.labelsize": s.text,
        "legend.fontsize": s.text,
        "legend.title_fontsize": s.text,
        "axes.labelsize": s.label,
        "axes.titlesize": s.title,
        "figure.titlesize": s.title,
        "lines.linewidth": s.linewidth,
        "lines.markersize": 1.2 * s.linewidth + 4,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "figure.constrained_layout.use": True,
        "axes.formatter.useoffset": False,
        "axes.formatter.limits": (-5, 6),
    }


def use(name: str | None = None) -> Style:
    """Switch every later figure to style ``name`` (``"screen"`` or ``"lecture"``; ``None``
    reads ``TRAINLAB_STYLE``, default ``"screen"``) and register :class:`PlainLogScale`.
    Returns the :class:`Style`. Raises ValueError naming the valid styles."""
    global _current
    if name is None:
        name = os.environ.get(STYLE_ENV, "").strip().lower() or "screen"
    mpl.rcParams.update(rc_params(name))
    mscale.register_scale(PlainLogScale)
    _current = STYLES[name]
    return _current


def apply_style() -> None:
    """Set the matplotlib defaults shared by every notebook (the style named by
    ``TRAINLAB_STYLE``, ``screen`` if unset); see :func:`use`."""
    use()
