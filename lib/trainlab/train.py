"""A deterministic training loop that records what happens inside every layer.

:func:`train` runs minibatch SGD / momentum / Adam on NumPy data and, every ``record_every``
steps, records learning curves and per-layer statistics: the distribution of the
pre-activations, saturated and dead units, gradient norms and the update-to-data ratio.
The statistics are collected by forward hooks (and tensor gradient hooks) that are attached
*only* on record steps and removed right after, so the steps in between run the bare model.

"Layer i" is the i-th activation module of the model (see :func:`find_layers`): its input is
the pre-activation ``z_i`` (what enters the non-linearity - after batch norm when BN sits before
the non-linearity), its output the activation ``a_i = f(z_i)``, and its weight ``W_i`` the
nearest weight-carrying module (Linear / Conv / weight-normalised Linear) before it.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainlab.models import activation_name
from trainlab.notebook import progress as progress_bar

__all__ = [
    "CURVE_METRICS",
    "LAYER_METRICS",
    "History",
    "LayerInfo",
    "evaluate",
    "find_layers",
    "layer_values",
    "pre_activation_stats",
    "sgd_step_seconds",
    "train",
]

OPTIMIZERS = ("sgd", "momentum", "adam")
BEST_METRICS = ("val_acc", "val_loss")
LOSSES = ("ce", "mse")
SATURATING = {"tanh", "sigmoid"}

CURVE_METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch")
"""Keys of each entry of :attr:`History.curves` besides ``step``."""

LAYER_METRICS = (
    "pre_mean", "pre_std", "pre_p15", "pre_p50", "pre_p85", "act_mean", "act_std",
    "saturated", "dead", "pre_grad_rms", "grad_norm", "weight_norm", "update_ratio",
)
"""Keys of each entry of :attr:`History.records` besides ``step``, ``layer``, ``name``,
``activation``:

- ``pre_mean``, ``pre_std`` (population std, ddof = 0), ``pre_p15``/``pre_p50``/``pre_p85``
  (percentiles, linear interpolation as ``np.percentile``): over every entry of the batch's
  pre-activation ``z`` (all examples, units and positions);
- ``act_mean``, ``act_std``: the same for the activation ``a = f(z)``;
- ``saturated``: fraction of entries of ``a`` in the flat tails, ``|tanh(z)| > 0.99`` or
  ``sigmoid(z) < 0.01`` or ``> 0.99``; NaN for non-saturating activations;
- ``dead``: fraction of units whose activation is exactly 0 for every example of the batch (a
  unit is a feature of a dense layer, a channel of a convolution - over all its positions);
- ``pre_grad_rms``: ``sqrt(mean((dL/dz)^2))``, the back-propagated gradient at the layer;
- ``grad_norm``: ``||dL/dW||_F`` of the layer's weight (bias excluded);
- ``weight_norm``: ``||W||_F`` before the update;
- ``update_ratio``: ``||W_after - W_before||_F / ||W_before||_F``, the actual change made by
  the optimizer step (``lr * ||grad|| / ||W||`` for plain SGD without weight decay; inf when
  ``W`` was 0 and moved, NaN when it was 0 and stayed). For a weight-normalised layer the
  weight is its direction parameter ``v``.
"""


@dataclass(frozen=True)
class LayerInfo:
    """One recorded layer: its number (1-based), activation-module name, weight-module name."""

    layer: int
    name: str
    weight: str | None
    activation: str


def _weight_of(module: nn.Module) -> nn.Parameter | None:
    """The module's own matrix/filter parameter (``weight``, else the first with ndim >= 2)."""
    own = dict(module.named_parameters(recurse=False))
    if isinstance(own.get("weight"), nn.Parameter) and own["weight"].ndim >= 2:
        return own["weight"]
    return next((p for p in own.values() if p.ndim >= 2), None)


def _layers(model: nn.Module) -> list[tuple[LayerInfo, nn.Module, nn.Parameter | None]]:
    found: list[tuple[LayerInfo, nn.Module, nn.Parameter | None]] = []
    weight: tuple[str, nn.Parameter] | None = None
    for name, module in model.named_modules():
        param = _weight_of(module)
        if param is not None:
            weight = (name, param)
        act = activation_name(module)
        if act is None:
            continue
        info = LayerInfo(len(found) + 1, name, weight[0] if weight else None, act)
        found.append((info, module, weight[1] if weight else None))
        weight = None
    return found


