"""Claims: a lesson's conclusions as code.

A lesson that says "batch norm trains faster" or "the noise costs little" backs the sentence with
a *claim cell*: it computes the verdict from the data against a criterion written in the cell,
and prints one line with the verdict and its evidence::

    from trainlab import claims
    claims.greater("bn-faster", "batch norm reaches a higher accuracy after 300 steps",
                   acc["BN"], acc["standard"], labels=("BN", "standard"))
    # ✓ claim [bn-faster] holds: batch norm reaches ... — BN 0.934 ± 0.002 vs standard
    #   0.914 ± 0.002 over 3 seeds; difference 0.020 > 2 × seed sd 0.002

The prose and the summary point at a claim by its name, written ``[claim: bn-faster]``;
``scripts/claims.py check`` (part of ``make test``) fails when a stored verdict is false, when a
summary line or a reference points at no claim, and when a number quoted in prose is printed by
no output of its section. Under nbval a claim whose verdict changes prints a different line, so
re-executing the lesson fails too; with ``TRAINLAB_STRICT_CLAIMS=1`` a false claim raises
:class:`ClaimFailed` (``make colab-check`` uses this: digits may differ on another stack,
conclusions may not).

Criteria (every one prints what it compared):

- :func:`greater` — an effect over seeds: ``mean(a) - mean(b) > k × max(sd(a), sd(b))``, sample
  standard deviations over at least 3 seeds (``k = 2`` by default). "An effect counts when it
  exceeds the seed spread."
- :func:`similar` — no effect beyond the seed spread, or within a stated tolerance:
  ``|mean(a) - mean(b)| <= max(k × max(sd(a), sd(b)), tol)``.
- :func:`at_least` / :func:`at_most` — a measured value against a stated threshold, for every
  seed when given one value per seed.
- :func:`claim` — any other criterion: the cell computes ``holds`` itself and states the criterion.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Claim", "ClaimFailed", "at_least", "at_most", "claim", "fmt_spread", "greater",
           "similar"]

MIN_SEEDS = 3
STRICT_ENV = "TRAINLAB_STRICT_CLAIMS"


class ClaimFailed(AssertionError):
    """A claim's verdict is false (raised only with ``TRAINLAB_STRICT_CLAIMS=1``)."""


@dataclass(frozen=True)
class Claim:
    """One verdict: ``name`` (what prose cites as ``[claim: name]``), the ``statement``, whether it
    ``holds``, the ``evidence`` (numbers) and the ``criterion`` it was judged by."""

    name: str
    statement: str
    holds: bool
    evidence: str
    criterion: str

    def line(self) -> str:
        mark, verdict = ("✓", "holds") if self.holds else ("✗", "FAILS")
        return (f"{mark} claim [{self.name}] {verdict}: {self.statement} — {self.evidence}"
                f" (criterion: {self.criterion})")

    def __bool__(self) -> bool:
        return self.holds

    def _ipython_display_(self) -> None:
        """Nothing: the verdict line is already printed, so a claim as a cell's last line
        adds no second output (and no ``Claim(...)`` repr to compare under nbval)."""


def _check_name(name: str) -> None:
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"claim name must be lower-case letters, digits and '-', starting with a "
                         f"letter or digit (it is cited as [claim: name]), got {name!r}")


