"""One colour-blind-safe look for every figure of the course.

The palette is Okabe & Ito's (2008) eight colours, distinguishable under the common forms of
colour blindness. Sequential maps use ``viridis`` and diverging ones ``cividis``-style ``RdBu``
is avoided in favour of ``PuOr`` (also safe).
"""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

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


def color(i: int) -> str:
    """The i-th colour of the course palette (wraps around)."""
    return PALETTE[i % len(PALETTE)]


def apply_style() -> None:
    """Set matplotlib defaults shared by every notebook: palette, sizes, grid, fonts."""
    mpl.rcParams.update({
        "axes.prop_cycle": cycler(color=PALETTE),
        "image.cmap": SEQUENTIAL_CMAP,
        "figure.figsize": (7.0, 4.0),
        "figure.dpi": 90,
        "savefig.dpi": 110,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "legend.frameon": False,
        "figure.constrained_layout.use": True,
    })
