"""An explorer as data: finite controls, ``compute(state)``, ``draw(result)``, stored grids.

Every explorer declares its controls as data, a list of :class:`Control` (a dropdown, a
checkbox, an int slider, a stepped float slider, a log slider with a step in the exponent,
each a finite, ordered list of values), so the explorer has a finite grid of states; the live
view's widgets are built from the same declaration (:func:`trainlab.explorers.live.widget_for`). An
:class:`ExplorerSpec` names one explorer as a lesson builds it (its builder and the builder's
keyword arguments) and the sub-grid that ``make explorers`` precomputes (:func:`precompute`):
every state of the product of the listed values, computed with the explorer's own ``compute``
and stored, with its controls, as plain data (numbers, arrays, text) in
``data/explorers/<name>.json.gz`` together with the package version and :func:`code_hash`, a
hash of the source of the explorer's module and of every trainlab module it calls (transitively).

A live explorer built with the same arguments (:func:`attach`, called by the builders) serves a
grid state from the stored result -- only the draw runs -- and computes off-grid states as
before; a stored grid whose version or code hash differs from the running code is *stale*:
:func:`load` refuses it (``StaleGrid``) and the live explorer computes everything.
:mod:`trainlab.explorers.export` draws the stored results into a kernel-free viewer.
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import gzip
import hashlib
import importlib
import inspect
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlab._meta import __version__

ROOT = Path(__file__).resolve().parents[3]
GRID_DIR = ROOT / "data" / "explorers"
FORMAT = 1
"""Version of the stored file's layout."""


class StaleGrid(Exception):
    """A stored grid made by other code (version or code hash) than the running one."""


# --------------------------------------------------------------------------------------------
# controls as finite value lists
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Control:
    """One control, declared as data: its ``name`` (the keyword of ``compute``), visible
    ``label``, every value it can take (in order), its ``default`` and its ``kind``
    (``"slider"``: an ordered range shown as a slider; ``"choice"``: a dropdown;
    ``"toggle"``: a checkbox); for the widget (:func:`trainlab.explorers.live.widget_for`):
    ``step`` (a stepped slider's step, in the exponent of a ``log`` slider; ``None``: a slider
    over the listed values), ``log`` (values 10**e, e evenly stepped), ``readout`` (the
    slider's d3 readout format) and ``labels`` (a dropdown's option texts). Build one with
    :func:`slider`, :func:`log_slider`, :func:`stepped`, :func:`choice` or :func:`toggle`,
    which refuse a default outside the control's values (naming ``arg``, the builder's
    keyword, and the valid range)."""

    name: str
    label: str
    values: tuple[Any, ...]
    default: Any
    kind: str
    step: float | None = None
    log: bool = False
    readout: str = ""
    labels: tuple[str, ...] = ()


LOG_READOUT = ".3"
"""d3-format of a log slider's readout: 3 significant digits, plain decimals from 1e-6 on,
trailing zeros dropped (0.01, 0.00316, 10)."""


def _steps(lo: float, hi: float, step: float) -> list[float]:
    n = int(round((hi - lo) / step))
    return [lo + k * step for k in range(n + 1)]


def _clean(v: float) -> float:
    """A stepped value as the slider shows it (12 significant digits: ``0.1 * 3`` -> 0.3)."""
    return float(f"{v:.12g}")


def _in_range(arg: str, value: Any, lo: float, hi: float, whole: bool = False) -> Any:
    """``value`` if it is a number in [lo, hi] (an int if ``whole``), else ValueError."""
    kind = int | np.integer if whole else int | float | np.integer | np.floating
    if isinstance(value, bool) or not isinstance(value, kind) or not lo <= value <= hi:
        what = "an int in" if whole else "in"
        raise ValueError(f"{arg} must be {what} [{lo:g}, {hi:g}], got {value!r}")
    return int(value) if whole else value


def _one_of(arg: str, value: Any, values: Sequence[Any]) -> Any:
    if value not in values:
        raise ValueError(f"{arg} must be one of {list(values)}, got {value!r}")
    return value