def find_layers(model: nn.Module) -> list[LayerInfo]:
    """The layers the recorder addresses: one per activation module, in forward order.

    Activation modules are those of :data:`trainlab.models.ACTIVATIONS` (ReLU, Tanh, Sigmoid,
    LeakyReLU, ELU, SELU and the identity ``LinearActivation``). The head of a classifier has
    no activation and is therefore not a layer.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [info for info, _, _ in _layers(model)]


def _percentiles(x: torch.Tensor, q: tuple[float, ...] = (15.0, 50.0, 85.0)) -> list[float]:
    """``np.percentile(x, q)`` (linear interpolation between order statistics) via one sort.

    NumPy's vectorised sort is several times faster than its partition-based percentile.
    """
    values = np.sort(x.detach().cpu().numpy().ravel())
    out = []
    for pos in (qi / 100.0 * (values.size - 1) for qi in q):
        lo = int(math.floor(pos))
        hi = min(lo + 1, values.size - 1)
        out.append(float(values[lo]) + (pos - lo) * (float(values[hi]) - float(values[lo])))
    return out


def _forward_stats(z: torch.Tensor, a: torch.Tensor, activation: str) -> dict[str, float]:
    """Pre-activation and activation statistics of one layer for one batch (see LAYER_METRICS).

    Sums run in the tensors' own precision (torch reduces float32 pairwise: relative error
    ~1e-7 for a batch of activations), which keeps the record steps cheap.
    """
    z, a = z.detach(), a.detach()
    p15, p50, p85 = _percentiles(z)
    if activation == "tanh":
        saturated = float((a.abs() > 0.99).double().mean())
    elif activation == "sigmoid":
        saturated = float(((a < 0.01) | (a > 0.99)).double().mean())
    else:
        saturated = math.nan
    units = a.movedim(1, 0).reshape(a.shape[1], -1) if a.ndim > 1 else a.reshape(1, -1)
    z_std, z_mean = torch.std_mean(z, correction=0)
    a_std, a_mean = torch.std_mean(a, correction=0)
    return {
        "pre_mean": float(z_mean), "pre_std": float(z_std),
        "pre_p15": p15, "pre_p50": p50, "pre_p85": p85,
        "act_mean": float(a_mean), "act_std": float(a_std),
        "saturated": saturated, "dead": float((units == 0).all(dim=1).double().mean()),
    }


class _Recorder:
    """Forward (pre-)hooks on the activation modules, attached for one forward pass at a time."""

    def __init__(self, layers: list[tuple[LayerInfo, nn.Module, nn.Parameter | None]],
                 keep_values: bool = False) -> None:
        self.layers = layers
        self.keep_values = keep_values
        self.handles: list[torch.utils.hooks.RemovableHandle] = []
        self.pre: dict[int, torch.Tensor] = {}
        self.stats: dict[int, dict[str, Any]] = {}
        self.grad_rms: dict[int, float] = {}
        self.grad_norms: list[float] = []
        self.before: list[torch.Tensor | None] = []

    def attach(self) -> None:
        self.pre, self.stats, self.grad_rms = {}, {}, {}
        for idx, (_, module, _) in enumerate(self.layers):
            self.handles.append(module.register_forward_pre_hook(partial(self._on_input, idx)))
            self.handles.append(module.register_forward_hook(partial(self._on_output, idx)))

    def snapshot_weights(self) -> None:
        """Store ``||dL/dW||`` and a copy of ``W`` of every layer: call between backward and
        the optimizer step, so that the update can be measured after it."""
        weights = [w for _, _, w in self.layers]
        self.grad_norms = [float(torch.linalg.vector_norm(w.grad))
                           if w is not None and w.grad is not None else math.nan
                           for w in weights]
        self.before = [w.detach().clone() if w is not None else None for w in weights]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _on_input(self, idx: int, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        z = inputs[0]
        self.pre[idx] = z.detach().clone()
        if z.requires_grad:
            z.register_hook(partial(self._on_grad, idx))

    def _on_output(self, idx: int, module: nn.Module, inputs: tuple[torch.Tensor, ...],
                   output: torch.Tensor) -> None:
        z = self.pre.pop(idx)
        stats: dict[str, Any] = _forward_stats(z, output, self.layers[idx][0].activation)
        if self.keep_values:
            stats["pre"] = z.cpu().numpy()
            stats["act"] = output.detach().cpu().numpy().copy()
        self.stats[idx] = stats

    def _on_grad(self, idx: int, grad: torch.Tensor) -> None:
        self.grad_rms[idx] = float(grad.detach().square().mean().sqrt())


@dataclass
class History:
    """What :func:`train` recorded.

    - ``curves``: one dict per record step with ``step``, ``epoch`` (examples seen / N),
      ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr`` (NaN where undefined:
      no validation data, or accuracy of a regression);
    - ``records``: one dict per (record step, layer) with ``step``, ``layer`` (1..L), ``name``,
      ``activation`` and the :data:`LAYER_METRICS`;
    - ``layer_info``: the :class:`LayerInfo` of each layer as dicts;
    - ``diverged``/``diverged_at``/``status``: how the run ended; ``steps_run``: optimizer steps
      taken; ``seconds``: wall time; ``config``: the arguments of the run;
    - ``best_step``/``best_value``: with ``train(..., restore_best=metric)``, the record step
      whose validation ``metric`` was best and its value (the weights the model was left with);
      ``None``/NaN otherwise.
    """

    curves: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    layer_info: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    diverged: bool = False
    diverged_at: int | None = None
    status: str = "not started"
    steps_run: int = 0
    seconds: float = 0.0
    best_step: int | None = None
    best_value: float = math.nan

    @property
    def layers(self) -> list[int]:
        """The layer numbers 1..L that ``series(metric, layer=...)`` accepts."""
        return [info["layer"] for info in self.layer_info]

    def _layer_number(self, layer: int | str) -> int:
        for info in self.layer_info:
            if layer in (info["layer"], info["name"]) and not isinstance(layer, bool):
                return info["layer"]
        names = [info["name"] for info in self.layer_info]
        raise ValueError(f"unknown layer {layer!r}; valid: numbers {self.layers} or names "
                         f"{names}")

    def series(self, metric: str, layer: int | str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of a curve metric (``layer=None``) or a layer metric.

        ``layer`` is a layer number (1-based) or its module name (e.g. ``"act2"``). Returns two
        1-D arrays of equal length: int64 steps and float64 values (NaN where undefined).
        """
        if layer is None:
            if metric not in CURVE_METRICS:
                hint = " (a layer metric: pass layer=...)" if metric in LAYER_METRICS else ""
                raise ValueError(f"unknown curve metric {metric!r}{hint}; valid: "
                                 f"{', '.join(CURVE_METRICS)}")
            rows = self.curves
        else:
            if metric not in LAYER_METRICS:
                raise ValueError(f"unknown layer metric {metric!r}; valid: "
                                 f"{', '.join(LAYER_METRICS)}")
            number = self._layer_number(layer)
            rows = [r for r in self.records if r["layer"] == number]
        steps = np.array([r["step"] for r in rows], dtype=np.int64)
        values = np.array([r[metric] for r in rows], dtype=np.float64)
        return steps, values

    def final(self, metric: str, layer: int | str | None = None) -> float:
        """The last recorded value of ``metric`` (NaN when nothing was recorded)."""
        _, values = self.series(metric, layer)
        return float(values[-1]) if values.size else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain lists/dicts/numbers (``json.dumps``-able) of everything recorded."""
        return {
            "status": self.status, "diverged": self.diverged, "diverged_at": self.diverged_at,
            "steps_run": self.steps_run, "seconds": self.seconds, "config": dict(self.config),
            "best_step": self.best_step, "best_value": self.best_value,
            "layer_info": [dict(i) for i in self.layer_info],
            "curves": [dict(c) for c in self.curves], "records": [dict(r) for r in self.records],
        }

    def __repr__(self) -> str:
        return (f"History({self.status}; {len(self.curves)} record steps, "
                f"{len(self.layer_info)} layers, final train_loss={self.final('train_loss'):.4g}, "
                f"val_acc={self.final('val_acc'):.4g})")


@dataclass
class _Data:
    """Torch copies of one dataset: inputs, loss targets and (for classification) labels."""

    x: torch.Tensor
    target: torch.Tensor
    labels: torch.Tensor | None

    def __len__(self) -> int:
        return self.x.shape[0]


def _check_arrays(data: Any, name: str, loss: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, y) of NumPy arrays, got {type(data).__name__}")
    x, y = (np.asarray(a.detach().cpu()) if isinstance(a, torch.Tensor) else a for a in data)
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must hold NumPy arrays (X, y), got "
                        f"({type(x).__name__}, {type(y).__name__})")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{name}: X must have shape (N, ...) with N >= 1 and ndim >= 2, "
                         f"got shape {x.shape}")
    if len(x) != len(y):
        raise ValueError(f"{name}: X and y must have the same length, got {len(x)} and {len(y)}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"{name}: X must be a real numeric array, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: X contains NaN or inf")
    if loss == "ce":
        if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
            raise TypeError(f"{name}: with loss='ce' y must be a 1-D integer array of class "
                            f"labels, got dtype {y.dtype} and shape {y.shape}")
    elif not (np.issubdtype(y.dtype, np.floating) or np.issubdtype(y.dtype, np.integer)):
        raise TypeError(f"{name}: with loss='mse' y must be float targets or integer labels, "
                        f"got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.integer) and y.ndim == 1 and y.size and y.min() < 0:
        raise ValueError(f"{name}: class labels must be >= 0, got min {y.min()}")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
        raise ValueError(f"{name}: y contains NaN or inf")
    return x, y


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter or buffer (data is converted to
    it), else torch's default dtype."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def _output_shape(model: nn.Module, x: np.ndarray, name: str) -> tuple[int, ...]:
    """Shape of the model's output for two examples (eval mode, no grad; the mode is restored)."""
    was_training = model.training
    sample = torch.as_tensor(x[:2], dtype=_model_dtype(model), device=_model_device(model))
    model.eval()
    try:
        with torch.no_grad():
            out = model(sample)
    except RuntimeError as err:
        raise ValueError(f"{name}: the model cannot process X of shape {x.shape}: {err}") from err
    finally:
        model.train(was_training)
    return tuple(out.shape[1:])


