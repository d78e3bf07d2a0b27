"""Diagrams drawn by code: which entries of an activation tensor share normalisation statistics.

:func:`norm_axes_cube` draws the N x C x (H, W) cube of Wu & He (2018, figure 2) once per method:
batch norm, layer norm, instance norm and group norm. The cube's horizontal axis is the batch
N, its depth the channels C and its height the flattened spatial positions H, W. The shaded
cells are one set of entries normalised together by the same mean and variance.
:func:`shared_statistics_mask` returns that set as a boolean (N, C) array, so the picture can be
tested.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from trainlab.style import OKABE_ITO, text_size

__all__ = ["METHODS", "norm_axes_cube", "shared_statistics_mask"]

METHODS: dict[str, str] = {
    "batch": "Batch norm",
    "layer": "Layer norm",
    "instance": "Instance norm",
    "group": "Group norm",
}
"""Method key -> panel title, in Wu & He's order."""

_SHADE = OKABE_ITO["blue"]
_PLAIN = "#FFFFFF"
_EDGE = "#4D4D4D"
_DEPTH = (0.45, 0.32)


def _check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def shared_statistics_mask(method: str, n: int = 6, c: int = 6, groups: int = 2,
                           example: int = 0, channel: int = 0) -> np.ndarray:
    """Boolean (n, c) array: the (example, channel) columns whose H x W entries share one mean
    and one variance with entry (``example``, ``channel``) under ``method``.

    Every (n, c) column stands for all its H W spatial positions, which every method pools.
    - ``"batch"``: all examples, one channel:  mu_c over (N, H, W), mask[:, channel];
    - ``"layer"``: one example, all channels: mu_n over (C, H, W), mask[example, :];
    - ``"instance"``: one example, one channel: mu_nc over (H, W);
    - ``"group"``: one example, the C / G channels of ``channel``'s group: mu_ng over
      (C/G, H, W) with G = ``groups`` (must divide c).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    n = _check_positive_int(n, "n")
    c = _check_positive_int(c, "c")
    groups = _check_positive_int(groups, "groups")
    if c % groups:
        raise ValueError(f"groups must divide the number of channels c = {c}, got {groups}")
    if not 0 <= example < n:
        raise ValueError(f"example must be in [0, {n - 1}], got {example!r}")
    if not 0 <= channel < c:
        raise ValueError(f"channel must be in [0, {c - 1}], got {channel!r}")
    mask = np.zeros((n, c), dtype=bool)
    if method == "batch":
        mask[:, channel] = True
    elif method == "layer":
        mask[example, :] = True
    elif method == "instance":
        mask[example, channel] = True
    else:
        size = c // groups
        start = (channel // size) * size
        mask[example, start:start + size] = True
    return mask


def _column_faces(i: int, j: int, height: float) -> list[np.ndarray]:
    """Front, top and right faces (2-D polygons) of the column of example i, channel j:
    x = i, depth j drawn as an oblique shift by _DEPTH per channel, height ``height``."""
    dx, dy = _DEPTH
    ox, oy = i + j * dx, j * dy
    front = np.array([[ox, oy], [ox + 1, oy], [ox + 1, oy + height], [ox, oy + height]])
    top = np.array([[ox, oy + height], [ox + 1, oy + height], [ox + 1 + dx, oy + height + dy],
                    [ox + dx, oy + height + dy]])
    right = np.array([[ox + 1, oy], [ox + 1 + dx, oy + dy], [ox + 1 + dx, oy + height + dy],
                      [ox + 1, oy + height]])
    return [front, top, right]


def _draw_cube(ax: Axes, mask: np.ndarray, title: str, height: float) -> None:
    n, c = mask.shape
    for j in range(c - 1, -1, -1):
        for i in range(n):
            face_colour = _SHADE if mask[i, j] else _PLAIN
            for face, alpha in zip(_column_faces(i, j, height), (1.0, 0.8, 0.6), strict=True):
                ax.add_patch(Polygon(face, closed=True, facecolor=face_colour,
                                     edgecolor=_EDGE, linewidth=0.6, alpha=alpha))
    dx, dy = _DEPTH
    ax.annotate("", xy=(n, -0.45), xytext=(0, -0.45),
                arrowprops={"arrowstyle": "->", "color": _EDGE})
    ax.text(n / 2, -0.6, "N (batch)", ha="center", va="top", fontsize=text_size())
    ax.annotate("", xy=(-0.35, height), xytext=(-0.35, 0),
                arrowprops={"arrowstyle": "->", "color": _EDGE})
    ax.text(-0.5, height / 2, "H, W", ha="right", va="center", rotation=90,
            fontsize=text_size())
    x0, y0 = n + 0.25, 0.0
    ax.annotate("", xy=(x0 + c * dx, y0 + c * dy), xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": _EDGE})
    ax.text(x0 + c * dx / 2 + 0.2, y0 + c * dy / 2 - 0.1, "C", ha="left", va="top",
            fontsize=text_size())
    ax.set_title(title)
    ax.set_xlim(-1.0, n + c * dx + 1.2)
    ax.set_ylim(-1.2, height + c * dy + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")


def norm_axes_cube(methods: Sequence[str] = tuple(METHODS), *, n: int = 6, c: int = 6,
                   groups: int = 2, height: float = 3.0,
                   axes: Sequence[Axes] | np.ndarray | None = None) -> Figure:
    """Wu & He (2018)-style cube diagrams, one panel per normalisation method.

    Each panel is an (n examples) x (c channels) grid of columns whose height stands for the
    H x W spatial positions; the columns of :func:`shared_statistics_mask` for the last
    example (the one whose side faces are visible) and channel 0 (the front row) are shaded in
    the course blue. ``groups`` is G for group norm (must divide c).
    ``axes``: existing axes to draw on (at least ``len(methods)``); otherwise a new
    one-row figure. Returns the figure.
    """
    methods = list(methods)
    if not methods:
        raise ValueError("methods must name at least one of "
                         f"{', '.join(METHODS)}, got {methods!r}")
    masks = [shared_statistics_mask(m, n, c, groups, example=n - 1) for m in methods]
    if not (isinstance(height, int | float) and np.isfinite(height) and height > 0):
        raise ValueError(f"height must be a finite number > 0, got {height!r}")
    if axes is None:
        fig, grid = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 2.7),
                                 squeeze=False, layout="constrained")
        flat = list(grid.ravel())
    else:
        flat = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(flat) < len(methods) or not all(isinstance(a, Axes) for a in flat):
            raise ValueError(f"axes must hold at least {len(methods)} matplotlib Axes, got "
                             f"{len(flat)} item(s)")
        fig = flat[0].figure
    for ax, method, mask in zip(flat, methods, masks, strict=False):
        title = METHODS[method] + (f" (G = {groups})" if method == "group" else "")
        _draw_cube(ax, mask, title, float(height))
        ax.trainlab_description = _mask_description(mask)  # for alt text (trainlab.figdata)
    return fig


def _span(indices: np.ndarray, noun: str) -> str:
    first, last = int(indices.min()) + 1, int(indices.max()) + 1
    return f"{noun} {first}" if first == last else f"{noun}s {first}–{last}"


def _mask_description(mask: np.ndarray) -> str:
    """What a panel shows, in words: the grid and which of its columns share statistics."""
    rows, cols = np.nonzero(mask)
    n, c = mask.shape
    return (f"{n} examples × {c} channels; {int(mask.sum())} of {mask.size} columns shaded "
            f"({_span(rows, 'example')}, {_span(cols, 'channel')}) share one mean and variance")
