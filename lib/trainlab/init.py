"""Weight initialisation for NumPy arrays and torch modules, with torch.nn.init's variances.

Three weight layouts appear in the course, named explicitly (``layout=``):

* ``"numpy"`` (the from-scratch layers): a fully connected weight ``w`` has shape
  ``(D_in, D_out)`` and ``out = x @ w + b``, so ``fan_in = shape[0]``, ``fan_out = shape[1]``.
* ``"maxout"``: a maxout weight ``(D_in, D_out, k)`` holds k affine pieces, each a
  (D_in, D_out) map, so ``fan_in = D_in`` and ``fan_out = D_out``.
* ``"torch"``: ``nn.Linear.weight`` has shape ``(out, in)`` and a convolution kernel
  ``(out, in, *kernel)`` (also CS231n's NumPy conv kernels (F, C, HH, WW)), so
  ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.

A scheme means its paper: only the kaiming schemes take a ``nonlinearity`` (their gain is part
of He et al.'s rule); any other factor, e.g. tanh's gain 5/3 on Xavier, is explicit:
``scale=gain("tanh")`` (see :mod:`trainlab.conventions`).

Every random scheme draws zero-mean weights whose standard deviation :func:`init_std` returns:

====================  =======================================================================
scheme                standard deviation of each weight (``scale`` multiplies it)
====================  =======================================================================
``zeros``             0 (every weight is 0: units never break their symmetry)
``constant``          0 (every weight equals ``scale``)
``normal``            ``scale``
``xavier_fan_in``     ``1 / sqrt(fan_in)``: the lecture's simple "Xavier" variant
``xavier_normal``     ``sqrt(2 / (fan_in + fan_out))``                   (Glorot & Bengio 2010)
``xavier_uniform``    same std; U(-b, b) with ``b = sqrt(6 / (fan_in + fan_out))``
``kaiming_normal``    ``gain / sqrt(fan)``, fan = fan_in or fan_out      (He et al. 2015)
``kaiming_uniform``   same std; U(-b, b) with ``b = sqrt(3) * gain / sqrt(fan)``
``lecun_normal``      ``1 / sqrt(fan_in)``, the init SELU needs            (Klambauer et al. 2017)
``orthogonal``        ``1 / sqrt(max(rows, cols))`` of the weight seen as a 2-D matrix
====================  =======================================================================

:func:`lsuv_` adds Mishkin & Matas (2016)'s data-driven layer-sequential unit-variance init.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: the NumPy half needs no torch
    import torch
    from torch import nn

from trainlab.conventions import renamed
from trainlab.style import format_value

SCHEMES: tuple[str, ...] = (
    "zeros",
    "constant",
    "normal",
    "xavier_fan_in",
    "xavier_normal",
    "xavier_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "orthogonal",
)
"""Every scheme name accepted by :func:`init_std`, :func:`init_weights` and friends."""

NONLINEARITIES: tuple[str, ...] = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
)
"""The names :func:`gain` knows (the same set as ``torch.nn.init.calculate_gain``)."""

_DETERMINISTIC = ("zeros", "constant")
_UNIFORM = ("xavier_uniform", "kaiming_uniform")
_KAIMING = ("kaiming_normal", "kaiming_uniform")
_FAN_IN_ONLY = ("xavier_fan_in", "lecun_normal")
_MODES = ("fan_in", "fan_out")
_LAYOUTS = ("numpy", "maxout", "torch")


def gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain torch.nn.init.calculate_gain recommends for a nonlinearity.

    The gain is the factor that keeps the forward signal's variance constant through the
    nonlinearity when the weights have variance ``gain**2 / fan``:

    * ``linear`` and every ``conv*`` / ``conv_transpose*`` name: 1 (no nonlinearity).
    * ``sigmoid``: 1 (torch's choice; sigmoid is not zero-centred, so no gain is exact).
    * ``tanh``: 5/3, an empirical value that keeps tanh nets away from saturation.
    * ``relu``: sqrt(2), because ReLU zeroes half of a symmetric input (He et al. 2015).
    * ``leaky_relu``: sqrt(2 / (1 + a**2)) with negative slope ``a = param`` (default 0.01,
      torch's default).
    * ``selu``: 3/4, torch's value; Klambauer et al. 2017's self-normalising nets instead want
      gain 1 with fan_in (see the ``lecun_normal`` scheme).
    """
    if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
        raise ValueError(
            f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}"
        )
    if param is not None and nonlinearity != "leaky_relu":
        raise ValueError(f"param is only used by 'leaky_relu', got param={param!r} "
                         f"for {nonlinearity!r}")
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4.0
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, int | float) or not math.isfinite(
                slope):
            raise ValueError(f"param (negative slope) must be a finite number, got {param!r}")
        return math.sqrt(2.0 / (1.0 + slope**2))
    return 1.0


