"""Measurements of the loss landscape and of internal covariate shift (Santurkar et al. 2018).

Santurkar, Tsipras, Ilyas & Madry (2018), "How does batch normalization help optimization?"
(NeurIPS; arXiv:1805.11604) probe a network at a training step by walking along the gradient
``g = grad L(x)`` of the current mini-batch loss and recording, for step sizes ``eta``:

- the *loss variation* ``L(x - eta * g)`` (how far the loss moves along the step),
- the *gradient predictiveness* ``||g - grad L(x - eta * g)||_2`` (how long the gradient stays
  a good guide),
- the *effective beta-smoothness* ``max_eta ||g - grad L(x - eta * g)|| / ||eta * g||``, the
  largest rate of change of the gradient seen along the step.

Internal covariate shift (ICS) is measured two ways: by how much the distribution of a layer's
inputs moves between two moments of training (:func:`distribution_shift`), and with
Santurkar et al.'s definition 2.1, the change of a layer's gradient when the layers *before* it
take their SGD step (:func:`gradient_ics`).

Every function leaves the model exactly as it found it (parameters, batch-norm running
statistics and train/eval mode).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

DEFAULT_ETAS: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
"""The step sizes of Santurkar et al.'s figure 4 (eta in [0.05, 0.4])."""


# --------------------------------------------------------------------------- helpers
def _check_etas(etas: Iterable[float]) -> np.ndarray:
    arr = np.asarray(list(etas), dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"etas must be a non-empty 1-D sequence of step sizes, got {etas!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"etas must all be finite and > 0, got {arr.tolist()}")
    return arr


def _trainable(model: nn.Module) -> list[torch.nn.Parameter]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters to probe")
    return params


def loss_and_grad(model: nn.Module, loss_fn: LossFn, x: torch.Tensor,
                  y: torch.Tensor) -> tuple[float, list[torch.Tensor]]:
    """Mini-batch loss ``L = loss_fn(model(x), y)`` and its gradient, one tensor per trainable
    parameter (in ``model.parameters()`` order). ``.grad`` fields are left untouched."""
    params = _trainable(model)
    loss = loss_fn(model(x), y)
    if loss.ndim != 0:
        raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g.detach()
             for p, g in zip(params, grads, strict=True)]
    return float(loss.detach()), grads


def _norm(tensors: Sequence[torch.Tensor]) -> float:
    return float(torch.sqrt(sum((t.double() ** 2).sum() for t in tensors)))