def _prepare(model: nn.Module, data: Any, name: str, loss: str) -> _Data:
    """Validate ``(X, y)`` and convert it once to torch tensors of the model's dtype (and int64
    labels)."""
    x, y = _check_arrays(data, name, loss)
    out_shape = _output_shape(model, x, name)
    device, dtype = _model_device(model), _model_dtype(model)
    xt = torch.as_tensor(x, dtype=dtype, device=device)
    is_labels = np.issubdtype(y.dtype, np.integer) and y.ndim == 1
    if is_labels:
        if len(out_shape) != 1:
            raise ValueError(f"{name}: class labels need model outputs of shape (N, C), got "
                             f"(N, {', '.join(map(str, out_shape))})")
        if y.max() >= out_shape[0]:
            raise ValueError(f"{name}: class labels must be in [0, {out_shape[0] - 1}] for a "
                             f"model with {out_shape[0]} outputs, got max {y.max()}")
        labels = torch.as_tensor(y, dtype=torch.int64, device=device)
        target = labels if loss == "ce" else F.one_hot(labels, out_shape[0]).to(dtype)
        return _Data(xt, target, labels)
    target = torch.as_tensor(y, dtype=dtype, device=device)
    if target.ndim == 1:
        target = target[:, None]
    if tuple(target.shape[1:]) != out_shape:
        raise ValueError(f"{name}: mse targets of shape {y.shape} do not match the model "
                         f"outputs (N, {', '.join(map(str, out_shape))})")
    return _Data(xt, target, None)


