"""torch modules for the batch-norm experiments, written from scratch.

* :class:`BatchNorm` — Ioffe & Szegedy (2015)'s batch norm without ``F.batch_norm``; matches
  ``nn.BatchNorm1d``/``nn.BatchNorm2d`` in outputs, gradients and running statistics.
* :class:`NoisyBatchNorm` — Santurkar et al. (2018)'s "noisy" batch norm, which adds
  non-stationary noise after normalising to *increase* internal covariate shift.
* :class:`LpBatchNorm` — batch norm that divides by the lp norm of the centred batch
  (Santurkar et al. 2018, section 3.3).
* :class:`WeightNormLinear` — Salimans & Kingma (2016)'s weight-normalised Linear.
* :func:`fold_batchnorm`, :func:`fold_model_batchnorms` — merge an eval-mode batch norm into
  the Linear/Conv layer before it, as done for inference.

Momentum convention (torch's, used throughout): after every training step
``running = (1 - momentum) * running + momentum * batch_stat`` with default 0.1, so a *small*
momentum means a slowly moving average. CS231n's ``momentum = 0.9`` weights the *old* value
instead; it corresponds to torch's 0.1.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.conventions import renamed
from trainlab.init import torch_generator as _as_torch_generator
from trainlab.layers import _check_group_size

_FOLDABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _check_num_features(num_features: int) -> None:
    if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
        raise ValueError(f"num_features must be an int >= 1, got {num_features!r}")


def _check_eps(eps: float) -> None:
    if not isinstance(eps, int | float) or not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")


def _check_momentum(momentum: float | None) -> None:
    if momentum is None:
        return
    if isinstance(momentum, bool) or not isinstance(momentum, int | float) \
            or not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1] or None (a cumulative average, as in "
                         f"torch), got {momentum!r}")


class _NormBase(nn.Module):
    """Shared parameters, buffers and input checks of the per-channel batch norms.

    Inputs are ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``; statistics are per channel ``C``
    over every other axis. The constructor arguments are ``nn.BatchNorm1d``'s: ``eps``,
    ``momentum`` (None: cumulative average), ``affine``, ``track_running_stats``, ``device``,
    ``dtype``.
    """

    def __init__(self, num_features: int, eps: float, momentum: float | None, affine: bool,
                 track_running_stats: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        _check_num_features(num_features)
        _check_eps(eps)
        _check_momentum(momentum)
        factory = {"device": device, "dtype": dtype}
        self.num_features = num_features
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight = nn.Parameter(torch.ones(num_features, **factory))
            self.bias = nn.Parameter(torch.zeros(num_features, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("num_batches_tracked",
                                 torch.tensor(0, dtype=torch.long, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("num_batches_tracked", None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")

    @property
    def _batch_stats(self) -> bool:
        """Normalise with the batch's statistics: in training, or always without buffers."""
        return self.training or not self.track_running_stats

    def _reduce_dims(self, x: torch.Tensor) -> tuple[int, ...]:
        """Check ``x`` and return the axes the statistics average over (all but axis 1)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() not in (2, 3, 4):
            raise ValueError(f"input must be (N, C), (N, C, L) or (N, C, H, W), "
                             f"got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"input channel count (axis 1) must equal num_features="
                             f"{self.num_features}, got {x.shape[1]} in shape {tuple(x.shape)}")
        dims = (0, *range(2, x.dim()))
        if self._batch_stats:
            count = " * ".join(("N", "L") if x.dim() == 3 else ("N", "H", "W")[:x.dim() - 1])
            _check_group_size(x.numel() // x.shape[1], tuple(x.shape),
                              f"{type(self).__name__} with batch statistics", count,
                              "use a batch of >= 2 or call .eval() (with running statistics)")
        return dims

    def _per_channel(self, stat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return stat.view(1, -1, *([1] * (x.dim() - 2)))

    def _affine(self, x_hat: torch.Tensor) -> torch.Tensor:
        """``y = gamma * x_hat + beta`` per channel (identity when ``affine=False``)."""
        if not self.affine:
            return x_hat
        return x_hat * self._per_channel(self.weight, x_hat) + self._per_channel(self.bias, x_hat)

    def _tracking(self) -> bool:
        """Count a training step; True when the running statistics are to be updated."""
        if not (self.training and self.track_running_stats):
            return False
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
        return True

    def _update(self, buffer: torch.Tensor, batch_stat: torch.Tensor) -> None:
        """``buffer = (1 - momentum) * buffer + momentum * batch_stat`` (no gradient), with
        ``momentum = 1 / num_batches_tracked`` when it is None (torch's cumulative average)."""
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None \
            else self.momentum
        with torch.no_grad():
            buffer.mul_(1.0 - factor).add_(factor * batch_stat.detach())


class BatchNorm(_NormBase):
    """Batch normalisation (Ioffe & Szegedy 2015), from scratch; a drop-in nn.BatchNorm1d/2d.

    Input ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``; output of the same shape. For each
    channel ``c``, with ``mu`` and ``var`` the mean and *biased* variance over N (and L or H, W):

        x_hat = (x - mu) / sqrt(var + eps),    y = gamma * x_hat + beta.

    Training mode uses the batch's ``mu`` and ``var`` and updates the buffers with torch's
    momentum convention, ``running = (1 - momentum) * running + momentum * batch``, where the
    variance fed to ``running_var`` is the *unbiased* batch variance ``var * n / (n - 1)``
    (``n`` values per channel), exactly as torch does. Eval mode normalises with
    ``running_mean`` and ``running_var``. ``num_batches_tracked`` counts training steps.
    Arguments as ``nn.BatchNorm1d``: ``momentum=None`` makes the running statistics the
    cumulative average of all batches (momentum 1 / num_batches_tracked), ``affine=False``
    drops gamma and beta, ``track_running_stats=False`` keeps no buffers and normalises with
    the batch's statistics in eval mode too; ``device`` and ``dtype`` place the parameters.
    A batch with one value per channel is rejected with a ValueError wherever batch statistics
    are used.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        if self.track_running_stats:
            self.register_buffer("running_var", torch.ones(num_features, device=device,
                                                           dtype=dtype))
        else:
            self.register_buffer("running_var", None)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """``x_hat`` (before the affine), updating the running statistics in training mode."""
        dims = self._reduce_dims(x)
        if self._batch_stats:
            n = x.numel() // x.shape[1]
            mean = x.mean(dim=dims)
            var = x.var(dim=dims, correction=0)
            if self._tracking():
                self._update(self.running_mean, mean)
                self._update(self.running_var, var * (n / (n - 1)))
        else:
            mean, var = self.running_mean, self.running_var
        return (x - self._per_channel(mean, x)) / torch.sqrt(self._per_channel(var, x) + self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``gamma * x_hat + beta``; see the class docstring."""
        return self._affine(self.normalise(x))


class NoisyBatchNorm(BatchNorm):
    """Batch norm followed by non-stationary noise: Santurkar et al. (2018)'s "noisy BN".

    Santurkar et al. test whether batch norm works by reducing internal covariate shift:
    they inject, after each batch norm, i.i.d. noise from a distribution with non-zero mean
    and non-unit variance that *itself changes at every step*, so each layer's input
    distribution keeps moving. Training still goes about as well as with plain batch norm.

    In training mode, after ``z = gamma * x_hat + beta`` (see :class:`BatchNorm`), every call
    (= every step) first draws, per channel ``c``, the noise distribution's parameters

        mu_c ~ U(-noise_mean, noise_mean),  sigma_c ~ U(0, noise_std),
        rho_c ~ U(1, noise_scale),

    and then, independently for every activation (sample, channel, spatial position),

        shift ~ N(mu_c, sigma_c**2),   scale ~ U(1, rho_c),   y = scale * z + shift.

    So the additive noise is Gaussian with a randomly sampled mean and variance per step, and
    the multiplicative noise has a mean ``(1 + rho_c) / 2`` that also changes per step. The
    noise is not differentiated through. The paper's appendix gives its own magnitudes; the
    defaults here are moderate and every magnitude is an argument (``noise_mean=0``,
    ``noise_std=0``, ``noise_scale=1`` give plain batch norm).

    Eval mode adds no noise: it is :class:`BatchNorm` with the running statistics, which are
    computed from the clean input ``x`` as usual. ``rng`` (a ``torch.Generator`` or an int
    seed) makes the noise reproducible; ``None`` uses torch's global generator. The other
    arguments are :class:`BatchNorm`'s.
    """

    @renamed(generator="rng=")
    def __init__(self, num_features: int, noise_mean: float = 0.5, noise_std: float = 0.5,
                 noise_scale: float = 2.0, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 rng: torch.Generator | int | None = None,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        for name, value, low in (("noise_mean", noise_mean, 0.0), ("noise_std", noise_std, 0.0),
                                 ("noise_scale", noise_scale, 1.0)):
            if not isinstance(value, int | float) or not (math.isfinite(value) and value >= low):
                raise ValueError(f"{name} must be a finite number >= {low:g}, got {value!r}")
        self.noise_mean = float(noise_mean)
        self.noise_std = float(noise_std)
        self.noise_scale = float(noise_scale)
        self.rng = _as_torch_generator(rng)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, noise_mean={self.noise_mean}, "
                f"noise_std={self.noise_std}, noise_scale={self.noise_scale}")

    def _uniform(self, low: float | torch.Tensor, high: float | torch.Tensor,
                 shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        u = torch.rand(shape, generator=self.rng, dtype=like.dtype, device=like.device)
        return low + (high - low) * u

    def sample_noise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step's ``(scale, shift)``, both of ``z``'s shape, drawn as in the class doc."""
        c = (self.num_features,)
        mu = self._per_channel(self._uniform(-self.noise_mean, self.noise_mean, c, z), z)
        sigma = self._per_channel(self._uniform(0.0, self.noise_std, c, z), z)
        rho = self._per_channel(self._uniform(1.0, self.noise_scale, c, z), z)
        eps = torch.randn(z.shape, generator=self.rng, dtype=z.dtype, device=z.device)
        shift = mu + sigma * eps
        scale = self._uniform(1.0, rho, tuple(z.shape), z)
        return scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``scale * (gamma * x_hat + beta) + shift`` in training mode, plain BN in eval mode."""
        z = super().forward(x)
        if not self.training:
            return z
        with torch.no_grad():
            scale, shift = self.sample_noise(z)
        return scale * z + shift


class LpBatchNorm(_NormBase):
    """Batch norm that divides by the lp norm of the centred batch (Santurkar et al. 2018).

    Per channel, with ``mu`` the batch mean and ``n`` values per channel,

        s_p = (mean |x - mu|**p) ** (1/p)     (p = inf: s_inf = max |x - mu|)
        x_hat = (x - mu) / sqrt(s_p**2 + eps),    y = gamma * x_hat + beta.

    For ``p = 2`` ``s_2**2`` is the biased variance, so this *is* batch norm in training mode.
    ``p = 1`` uses the mean absolute deviation, ``p = inf`` the largest deviation.
    The buffers ``running_mean`` and ``running_scale`` (a running average of ``s_p`` itself,
    no bias correction) follow torch's momentum convention and are used in eval mode. For
    ``p = 2`` eval mode therefore differs slightly from nn.BatchNorm, whose running variance
    uses the unbiased estimate. ``p`` must be a number >= 1 (``float("inf")`` allowed).
    eps sits under the square root as in :func:`trainlab.norm.lp_batchnorm_forward`. The other
    arguments are :class:`BatchNorm`'s (``momentum=None``, ``track_running_stats``, ...).
    """

    def __init__(self, num_features: int, p: float = 2, eps: float = 1e-5,
                 momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        if isinstance(p, bool) or not isinstance(p, int | float) or math.isnan(p) or p < 1:
            raise ValueError(f"p must be a number >= 1 (e.g. 1, 2 or float('inf')), got {p!r}")
        self.p = float(p)
        if self.track_running_stats:
            self.register_buffer("running_scale", torch.ones(num_features, device=device,
                                                             dtype=dtype))
        else:
            self.register_buffer("running_scale", None)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"

    def _scale_squared(self, centred: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        """``s_p ** 2`` per channel, computed without a square root for ``p = 2``."""
        if self.p == 2:
            return centred.pow(2).mean(dim=dims)
        if math.isinf(self.p):
            return centred.abs().amax(dim=dims).pow(2)
        return centred.abs().pow(self.p).mean(dim=dims).pow(2.0 / self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``gamma * (x - mu) / sqrt(s_p**2 + eps) + beta``; see the class docstring."""
        dims = self._reduce_dims(x)
        if self._batch_stats:
            mean = x.mean(dim=dims)
            centred = x - self._per_channel(mean, x)
            scale_sq = self._scale_squared(centred, dims)
            if self._tracking():
                self._update(self.running_mean, mean)
                self._update(self.running_scale, scale_sq.detach().sqrt())
        else:
            centred = x - self._per_channel(self.running_mean, x)
            scale_sq = self.running_scale.pow(2)
        return self._affine(centred / torch.sqrt(self._per_channel(scale_sq, x) + self.eps))


class WeightNormLinear(nn.Module):
    """Weight-normalised fully connected layer (Salimans & Kingma 2016).

    Input ``(..., in_features)``, output ``(..., out_features)``, ``y = x @ w.T + b`` with
    each output unit's weight row reparameterised as

        w_i = g_i * v_i / ||v_i||,

    so ``g`` (shape ``(out_features,)``) is the row's length and ``v`` (shape
    ``(out_features, in_features)``) only its direction. ``v`` and ``b`` start as nn.Linear's
    defaults and ``g = ||v||``, so the layer starts equal to a plain Linear with weight ``v``.
    This is what ``torch.nn.utils.parametrizations.weight_norm(nn.Linear(...))`` computes.
    ``rng`` (a torch.Generator or an int seed) makes the initial ``v`` and ``b`` reproducible;
    ``bias``, ``device`` and ``dtype`` as in nn.Linear.
    """

    @renamed(generator="rng=")
    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: torch.Generator | int | None = None,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        factory = {"device": device, "dtype": dtype}
        self.v = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.g = nn.Parameter(torch.empty(out_features, **factory))
        if bias:
            self.b = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("b", None)
        self.reset_parameters(rng)

    @renamed(generator="rng=")
    def reset_parameters(self, rng: torch.Generator | int | None = None) -> None:
        """nn.Linear's init for ``v`` and ``b`` (bound ``1/sqrt(in_features)``); ``g = ||v||``.

        ``v`` gets ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(in), 1/sqrt(in)), like b.
        """
        bound = 1.0 / math.sqrt(self.in_features)
        generator = _as_torch_generator(rng)
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.v, a=math.sqrt(5), generator=generator)
            if self.b is not None:
                self.b.uniform_(-bound, bound, generator=generator)
            self.g.copy_(self.v.norm(dim=1))

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> WeightNormLinear:
        """A WeightNormLinear computing the same function as ``linear`` (v = W, g = ||W||)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None,
                    dtype=linear.weight.dtype, device=linear.weight.device)
        with torch.no_grad():
            layer.v.copy_(linear.weight)
            layer.g.copy_(linear.weight.norm(dim=1))
            if linear.bias is not None:
                layer.b.copy_(linear.bias)
        return layer

    @property
    def weight(self) -> torch.Tensor:
        """Effective weight ``g[:, None] * v / ||v||`` of shape ``(out_features, in_features)``."""
        return self.g.unsqueeze(1) * self.v / self.v.norm(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ weight.T + b``."""
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"input's last axis must have in_features={self.in_features} "
                             f"entries, got shape {tuple(x.shape)}")
        return F.linear(x, self.weight, self.b)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.b is not None}")


def _is_foldable_bn(module: nn.Module) -> bool:
    return isinstance(module, (BatchNorm, nn.BatchNorm1d, nn.BatchNorm2d))


def _bn_statistics(bn: nn.Module) -> tuple[torch.Tensor, ...]:
    """``(mean, var, gamma, beta, eps)`` of an eval-mode batch norm, validated."""
    if not _is_foldable_bn(bn):
        raise TypeError(f"bn must be nn.BatchNorm1d, nn.BatchNorm2d or trainlab's BatchNorm "
                        f"(or NoisyBatchNorm), got {type(bn).__name__}")
    if bn.training:
        raise ValueError("bn must be in eval mode (call bn.eval()): folding uses the running "
                         "statistics, which is what the batch norm computes only in eval mode")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("bn must track running statistics (track_running_stats=True) "
                         "to be folded")
    n = bn.num_features
    dt = torch.float64
    gamma = bn.weight if bn.weight is not None else torch.ones(n, dtype=dt)
    beta = bn.bias if bn.bias is not None else torch.zeros(n, dtype=dt)
    return bn.running_mean, bn.running_var, gamma, beta, torch.tensor(bn.eps, dtype=dt)


def fold_batchnorm(layer: nn.Linear | nn.Conv1d | nn.Conv2d,
                   bn: nn.Module) -> nn.Linear | nn.Conv1d | nn.Conv2d:
    """A new layer computing ``bn(layer(x))`` for an eval-mode batch norm ``bn``.

    With ``k = gamma / sqrt(running_var + eps)`` per output channel (shape ``(C_out,)``),

        W' = W * k   (row / output channel ``c`` of W scaled by ``k_c``)
        b' = (b - running_mean) * k + beta    (``b = 0`` when the layer has no bias).

    ``layer`` is an nn.Linear, nn.Conv1d or nn.Conv2d whose output channel count equals
    ``bn.num_features``; ``bn`` is nn.BatchNorm1d/2d or trainlab's :class:`BatchNorm` (a
    :class:`NoisyBatchNorm` too: in eval mode it adds no noise), in eval mode. The arithmetic
    runs in float64; neither input is modified.
    """
    if not isinstance(layer, _FOLDABLE):
        raise TypeError(f"layer must be nn.Linear, nn.Conv1d or nn.Conv2d, "
                        f"got {type(layer).__name__}")
    mean, var, gamma, beta, eps = _bn_statistics(bn)
    out_channels = layer.weight.shape[0]
    if out_channels != bn.num_features:
        raise ValueError(f"bn.num_features must equal the layer's output channel count "
                         f"{out_channels}, got {bn.num_features}")
    w = layer.weight.detach()
    dt = torch.float64
    k = gamma.detach().to(dt) / torch.sqrt(var.to(dt) + eps.to(dt))
    b = layer.bias.detach().to(dt) if layer.bias is not None else torch.zeros(out_channels,
                                                                               dtype=dt)
    fused = copy.deepcopy(layer)
    with torch.no_grad():
        fused.weight.copy_(w.to(dt) * k.view(-1, *([1] * (w.dim() - 1))))
        new_bias = (b - mean.to(dt)) * k + beta.detach().to(dt)
        fused.bias = nn.Parameter(new_bias.to(dtype=w.dtype, device=w.device))
    return fused


def fold_model_batchnorms(model: nn.Sequential) -> nn.Sequential:
    """A copy of ``model`` with every (Linear | Conv1d | Conv2d, batch norm) pair folded.

    Each pair of consecutive children ``layer, bn`` becomes ``fold_batchnorm(layer, bn)``
    (named like ``layer``); nested nn.Sequential children are folded recursively and every
    other child is deep-copied. The batch norms must be in eval mode; the result is returned
    in eval mode (it equals ``model`` in eval mode, not in training mode).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    children = list(model.named_children())
    folded: OrderedDict[str, nn.Module] = OrderedDict()
    i = 0
    while i < len(children):
        name, child = children[i]
        nxt = children[i + 1][1] if i + 1 < len(children) else None
        if isinstance(child, _FOLDABLE) and nxt is not None and _is_foldable_bn(nxt):
            folded[name] = fold_batchnorm(child, nxt)
            i += 2
            continue
        if isinstance(child, nn.Sequential):
            folded[name] = fold_model_batchnorms(child)
        else:
            folded[name] = copy.deepcopy(child)
        i += 1
    return nn.Sequential(folded).eval()


class InputNormalization(nn.Module):
    """``(x - mean) / std`` with ``mean`` and ``std`` stored as buffers (not trained).

    Buffers are saved in the model's ``state_dict`` and move with ``.to(device)``: put this
    module first in an ``nn.Sequential`` and the preprocessing travels with the model.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std``, broadcast over the leading (batch) axis, in x's precision
        (the float64 statistics are cast to a floating x's dtype: float32 stays float32, a
        float64 x is not rounded through float32)."""
        dtype = x.dtype if x.is_floating_point() else self.mean.dtype
        return (x - self.mean.to(dtype)) / self.std.to(dtype)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.mean.shape)}"