class _Restore:
    """Context manager: snapshot parameters, buffers and mode; put them back on exit."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self) -> nn.Module:
        self.state = copy.deepcopy(self.model.state_dict())
        self.modes = [m.training for m in self.model.modules()]
        return self.model

    def __exit__(self, *exc: object) -> None:
        self.model.load_state_dict(self.state)
        for m, mode in zip(self.model.modules(), self.modes, strict=True):
            m.training = mode


# --------------------------------------------------------------------------- gradient walk
@dataclass
class GradientProbe:
    """What :func:`probe_gradient_direction` saw at one point of training.

    ``etas`` (K,); ``losses`` (K,) = L(x - eta g); ``grad_changes`` (K,) =
    ||g - grad L(x - eta g)||; ``loss`` = L(x); ``grad_norm`` = ||g||.
    """

    etas: np.ndarray
    losses: np.ndarray
    grad_changes: np.ndarray
    loss: float
    grad_norm: float

    @property
    def beta_smoothness(self) -> float:
        """Effective beta-smoothness: max_k ||g - grad L(x - eta_k g)|| / (eta_k ||g||)."""
        if self.grad_norm == 0.0:
            return 0.0
        return float(np.max(self.grad_changes / (self.etas * self.grad_norm)))


def probe_gradient_direction(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
                             etas: Iterable[float] = DEFAULT_ETAS) -> GradientProbe:
    """Walk along the negative gradient of the mini-batch loss and record loss and gradient.

    For each ``eta`` the parameters are set to ``theta - eta * g`` (g = grad L(theta) on the
    batch ``x`` (N, ...), ``y`` (N,)), and ``L`` and ``grad L`` are evaluated on the same batch in
    the model's current mode (training-mode BN uses the batch statistics, as during training).
    The model is restored afterwards (parameters, running statistics, mode).
    """
    eta_arr = _check_etas(etas)
    with _Restore(model):
        params = _trainable(model)
        loss0, g0 = loss_and_grad(model, loss_fn, x, y)
        start = [p.detach().clone() for p in params]
        losses, changes = [], []
        for eta in eta_arr:
            with torch.no_grad():
                for p, p0, g in zip(params, start, g0, strict=True):
                    p.copy_(p0 - float(eta) * g)
            loss, g = loss_and_grad(model, loss_fn, x, y)
            losses.append(loss)
            changes.append(_norm([a - b for a, b in zip(g0, g, strict=True)]))
    return GradientProbe(etas=eta_arr, losses=np.asarray(losses), grad_changes=np.asarray(changes),
                         loss=loss0, grad_norm=_norm(g0))


@dataclass
class LandscapeTrace:
    """Per-probe summaries collected over a training run (arrays of length P = number of
    probes): the training step of each probe, the min/max of L(x - eta g) and of the gradient
    change over eta, the effective beta-smoothness, the gradient norm ||g||; plus the loss of
    every step (length S)."""

    steps: list[int] = field(default_factory=list)
    loss_min: list[float] = field(default_factory=list)
    loss_max: list[float] = field(default_factory=list)
    grad_change_min: list[float] = field(default_factory=list)
    grad_change_max: list[float] = field(default_factory=list)
    beta: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)

    def add(self, step: int, probe: GradientProbe) -> None:
        """Append the summary of one probe taken before SGD step ``step``."""
        self.steps.append(step)
        finite = np.isfinite(probe.losses)
        self.loss_min.append(float(np.min(probe.losses)) if finite.any() else float("nan"))
        self.loss_max.append(float(np.max(probe.losses)) if finite.all() else float("inf"))
        self.grad_change_min.append(float(np.min(probe.grad_changes)))
        self.grad_change_max.append(float(np.max(probe.grad_changes)))
        self.beta.append(probe.beta_smoothness)
        self.grad_norm.append(probe.grad_norm)

    def as_dict(self) -> dict[str, list[float] | list[int]]:
        """Plain lists (JSON-serialisable)."""
        return {k: list(v) for k, v in self.__dict__.items()}


def _minibatches(x: torch.Tensor, y: torch.Tensor, batch_size: int, steps: int,
                 seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` minibatches without replacement, reshuffled (seeded) after each pass; the
    last incomplete batch of a pass is skipped."""
    gen = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(len(x), generator=gen), 0
    for _ in range(steps):
        if pos + batch_size > len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        yield x[idx], y[idx]