def claim(name: str, statement: str, holds: bool, evidence: str, criterion: str) -> Claim:
    """Print and return a verdict computed by the calling cell (``holds``), with its evidence and
    the criterion it applied. Raises ValueError for a bad name or a ``holds`` that is not a bool
    (a NumPy bool is fine); ClaimFailed when the claim fails under ``TRAINLAB_STRICT_CLAIMS=1``."""
    _check_name(name)
    if not isinstance(holds, (bool, np.bool_)):
        raise ValueError(f"holds must be a bool (the verdict), got {type(holds).__name__} "
                         f"{holds!r}")
    for label, text in (("statement", statement), ("evidence", evidence),
                        ("criterion", criterion)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{label} must be a non-empty string, got {text!r}")
    result = Claim(name, statement.strip(), bool(holds), evidence.strip(), criterion.strip())
    print(result.line())
    if not result.holds and os.environ.get(STRICT_ENV) == "1":
        raise ClaimFailed(result.line())
    return result


def _seeds(values: Sequence[float] | np.ndarray, label: str, need: int = MIN_SEEDS) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size < need:
        raise ValueError(f"{label} needs one value per seed, at least {need} seeds (an effect "
                         f"is judged against the seed spread), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{label} holds a non-finite value: {arr.tolist()}")
    return arr


def _fmt(x: float, fmt: str) -> str:
    text = format(float(x), fmt)
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text


def _sd_text(sd: float) -> str:
    """A standard deviation to one significant digit (the digits that hold)."""
    return np.format_float_positional(sd, precision=1, unique=False, fractional=False,
                                      trim="-")


def fmt_spread(values: Sequence[float] | np.ndarray, fmt: str = ".3f") -> str:
    """``'mean ± sd'`` of one value per seed: the mean with ``fmt``, the sample sd to one
    significant digit."""
    arr = np.asarray(values, dtype=float).reshape(-1)
    sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    if sd <= 1e-12 * max(1.0, float(np.abs(arr).max(initial=0.0))):
        sd = 0.0                # equal values up to round-off: no spread (and no CPU's digits)
    return f"{_fmt(arr.mean(), fmt)} ± {_sd_text(sd)}"


def greater(name: str, statement: str, a: Sequence[float], b: Sequence[float], *,
            labels: tuple[str, str] = ("A", "B"), k: float = 2.0, fmt: str = ".3f") -> Claim:
    """An effect over seeds: ``a`` (one value per seed, ≥ 3 seeds) is larger than ``b`` by more
    than ``k`` times the larger of the two sample standard deviations. For "smaller", pass the
    arrays the other way round (or negated)."""
    xa, xb = _seeds(a, labels[0]), _seeds(b, labels[1])
    diff = xa.mean() - xb.mean()
    spread = max(xa.std(ddof=1), xb.std(ddof=1))
    holds = bool(diff > k * spread)
    evidence = (f"{labels[0]} {fmt_spread(xa, fmt)} vs {labels[1]} {fmt_spread(xb, fmt)} over "
                f"{min(xa.size, xb.size)} seeds; difference {_fmt(diff, fmt)}")
    criterion = f"difference > {k:g} × larger seed sd = {_fmt(k * spread, fmt)}"
    return claim(name, statement, holds, evidence, criterion)


def similar(name: str, statement: str, a: Sequence[float], b: Sequence[float], *,
            labels: tuple[str, str] = ("A", "B"), k: float = 2.0, tol: float = 0.0,
            fmt: str = ".3f") -> Claim:
    """No effect beyond the seed spread (or beyond ``tol``): ``|mean(a) - mean(b)| <=
    max(k × larger seed sd, tol)``, one value per seed, ≥ 3 seeds each."""
    xa, xb = _seeds(a, labels[0]), _seeds(b, labels[1])
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    diff = abs(xa.mean() - xb.mean())
    bound = max(k * max(xa.std(ddof=1), xb.std(ddof=1)), tol)
    evidence = (f"{labels[0]} {fmt_spread(xa, fmt)} vs {labels[1]} {fmt_spread(xb, fmt)} over "
                f"{min(xa.size, xb.size)} seeds; |difference| {_fmt(diff, fmt)}")
    criterion = (f"|difference| <= max({k:g} × larger seed sd, {tol:g}) = {_fmt(bound, fmt)}"
                 if tol else f"|difference| <= {k:g} × larger seed sd = {_fmt(bound, fmt)}")
    return claim(name, statement, bool(diff <= bound), evidence, criterion)


def _threshold(name: str, statement: str, values: float | Sequence[float], threshold: float,
               above: bool, label: str, fmt: str) -> Claim:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{label} must be one or more finite numbers, got {arr.tolist()}")
    worst = arr.min() if above else arr.max()
    holds = bool(worst >= threshold) if above else bool(worst <= threshold)
    op = ">=" if above else "<="
    if arr.size == 1:
        evidence = f"{label} {_fmt(arr[0], fmt)}"
        criterion = f"{label} {op} {_fmt(threshold, fmt)}"
    else:
        evidence = (f"{label} {fmt_spread(arr, fmt)} over {arr.size} seeds "
                    f"({'lowest' if above else 'highest'} {_fmt(worst, fmt)})")
        criterion = f"every seed {op} {_fmt(threshold, fmt)}"
    return claim(name, statement, holds, evidence, criterion)


def at_least(name: str, statement: str, values: float | Sequence[float], threshold: float, *,
             label: str = "value", fmt: str = ".3f") -> Claim:
    """A measured value (or every seed's value) is at least ``threshold``."""
    return _threshold(name, statement, values, threshold, True, label, fmt)


def at_most(name: str, statement: str, values: float | Sequence[float], threshold: float, *,
            label: str = "value", fmt: str = ".3f") -> Claim:
    """A measured value (or every seed's value) is at most ``threshold``."""
    return _threshold(name, statement, values, threshold, False, label, fmt)