def fans(shape: tuple[int, ...], layout: str = "numpy") -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of the given shape in an explicit layout.

    ``layout="numpy"``: a 2-D weight ``(D_in, D_out)``: ``fan_in = shape[0]``,
    ``fan_out = shape[1]``.

    ``layout="maxout"``: a maxout weight ``(D_in, D_out, k)`` (Goodfellow et al. 2013), k
    pieces of ``(D_in, D_out)``: ``fan_in = D_in``, ``fan_out = D_out``.

    ``layout="torch"``: the weight is ``(out, in, *kernel)`` and, with the receptive field
    ``r = prod(kernel)`` (1 for a Linear), ``fan_in = in * r`` and ``fan_out = out * r``, as in
    torch.nn.init._calculate_fan_in_and_fan_out. CS231n's NumPy conv kernels (F, C, HH, WW)
    use this layout too.

    A weight whose dimensions do not fit the layout is a ValueError (a 3-D NumPy weight is
    ambiguous: maxout or a 1-D conv kernel).
    """
    if not isinstance(layout, str) or layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(_LAYOUTS)}, got {layout!r}")
    if isinstance(shape, str) or not hasattr(shape, "__iter__"):
        raise TypeError(f"shape must be a tuple of positive ints, got {shape!r}")
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"shape must have at least 2 dims to define fan_in and fan_out, "
                         f"got {shape}")
    if any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1 for s in shape):
        raise ValueError(f"shape must hold positive integers, got {shape}")
    if layout == "numpy":
        if len(shape) != 2:
            raise ValueError(f"layout='numpy' is a 2-D (D_in, D_out) weight, got shape {shape}; "
                             f"pass layout='maxout' for (D_in, D_out, k) or layout='torch' for "
                             f"a conv kernel (out, in, *kernel)")
        return int(shape[0]), int(shape[1])
    if layout == "maxout":
        if len(shape) != 3:
            raise ValueError(f"layout='maxout' is a 3-D (D_in, D_out, k) weight, got shape "
                             f"{shape}")
        return int(shape[0]), int(shape[1])
    receptive = math.prod(int(s) for s in shape[2:])
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def _check_scale(scheme: str, scale: float) -> None:
    if isinstance(scale, bool) or not isinstance(scale, Real) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number, got {scale!r}")
    if scheme not in _DETERMINISTIC and scale <= 0:
        raise ValueError(f"scale must be > 0 for the random scheme {scheme!r}, got {scale}")


def _gain_for(nonlinearity: str | None, scheme: str, a: float) -> float:
    """The activation gain of ``scheme``: He et al.'s for kaiming, 1 for every other scheme
    (their gain, if wanted, is an explicit ``scale``).

    ``a`` means what it means in torch's ``kaiming_*_(a=..., nonlinearity="leaky_relu")``: the
    negative slope of the leaky ReLU whose gain ``sqrt(2 / (1 + a**2))`` is used; with
    ``nonlinearity=None`` (torch's default, ``"leaky_relu"``) ``a = 0`` is ReLU's sqrt(2) and
    ``a = sqrt(5)`` is torch's ``nn.Linear`` default init. Where torch silently ignores ``a``
    (any other nonlinearity, any non-kaiming scheme) this refuses it."""
    if isinstance(a, bool) or not isinstance(a, Real) or not math.isfinite(a):
        raise ValueError(f"a (the leaky ReLU's negative slope) must be a finite number, "
                         f"got {a!r}")
    if scheme not in _KAIMING:
        if nonlinearity is not None:
            raise ValueError(f"nonlinearity applies to the kaiming schemes only (He et al.'s "
                             f"gain is part of their rule); {scheme!r} has no activation gain. "
                             f"For a gain pass it explicitly: scale=init.gain({nonlinearity!r})")
        if a != 0:
            raise ValueError(f"a={a!r} (a leaky ReLU's negative slope) applies to the kaiming "
                             f"schemes only; {scheme!r} has no activation gain. For a gain "
                             f"pass scale=init.gain('leaky_relu', {a!r})")
        return 1.0
    if nonlinearity is None:
        nonlinearity = "leaky_relu"          # torch's default; with a = 0 the gain is sqrt(2)
    if nonlinearity != "leaky_relu" and a != 0:
        raise ValueError(f"a={a!r} is a leaky ReLU's negative slope but nonlinearity="
                         f"{nonlinearity!r} has none (torch would ignore a silently): pass "
                         f"nonlinearity='leaky_relu' (torch's default) or leave a = 0")
    return gain(nonlinearity, float(a) if nonlinearity == "leaky_relu" else None)


def init_std(scheme: str, fan_in: int, fan_out: int, *, scale: float = 1.0,
             nonlinearity: str | None = None, mode: str = "fan_in", a: float = 0.0) -> float:
    """The standard deviation of each weight that ``scheme`` draws (see the module table).

    Args:
        scheme: one of :data:`SCHEMES`.
        fan_in, fan_out: from :func:`fans`.
        scale: multiplies the std of every random scheme (must be > 0 there); for
            ``"constant"`` it is the constant value and the std is 0.
        nonlinearity: the gain (:func:`gain`) of the kaiming schemes; ``None`` means
            torch's default ``"leaky_relu"`` with slope ``a`` (a = 0: ReLU's gain sqrt(2)).
            Every other scheme has no activation gain and raises a ValueError when
            given one: Xavier means Xavier; for Xavier times tanh's 5/3 pass
            ``scale=gain("tanh")``.
        mode: ``"fan_in"`` keeps forward activations' variance, ``"fan_out"`` keeps the
            backward gradients' variance; only kaiming uses it.
        a: negative slope for ``nonlinearity="leaky_relu"`` (torch's kaiming argument ``a``,
            same meaning: ``a=math.sqrt(5)`` is torch's ``nn.Linear`` default). Refused where
            torch ignores it silently (another nonlinearity, a non-kaiming scheme).

    ``xavier_fan_in`` is the lecture's simple variant ``std = 1 / sqrt(fan_in)``: Glorot &
    Bengio's paper averages the two fans, ``Var(w) = 2 / (fan_in + fan_out)``, and so does
    torch's ``xavier_*`` (its ``gain`` argument is ``scale`` here). For a 2-D weight
    ``orthogonal``'s std is ``scale / sqrt(max(fan_in, fan_out))``; for a conv kernel torch
    flattens to
    ``(out, in * r)``, so use :func:`init_tensor_` for the exact draw. A maxout weight
    ``(D_in, D_out, k)`` is drawn as k independent orthogonal ``(D_in, D_out)`` pieces, so
    this std holds for it too.
    """
    _check_scheme(scheme)
    _check_scale(scheme, scale)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    for name, value in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    g = _gain_for(nonlinearity, scheme, a)
    if scheme in _DETERMINISTIC:
        return 0.0
    if scheme == "normal":
        return float(scale)
    if scheme in _FAN_IN_ONLY:
        return scale / math.sqrt(fan_in)
    if scheme in ("xavier_normal", "xavier_uniform"):
        return scale * math.sqrt(2.0 / (fan_in + fan_out))
    if scheme in _KAIMING:
        fan = fan_in if mode == "fan_in" else fan_out
        return scale * g / math.sqrt(fan)
    return scale / math.sqrt(max(fan_in, fan_out))


def torch_generator(rng: torch.Generator | int | None) -> torch.Generator | None:
    """``rng`` of a torch function (:mod:`trainlab.conventions`): a ``torch.Generator`` (as
    is), a non-negative int seed (a fresh seeded generator) or None (torch's global one)."""
    import torch

    if rng is None or isinstance(rng, torch.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer) or rng < 0:
        raise TypeError(f"rng must be a torch.Generator, a non-negative int seed or None, "
                        f"got {rng!r}")
    return torch.Generator().manual_seed(int(rng))


def _as_generator(rng: None | int | np.random.Generator) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, int | np.integer) and not isinstance(rng, bool)
                       and rng >= 0):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, a non-negative int seed or a numpy Generator, "
                    f"got {rng!r}")