def _loss_fn(loss: str, reduction: str = "mean"):
    if loss == "ce":
        return partial(F.cross_entropy, reduction=reduction)
    return partial(F.mse_loss, reduction=reduction)


def _evaluate(model: nn.Module, data: _Data, loss: str, batch_size: int) -> tuple[float, float]:
    """Mean loss and accuracy over ``data`` in eval mode; the previous mode is restored."""
    was_training = model.training
    loss_sum = _loss_fn(loss, "sum")
    total = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(data), batch_size):
                sl = slice(start, start + batch_size)
                out = model(data.x[sl])
                total += loss_sum(out, data.target[sl]).double().cpu()
                if data.labels is not None:
                    correct += (out.argmax(dim=1) == data.labels[sl]).sum().cpu()
    finally:
        model.train(was_training)
    per_example = data.target[0].numel() if loss == "mse" else 1
    acc = float(correct) / len(data) if data.labels is not None else math.nan
    return float(total) / (len(data) * per_example), acc


def evaluate(model: nn.Module, X: np.ndarray, y: np.ndarray, loss: str = "ce",
             batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``X`` (N, ...) and ``y`` (N,) or (N, K).

    ``loss="ce"``: ``mean_n -log softmax(f(x_n))[y_n]``; ``loss="mse"``: ``mean (f(x) - t)^2``
    over all entries, with ``t = one_hot(y)`` for integer labels. Accuracy is
    ``mean [argmax f(x_n) = y_n]`` (NaN for float regression targets). Runs in eval mode
    without gradients and restores the model's previous train/eval mode.
    """
    _check_choice("loss", loss, LOSSES)
    _check_int("batch_size", batch_size)
    return _evaluate(model, _prepare(model, (X, y), "(X, y)", loss), loss, batch_size)


def pre_activation_stats(model: nn.Module, x: np.ndarray | torch.Tensor, *,
                         return_values: bool = False) -> list[dict[str, Any]]:
    """Per-layer statistics of one forward pass of ``x`` (N, ...) through ``model``.

    One dict per layer of :func:`find_layers` with ``layer``, ``name``, ``activation`` and the
    forward metrics of :data:`LAYER_METRICS` (``pre_*``, ``act_*``, ``saturated``, ``dead``);
    with ``return_values`` also ``"pre"`` and ``"act"``: NumPy copies of ``z`` and ``a``.
    Runs without gradients in the model's current mode (in train mode batch norm uses the
    batch's statistics and dropout is active; call ``model.eval()`` first for inference).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x,
                         dtype=_model_dtype(model), device=_model_device(model))
    if xt.ndim < 2 or xt.shape[0] == 0:
        raise ValueError(f"x must have shape (N, ...) with N >= 1, got {tuple(xt.shape)}")
    layers = _layers(model)
    recorder = _Recorder(layers, keep_values=return_values)
    recorder.attach()
    try:
        with torch.no_grad():
            model(xt)
    finally:
        recorder.remove()
    return [{"layer": info.layer, "name": info.name, "activation": info.activation,
             **recorder.stats[idx]} for idx, (info, _, _) in enumerate(layers)]



