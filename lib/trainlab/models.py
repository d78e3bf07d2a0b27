"""Small MLP and CNN builders whose layers the training recorder can address by number.

Every hidden block ``i`` (1-based) of :func:`mlp` is a run of named modules::

    fc{i}  -> [norm{i}] -> act{i} -> [norm{i} for "bn_after"] -> [drop{i}]

followed by ``out`` (the classifier / regression head). :func:`cnn` uses ``conv{i}``,
``norm{i}``, ``act{i}``, ``pool{i}``, then ``flatten`` and ``out``. The recorder of
:mod:`trainlab.train` treats every activation module (``act{i}``) as "layer i": its *input* is
the pre-activation ``z`` (what hits the non-linearity, i.e. after batch norm for ``norm="bn"``)
and its *output* the activation ``a = f(z)``; the weight of layer i is the ``fc{i}``/``conv{i}``
before it.

Batch norm placement follows Ioffe & Szegedy (2015): ``norm="bn"`` puts BN between the affine
map and the non-linearity (the affine layer then has no bias, BN's beta takes its place);
``"bn_after"`` puts it after the non-linearity. Dropout (Srivastava et al. 2014) is configured
by ``keep_prob``, the probability of *keeping* a unit; torch's ``nn.Dropout(p)`` takes the
*drop* probability, so ``p = 1 - keep_prob``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from trainlab import modules
from trainlab.init import SCHEMES, init_module_, init_tensor_

__all__ = [
    "ACTIVATIONS",
    "CNN_NORMS",
    "INIT_SCHEMES",
    "MLP_NORMS",
    "LinearActivation",
    "activation_name",
    "cnn",
    "mlp",
]


class LinearActivation(nn.Identity):
    """The identity non-linearity ``f(z) = z``.

    A separate class (not a bare ``nn.Identity``) so the recorder recognises it as the
    activation of a layer in a deep *linear* network.
    """


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "linear": LinearActivation,
}
"""Activation name -> torch module class (all built with their torch default arguments)."""

_KAIMING_NONLINEARITY: dict[str, str] = {
    "relu": "relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "leaky_relu": "leaky_relu",
    "elu": "relu",
    "selu": "selu",
    "linear": "linear",
}
"""The nonlinearity whose gain the kaiming schemes use for each activation (ELU has no standard
gain; its positive half is ReLU-like, so it borrows ReLU's sqrt(2) as He et al. 2015 / Clevert et
al. 2016 do). Other schemes get no gain (Xavier means Xavier; see trainlab.conventions)."""

MLP_NORMS: tuple[str, ...] = (
    "none", "bn", "bn_after", "ln", "gn", "lp_bn", "noisy_bn", "wn", "bn_scratch",
)
CNN_NORMS: tuple[str, ...] = ("none", "bn", "gn", "ln", "in")
INIT_SCHEMES: tuple[str, ...] = (*SCHEMES, "torch_default")
"""``"torch_default"`` keeps torch's own layer initialisation (seeded by ``seed``); the other
names are :data:`trainlab.init.SCHEMES`."""

_BN_BEFORE_ACT = ("bn", "lp_bn", "noisy_bn", "bn_scratch")
_KAIMING = ("kaiming_normal", "kaiming_uniform")
_MLP_PER_GROUP = (2, 8)
_CNN_PER_GROUP = (1, 2)


def activation_name(module: nn.Module) -> str | None:
    """The :data:`ACTIVATIONS` name of an activation module, or None for any other module."""
    for name, cls in ACTIVATIONS.items():
        if type(module) is cls:
            return name
    return None


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_choice(name: str, value: Any, valid: Sequence[str]) -> str:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def _hidden_widths(hidden: Sequence[int]) -> list[int]:
    """The list of widths ``[w1, ..., wL]``; the removed ``(depth, width)`` tuple spelling is a
    TypeError naming the list one."""
    if isinstance(hidden, tuple):
        example = f"[{hidden[1]}] * {hidden[0]}" if len(hidden) == 2 else "[100] * 4"
        raise TypeError(f"hidden must be a list of widths, e.g. {example} for "
                        f"{hidden[0] if len(hidden) == 2 else 4} layers of "
                        f"{hidden[1] if len(hidden) == 2 else 100} units; the tuple spelling "
                        f"(depth, width) was removed (one spelling per concept, see "
                        f"trainlab.conventions), got {hidden!r}")
    if not isinstance(hidden, list):
        raise TypeError("hidden must be a list of widths, e.g. [100] * 4, "
                        f"got {type(hidden).__name__}")
    return [_check_int(f"hidden[{i}]", w) for i, w in enumerate(hidden)]


def _groups_for(channels: int, groups: int | None, name: str, per_group: tuple[int, int]
                ) -> int:
    """The number of GroupNorm groups over ``channels`` features.

    ``per_group = (minimum, default)`` features per group. ``None`` picks the largest divisor
    ``g <= 32`` of ``channels`` (Wu & He 2018 use 32) leaving at least ``default`` features per
    group (1 group if none does). In a dense layer a group of one unit would be normalised to 0
    for every input, so explicit ``groups`` must leave at least ``minimum`` per group.
    """
    minimum, default = per_group
    if groups is None:
        fits = [g for g in range(1, min(32, channels) + 1)
                if channels % g == 0 and channels // g >= default]
        return max(fits, default=1)
    if channels % groups:
        raise ValueError(f"groups must divide every {name} width; {groups} does not divide "
                         f"{channels}")
    if channels // groups < minimum:
        raise ValueError(f"groups must leave >= {minimum} features per group of a {name} "
                         f"layer, got groups={groups} for {channels} features")
    return groups


def _init_layers_(plan: list[tuple[nn.Module, str]], init: str,
                  init_scale: float, seed: int) -> None:
    """Initialise each weight layer with ``init`` times ``init_scale``; the kaiming schemes use
    the gain of the activation after the layer, every other scheme none."""
    if init == "torch_default":
        return
    gen = torch.Generator().manual_seed(seed)
    for module, activation in plan:
        nonlinearity = _KAIMING_NONLINEARITY[activation] if init in _KAIMING else None
        if isinstance(module, modules.WeightNormLinear):
            init_tensor_(module.v, init, scale=init_scale, nonlinearity=nonlinearity, rng=gen)
            with torch.no_grad():
                module.g.copy_(module.v.norm(dim=1))
                if module.b is not None:
                    module.b.zero_()
        else:
            init_module_(module, init, scale=init_scale, nonlinearity=nonlinearity, bias=0.0,
                         rng=gen)


def _mlp_norm(norm: str, width: int, groups: int | None,
              norm_kwargs: dict[str, Any]) -> nn.Module:
    if norm in ("bn", "bn_after"):
        return nn.BatchNorm1d(width, **norm_kwargs)
    if norm == "ln":
        return nn.LayerNorm(width, **norm_kwargs)
    if norm == "gn":
        return nn.GroupNorm(_groups_for(width, groups, "hidden", _MLP_PER_GROUP), width,
                            **norm_kwargs)
    if norm == "lp_bn":
        return modules.LpBatchNorm(width, **norm_kwargs)
    if norm == "noisy_bn":
        return modules.NoisyBatchNorm(width, **norm_kwargs)
    return modules.BatchNorm(width, **norm_kwargs)


def _affine(norm: str, n_in: int, n_out: int, bias: bool) -> nn.Module:
    if norm == "wn":
        return modules.WeightNormLinear(n_in, n_out)
    return nn.Linear(n_in, n_out, bias=bias)


def mlp(in_dim: int, hidden: list[int], out_dim: int, *,
        activation: str = "relu", init: str = "kaiming_normal", init_scale: float = 1.0,
        norm: str = "none", keep_prob: float = 1.0, groups: int | None = None,
        norm_kwargs: dict[str, Any] | None = None, seed: int = 0) -> nn.Sequential:
    """A fully connected network ``(N, in_dim) -> (N, out_dim)``.

    ``hidden`` is the list of widths ``[w1, ..., wL]``: ``[100] * 4`` is four layers of 100 units,
    ``[]`` a linear model (the old tuple spelling ``(depth, width)`` is a TypeError). Block ``i``
    computes
    ``z_i = norm(W_i a_{i-1} + b_i)``, ``a_i = f(z_i)`` (``norm="bn"``: BN before ``f``, as in
    Ioffe & Szegedy 2015) or ``a_i = norm(f(W_i a_{i-1} + b_i))`` (``"bn_after"``), then dropout
    keeping each unit with probability ``keep_prob`` (torch's ``nn.Dropout(p=1 - keep_prob)``;
    with ``activation="selu"`` torch's ``nn.AlphaDropout(p=1 - keep_prob)`` (Klambauer et al.
    2017: dropped units are set to SELU's saturation value and an affine correction keeps mean
    and variance, so a self-normalising network stays at (0, 1)); ``keep_prob=1`` adds no
    dropout module; the input is never dropped). The head ``out`` is a
    plain affine map (logits for cross-entropy).

    Norms: ``"bn"``/``"bn_after"`` torch ``BatchNorm1d``; ``"ln"`` LayerNorm (Ba et al. 2016);
    ``"gn"`` GroupNorm with ``groups`` groups (Wu & He 2018; ``None`` = the largest divisor of
    the width that is <= 32 and leaves >= 8 units per group; at least 2 units per group);
    ``"bn_scratch"``, ``"noisy_bn"``, ``"lp_bn"`` the course's own :mod:`trainlab.modules`
    versions (BN before the non-linearity); ``"wn"`` replaces every affine layer, the head
    included, by weight-normalised ``WeightNormLinear`` (Salimans & Kingma 2016).
    ``norm_kwargs`` go to the norm constructor (e.g. ``{"p": 1}`` for ``"lp_bn"``,
    ``{"momentum": 0.1}`` for ``"bn"`` - torch's convention, running = (1 - m) running + m batch).

    ``init`` is a :func:`trainlab.init.init_module_` scheme (or ``"torch_default"``), applied to
    each affine layer times ``init_scale``; the kaiming schemes use the gain of the activation
    that follows the layer (``"linear"`` for the head), every other scheme none (Xavier means
    Xavier: for a gain, pass it as ``init_scale``); biases start at 0. Building is
    deterministic given ``seed`` and leaves torch's global random state untouched.
    """
    _check_int("in_dim", in_dim)
    _check_int("out_dim", out_dim)
    widths = _hidden_widths(hidden)
    _check_choice("activation", activation, tuple(ACTIVATIONS))
    _check_choice("norm", norm, MLP_NORMS)
    _check_choice("init", init, INIT_SCHEMES)
    _check_scale_keep_seed(init_scale, keep_prob, seed)
    if groups is not None:
        _check_int("groups", groups)
    kwargs = dict(norm_kwargs or {})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        plan: list[tuple[nn.Module, str]] = []
        n_in = in_dim
        for i, width in enumerate(widths, start=1):
            layers[f"fc{i}"] = _affine(norm, n_in, width, bias=norm not in _BN_BEFORE_ACT)
            plan.append((layers[f"fc{i}"], activation))
            if norm not in ("none", "wn", "bn_after"):
                layers[f"norm{i}"] = _mlp_norm(norm, width, groups, kwargs)
            layers[f"act{i}"] = ACTIVATIONS[activation]()
            if norm == "bn_after":
                layers[f"norm{i}"] = _mlp_norm(norm, width, groups, kwargs)
            if keep_prob < 1.0:
                drop = nn.AlphaDropout if activation == "selu" else nn.Dropout
                layers[f"drop{i}"] = drop(p=1.0 - keep_prob)
            n_in = width
        layers["out"] = _affine(norm, n_in, out_dim, bias=True)
        plan.append((layers["out"], "linear"))
        model = nn.Sequential(layers)
        _init_layers_(plan, init, init_scale, seed)
    return model


def _check_scale_keep_seed(init_scale: float, keep_prob: float, seed: int) -> None:
    if not (isinstance(init_scale, int | float) and math.isfinite(init_scale)
            and init_scale >= 0):
        raise ValueError(f"init_scale must be a finite number >= 0, got {init_scale!r}")
    if not (isinstance(keep_prob, int | float) and 0.0 < keep_prob <= 1.0):
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")
    _check_int("seed", seed, minimum=0)


def _cnn_norm(norm: str, channels: int, groups: int | None) -> nn.Module:
    if norm == "bn":
        return nn.BatchNorm2d(channels)
    if norm == "gn":
        return nn.GroupNorm(_groups_for(channels, groups, "channels", _CNN_PER_GROUP), channels)
    if norm == "ln":
        return nn.GroupNorm(1, channels)
    return nn.InstanceNorm2d(channels, affine=True)


def cnn(in_channels: int = 1, channels: Sequence[int] = (8, 16), num_classes: int = 10, *,
        norm: str = "none", groups: int | None = None, activation: str = "relu",
        image_size: int = 28, init: str = "kaiming_normal", init_scale: float = 1.0,
        seed: int = 0) -> nn.Sequential:
    """A small CNN ``(N, in_channels, image_size, image_size) -> (N, num_classes)`` logits.

    One block per entry of ``channels``: ``conv{i}`` (3x3, padding 1) -> ``norm{i}`` ->
    ``act{i}`` -> ``pool{i}`` (2x2 max pool, halving the side), then ``flatten`` and the linear
    head ``out``. Norms over a ``(N, C, H, W)`` map: ``"bn"`` BatchNorm2d (statistics over N, H,
    W per channel); ``"ln"`` GroupNorm(1, C) = layer norm over (C, H, W) (Ba et al. 2016);
    ``"in"`` InstanceNorm2d with affine (over H, W per example and channel; Ulyanov et al.
    2016); ``"gn"`` GroupNorm with ``groups`` groups (Wu & He 2018; ``None`` = the largest
    divisor of C that is <= 32 and leaves >= 2 channels per group, so it differs from
    ``"in"``). Convolutions before a norm have no bias (the norm's beta replaces it). With the
    defaults it has ~9k parameters and trains on 10k MNIST images on a laptop CPU at a
    few hundred steps per second. ``init``/``init_scale``/``seed`` as in :func:`mlp`.
    """
    _check_int("in_channels", in_channels)
    _check_int("num_classes", num_classes)
    _check_int("image_size", image_size)
    if isinstance(channels, str | bytes) or not isinstance(channels, Sequence) or not channels:
        raise ValueError(f"channels must be a non-empty sequence of ints, got {channels!r}")
    chans = [_check_int(f"channels[{i}]", c) for i, c in enumerate(channels)]
    _check_choice("norm", norm, CNN_NORMS)
    _check_choice("activation", activation, tuple(ACTIVATIONS))
    _check_choice("init", init, INIT_SCHEMES)
    _check_scale_keep_seed(init_scale, 1.0, seed)
    side = image_size // 2 ** len(chans)
    if side < 1:
        raise ValueError(f"image_size must be >= 2**len(channels) = {2 ** len(chans)} for "
                         f"{len(chans)} pooling layers, got {image_size}")
    if groups is not None:
        _check_int("groups", groups)
        if norm == "gn":
            for c in chans:
                _groups_for(c, groups, "channels", _CNN_PER_GROUP)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        plan: list[tuple[nn.Module, str]] = []
        c_in = in_channels
        for i, c in enumerate(chans, start=1):
            layers[f"conv{i}"] = nn.Conv2d(c_in, c, 3, padding=1, bias=norm == "none")
            plan.append((layers[f"conv{i}"], activation))
            if norm != "none":
                layers[f"norm{i}"] = _cnn_norm(norm, c, groups)
            layers[f"act{i}"] = ACTIVATIONS[activation]()
            layers[f"pool{i}"] = nn.MaxPool2d(2)
            c_in = c
        layers["flatten"] = nn.Flatten()
        layers["out"] = nn.Linear(c_in * side * side, num_classes)
        plan.append((layers["out"], "linear"))
        model = nn.Sequential(layers)
        _init_layers_(plan, init, init_scale, seed)
    return model