def slider(name: str, label: str, default: float, lo: float, hi: float, step: float = 1, *,
           readout: str = "", arg: str = "") -> Control:
    """A stepped slider from ``lo`` to ``hi`` (ints if ``lo``, ``hi`` and ``step`` are)."""
    whole = all(isinstance(v, int) for v in (lo, hi, step))
    values = tuple(range(lo, hi + 1, step)) if whole else tuple(
        _clean(v) for v in _steps(lo, hi, step))
    default = _in_range(arg or name, default, lo, hi, whole)
    return Control(name, label, values, default, "slider", step=step, readout=readout)


def log_slider(name: str, label: str, default: float, lo_exp: float, hi_exp: float,
               step: float = 0.1, *, arg: str = "") -> Control:
    """A slider over ``10**e`` for ``e`` from ``lo_exp`` to ``hi_exp`` in steps of ``step``."""
    values = tuple(_clean(10.0 ** e) for e in _steps(lo_exp, hi_exp, step))
    default = _in_range(arg or name, default, values[0], values[-1])
    return Control(name, label, values, default, "slider", step=step, log=True,
                   readout=LOG_READOUT)


def stepped(name: str, label: str, default: Any, values: Sequence[Any], *,
            arg: str = "") -> Control:
    """A slider over the listed ``values``."""
    return Control(name, label, tuple(values), _one_of(arg or name, default, values), "slider")


def choice(name: str, label: str, default: Any, values: Sequence[Any], *,
           labels: Sequence[str] = (), arg: str = "") -> Control:
    """A dropdown of ``values`` (shown as ``labels`` if given)."""
    return Control(name, label, tuple(values), _one_of(arg or name, default, values), "choice",
                   labels=tuple(labels))


def toggle(name: str, label: str, default: bool = False) -> Control:
    """A checkbox."""
    return Control(name, label, (False, True), bool(default), "toggle")


def exponents(control: Control) -> tuple[float, float]:
    """The first and last exponent of a log slider (``10**lo .. 10**hi``)."""
    lo, hi = (round(math.log10(v), 9) for v in (control.values[0], control.values[-1]))
    return lo, hi


def _canon(v: Any) -> Any:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return _clean(float(v))
    return v


def state_key(state: Mapping[str, Any]) -> str:
    """The key of a state: its values (floats to 12 significant digits) as JSON, in control
    order, so a slider's ``0.30000000000000004`` and a stored ``0.3`` meet."""
    return json.dumps([[k, _canon(v)] for k, v in state.items()])


# --------------------------------------------------------------------------------------------
# what a grid was computed with
# --------------------------------------------------------------------------------------------
_NOT_COMPUTE = ("trainlab.explorers.spec", "trainlab.explorers.export", "trainlab.explorers.live")
"""Modules that wire, store or show results and never change one: left out of the hash."""


def _trainlab_modules(module: Any, seen: dict[str, Any]) -> None:
    """``module`` and every trainlab module it references (imports, or the module of a
    function/class it imports), transitively."""
    if module.__name__ in seen:
        return
    seen[module.__name__] = module
    for value in list(vars(module).values()):
        target = value if inspect.ismodule(value) else inspect.getmodule(value)
        name = getattr(target, "__name__", "")
        if (target is not None and name.startswith("trainlab")
                and not name.startswith(_NOT_COMPUTE)):
            _trainlab_modules(target, seen)