def layer_values(model: nn.Module, x: np.ndarray, y: np.ndarray, loss: str = "ce"
                 ) -> list[dict[str, Any]]:
    """Activations and their gradients, layer by layer, for one batch (Karpathy's "makemore
    part 3" histograms).

    Runs ``model`` on ``x`` (N, ...) in its current mode, the loss (``"ce"``: mean
    cross-entropy against int labels ``y``; ``"mse"``) and its backward pass, and returns one
    dict per layer of :func:`find_layers` with ``layer``, ``name``, ``activation``, ``act``
    (NumPy copy of ``a``) and ``act_grad`` (``dL/da``, same shape). Parameter gradients are
    restored to what they were and torch's random state is untouched (dropout draws from a
    forked generator), so a training loop can call it between steps.
    """
    layers = _layers(model)
    acts: dict[int, torch.Tensor] = {}

    def keep(idx: int, _module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        output.retain_grad()
        acts[idx] = output

    saved = [(p, None if p.grad is None else p.grad.clone()) for p in model.parameters()]
    handles = [module.register_forward_hook(partial(keep, idx))
               for idx, (_, module, _) in enumerate(layers)]
    dtype, device = _model_dtype(model), _model_device(model)
    try:
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            out = model(torch.as_tensor(np.asarray(x), dtype=dtype, device=device))
            target = torch.as_tensor(np.asarray(y), device=device)
            if loss == "ce":
                value = F.cross_entropy(out, target.long())
            else:
                value = F.mse_loss(out, target.to(dtype).reshape(out.shape))
            value.backward()
    finally:
        for handle in handles:
            handle.remove()
        for p, g in saved:
            p.grad = g
    return [{"layer": info.layer, "name": info.name, "activation": info.activation,
             "act": acts[idx].detach().cpu().numpy().copy(),
             "act_grad": (acts[idx].grad.cpu().numpy().copy() if acts[idx].grad is not None
                          else np.zeros(tuple(acts[idx].shape)))}
            for idx, (info, _, _) in enumerate(layers) if idx in acts]


class _Batches:
    """Index stream: concatenated random permutations of 0..N-1 cut into batches.

    Every example is seen once per epoch (a batch may straddle two epochs). The indices are
    drawn with NumPy from ``rng`` in chunks of ``chunk`` batches and converted to torch once
    per chunk.
    """

    def __init__(self, rng: np.random.Generator, n: int, batch_size: int,
                 device: torch.device, chunk: int = 256) -> None:
        self.rng, self.n, self.batch_size = rng, n, batch_size
        self.device, self.chunk = device, chunk
        self.left = np.empty(0, dtype=np.int64)

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            need = self.chunk * self.batch_size
            parts, have = [self.left], len(self.left)
            while have < need:
                parts.append(self.rng.permutation(self.n))
                have += self.n
            flat = np.concatenate(parts)
            self.left = flat[need:]
            rows = torch.from_numpy(flat[:need].reshape(self.chunk, self.batch_size))
            yield from rows.to(self.device).unbind(0)


def _check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    bad = isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum
    if bad or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be an int >= {minimum}{upper}, got {value!r}")
    return int(value)


def _check_choice(name: str, value: Any, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def _check_real(name: str, value: Any, low: float, high: float = math.inf,
                low_open: bool = False, high_open: bool = True) -> float:
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _make_optimizer(model: nn.Module, name: str, lr: float, momentum: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    params = list(model.parameters())
    if not params:
        raise ValueError("model has no parameters to train")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


@dataclass
class _Running:
    """Training loss / accuracy summed since the last record step."""

    loss: float = 0.0
    steps: int = 0
    predictions: list[torch.Tensor] = field(default_factory=list)
    indices: list[torch.Tensor] = field(default_factory=list)

    def means(self, labels: torch.Tensor | None) -> tuple[float, float]:
        """Mean minibatch loss and the fraction of correct predictions since the last record.

        The argmax predictions and batch indices are kept per step and compared with the
        labels in one go here, which costs less per step than counting at every step.
        """
        if labels is None:
            return self.loss / self.steps, math.nan
        hits = torch.cat(self.predictions) == labels[torch.cat(self.indices)]
        return self.loss / self.steps, float(hits.double().mean())


def _validate_train_args(steps: int, batch_size: int, lr: float, optimizer: str,
                         momentum: float, weight_decay: float, loss: str, record_every: int,
                         seed: int, eval_batch: int, max_seconds: float | None,
                         max_loss: float | None) -> None:
    _check_int("steps", steps)
    _check_int("batch_size", batch_size)
    _check_real("lr", lr, 0.0, low_open=True)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    _check_real("momentum", momentum, 0.0, 1.0)
    _check_real("weight_decay", weight_decay, 0.0)
    _check_choice("loss", loss, LOSSES)
    _check_int("record_every", record_every)
    _check_int("seed", seed, minimum=0)
    _check_int("eval_batch", eval_batch)
    if max_seconds is not None:
        _check_real("max_seconds", max_seconds, 0.0, low_open=True)
    if max_loss is not None:
        _check_real("max_loss", max_loss, 0.0, low_open=True)


def _layer_records(step: int, recorder: _Recorder) -> list[dict[str, Any]]:
    """Merge forward stats, gradient stats and the measured update into one row per layer."""
    rows = []
    grads, before = recorder.grad_norms, recorder.before
    for idx, (info, _, weight) in enumerate(recorder.layers):
        row: dict[str, Any] = {"step": step, "layer": info.layer, "name": info.name,
                               "activation": info.activation, **recorder.stats[idx],
                               "pre_grad_rms": recorder.grad_rms.get(idx, math.nan),
                               "grad_norm": grads[idx], "weight_norm": math.nan,
                               "update_ratio": math.nan}
        if weight is not None:
            w0_norm = float(torch.linalg.vector_norm(before[idx]))
            step_norm = float(torch.linalg.vector_norm(weight.detach() - before[idx]))
            row["weight_norm"] = w0_norm
            row["update_ratio"] = (step_norm / w0_norm if w0_norm > 0
                                   else math.inf if step_norm > 0 else math.nan)
        rows.append(row)
    return rows


def train(model: nn.Module, train_data: tuple[np.ndarray, np.ndarray],
          val_data: tuple[np.ndarray, np.ndarray] | None = None, *, steps: int,
          batch_size: int = 64, lr: float = 0.1, optimizer: str = "sgd", momentum: float = 0.9,
          weight_decay: float = 0.0, loss: str = "ce", record_every: int = 50,
          stats: bool = True, seed: int = 0, eval_batch: int = 1024, progress: bool = True,
          max_seconds: float | None = None, max_loss: float | None = 1e6,
          on_record: Callable[[History], None] | None = None,
          restore_best: str | None = None, patience: int | None = None) -> History:
    """Train ``model`` for ``steps`` minibatch steps and record what happens in it.

    Data: ``train_data = (X, y)`` NumPy arrays, ``X`` of shape (N, ...) (converted once to the
    dtype of the model's parameters: float64 in the lessons, see
    :func:`trainlab.notebook.setup_notebook`), ``y`` int class labels (N,) for ``loss="ce"``
    (cross-entropy on logits); for
    ``loss="mse"`` (mean of ``(f(x) - t)^2`` over all entries) float targets (N,) or (N, K), or
    int labels turned into one-hot targets. Minibatches of ``batch_size`` come from random
    permutations of 0..N-1 drawn with ``np.random.default_rng(seed)`` (one pass per epoch);
    ``torch.manual_seed(seed)`` seeds dropout - so a run is a function of the model and
    ``seed``.

    Optimizers (Goodfellow et al. ch. 8): ``"sgd"`` ``W -= lr g``; ``"momentum"``
    ``v = momentum v + g, W -= lr v`` (torch's form); ``"adam"`` torch's Adam.
    ``weight_decay`` adds ``weight_decay * W`` to every gradient (L2, all parameters).

    Records at steps 0, ``record_every``, 2 ``record_every``, ... and the last step (see
    :class:`History`): ``train_loss``/``train_acc`` are the *running means over the minibatches
    since the previous record step* (each minibatch measured before its update; no extra pass),
    ``val_loss``/``val_acc`` are computed on all of ``val_data`` in eval mode after the step's
    update, in batches of ``eval_batch``, then the model goes back to train mode. With
    ``stats=True`` the per-layer :data:`LAYER_METRICS` of the step's minibatch are recorded by
    hooks attached for that step only.

    A loss that is NaN/inf or larger than ``max_loss`` (None: no limit) stops the run cleanly
    before the update: ``history.diverged`` is True, ``history.diverged_at`` the step and
    ``history.status`` ``"diverged at step k (loss = nan)"``; the curves end at the last record
    step before. ``max_seconds`` stops the run (after recording that step) once exceeded.

    Early stopping: ``restore_best="val_acc"`` (higher is better) or ``"val_loss"`` (lower is
    better; needs ``val_data``) keeps a copy of the weights (``state_dict``, buffers included)
    at the record step with the best validation value so far (the first one on ties) and loads
    it back when the run ends, so the model is the best-validation checkpoint;
    ``history.best_step``/``best_value`` say which. ``patience=k`` (only with
    ``restore_best``) also stops the run once ``k`` record steps in a row brought no better
    value. The model is left in train mode.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _validate_train_args(steps, batch_size, lr, optimizer, momentum, weight_decay, loss,
                         record_every, seed, eval_batch, max_seconds, max_loss)
    if restore_best is not None:
        _check_choice("restore_best", restore_best, BEST_METRICS)
        if val_data is None:
            raise ValueError("restore_best needs val_data (the best checkpoint is chosen on it)")
    if patience is not None:
        _check_int("patience", patience)
        if restore_best is None:
            raise ValueError("patience needs restore_best (the metric that must improve)")
    data = _prepare(model, train_data, "train_data", loss)
    if batch_size > len(data):
        raise ValueError(f"batch_size must be in [1, {len(data)}] (the number of training "
                         f"examples), got {batch_size}")
    val = _prepare(model, val_data, "val_data", loss) if val_data is not None else None
    opt = _make_optimizer(model, optimizer, lr, momentum, weight_decay)
    layers = _layers(model) if stats else []
    history = History(layer_info=[vars(info).copy() for info, _, _ in layers], config={
        "steps": steps, "batch_size": batch_size, "lr": lr, "optimizer": optimizer,
        "momentum": momentum, "weight_decay": weight_decay, "loss": loss,
        "record_every": record_every, "seed": seed, "n_train": len(data),
        "n_val": len(val) if val is not None else 0, "max_loss": max_loss,
        "restore_best": restore_best, "patience": patience})
    torch.manual_seed(seed)
    model.train()
    _run(model, data, val, opt, history, _Recorder(layers), _LoopConfig(
        steps, batch_size, loss, record_every, seed, eval_batch, progress, max_seconds,
        max_loss, on_record, restore_best, patience))
    return history


@dataclass(frozen=True)
class _LoopConfig:
    steps: int
    batch_size: int
    loss: str
    record_every: int
    seed: int
    eval_batch: int
    progress: bool
    max_seconds: float | None
    max_loss: float | None
    on_record: Callable[[History], None] | None = None
    restore_best: str | None = None
    patience: int | None = None


def _run(model: nn.Module, data: _Data, val: _Data | None, opt: torch.optim.Optimizer,
         history: History, recorder: _Recorder, cfg: _LoopConfig) -> None:
    """The loop proper; fills ``history`` in place."""
    loss_fn = _loss_fn(cfg.loss)
    running = _Running()
    limit = math.inf if cfg.max_loss is None else cfg.max_loss
    batches = iter(_Batches(np.random.default_rng(cfg.seed), len(data), cfg.batch_size,
                            data.x.device, chunk=min(cfg.steps, 256)))
    steps_iter = range(cfg.steps)
    if cfg.progress:
        steps_iter = progress_bar(steps_iter, total=cfg.steps, desc="train")
    t0 = time.perf_counter()
    history.status = f"completed {cfg.steps} steps"
    best = _Best(cfg.restore_best, cfg.patience)
    for step in steps_iter:
        timed_out = cfg.max_seconds is not None and time.perf_counter() - t0 > cfg.max_seconds
        record = step % cfg.record_every == 0 or step == cfg.steps - 1 or timed_out
        idx = next(batches)
        xb, tb = data.x[idx], data.target[idx]
        if record and recorder.layers:
            recorder.attach()
        try:
            out = model(xb)
        finally:
            recorder.remove()
        loss_t = loss_fn(out, tb)
        value = loss_t.item()
        if not (math.isfinite(value) and value <= limit):
            _mark_diverged(history, step, value, cfg.max_loss)
            break
        running.loss += value
        running.steps += 1
        if data.labels is not None:
            running.predictions.append(out.detach().argmax(dim=1))
            running.indices.append(idx)
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        if record:
            recorder.snapshot_weights()
        opt.step()
        history.steps_run = step + 1
        if record:
            history.records.extend(_layer_records(step, recorder))
            history.curves.append(_curve_row(step, model, data, val, opt, running, cfg))
            running = _Running()
            if cfg.on_record is not None:
                cfg.on_record(history)
            if best.update(step, history.curves[-1], model) and step < cfg.steps - 1:
                history.status = (f"stopped early at step {step}: no better "
                                  f"{cfg.restore_best} in {cfg.patience} record steps")
                break
        if timed_out:
            history.status = (f"stopped at step {step}: max_seconds = {cfg.max_seconds:g} "
                              "reached")
            break
    if hasattr(steps_iter, "close"):
        steps_iter.close()
    best.restore(model, history)
    history.seconds = time.perf_counter() - t0


class _Best:
    """The best-validation checkpoint of ``train(..., restore_best=..., patience=...)``."""

    def __init__(self, metric: str | None, patience: int | None) -> None:
        self.metric, self.patience = metric, patience
        self.sign = -1.0 if metric == "val_loss" else 1.0
        self.value, self.step, self.state, self.stale = -math.inf, None, None, 0

    def update(self, step: int, row: dict[str, Any], model: nn.Module) -> bool:
        """Keep the weights when ``row`` is the best so far; True when patience ran out."""
        if self.metric is None:
            return False
        value = self.sign * row[self.metric]
        if value > self.value:                       # NaN never counts as better
            self.value, self.step, self.stale = value, step, 0
            self.state = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1
        return self.patience is not None and self.stale >= self.patience

    def restore(self, model: nn.Module, history: History) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)
            history.best_step, history.best_value = self.step, self.sign * self.value


def _mark_diverged(history: History, step: int, value: float, max_loss: float | None) -> None:
    why = "" if not math.isfinite(value) else f" > max_loss = {max_loss:g}"
    history.diverged, history.diverged_at = True, step
    history.status = f"diverged at step {step} (loss = {value:.4g}{why})"


def _curve_row(step: int, model: nn.Module, data: _Data, val: _Data | None,
               opt: torch.optim.Optimizer, running: _Running, cfg: _LoopConfig
               ) -> dict[str, Any]:
    train_loss, train_acc = running.means(data.labels)
    val_loss, val_acc = (_evaluate(model, val, cfg.loss, cfg.eval_batch) if val is not None
                         else (math.nan, math.nan))
    return {"step": step, "epoch": (step + 1) * cfg.batch_size / len(data),
            "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
            "val_acc": val_acc, "lr": float(opt.param_groups[0]["lr"])}


def sgd_step_seconds(model: nn.Module, x: np.ndarray, y: np.ndarray, *, steps: int = 20,
                     repeat: int = 3, lr: float = 0.01) -> float:
    """CPU seconds of one plain SGD step (forward, cross-entropy, backward, update) of
    ``model`` in train mode on the fixed batch ``x`` (N, ...), ``y`` (N,) int labels: the best
    of ``repeat`` timings of ``steps`` steps, divided by ``steps``. A copy of the model is
    trained, so ``model`` is left unchanged. CPU time of this process (``time.process_time``),
    so other jobs on a shared machine do not enter it (with one torch thread it equals the wall
    time of an idle machine). For comparing layers (e.g. with and without batch norm) in one
    process; the figures vary from machine to machine.
    """
    _check_int("steps", steps)
    _check_int("repeat", repeat)
    net = copy.deepcopy(model).train()
    xt = torch.as_tensor(np.asarray(x), dtype=_model_dtype(net), device=_model_device(net))
    yt = torch.as_tensor(np.asarray(y), dtype=torch.int64, device=xt.device)
    opt = torch.optim.SGD(net.parameters(), lr=lr)

    def run() -> None:
        for _ in range(steps):
            loss = F.cross_entropy(net(xt), yt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    run()
    best = math.inf
    for _ in range(repeat):
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return best / steps