def _orthogonal_numpy(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal rows or columns, Haar-distributed (sign-fixed QR)."""
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q if rows >= cols else q.T


def _float_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be a NumPy floating dtype, got {dtype!r}") from err
    if dt.kind != "f":
        raise TypeError(f"dtype must be a real floating dtype (float16/32/64), got {dt}")
    return dt


def init_weights(shape: tuple[int, ...], scheme: str, *, scale: float = 1.0,
                 nonlinearity: str | None = None, mode: str = "fan_in", a: float = 0.0,
                 rng: None | int | np.random.Generator = None,
                 dtype: type | np.dtype = np.float64, layout: str = "numpy") -> np.ndarray:
    """A NumPy weight of ``shape`` drawn by ``scheme``.

    ``shape`` is in the :func:`fans` ``layout`` (``"numpy"`` (D_in, D_out) by default,
    ``"maxout"`` (D_in, D_out, k), ``"torch"`` for conv kernels (F, C, HH, WW)). Normal
    schemes draw ``N(0, std**2)``, uniform ones ``U(-sqrt(3) std, sqrt(3) std)`` with
    ``std = init_std(scheme, *fans(shape, layout), ...)``; ``orthogonal`` draws a matrix with
    orthonormal rows or columns (of the weight reshaped to ``(shape[0], -1)``; for
    ``layout="maxout"`` each of the k pieces ``w[:, :, j]`` on its own) times ``scale``.
    ``rng`` is a seed or a ``numpy.random.Generator``.
    """
    fan_in, fan_out = fans(shape, layout)
    shape = tuple(int(s) for s in shape)
    std = init_std(scheme, fan_in, fan_out, scale=scale, nonlinearity=nonlinearity,
                   mode=mode, a=a)
    out_dtype = _float_dtype(dtype)
    gen = _as_generator(rng)
    if scheme == "zeros":
        w = np.zeros(shape)
    elif scheme == "constant":
        w = np.full(shape, float(scale))
    elif scheme in _UNIFORM:
        bound = math.sqrt(3.0) * std
        w = gen.uniform(-bound, bound, size=shape)
    elif scheme == "orthogonal" and layout == "maxout":
        # each of the k pieces is its own (D_in, D_out) map: orthogonal piece by piece
        w = scale * np.stack([_orthogonal_numpy(shape[0], shape[1], gen)
                              for _ in range(shape[2])], axis=-1)
    elif scheme == "orthogonal":
        rows = shape[0]
        cols = math.prod(shape[1:])
        w = scale * _orthogonal_numpy(rows, cols, gen).reshape(shape)
    else:
        w = std * gen.standard_normal(shape)
    with np.errstate(over="ignore"):
        w = w.astype(out_dtype, copy=False)
    if not np.isfinite(w).all():
        raise ValueError(f"scale={scale!r} is too large for dtype {out_dtype}: the weights "
                         f"overflow to inf")
    return w


@renamed(generator="rng=")
def init_tensor_(tensor: torch.Tensor, scheme: str, *, scale: float = 1.0,
                 nonlinearity: str | None = None, mode: str = "fan_in", a: float = 0.0,
                 rng: torch.Generator | int | None = None) -> torch.Tensor:
    """Fill a torch weight ``(out, in, *kernel)`` in place by ``scheme``; returns it.

    The draws have torch.nn.init's distributions: ``init_tensor_(w, "kaiming_normal",
    nonlinearity="relu")`` matches ``nn.init.kaiming_normal_(w, nonlinearity="relu")``,
    ``"xavier_normal"`` with ``scale=s`` is ``nn.init.xavier_normal_(w, gain=s)`` and
    ``"orthogonal"`` is ``nn.init.orthogonal_(w, gain=scale)``. ``rng`` (a torch.Generator or
    an int seed) makes it reproducible.
    """
    import torch
    from torch import nn

    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must have a real floating dtype, got {tensor.dtype}")
    generator = torch_generator(rng)
    fan_in, fan_out = fans(tuple(tensor.shape), "torch")
    std = init_std(scheme, fan_in, fan_out, scale=scale, nonlinearity=nonlinearity,
                   mode=mode, a=a)
    with torch.no_grad():
        if scheme == "zeros":
            tensor.zero_()
        elif scheme == "constant":
            tensor.fill_(float(scale))
        elif scheme in _UNIFORM:
            bound = math.sqrt(3.0) * std
            tensor.uniform_(-bound, bound, generator=generator)
        elif scheme == "orthogonal":
            nn.init.orthogonal_(tensor, gain=float(scale), generator=generator)
        else:
            tensor.normal_(0.0, std, generator=generator)
    return tensor


def _init_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d)
    layers = [(name, m) for name, m in module.named_modules() if isinstance(m, kinds)]
    if not layers:
        raise ValueError(f"module must contain at least one nn.Linear/nn.Conv1d/nn.Conv2d, "
                         f"got {type(module).__name__} with none")
    return layers


@renamed(generator="rng=")
def init_module_(module: nn.Module, scheme: str, *, scale: float = 1.0,
                 nonlinearity: str | None = None, mode: str = "fan_in", a: float = 0.0,
                 bias: float | None = 0.0,
                 rng: torch.Generator | int | None = None) -> nn.Module:
    """Apply ``scheme`` in place to every nn.Linear / nn.Conv1d / nn.Conv2d weight of ``module``.

    Weights use torch's layout ``(out, in, *kernel)`` (see :func:`fans`); each layer's biases
    are set to the constant ``bias`` (``None`` leaves them untouched). ``rng`` as in
    :func:`init_tensor_` (one generator drawn from for every layer in turn). Returns ``module``.
    """
    import torch

    layers = _init_layers(module)
    generator = torch_generator(rng)
    for _, layer in layers:
        init_tensor_(layer.weight, scheme, scale=scale, nonlinearity=nonlinearity, mode=mode,
                     a=a, rng=generator)
        if bias is not None and layer.bias is not None:
            with torch.no_grad():
                layer.bias.fill_(float(bias))
    return module


@dataclass(frozen=True)
class LSUVLayerRecord:
    """What :func:`lsuv_` did to one layer: output variance before and after, rescalings."""

    name: str
    variance_before: float
    variance_after: float
    iterations: int


def _output_variance(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> float:
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
    try:
        model(x)
    finally:
        handle.remove()
    return float(captured[-1].var())


@renamed(generator="rng=")
def lsuv_(model: nn.Module, x: torch.Tensor, *, tol: float = 0.05, max_iter: int = 10,
          rng: torch.Generator | int | None = None) -> nn.Module:
    """Layer-sequential unit-variance init (Mishkin & Matas 2016), in place; returns ``model``.

    1. Every nn.Linear / nn.Conv1d / nn.Conv2d weight gets an orthogonal init, biases 0.
    2. Layer by layer in ``model.named_modules()`` order (the forward order of a Sequential),
       a forward hook reads the variance ``v`` of the layer's output on the batch ``x`` (over
       all its entries) and the weight is divided by ``sqrt(v)``, until ``|v - 1| < tol`` or
       ``max_iter`` rescalings.

    The model runs in eval mode (dropout off, batch norms use and keep their running stats)
    and under ``torch.no_grad``; its train/eval flag is restored afterwards. A list of
    :class:`LSUVLayerRecord` (the variances reached) is stored as ``model.lsuv_record``.
    ``rng`` (torch.Generator or int seed) seeds the orthogonal init.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor batch, got {type(x).__name__}")
    if not (isinstance(tol, int | float) and 0 < tol < 1):
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    layers = _init_layers(model)
    init_module_(model, "orthogonal", bias=0.0, rng=rng)
    was_training = model.training
    model.eval()
    record: list[LSUVLayerRecord] = []
    try:
        with torch.no_grad():
            for name, layer in layers:
                var = before = _output_variance(model, layer, x)
                steps = 0
                while abs(var - 1.0) >= tol and steps < max_iter:
                    if not (math.isfinite(var) and var > 0):
                        raise ValueError(f"layer {name!r} has output variance {var} on x; "
                                         f"LSUV needs a finite positive variance")
                    layer.weight.div_(math.sqrt(var))
                    var = _output_variance(model, layer, x)
                    steps += 1
                record.append(LSUVLayerRecord(name, before, var, steps))
    finally:
        model.train(was_training)
    model.lsuv_record = record
    return model