def code_hash(*modules: Any) -> str:
    """sha256 over the source of ``modules`` and of every trainlab module they call: the
    compute function's module pulls in :mod:`trainlab.init`, :mod:`trainlab.train`, ... so a
    change to any code a stored result came from changes the hash."""
    seen: dict[str, Any] = {}
    for m in modules:
        _trainlab_modules(m, seen)
    h = hashlib.sha256()
    for name in sorted(seen):
        h.update(name.encode() + b"\0" + inspect.getsource(seen[name]).encode() + b"\0")
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# results as plain data
# --------------------------------------------------------------------------------------------
def encode(value: Any, path: str = "result") -> Any:
    """A compute result as JSON-able plain data: arrays as dtype/shape/base64 bytes (exact),
    tuples and non-string-keyed dicts tagged, trainlab dataclasses (a training ``History``) by
    their fields. Anything else is refused with the path where it sits."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else {"__float__": repr(f)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"__list__": [encode(v, f"{path}[]") for v in value.tolist()]}
        arr = np.ascontiguousarray(value)
        return {"__nd__": [arr.dtype.str, list(arr.shape),
                           base64.b64encode(arr.tobytes()).decode("ascii")]}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and not any(k.startswith("__") for k in value):
            return {k: encode(v, f"{path}.{k}") for k, v in value.items()}
        return {"__dict__": [[encode(k, path), encode(v, f"{path}[{k!r}]")]
                             for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and type(value).__module__.startswith("trainlab."):
        cls = type(value)
        return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: encode(getattr(value, f.name), f"{path}.{f.name}")
                           for f in dataclasses.fields(value)}}
    raise TypeError(f"{path}: a {type(value).__name__} is not plain data (numbers, arrays, "
                    "text, lists, dicts, trainlab dataclasses)")


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__nd__" in value:
        dtype, shape, data = value["__nd__"]
        return np.frombuffer(base64.b64decode(data), dtype=np.dtype(dtype)).reshape(shape).copy()
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__list__" in value:
        return np.array([decode(v) for v in value["__list__"]], dtype=object)
    if "__dict__" in value:
        return {_hashable(decode(k)): decode(v) for k, v in value["__dict__"]}
    if "__dataclass__" in value:
        mod, _, qual = value["__dataclass__"].partition(":")
        if not mod.startswith("trainlab."):
            raise ValueError(f"refusing to build {value['__dataclass__']!r}: not a trainlab class")
        cls = getattr(importlib.import_module(mod), qual)
        return cls(**{k: decode(v) for k, v in value["fields"].items()})
    return {k: decode(v) for k, v in value.items()}


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, list | tuple) else v


# --------------------------------------------------------------------------------------------
# the lessons' explorers
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExplorerSpec:
    """One explorer as a lesson builds it and the sub-grid ``make explorers`` stores.

    ``builder``: ``"module:function"`` in :mod:`trainlab.explorers`; ``kwargs``: the
    lesson's arguments (JSON values; ``{"cache": {"WeightCache": {...}}}`` stands for a
    :class:`~trainlab.init.WeightCache`); ``grid``: control name -> the values precomputed
    (a control left out keeps only its lesson value; ``"all"``: every value), the product of
    those lists; or a tuple of such dicts, the union of their products (a cross through the
    lesson's state where the product is needlessly large)."""

    name: str
    lesson: str
    title: str
    builder: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, Any] | tuple[dict[str, Any], ...] = field(default_factory=dict)
    why: str = ""
    web: tuple[dict[str, Any], ...] | None = None
    """The sub-grids the exported viewer holds (None: every stored state), for a stored grid
    whose images would weigh too much on a web page; ``web_why`` says which."""
    web_why: str = ""

    @property
    def module(self) -> Any:
        return importlib.import_module(f"trainlab.explorers.{self.builder.partition(':')[0]}")

    def build_kwargs(self) -> dict[str, Any]:
        from trainlab.init import WeightCache

        out = dict(self.kwargs)
        if isinstance(out.get("cache"), dict):
            out["cache"] = WeightCache(**out["cache"]["WeightCache"])
        return out

    def build(self, *, attach_grid: bool = False, quiet: bool = False) -> Any:
        """The live explorer, as the lesson calls it (without its stored grid unless
        ``attach_grid``; ``quiet``: without background work -- the init explorer's own
        background grid -- where the builder has a ``background`` switch, for precompute and
        export, which call ``compute``/``render`` directly)."""
        fn = getattr(self.module, self.builder.partition(":")[2])
        kwargs = self.build_kwargs()
        if quiet and "background" in inspect.signature(fn).parameters:
            kwargs["background"] = False
        if attach_grid:
            return fn(**kwargs)
        token = _SKIP.set(True)
        try:
            return fn(**kwargs)
        finally:
            _SKIP.reset(token)

    def controls(self, explorer: Any) -> list[Control]:
        return list(explorer.declared)

    def grid_json(self) -> list[dict[str, Any]]:
        """The sub-grids as stored with the results: a grid made for other sub-grids is stale."""
        return json.loads(json.dumps([{k: list(v) if isinstance(v, tuple) else v
                                       for k, v in part.items()} for part in self.parts()]))

    def parts(self) -> tuple[dict[str, Any], ...]:
        """The sub-grids whose union is stored (``grid`` as one dict, or a tuple of them)."""
        return self.grid if isinstance(self.grid, tuple) else (self.grid,)

    def states(self, controls: Sequence[Control],
               parts: Sequence[Mapping[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
        """Every state of the stored grid (or of ``parts``), in control order: the product of
        the listed values of each sub-grid (:meth:`parts`), each state once."""
        seen: set[str] = set()
        for part in parts if parts is not None else self.parts():
            for state in self._product(part, controls):
                key = state_key(state)
                if key not in seen:
                    seen.add(key)
                    yield state

    def _product(self, part: Mapping[str, Any],
                 controls: Sequence[Control]) -> Iterator[dict[str, Any]]:
        lists = []
        for c in controls:
            chosen = part.get(c.name)
            if chosen is None:
                vals: Sequence[Any] = (c.default,)
            elif chosen == "all":
                vals = c.values
            else:
                keys = {state_key({c.name: v}) for v in chosen}
                vals = [v for v in c.values if state_key({c.name: v}) in keys]
                if len(vals) != len(chosen):
                    raise ValueError(f"{self.name}: grid values {list(chosen)} of {c.name!r} are "
                                     f"not all among the control's values {list(c.values)}")
            lists.append([(c.name, v) for v in vals])
        for combo in itertools.product(*lists):
            yield dict(combo)

    def code_hash(self) -> str:
        return code_hash(self.module)


SPECS: tuple[ExplorerSpec, ...] = (
    ExplorerSpec("init-welcome", "00", "Activations at initialisation",
                 "initialisation:init_explorer", {"depth": 4, "width": 512},
                 {"scale": "all", "activation": ("tanh", "relu", "linear")},
                 "every scale, tanh/relu/linear, at the lesson's init normal, depth 4, "
                 "width 512, with gain, no gradients"),
    ExplorerSpec("dead-relu", "01", "Dead ReLUs", "activations:dead_relu_explorer",
                 {"lr": 1.0}, {"lr": "all"},
                 "every learning rate at the lesson's relu and SGD"),
    ExplorerSpec("preprocessing", "02", "Preprocessing and the loss surface",
                 "preprocessing:preprocessing_explorer", {},
                 {"offset": "all", "scale": (0.1, 1.0, 10.0)},
                 "every offset at feature scale 0.1, 1 and 10, the lesson's step and steps"),
    ExplorerSpec("init", "03", "Activations at initialisation", "initialisation:init_explorer",
                 {"depth": 6, "width": 4096, "cache": {"WeightCache": {"seed": 0, "batch": 16}}},
                 {"scale": "all", "activation": ("tanh", "relu")},
                 "every scale, tanh and relu, at the lesson's init normal, depth 6, "
                 "width 4096, with gain, no gradients"),
    ExplorerSpec("init-training", "03", "Training after each initialisation",
                 "initialisation:init_training_explorer", {"depth": 3, "width": 128},
                 {"scale": "all", "lr": "all"},
                 "every scale and learning rate at the lesson's scheme, activation, depth "
                 "and width", web=({"scale": "all"}, {"lr": "all"}),
                 web_why="every scale at the lesson's learning rate and every learning rate at "
                         "scale 1, at the lesson's scheme, activation, depth and width"),
    ExplorerSpec("lr", "04", "Learning rate with and without BN", "batchnorm:lr_explorer",
                 {"lr": 1.0}, {"lr": "all"}, "every learning rate at the lesson's setting"),
    ExplorerSpec("landscape", "05", "The loss landscape along the gradient",
                 "why_batchnorm_works:landscape_explorer", {}, {"eta": "all"},
                 "every probe step at the lesson's batch 128 and noise 0"),
    ExplorerSpec("keep-prob", "06", "Dropout: keep_prob against the gap",
                 "dropout:keep_prob_explorer", {"keep_prob": 0.5}, {"keep_prob": "all"},
                 "every keep_prob at the lesson's data, width and steps"),
    ExplorerSpec("batch-groups", "07", "Batch norm and group norm against the batch",
                 "beyond_batchnorm:batch_groups_explorer", {}, {"B": "all", "groups": "all"},
                 "every batch per statistic and number of groups, one seed"),
)
"""The lessons' explorers that have a grid. The training dashboard (03, 04) trains a model the
lesson passes in (any ``model_fn``), so it has no grid and always trains live (why, with the
numbers: :mod:`trainlab.explorers.dashboard`)."""


def spec(name: str) -> ExplorerSpec:
    for s in SPECS:
        if s.name == name:
            return s
    raise ValueError(f"unknown explorer {name!r}; valid: {[s.name for s in SPECS]}")


def path_of(name: str, root: Path | None = None) -> Path:
    return (root or GRID_DIR) / f"{name}.json.gz"


# --------------------------------------------------------------------------------------------
# precompute, store, load
# --------------------------------------------------------------------------------------------
def precompute(s: ExplorerSpec, root: Path | None = None,
               log: Callable[[str], None] = print) -> Path:
    """Compute every state of ``s``'s sub-grid with the explorer's own ``compute`` and store
    the results (gzip'd JSON, ``data/explorers/<name>.json.gz``)."""
    start = time.perf_counter()
    explorer = s.build(quiet=True)
    controls = s.controls(explorer)
    states = list(s.states(controls))
    stored: dict[str, Any] = {}
    for i, state in enumerate(states):
        res = explorer.compute(**state)
        res.pop("png", None)
        if str(res.get("status", "")).startswith("error"):
            raise RuntimeError(f"{s.name} {state}: {res['status']}")
        stored[state_key(state)] = encode(res)
        if (i + 1) % 20 == 0:
            log(f"  {s.name}: {i + 1}/{len(states)} states, {time.perf_counter() - start:.0f} s")
    doc = {"format": FORMAT, "name": s.name, "lesson": s.lesson, "title": s.title,
           "version": __version__, "code_hash": s.code_hash(),
           "config": s.kwargs, "grid": s.grid_json(), "grid_note": s.why,
           "controls": [{"name": c.name, "label": c.label, "kind": c.kind,
                         "values": [encode(v) for v in c.values], "default": encode(c.default),
                         "grid": [encode(v) for v in c.values
                                  if any(state_key({c.name: v}) == state_key({c.name: st[c.name]})
                                         for st in states)]}
                        for c in controls],
           "seconds": round(time.perf_counter() - start, 1), "states": stored}
    out = path_of(s.name, root)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), 9, mtime=0))
    log(f"{s.name}: {len(states)} states in {doc['seconds']} s -> {out} "
        f"({out.stat().st_size / 1e3:.0f} kB)")
    return out


