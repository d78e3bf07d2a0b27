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
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: the NumPy half needs no torch
    import torch
    from torch import nn

from trainlab.conventions import renamed

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
    (their gain, if wanted, is an explicit ``scale``)."""
    if scheme not in _KAIMING:
        if nonlinearity is not None:
            raise ValueError(f"nonlinearity applies to the kaiming schemes only (He et al.'s "
                             f"gain is part of their rule); {scheme!r} has no activation gain. "
                             f"For a gain pass it explicitly: scale=init.gain({nonlinearity!r})")
        return 1.0
    if nonlinearity is None:
        nonlinearity = "relu"
    return gain(nonlinearity, a if nonlinearity == "leaky_relu" else None)


def init_std(scheme: str, fan_in: int, fan_out: int, *, scale: float = 1.0,
             nonlinearity: str | None = None, mode: str = "fan_in", a: float = 0.0) -> float:
    """The standard deviation of each weight that ``scheme`` draws (see the module table).

    Args:
        scheme: one of :data:`SCHEMES`.
        fan_in, fan_out: from :func:`fans`.
        scale: multiplies the std of every random scheme (must be > 0 there); for
            ``"constant"`` it is the constant value and the std is 0.
        nonlinearity: the gain (:func:`gain`) of the kaiming schemes; ``None`` means
            ``"relu"`` (torch's kaiming default, leaky_relu with a=0, has the same gain
            sqrt(2)). Every other scheme has no activation gain and raises a ValueError when
            given one: Xavier means Xavier; for Xavier times tanh's 5/3 pass
            ``scale=gain("tanh")``.
        mode: ``"fan_in"`` keeps forward activations' variance, ``"fan_out"`` keeps the
            backward gradients' variance; only kaiming uses it.
        a: negative slope for ``nonlinearity="leaky_relu"`` (torch's kaiming argument ``a``).

    ``xavier_fan_in`` is the lecture's simple variant ``std = 1 / sqrt(fan_in)``: Glorot &
    Bengio's paper averages the two fans, ``Var(w) = 2 / (fan_in + fan_out)``, and so does
    torch's ``xavier_*`` (its ``gain`` argument is ``scale`` here). For a 2-D weight
    ``orthogonal``'s std is ``scale / sqrt(max(fan_in, fan_out))``; for a conv kernel torch
    flattens to
    ``(out, in * r)``, so use :func:`init_tensor_` for the exact draw.
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
    orthonormal rows or columns (of the weight reshaped to ``(shape[0], -1)``) times
    ``scale``. ``rng`` is a seed or a ``numpy.random.Generator``.
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