# --------------------------------------------------------------------------------------------
# signals through a deep net at initialisation (lesson 03 and its explorer)
# --------------------------------------------------------------------------------------------
SCALED_SCHEMES: tuple[str, ...] = (
    "normal", "xavier_fan_in", "xavier_normal", "xavier_uniform", "kaiming_normal",
    "kaiming_uniform", "lecun_normal", "zeros", "constant",
)
"""Schemes whose weights are a fixed standard matrix times a std (every :data:`SCHEMES` entry
but ``orthogonal``): :func:`init_forward_stats` accepts these."""


_ACTIVATION_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
_STAT_KEYS = ("std", "mean", "pre_std", "hist", "frac_saturated", "frac_zero", "activations",
              "grad_std", "grad_hist")


@dataclass
class WeightCache:
    """Standard float32 weight matrices and input batches, each a function of its seed.

    ``weight(layer, fan_in, fan_out, kind)`` is a (fan_in, fan_out) matrix of unit-variance
    entries: ``kind="normal"`` N(0, 1), ``kind="uniform"`` U(-sqrt 3, sqrt 3). A scheme with
    std ``s`` then has weights ``s * W`` and ``x @ (s W) = s (x @ W)``, so a change of scheme or
    scale costs one matmul per layer and no sampling. Each matrix comes from its own generator
    seeded by ``(seed, layer, fan_in, fan_out, kind)``, so values do not depend on the order of
    requests, and a matrix dropped beyond ``max_bytes`` (least recently used first) is drawn
    again, identical, when it is needed again. Safe to use from several threads.
    """

    seed: int = 0
    batch: int = 16
    max_bytes: int = 1 << 30
    _mats: dict = field(default_factory=OrderedDict, repr=False)
    _inputs: dict = field(default_factory=dict, repr=False)
    _lock: Any = field(default_factory=threading.RLock, repr=False, compare=False)

    def weight(self, layer: int, fan_in: int, fan_out: int, kind: str = "normal",
               keep: bool = True) -> np.ndarray:
        """The unit-variance (fan_in, fan_out) float32 matrix of ``layer``; ``keep=False``
        draws a matrix that is not cached without caching it (a one-off pass over deep
        layers then does not evict the shallow ones that every update needs)."""
        if kind not in ("normal", "uniform"):
            raise ValueError(f"kind must be one of ['normal', 'uniform'], got {kind!r}")
        key = (layer, fan_in, fan_out, kind)
        with self._lock:
            if key in self._mats:
                self._mats.move_to_end(key)
                return self._mats[key]
        # drawn outside the lock (0.3 s at 4096 wide): a thread that needs a cached matrix
        # meanwhile does not wait; two threads drawing the same matrix get equal values
        w = self._draw(layer, fan_in, fan_out, kind)
        if not keep:
            return w
        with self._lock:
            if key in self._mats:
                self._mats.move_to_end(key)
                return self._mats[key]
            self._mats[key] = w
            while self.nbytes > self.max_bytes and len(self._mats) > 1:
                self._mats.popitem(last=False)
            return w

    def _draw(self, layer: int, fan_in: int, fan_out: int, kind: str) -> np.ndarray:
        rng = np.random.default_rng([self.seed, layer, fan_in, fan_out, kind == "uniform"])
        if kind == "normal":
            return rng.standard_normal((fan_in, fan_out), dtype=np.float32)
        w = rng.random((fan_in, fan_out), dtype=np.float32)
        return (w - np.float32(0.5)) * np.float32(2.0 * math.sqrt(3.0))

    def inputs(self, width: int) -> np.ndarray:
        """The standard-normal input batch, shape (batch, width), float32."""
        with self._lock:
            if width not in self._inputs:
                rng = np.random.default_rng([self.seed, width, 7])
                self._inputs[width] = rng.standard_normal((self.batch, width), dtype=np.float32)
            return self._inputs[width]

    def output_grad(self, width: int) -> np.ndarray:
        """The standard-normal gradient fed into the last layer's output, (batch, width)."""
        with self._lock:
            key = ("dout", width)
            if key not in self._inputs:
                rng = np.random.default_rng([self.seed, width, 11])
                self._inputs[key] = rng.standard_normal((self.batch, width), dtype=np.float32)
            return self._inputs[key]

    def first_product(self, width: int, kind: str = "normal") -> np.ndarray:
        """``inputs(width) @ weight(1, width, width, kind)``, shape (batch, width), cached:
        layer 1's pre-activation before scaling does not depend on the scheme's std."""
        key = ("x@W1", width, kind)
        with self._lock:
            if key not in self._inputs:
                self._inputs[key] = self.inputs(width) @ self.weight(1, width, width, kind)
            return self._inputs[key]

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached weight matrices."""
        return sum(w.nbytes for w in self._mats.values())


def _activation_pair(name: str) -> tuple[Any, Any]:
    from trainlab import activations

    if name not in activations.ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(activations.ACTIVATIONS)}, "
                         f"got {name!r}")
    return activations.ACTIVATIONS[name]


def _matmul(x: np.ndarray, w: np.ndarray, transpose: bool = False) -> np.ndarray:
    """``x @ w`` (or ``x @ w.T``) in float32 through torch (zero-copy views): with a batch of
    16 rows the product is bound by reading ``w``, and torch's kernel at the notebook's thread
    count does that 2-4x faster than multi-threaded OpenBLAS on a busy 2-core machine."""
    import torch

    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    wt = torch.from_numpy(w)
    return (xt @ (wt.T if transpose else wt)).numpy()


def _scheme_kind(scheme: str) -> str:
    return "uniform" if scheme in _UNIFORM else "normal"


def _check_forward_args(scheme: str, depth: Any, width: Any) -> tuple[int, int]:
    if scheme not in SCALED_SCHEMES:
        raise ValueError(f"scheme must be one of {list(SCALED_SCHEMES)}, got {scheme!r}")
    for name, value, hi in (("depth", depth, 100), ("width", width, 1 << 14)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                or not 1 <= value <= hi:
            raise ValueError(f"{name} must be an int in [1, {hi}], got {value!r}")
    return int(depth), int(width)


def init_forward_stats(ws_cache: WeightCache, scheme: str, scale: float, depth: int,
                       width: int, activation: str, *, bins: int = 30, use_gain: bool = True,
                       backward: bool = False, keep_activations: bool = True) -> dict[str, Any]:
    """Forward a standard-normal batch through ``depth`` fresh layers and measure each layer.

    Layer ``l`` (1-based) computes ``z_l = a_{l-1} W_l`` and ``a_l = f(z_l)``, with
    ``a_0 = x`` of shape (batch, width), ``W_l`` of shape (width, width) drawn by ``scheme``
    with std ``init_std(scheme, width, width, scale=scale)`` (no biases); with ``use_gain`` the
    activation's gain enters explicitly (see :func:`_forward_std`).
    Returns per-layer lists (index 0 = layer 1): ``std`` and ``mean`` of ``a_l``, ``pre_std``
    of ``z_l``, ``weight_std``, ``hist`` = ``(counts, edges)`` of ``a_l``, ``frac_saturated``
    (|tanh| > 0.99, sigmoid outside [0.01, 0.99]), ``frac_zero`` (exact zeros, e.g. dead
    ReLU), ``activations`` (the arrays, unless ``keep_activations=False``), plus ``input_std``,
    ``status`` and ``diverged_at`` (first layer with a non-finite value, else None). Layers
    after a divergence are not computed (std ``inf``). ``status`` is ``"ok"``, ``"diverged:
    ..."`` (overflow to inf), ``"exploded: ..."`` / ``"vanished: ..."`` (a layer's std above
    100 or below 1/100 of the input's: :func:`trainlab.health.signal_problem`, the thresholds
    the lessons' claims use) or ``"vanished: ..."`` (std exactly 0).

    ``backward=True`` also backpropagates a standard-normal gradient ``g`` at the last
    layer's output (``WeightCache.output_grad``): ``da_{l-1} = (da_l * f'(z_l)) W_l^T``, and
    adds ``grad_std`` (std of ``dL/da_l``, l = 1..depth) and ``grad_hist``. Raises ValueError
    for an unknown scheme or activation, or depth/width outside [1, 100] / [1, 16384].
    """
    return init_forward_grid(ws_cache, scheme, [scale], depth, width, activation, bins=bins,
                             use_gain=use_gain, backward=backward,
                             keep_activations=keep_activations)[0]


def _forward_std(scheme: str, width: int, scale: float, activation: str,
                 use_gain: bool) -> float:
    """The weight std of one layer of :func:`init_forward_grid`. With ``use_gain`` the
    activation's gain enters explicitly: as ``nonlinearity`` for the kaiming schemes, as a
    factor ``gain(activation)`` on ``scale`` for xavier_normal / xavier_uniform (Glorot's rule
    times the gain, what the lecture's explorer shows); other schemes take no gain."""
    explicit = gain(activation) if use_gain and scheme in ("xavier_normal",
                                                             "xavier_uniform") else 1.0
    return init_std(scheme, width, width, scale=scale * explicit,
                    nonlinearity=activation if use_gain and scheme in _KAIMING else None)


def init_forward_grid(ws_cache: WeightCache, scheme: str, scales: Sequence[float], depth: int,
                      width: int, activation: str, *, bins: int = 30, use_gain: bool = True,
                      backward: bool = False, keep_activations: bool = False,
                      cancelled: Any = None) -> list[dict[str, Any]]:
    """:func:`init_forward_stats` for many ``scales`` at once, one result dict per scale.

    The batches of every scale are stacked, so each layer's weight matrix is read (or drawn)
    once for all of them, and the product is one matrix-matrix multiplication instead of one
    memory-bound pass per scale. ``cancelled``: a callable polled between layers; when it
    returns True the computation stops and ``[]`` is returned.
    """
    depth, width = _check_forward_args(scheme, depth, width)
    f, df = _activation_pair(activation)
    kind = _scheme_kind(scheme)
    stds = [_forward_std(scheme, width, float(s), activation, use_gain) for s in scales]
    x = ws_cache.inputs(width)
    results = [_empty_stats(scheme, s, depth, width, activation, std, x)
               for s, std in zip(scales, stds, strict=True)]
    alive = list(range(len(scales)))
    a = np.concatenate([x] * len(alive))
    zs: list[np.ndarray] = []
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for layer in range(1, depth + 1):
            if cancelled is not None and cancelled():
                return []
            z = _stacked_preactivation(ws_cache, layer, a, width, scheme, kind,
                                       [stds[i] for i in alive], [scales[i] for i in alive])
            a = f(z)
            keep = []
            for j, i in enumerate(alive):
                zi, ai = _rows(z, j, x.shape[0]), _rows(a, j, x.shape[0])
                if not (np.isfinite(zi).all() and np.isfinite(ai).all()):
                    _mark_diverged(results[i], layer, depth)
                    continue
                _layer_stats(results[i], zi, ai, activation, bins, keep_activations)
                keep.append(j)
            if len(keep) < len(alive):
                rows = np.concatenate([np.arange(j * x.shape[0], (j + 1) * x.shape[0])
                                       for j in keep]) if keep else np.arange(0)
                a, z = a[rows], z[rows]
                zs = [zz[rows] for zz in zs]
                alive = [alive[j] for j in keep]
            if backward:
                zs.append(z)
            if not alive:
                break
        if backward and alive and len(zs) == depth:
            _backward_stats(ws_cache, results, alive, zs, df, width, scheme, kind, stds, bins,
                            cancelled)
    for res in results:
        _flag_scale(res)
    return results


def _rows(m: np.ndarray, j: int, batch: int) -> np.ndarray:
    return m[j * batch:(j + 1) * batch]


def _stacked_preactivation(ws_cache: WeightCache, layer: int, a: np.ndarray, width: int,
                           scheme: str, kind: str, stds: list[float],
                           scales: list[float]) -> np.ndarray:
    """z = a @ W for each stacked block with its own std, without building W."""
    batch = ws_cache.batch
    n = len(stds)
    if scheme == "zeros":
        return np.zeros((a.shape[0], width), dtype=np.float32)
    if scheme == "constant":
        row = a.sum(axis=1, keepdims=True, dtype=np.float32)
        row = row * np.repeat(np.asarray(scales, dtype=np.float32), batch)[:, None]
        return np.repeat(row, width, axis=1)
    if layer == 1 and a.shape[1] == width:
        z = np.concatenate([ws_cache.first_product(width, kind)] * n)
    else:
        keep = layer * a.shape[1] * width * 4 <= ws_cache.max_bytes // 2
        z = _matmul(a, ws_cache.weight(layer, a.shape[1], width, kind, keep=keep))
    factors = np.repeat(np.asarray(stds, dtype=np.float32), batch)[:, None]
    z *= factors
    return z


def _backward_stats(ws_cache: WeightCache, results: list[dict[str, Any]], alive: list[int],
                    zs: list[np.ndarray], df: Any, width: int, scheme: str, kind: str,
                    stds: list[float], bins: int, cancelled: Any) -> None:
    batch = ws_cache.batch
    g = np.concatenate([ws_cache.output_grad(width)] * len(alive))
    grads: list[np.ndarray] = []
    for layer in range(len(zs), 0, -1):
        if cancelled is not None and cancelled():
            return
        grads.append(g)
        dz = g * df(zs[layer - 1]).astype(np.float32)
        if scheme == "zeros":
            g = np.zeros_like(dz)
        elif scheme == "constant":
            scales = np.asarray([results[i]["scale"] for i in alive], dtype=np.float32)
            g = np.repeat(dz.sum(axis=1, keepdims=True) * np.repeat(scales, batch)[:, None],
                          width, axis=1)
        else:
            keep = layer * width * width * 4 <= ws_cache.max_bytes // 2
            w = ws_cache.weight(layer, width, width, kind, keep=keep)
            g = _matmul(dz, w, transpose=True)
            g *= np.repeat(np.asarray([stds[i] for i in alive], dtype=np.float32), batch)[:, None]
    grads.reverse()
    for j, i in enumerate(alive):
        res = results[i]
        for gl in grads:
            gi = _rows(gl, j, batch)
            res["grad_std"].append(float(gi.std(dtype=np.float64)))
            res["grad_hist"].append(_histogram(gi, None, bins) if np.isfinite(gi).all()
                                    else (np.zeros(bins, dtype=np.int64), np.linspace(-1, 1,
                                                                                      bins + 1)))


def _empty_stats(scheme: str, scale: float, depth: int, width: int, activation: str, std: float,
                 x: np.ndarray) -> dict[str, Any]:
    res: dict[str, Any] = {k: [] for k in _STAT_KEYS}
    res.update(scheme=scheme, scale=float(scale), depth=depth, width=width,
               activation=activation, batch=x.shape[0], weight_std=[float(std)] * depth,
               input_std=float(x.std(dtype=np.float64)), status="ok", diverged_at=None)
    return res


def _histogram(a: np.ndarray, activation: str | None, bins: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = _ACTIVATION_RANGE.get(activation or "", (float(a.min()), float(a.max())))
    if activation not in _ACTIVATION_RANGE:
        m = max(abs(lo), abs(hi), 1e-30)
        lo, hi = (0.0 if lo >= 0 else -m), m
    counts, edges = np.histogram(a.astype(np.float64), bins=bins, range=(lo, hi))
    return counts, edges


def _layer_stats(res: dict[str, Any], z: np.ndarray, a: np.ndarray, activation: str,
                 bins: int, keep_activations: bool = True) -> None:
    res["std"].append(float(a.std(dtype=np.float64)))
    res["mean"].append(float(a.mean(dtype=np.float64)))
    res["pre_std"].append(float(z.std(dtype=np.float64)))
    res["hist"].append(_histogram(a, activation, bins))
    if activation == "tanh":
        sat = float(np.mean(np.abs(a) > 0.99))
    elif activation == "sigmoid":
        sat = float(np.mean((a < 0.01) | (a > 0.99)))
    else:
        sat = 0.0
    res["frac_saturated"].append(sat)
    res["frac_zero"].append(float(np.mean(a == 0)))
    if keep_activations:
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


def _flag_scale(res: dict[str, Any]) -> None:
    """Turn an "ok" status into "exploded"/"vanished" when a layer's std leaves
    :mod:`trainlab.health`'s range around the input's std."""
    from trainlab.health import signal_problem

    if res["status"] != "ok":
        return
    stds = np.asarray(res["std"], dtype=np.float64)
    problem = signal_problem(stds, input_std=float(res["input_std"]))
    if problem:
        res["status"] = f"{problem}, last layer {format_value(stds[-1], 2)}"