def sgd_with_probes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int,
                    batch_size: int, probe_every: int, etas: Iterable[float] = DEFAULT_ETAS,
                    seed: int = 0, loss_fn: LossFn | None = None) -> LandscapeTrace:
    """Train ``model`` with plain SGD on (x (N, ...), y (N,)) and probe the landscape.

    Every ``probe_every`` steps, before the update, :func:`probe_gradient_direction` runs on the
    current mini-batch. Mini-batches are drawn without replacement within an epoch from a
    ``torch.Generator`` seeded with ``seed``. The update is theta <- theta - lr * grad L.
    ``loss_fn`` defaults to cross-entropy. Training stops early if the loss becomes non-finite.
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    for name, val in (("steps", steps), ("batch_size", batch_size), ("probe_every", probe_every)):
        if not isinstance(val, int) or val < 1:
            raise ValueError(f"{name} must be an int >= 1, got {val!r}")
    if batch_size > len(x):
        raise ValueError(f"batch_size must be <= the number of examples {len(x)}, "
                         f"got {batch_size}")
    eta_arr = _check_etas(etas)
    loss_fn = loss_fn or nn.functional.cross_entropy
    trace = LandscapeTrace()
    model.train()
    params = _trainable(model)
    for step, (xb, yb) in enumerate(_minibatches(x, y, batch_size, steps, seed)):
        if step % probe_every == 0:
            trace.add(step, probe_gradient_direction(model, loss_fn, xb, yb, eta_arr))
        loss, grads = loss_and_grad(model, loss_fn, xb, yb)
        trace.train_loss.append(loss)
        if not np.isfinite(loss):
            break
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(lr * g)
    return trace


# --------------------------------------------------------------------------- NumPy versions
def loss_along_gradient(f: Callable[[np.ndarray], float],
                        grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                        etas: Iterable[float] = DEFAULT_ETAS) -> tuple[np.ndarray, np.ndarray]:
    """NumPy counterpart of :func:`probe_gradient_direction` for an explicit function.

    ``x`` has shape (D,); returns ``(losses, grad_changes)``, both (K,) for K step sizes:
    losses[k] = f(x - eta_k g), grad_changes[k] = ||g - grad(x - eta_k g)||_2 with g = grad(x).
    """
    eta_arr = _check_etas(etas)
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(grad(x), dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError(f"grad(x) must have x's shape {x.shape}, got {g.shape}")
    losses = np.array([float(f(x - eta * g)) for eta in eta_arr])
    changes = np.array([float(np.linalg.norm(g - grad(x - eta * g))) for eta in eta_arr])
    return losses, changes


def lipschitz_constant_1d(f: Callable[[np.ndarray], np.ndarray], lo: float, hi: float,
                          n: int = 10_001) -> float:
    """Numerical Lipschitz constant of a scalar function on [lo, hi]:
    max_i |f(t_{i+1}) - f(t_i)| / (t_{i+1} - t_i) over an even grid of ``n`` points.

    ``f`` is applied to the whole grid (shape (n,)) at once. Applied to f' this estimates the
    smoothness constant beta (f is beta-smooth when f' is beta-Lipschitz). A lower bound on
    the true constant that converges to it as n grows for a continuously differentiable f.
    """
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got lo={lo}, hi={hi}")
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    t = np.linspace(lo, hi, n)
    v = np.asarray(f(t), dtype=np.float64)
    if v.shape != t.shape:
        raise ValueError(f"f must map the grid of shape {t.shape} to the same shape, got {v.shape}")
    return float(np.max(np.abs(np.diff(v)) / np.diff(t)))


# --------------------------------------------------------------------------- covariate shift
def layer_inputs(model: nn.Module, modules: Sequence[nn.Module],
                 x: torch.Tensor) -> list[np.ndarray]:
    """The inputs that ``modules`` (sub-modules of ``model``) receive on the batch ``x``.

    Runs one forward pass without gradients in the model's current mode; returns one array per
    module, flattened to (N, features) (conv inputs (N, C, H, W) become (N*H*W, C)). The model's
    running statistics are restored afterwards.
    """
    if not modules:
        raise ValueError("modules must name at least one sub-module")
    owned = set(map(id, model.modules()))
    for m in modules:
        if id(m) not in owned:
            raise ValueError(f"module {m.__class__.__name__} is not a sub-module of the model")
    seen: dict[int, np.ndarray] = {}

    def hook(i: int) -> Callable[..., None]:
        def fn(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
            t = inputs[0].detach()
            if t.ndim == 4:
                t = t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])
            seen[i] = t.reshape(t.shape[0], -1).double().numpy().copy()
        return fn

    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]
    try:
        with _Restore(model), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return [seen[i] for i in range(len(modules))]


def distribution_shift(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """How far the distribution of each unit moved between two snapshots of a layer's input.

    ``before`` and ``after`` have shape (N, D): N examples of D units (the same N inputs fed at
    two moments of training). Returns the averages over units of
    ``mean_shift`` = |mu_after - mu_before|, ``std_shift`` = |sd_after - sd_before| and
    ``w1`` = the 1-Wasserstein distance between the two empirical distributions of the unit,
    mean_i |sort(after)_i - sort(before)_i|, and ``w1_rel`` = w1 / sd_before per unit (the shift
    in units of the layer's own spread, comparable across layers of different scale; units with
    sd_before = 0 are left out).
    """
    a = np.asarray(before, dtype=np.float64)
    b = np.asarray(after, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"before and after must be (N, D) arrays of one shape, got {a.shape} "
                         f"and {b.shape}")
    w1 = np.mean(np.abs(np.sort(a, axis=0) - np.sort(b, axis=0)), axis=0)
    sd = a.std(0)
    live = sd > 0
    return {"mean_shift": float(np.mean(np.abs(b.mean(0) - a.mean(0)))),
            "std_shift": float(np.mean(np.abs(b.std(0) - sd))),
            "w1": float(np.mean(w1)),
            "w1_rel": float(np.mean(w1[live] / sd[live])) if live.any() else 0.0}


def gradient_ics(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
                 layers: Sequence[Sequence[torch.nn.Parameter]],
                 lr: float) -> list[dict[str, float]]:
    """Internal covariate shift of each layer as defined by Santurkar et al. (2018, def. 2.1).

    ``layers`` lists the parameter groups of the layers in forward order. For layer i, with
    G_i = grad_{W_i} L(W_1, ..., W_k) and G'_i = the same gradient after the layers *before* i
    took their SGD step W_j <- W_j - lr * G_j (j < i; layer i and the later ones unchanged),
    returns ``{"l2": ||G_i - G'_i||_2, "cosine": <G_i, G'_i> / (||G_i|| ||G'_i||)}``. A small l2
    and a cosine near 1 mean the updates upstream hardly change what layer i has to learn.
    The model is restored afterwards.
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if not layers:
        raise ValueError("layers must list at least one parameter group")
    flat = [p for group in layers for p in group]
    if not flat:
        raise ValueError("layers must hold parameters")
    result = []
    with _Restore(model):
        start = [p.detach().clone() for p in flat]
        loss = loss_fn(model(x), y)
        raw = torch.autograd.grad(loss, flat, allow_unused=True)
        g_all = [torch.zeros_like(p) if g is None else g.detach()
                 for p, g in zip(flat, raw, strict=True)]
        sizes = np.cumsum([0, *[len(group) for group in layers]])
        for i in range(len(layers)):
            with torch.no_grad():
                for j, (p, p0, g) in enumerate(zip(flat, start, g_all, strict=True)):
                    p.copy_(p0 - lr * g if j < sizes[i] else p0)
            group = flat[sizes[i]:sizes[i + 1]]
            g_new = [torch.zeros_like(p) if g is None else g for p, g in
                     zip(group, torch.autograd.grad(loss_fn(model(x), y), group,
                                                    allow_unused=True), strict=True)]
            g_old = g_all[sizes[i]:sizes[i + 1]]
            diff = _norm([a - b for a, b in zip(g_old, g_new, strict=True)])
            dot = float(sum((a.double() * b.double()).sum()
                            for a, b in zip(g_old, g_new, strict=True)))
            denom = _norm(g_old) * _norm(g_new)
            result.append({"l2": diff, "cosine": dot / denom if denom > 0 else 1.0})
    return result


class UnitInputRecorder:
    """Percentiles of one unit's input, measured in *training* mode every time ``model`` is
    evaluated.

    Use as a context manager around a training run whose evaluation passes show ``model`` a
    fixed held-out set in one batch (e.g. ``trainlab.train.train(..., eval_batch=len(X_val))``).
    After each eval-mode forward pass of ``model`` on a batch of ``batch_size`` examples (every
    eval-mode pass when ``batch_size`` is None; a training loop's shape probe on two examples is
    thus skipped), the recorder runs the same batch through ``model`` once more in training
    mode, without gradients, and appends ``np.percentile(z[:, unit], percentiles)`` of the input
    ``z`` (N, D) that ``module`` (a sub-module of ``model``) receives (for (N, C, H, W), channel
    ``unit`` over N, H, W) to :attr:`values`: the 15/50/85th-percentile curves of Ioffe &
    Szegedy (2015), figure 1(b, c). :meth:`series` pairs the rows with the record steps.

    Training mode is how the non-linearity sees its input while the network learns: every
    batch-norm layer normalises with the probe batch's own mean and biased variance, so a
    network with and one without batch norm are measured the same way, also at step 0, when
    the running averages have not been learned yet (eval mode would normalise the first layers
    with mean 0 and variance 1 and hand a later layer an almost constant input). The probe
    leaves the model as it found it (parameters, running statistics, ``num_batches_tracked``,
    train/eval mode) and restores torch's global random state, so a recorded run trains exactly
    like an unrecorded one (dropout, if any, draws its masks for the probe and gives them back).
    """

    def __init__(self, module: nn.Module, unit: int = 0,
                 percentiles: Sequence[float] = (15, 50, 85),
                 batch_size: int | None = None, *, model: nn.Module) -> None:
        if not isinstance(module, nn.Module) or not isinstance(model, nn.Module):
            raise TypeError(f"module and model must be torch.nn.Modules, got "
                            f"{type(module).__name__} and {type(model).__name__}")
        if id(module) not in set(map(id, model.modules())):
            raise ValueError(f"module {type(module).__name__} is not a sub-module of the model")
        if isinstance(unit, bool) or not isinstance(unit, int) or unit < 0:
            raise ValueError(f"unit must be an int >= 0, got {unit!r}")
        qs = np.asarray(percentiles, dtype=np.float64)
        if qs.ndim != 1 or qs.size == 0 or np.any((qs < 0) | (qs > 100)):
            raise ValueError(f"percentiles must be values in [0, 100], got {percentiles!r}")
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be None or an int >= 1, got {batch_size!r}")
        self.module, self.model, self.unit, self.percentiles = module, model, unit, qs
        self.batch_size = batch_size
        self.values: list[np.ndarray] = []
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    def _hook(self, model: nn.Module, inputs: tuple[torch.Tensor, ...], _out: object) -> None:
        x = inputs[0].detach()
        if model.training or (self.batch_size is not None and x.shape[0] != self.batch_size):
            return
        rng = torch.get_rng_state()
        try:
            with _Restore(model):
                model.train()
                z = layer_inputs(model, [self.module], x)[0]   # (N, D) or (N*H*W, C)
        finally:
            torch.set_rng_state(rng)
        if self.unit >= z.shape[1]:
            raise ValueError(f"unit must be < the module's {z.shape[1]} input features, "
                             f"got {self.unit}")
        self.values.append(np.percentile(z[:, self.unit], self.percentiles))

    def __enter__(self) -> UnitInputRecorder:
        self._handle = self.model.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def series(self, steps: Sequence[int]) -> dict[str, list[float]]:
        """``{"step": steps, "p15": [...], "p50": [...], "p85": [...]}`` (keys follow the
        percentiles), the format of :func:`trainlab.plots.percentile_bands`. ``steps`` must
        have one entry per recorded call."""
        if len(steps) != len(self.values):
            raise ValueError(f"steps must have one entry per recorded evaluation "
                             f"({len(self.values)}), got {len(steps)}")
        rows = np.asarray(self.values).reshape(len(self.values), -1)
        out: dict[str, list[float]] = {"step": [int(s) for s in steps]}
        for j, q in enumerate(self.percentiles):
            out[f"p{q:g}"] = rows[:, j].tolist()
        return out


# --------------------------------------------------------------------------- probe afterwards
@dataclass
class Checkpoint:
    """The state of a model before SGD step ``step`` and that step's mini-batch ``(x, y)``."""

    step: int
    state: dict[str, torch.Tensor]
    x: torch.Tensor
    y: torch.Tensor


def sgd_checkpoints(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, lr: float,
                    steps: int, batch_size: int, every: int, seed: int = 0,
                    loss_fn: LossFn | None = None,
                    cancelled: Callable[[], bool] | None = None
                    ) -> tuple[list[Checkpoint], list[float]]:
    """Train like :func:`sgd_with_probes` but only *record* where a probe would be taken.

    Plain SGD ``theta <- theta - lr * grad L`` on mini-batches drawn as in
    :func:`sgd_with_probes` (permutations from a ``torch.Generator`` seeded with ``seed``);
    every ``every`` steps, before the update, a :class:`Checkpoint` keeps a copy of the state
    dict and the step's batch, so that :func:`probe_checkpoints` can later probe them with any
    step sizes without training again (for a deterministic model the probes equal those of
    :func:`sgd_with_probes`). Returns ``(checkpoints, train_loss)`` (the loss of every step).
    Stops early at a non-finite loss, and returns what it has when ``cancelled()`` turns True.
    The model ends trained, in training mode. Raises ValueError as :func:`sgd_with_probes`.
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    for name, val in (("steps", steps), ("batch_size", batch_size), ("every", every)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name} must be an int >= 1, got {val!r}")
    if batch_size > len(x):
        raise ValueError(f"batch_size must be <= the number of examples {len(x)}, "
                         f"got {batch_size}")
    loss_fn = loss_fn or nn.functional.cross_entropy
    model.train()
    params = _trainable(model)
    checkpoints: list[Checkpoint] = []
    losses: list[float] = []
    for step, (xb, yb) in enumerate(_minibatches(x, y, batch_size, steps, seed)):
        if cancelled is not None and cancelled():
            break
        if step % every == 0:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            checkpoints.append(Checkpoint(step, state, xb, yb))
        loss, grads = loss_and_grad(model, loss_fn, xb, yb)
        losses.append(loss)
        if not np.isfinite(loss):
            break
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(lr * g)
    return checkpoints, losses


def probe_checkpoints(model: nn.Module, checkpoints: Sequence[Checkpoint],
                      etas: Iterable[float] = DEFAULT_ETAS, loss_fn: LossFn | None = None,
                      cancelled: Callable[[], bool] | None = None,
                      noise_seed: int | None = None) -> list[GradientProbe]:
    """:func:`probe_gradient_direction` at every checkpoint of :func:`sgd_checkpoints`.

    ``model`` must have the architecture the checkpoints came from; each state is loaded in
    turn, probed in training mode on its own batch, and the model's own state, mode and noise
    generators are put back afterwards. Returns one :class:`GradientProbe` per checkpoint
    (``LandscapeTrace.add`` summarises them as :func:`sgd_with_probes` does); stops early,
    with the probes done so far, when ``cancelled()`` turns True. Raises ValueError for
    invalid ``etas``.

    ``noise_seed``: for networks that draw noise in training mode (sub-modules with a
    ``torch.Generator`` attribute ``rng``, such as :class:`trainlab.modules.NoisyBatchNorm`),
    reseed those generators with ``noise_seed + step`` before every forward pass, so that all
    evaluations of one probe see the same noise draw and the probe measures the landscape,
    not the difference between two draws. ``None`` leaves the generators running.
    """
    eta_arr = _check_etas(etas)
    loss_fn = loss_fn or nn.functional.cross_entropy
    gens = [m.rng for m in model.modules() if isinstance(getattr(m, "rng", None),
                                                          torch.Generator)]
    current = [0]

    def reseed(_module: nn.Module, _inputs: object) -> None:
        for g in gens:
            g.manual_seed(current[0])

    handle = (model.register_forward_pre_hook(reseed)
              if noise_seed is not None and gens else None)
    states = [g.get_state() for g in gens]
    probes: list[GradientProbe] = []
    try:
        with _Restore(model):
            model.train()
            for cp in checkpoints:
                if cancelled is not None and cancelled():
                    break
                model.load_state_dict(cp.state)
                current[0] = (noise_seed or 0) + cp.step
                probes.append(probe_gradient_direction(model, loss_fn, cp.x, cp.y, eta_arr))
    finally:
        if handle is not None:
            handle.remove()
        for g, state in zip(gens, states, strict=True):
            g.set_state(state)
    return probes