@dataclass
class Grid:
    """A loaded, fresh grid: the stored results by state key (decoded on first use); a
    stored grid is fresh when its format, package version, code hash, the lesson's arguments
    and its sub-grids are this code's (:func:`load`)."""

    spec: ExplorerSpec
    doc: dict[str, Any]
    _decoded: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.doc["states"])

    def get(self, state: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of the stored result of ``state``, or None off the grid."""
        key = state_key(state)
        if key not in self._decoded:
            raw = self.doc["states"].get(key)
            if raw is None:
                return None
            self._decoded[key] = decode(raw)
        return dict(self._decoded[key])

    def states(self) -> list[dict[str, Any]]:
        return [dict((k, v) for k, v in json.loads(key)) for key in self.doc["states"]]

    @staticmethod
    def key(state: Mapping[str, Any]) -> str:
        return state_key(state)

    def neighbours(self, state: Mapping[str, Any], steps: int = 2,
                   heading: tuple[str, int] | None = None, ahead: int = 4) -> list[dict[str, Any]]:
        """The stored states 1..``steps`` grid steps from ``state`` along one control,
        nearest first (the states one keypress away come first); with ``heading`` (a control's
        name and the direction, -1 or +1, it last moved in), the next ``ahead`` states that way
        come before all others: a slider held down or pressed again goes on the same way."""
        if not hasattr(self, "_axes"):
            self._axes = {c["name"]: [decode(v) for v in c["grid"]]
                          for c in self.doc["controls"]}
        out: list[dict[str, Any]] = []
        keys_out: set[str] = set()

        def add(name: str, values: list[Any], j: int) -> None:
            if 0 <= j < len(values):
                other = {**state, name: values[j]}
                key = state_key(other)
                if key in self.doc["states"] and key not in keys_out:
                    keys_out.add(key)
                    out.append(other)

        def index(name: str) -> tuple[list[Any], int | None]:
            values = self._axes.get(name, [])
            keys = [state_key({name: v}) for v in values]
            here = state_key({name: state[name]})
            return values, (keys.index(here) if here in keys else None)

        if heading is not None and heading[0] in self._axes:
            values, i = index(heading[0])
            if i is not None:
                for d in range(1, ahead + 1):
                    add(heading[0], values, i + heading[1] * d)
        for d in range(1, steps + 1):
            for name in self._axes:
                values, i = index(name)
                if i is not None:
                    add(name, values, i - d)
                    add(name, values, i + d)
        return out


def load(name: str | ExplorerSpec, root: Path | None = None) -> Grid:
    """The stored grid of explorer ``name`` (or of the spec given); :class:`StaleGrid` if it
    was made by other code (package version or code hash) or for other sub-grids,
    FileNotFoundError if there is none."""
    s = name if isinstance(name, ExplorerSpec) else spec(name)
    name = s.name
    doc = json.loads(gzip.decompress(path_of(name, root).read_bytes()))
    want = {"format": FORMAT, "version": __version__, "code_hash": s.code_hash(),
            "config": s.kwargs, "grid": s.grid_json()}
    got = {k: doc.get(k) for k in want}
    if got != want:
        bad = [f"{k} {got[k]!r} != {want[k]!r}" for k in want if got[k] != want[k]]
        raise StaleGrid(f"{path_of(name, root)} is stale ({'; '.join(bad)}): "
                        "run `make explorers`")
    return Grid(s, doc)


# --------------------------------------------------------------------------------------------
# the live explorer's side: which grid a builder call gets
# --------------------------------------------------------------------------------------------
_SKIP: contextvars.ContextVar[bool] = contextvars.ContextVar("trainlab_grid_skip", default=False)
_LOADED: dict[str, Grid | None] = {}


def _jsonable_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    from trainlab.init import WeightCache

    out: dict[str, Any] = {}
    for k, v in kwargs.items():
        if isinstance(v, WeightCache):
            out[k] = {"WeightCache": {"seed": v.seed, "batch": v.batch}}
        elif v is None or isinstance(v, bool | int | float | str):
            out[k] = v
        else:
            return None
    return out


def grid_for(builder: str, kwargs: Mapping[str, Any]) -> Grid | None:
    """The fresh stored grid of the explorer that ``builder(**kwargs)`` makes, or None (no
    spec with these arguments, no file, a stale file, or ``TRAINLAB_EXPLORER_GRIDS=0``: the
    explorer then computes every state)."""
    if _SKIP.get() or os.environ.get("TRAINLAB_EXPLORER_GRIDS") == "0":
        return None
    plain = _jsonable_kwargs(kwargs)
    for s in SPECS:
        if s.builder.partition(":")[2] == builder and plain == s.kwargs:
            if s.name not in _LOADED:
                try:
                    _LOADED[s.name] = load(s.name)
                except FileNotFoundError:
                    _LOADED[s.name] = None
                except StaleGrid as exc:
                    print(f"trainlab.explorers: {exc}; computing every state", file=sys.stderr)
                    _LOADED[s.name] = None
            return _LOADED[s.name]
    return None
