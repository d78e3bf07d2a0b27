"""Lesson 07 (alternatives to batch norm): how batch norm depends on the batch, group norm not.

Wu & He (2018, "Group normalization", ECCV, arXiv:1803.08494, figure 1) train ResNet-50 with
batch norm computed over B images per GPU and see the validation error rise as B shrinks,
while group norm, which never looks at the batch, stays put. Lesson 07 repeats the idea at CPU
scale on an MLP, where a BN statistic pools only B numbers: the gradient step always uses a
batch of 32 images, but the batch-norm statistics come from groups of B of them (one
"worker" each, :class:`PerWorkerBatchNorm`; Hoffer et al. 2017 call this ghost batch norm),
so every run costs the same and only the normalisation changes. After training, the running
averages are replaced by population statistics (:func:`population_statistics_`, Ioffe &
Szegedy's inference step).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from trainlab import models
from trainlab.data import load_mnist
from trainlab.train import train

__all__ = ["GN_GROUPS", "PerWorkerBatchNorm", "batch_dependence", "population_statistics_",
           "shrunk_mnist"]

HIDDEN = (100, 100)
GN_GROUPS: tuple[int, ...] = tuple(g for g in range(1, HIDDEN[0] + 1)
                                   if HIDDEN[0] % g == 0 and HIDDEN[0] // g >= 2)
"""Group counts that divide the 100 hidden units and leave >= 2 units per group (a group of one
unit would normalise every value to 0): 1 (layer norm over the units), 2, 4, 5, 10, 20, 25,
50."""


class PerWorkerBatchNorm(nn.Module):
    """Wraps a batch-norm module: in training mode each run of ``group`` consecutive examples
    is normalised with its own batch statistics (one worker's batch), exactly as
    ``torch.cat([bn(chunk) for chunk in x.split(group)])`` but in one vectorised pass; the
    running averages get one update per group, in order, as that loop would give them (a
    cumulative average when ``bn.momentum`` is None). Eval mode is the wrapped module's.

    ``x`` (N, C) or (N, C, H, W) -> same shape; a last, shorter run of examples is one more
    worker. Raises ValueError for ``group < 2`` (one example has no spread to divide by).
    """

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, group: int) -> None:
        super().__init__()
        if isinstance(group, bool) or not isinstance(group, int) or group < 2:
            raise ValueError(f"group must be an int >= 2, got {group!r}")
        self.bn, self.group = bn, group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.bn(x)
        full = x.shape[0] - x.shape[0] % self.group
        parts = [self._grouped(x[:full])] if full else []
        if full < x.shape[0]:
            parts.append(self.bn(x[full:]))
        return torch.cat(parts)

    def _grouped(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bn
        k = x.shape[0] // self.group
        xg = x.reshape(k, self.group, *x.shape[1:])
        dims = (1, *range(3, xg.ndim))
        mean = xg.mean(dim=dims, keepdim=True)
        centred = xg - mean
        var = (centred * centred).mean(dim=dims, keepdim=True)
        shape = [1, 1, -1] + [1] * (xg.ndim - 3)
        out = centred / torch.sqrt(var + bn.eps)
        if bn.affine:
            out = out * bn.weight.reshape(shape) + bn.bias.reshape(shape)
        if bn.track_running_stats:
            count = xg[0].numel() // xg.shape[2]
            with torch.no_grad():
                self._update_running(mean.reshape(k, -1),
                                     var.reshape(k, -1) * count / max(count - 1, 1))
        return out.reshape(x.shape)

    def _update_running(self, means: torch.Tensor, variances: torch.Tensor) -> None:
        bn, k = self.bn, means.shape[0]
        n0 = int(bn.num_batches_tracked)
        if bn.momentum is None:
            bn.running_mean.mul_(n0).add_(means.sum(0)).div_(n0 + k)
            bn.running_var.mul_(n0).add_(variances.sum(0)).div_(n0 + k)
        else:
            m = bn.momentum
            w = m * (1 - m) ** torch.arange(k - 1, -1, -1, dtype=means.dtype)
            bn.running_mean.mul_((1 - m) ** k).add_(w @ means)
            bn.running_var.mul_((1 - m) ** k).add_(w @ variances)
        bn.num_batches_tracked.add_(k)


def population_statistics_(model: nn.Module, x: np.ndarray | torch.Tensor,
                           group: int | None = None) -> nn.Module:
    """Set every batch norm's running mean and variance to the plain average of its group
    statistics over ``x`` (N, ...) (torch's cumulative average, ``momentum=None``), leave the
    model in eval mode and return it. The batch statistics are those of groups of ``group``
    examples when the BN is wrapped in :class:`PerWorkerBatchNorm` (the wrapper's own group),
    otherwise of all of ``x``."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    dtype = next(model.parameters()).dtype
    model.train()
    with torch.no_grad():
        model(torch.as_tensor(np.asarray(x), dtype=dtype))
    return model.eval()


def shrunk_mnist(n_val: int = 1000, dtype: str = "float32") -> tuple[np.ndarray, ...]:
    """MNIST-10k at 14 x 14 pixels (2 x 2 blocks averaged), flattened: ``(x_train (8000, 196),
    y_train, x_val (n_val, 196), y_val)`` in [0, 1], as lesson 07 uses it."""
    out = []
    for split, n in (("train", None), ("val", n_val)):
        x, y = load_mnist(subset="10k", split=split, channels=True, dtype=dtype)
        x = x[:n].reshape(-1, 1, 14, 2, 14, 2).mean(axis=(3, 5)).reshape(-1, 196)
        out += [np.ascontiguousarray(x), y[:n]]
    return tuple(out)


def _predict(model: nn.Module, x: np.ndarray, training: bool) -> np.ndarray:
    model = copy.deepcopy(model).train(training)
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        return model(torch.as_tensor(x, dtype=dtype)).argmax(dim=1).numpy()


def batch_dependence(norm: str = "bn", *, batch_per_stat: int = 32, groups: int = 10,
                     seed: int = 0, data: tuple[np.ndarray, ...] | None = None,
                     steps: int = 150, batch_size: int = 32, lr: float = 0.05,
                     dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """Train the MLP 196-100-100-10 (ReLU, norm before each ReLU) and measure how much its
    predictions depend on the batch.

    ``norm``: ``"bn"`` (statistics of groups of ``batch_per_stat`` images, in [2,
    ``batch_size``] and dividing it), ``"gn"`` (``groups`` groups from :data:`GN_GROUPS`;
    ``groups=1`` is layer norm over the units) or ``"ln"`` (torch's LayerNorm, which also has
    a gain per unit). SGD with momentum 0.9, ``steps`` steps of ``batch_size`` images, ``lr``,
    ``seed`` for the weights and the batch order, in ``dtype``. ``data``: the output of
    :func:`shrunk_mnist` (loaded when None). BN then gets population statistics over the
    first 2,048 training images.

    Returns ``eval_error`` (validation error in eval mode), ``train_error`` (in training mode:
    statistics of the batch, in groups as during training), ``flips`` (fraction of validation
    predictions in training mode that change when the images are regrouped with other
    batch-mates: a fixed permutation), ``train_loss`` (last record) and ``diverged``.
    Raises ValueError for an unknown ``norm`` or a ``batch_per_stat`` / ``groups`` outside the
    ranges above.
    """
    if norm not in ("bn", "gn", "ln"):
        raise ValueError(f"norm must be 'bn', 'gn' or 'ln', got {norm!r}")
    if norm == "bn" and (isinstance(batch_per_stat, bool) or not isinstance(batch_per_stat, int)
                         or not 2 <= batch_per_stat <= batch_size
                         or batch_size % batch_per_stat):
        raise ValueError(f"batch_per_stat must be an int in [2, {batch_size}] that divides "
                         f"{batch_size}, got {batch_per_stat!r}")
    if norm == "gn" and groups not in GN_GROUPS:
        raise ValueError(f"groups must be one of {list(GN_GROUPS)}, got {groups!r}")
    x_tr, y_tr, x_va, y_va = data if data is not None else shrunk_mnist()
    model = models.mlp(196, list(HIDDEN), 10, norm=norm, groups=groups if norm == "gn" else None,
                       seed=seed).to(dtype)
    if norm == "bn":
        for i in range(1, len(HIDDEN) + 1):
            setattr(model, f"norm{i}", PerWorkerBatchNorm(getattr(model, f"norm{i}"),
                                                          batch_per_stat))
    hist = train(model, (x_tr, y_tr), steps=steps, batch_size=batch_size, lr=lr,
                 optimizer="momentum", record_every=steps, stats=False, seed=seed,
                 progress=False)
    if norm == "bn":
        population_statistics_(model, x_tr[:2048])
    model.eval()
    shuffle = np.random.default_rng(1).permutation(len(x_va))
    eval_pred = _predict(model, x_va, training=False)
    batch_pred = _predict(model, x_va, training=True)
    regrouped = np.empty_like(batch_pred)
    regrouped[shuffle] = _predict(model, x_va[shuffle], training=True)
    return {"eval_error": float(np.mean(eval_pred != y_va)),
            "train_error": float(np.mean(batch_pred != y_va)),
            "flips": float(np.mean(regrouped != batch_pred)),
            "train_loss": hist.final("train_loss"), "diverged": hist.diverged}
