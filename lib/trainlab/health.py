"""Is a network healthy? The thresholds the lessons' claims and the explorers' status lines share.

One place says when a signal has *vanished* or *exploded*, when a layer's units are *dead* or
*saturated*, when an accuracy is *at chance* and when a run has *diverged*; a lesson's claim and
an explorer's status line that name one of these use the same threshold, so the words mean the
same thing in the prose, in the printed verdict and under the slider.

Each ``*_problem`` function returns ``None`` when it sees nothing wrong, else a short text that
names what it saw and the threshold (for a status line); :func:`status` joins them into
``"ok"`` or ``"vanished: ...; dead units: ..."``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["CHANCE_MARGIN", "DEAD_FRACTION", "DIVERGED_FACTOR", "EXPLODED_RATIO",
           "SATURATED_FRACTION", "VANISHED_RATIO", "at_chance", "chance_problem", "dead_problem",
           "diverged", "diverged_problem", "saturated_problem", "signal_problem", "status"]

#: a signal has vanished when its std falls below this fraction of the input's std
VANISHED_RATIO = 1e-2
#: a signal has exploded when its std grows above this multiple of the input's std
EXPLODED_RATIO = 1e2
#: a layer is "mostly dead" when more than this fraction of its ReLUs output 0 on every input
DEAD_FRACTION = 0.5
#: a tanh/sigmoid layer is "saturated" when more than this fraction of its outputs sit in the flat
#: tails (|tanh| > 0.99, sigmoid outside [0.01, 0.99]), where the local slope is below 0.02
SATURATED_FRACTION = 0.5
#: an accuracy is "at chance" when it is below 1/classes plus this margin
CHANCE_MARGIN = 0.05
#: a run has diverged when its loss is not finite or exceeds this multiple of its first loss
DIVERGED_FACTOR = 10.0


def _num(x: float) -> str:
    x = float(x)
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    return f"{x:.1e}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def signal_problem(stds: Sequence[float], input_std: float = 1.0, what: str = "activation",
                   reference: str = "input std") -> str | None:
    """``stds``: the signal's std layer by layer. Vanished when a layer's std is below
    ``VANISHED_RATIO × input_std`` (0 included), exploded when above
    ``EXPLODED_RATIO × input_std`` or not finite; names the first such layer (1-based).
    ``reference`` names what ``input_std`` is the std of (for a gradient: the gradient at the
    output)."""
    arr = np.asarray(stds, dtype=float).reshape(-1)
    if input_std <= 0 or not np.isfinite(input_std):
        raise ValueError(f"input_std must be a positive finite number, got {input_std!r}")
    for i, s in enumerate(arr, start=1):
        if not np.isfinite(s) or s > EXPLODED_RATIO * input_std:
            return (f"exploded: {what} std {_num(s)} at layer {i} "
                    f"(> {EXPLODED_RATIO:g} × {reference} {_num(input_std)})")
        if s < VANISHED_RATIO * input_std:
            return (f"vanished: {what} std {_num(s)} at layer {i} "
                    f"(< {VANISHED_RATIO:g} × {reference} {_num(input_std)})")
    return None


def dead_problem(dead_fractions: Sequence[float]) -> str | None:
    """``dead_fractions``: per layer, the fraction of ReLU units that output 0 on every input.
    A problem when any layer's fraction exceeds ``DEAD_FRACTION``."""
    arr = np.asarray(dead_fractions, dtype=float).reshape(-1)
    bad = [(i, f) for i, f in enumerate(arr, start=1) if f > DEAD_FRACTION]
    if not bad:
        return None
    where = ", ".join(f"{100 * f:.0f} % of layer {i}" for i, f in bad)
    return f"dead units: {where} (> {100 * DEAD_FRACTION:.0f} %)"


def saturated_problem(saturated_fractions: Sequence[float]) -> str | None:
    """``saturated_fractions``: per layer, the fraction of a tanh/sigmoid layer's outputs in
    the flat tails (NaN for a layer without tails, e.g. ReLU: ignored). A problem when any
    layer's fraction exceeds ``SATURATED_FRACTION``."""
    arr = np.asarray(saturated_fractions, dtype=float).reshape(-1)
    bad = [(i, f) for i, f in enumerate(arr, start=1) if np.isfinite(f) and f > SATURATED_FRACTION]
    if not bad:
        return None
    where = ", ".join(f"{100 * f:.0f} % of layer {i}" for i, f in bad)
    return f"saturated: {where} (> {100 * SATURATED_FRACTION:.0f} %)"


def at_chance(accuracy: float, n_classes: int) -> bool:
    """True when ``accuracy`` is below ``1 / n_classes + CHANCE_MARGIN``."""
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    return bool(accuracy < 1.0 / n_classes + CHANCE_MARGIN)


def chance_problem(accuracy: float, n_classes: int, what: str = "accuracy") -> str | None:
    """A problem when ``accuracy`` is at chance (:func:`at_chance`)."""
    if not at_chance(accuracy, n_classes):
        return None
    return (f"chance accuracy: {what} {accuracy:.2f} "
            f"(< 1/{n_classes} + {CHANCE_MARGIN:g} = {1 / n_classes + CHANCE_MARGIN:.2f})")


def diverged(losses: Iterable[float]) -> bool:
    """True when a loss is not finite or exceeds ``DIVERGED_FACTOR`` × the first loss."""
    arr = np.asarray(list(losses), dtype=float)
    if arr.size == 0:
        return False
    if not np.all(np.isfinite(arr)):
        return True
    return bool(arr.max() > DIVERGED_FACTOR * abs(arr[0]))


def diverged_problem(losses: Iterable[float], steps: Sequence[int] | None = None
                     ) -> str | None:
    """A problem when the run :func:`diverged`; names where it did: the training step
    ``steps[k]`` when ``steps`` (one per loss) is given, else the 0-based record ``k``."""
    arr = np.asarray(list(losses), dtype=float)
    if not diverged(arr):
        return None
    if steps is not None and len(steps) != arr.size:
        raise ValueError(f"steps must hold one step per loss ({arr.size}), got {len(steps)}")
    bad = ~np.isfinite(arr) | (arr > DIVERGED_FACTOR * abs(arr[0]))
    k = int(np.argmax(bad))
    where = f"step {int(steps[k])}" if steps is not None else f"record {k}"
    if not np.isfinite(arr[k]):
        return f"diverged: loss not finite at {where}"
    return (f"diverged: loss {_num(arr[k])} at {where} "
            f"(> {DIVERGED_FACTOR:g} × first loss {_num(arr[0])})")


def status(*problems: str | None) -> str:
    """``"ok"`` when every problem is None, else the problems joined with ``"; "``."""
    seen = [p for p in problems if p]
    return "; ".join(seen) if seen else "ok"
