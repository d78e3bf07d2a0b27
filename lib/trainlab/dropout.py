"""Dropout (Srivastava et al. 2014) as NumPy forward/backward pairs, in both formulations.

The parameter is ``keep_prob``, the probability that a unit is KEPT. torch's
``torch.nn.Dropout(p)`` takes the DROP probability: p = 1 - keep_prob.

- Inverted dropout (what torch and every modern framework do), :func:`dropout_forward`:
  training: out = x * mask / keep_prob, mask ~ Bernoulli(keep_prob); evaluation: out = x.
  The expected training output equals x, so nothing changes at test time.
- The paper's original formulation, :func:`standard_dropout_forward`:
  training: out = x * mask (no rescaling); evaluation: out = keep_prob * x (the weights are
  scaled by the keep probability at test time).

Both give the same expected output; they differ in where the factor 1 / keep_prob goes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from trainlab.conventions import renamed
from trainlab.layers import _as_float_array, _check_cache, _check_real, _check_shape

__all__ = [
    "digits_split",
    "dropout_benefit",
    "dropout_backward",
    "dropout_forward",
    "early_stopping_benefit",
    "keep_prob_data",
    "keep_prob_run",
    "keep_prob_seeds",
    "make_rng",
    "noisy_label_run",
    "standard_dropout_backward",
    "standard_dropout_forward",
]


def make_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A NumPy Generator from a Generator (returned as is), an int seed, or None (fresh
    OS entropy, not reproducible)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer):
        raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got "
                        f"{type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"rng must be a non-negative int seed, got {rng}")
    return np.random.default_rng(int(rng))


def _check_keep_prob(keep_prob: Any) -> float:
    k = _check_real(keep_prob, "keep_prob")
    if not 0 < k <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r} (it is the "
                         f"probability of KEEPING a unit; torch's p = 1 - keep_prob)")
    return k


def _check_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype.kind not in "biuf":
        raise TypeError(f"mask must be a boolean or 0/1 numeric array, got dtype {m.dtype}")
    try:
        full = np.broadcast_shapes(m.shape, shape)
    except ValueError:
        full = None
    if full != shape:
        raise ValueError(f"mask must have x's shape {shape} (or broadcast to it), got "
                         f"{m.shape}")
    if m.dtype.kind != "b":
        if not np.all((m == 0) | (m == 1)):
            raise ValueError("mask must hold only 0 and 1 (1 = keep)")
        m = m.astype(bool)
    return m


def _draw_mask(x: np.ndarray, keep_prob: float, rng: Any, mask: Any) -> np.ndarray:
    if mask is not None:
        return _check_mask(mask, x.shape)
    return make_rng(rng).random(x.shape) < keep_prob


MODES = ("train", "eval")


def _dropout(x: Any, keep_prob: Any, mode: str, rng: Any, mask: Any, train_scale: bool,
             kind: str) -> tuple[np.ndarray, dict]:
    x = _as_float_array(x, "x")
    keep_prob = _check_keep_prob(keep_prob)
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (as in batch norm), got {mode!r}")
    train = mode == "train"
    dt = x.dtype.type
    with np.errstate(over="ignore", divide="ignore"):
        inverse = dt(1) / dt(keep_prob)
    if train_scale and not np.isfinite(inverse):
        raise ValueError(f"keep_prob must be at least {1 / np.finfo(x.dtype).max:.3g} for "
                         f"{x.dtype} x (1 / keep_prob overflows), got {keep_prob!r}")
    if train:
        m = _draw_mask(x, keep_prob, rng, mask)
        scale = inverse if train_scale else dt(1)
        out = x * m
        if train_scale:
            out *= scale
    else:
        m = None
        scale = dt(1) if train_scale else dt(keep_prob)
        out = x if train_scale else x * scale
    cache = {"layer": kind, "mask": m, "scale": scale, "keep_prob": keep_prob, "mode": mode,
             "shape": x.shape}
    return out, cache


@renamed(train="mode='train' or mode='eval'")
def dropout_forward(x: np.ndarray, keep_prob: float, *, mode: str = "train",
                    rng: np.random.Generator | int | None = None,
                    mask: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Inverted dropout; x of any shape, out of x's shape.

    mode="train": out = x * mask / keep_prob with mask ~ Bernoulli(keep_prob) elementwise,
    mode="eval":  out = x (x itself, no copy, as torch returns its input).
    ``keep_prob`` in (0, 1] is the probability of KEEPING a unit: ``torch.nn.Dropout(p)`` has
    p = 1 - keep_prob (its kept entries are scaled by 1 / (1 - p)). ``rng`` (Generator or int
    seed) draws the mask; or pass ``mask`` (bool or 0/1, x's shape or broadcastable, 1 = keep),
    e.g. torch's mask, to reproduce a given draw. The cache holds the boolean ``mask``.
    """
    return _dropout(x, keep_prob, mode, rng, mask, True, "dropout")


def _dropout_backward(dout: Any, cache: dict) -> np.ndarray:
    dout = _as_float_array(dout, "dout")
    _check_shape(dout, "dout", cache["shape"], "the shape of the forward output")
    dx = dout * cache["scale"]
    if cache["mask"] is not None:
        dx *= cache["mask"]
    return dx


def dropout_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """Gradient of inverted dropout, as the tuple ``(dx,)`` like every backward pass:
    dx = dout * mask / keep_prob in training, dx = dout in evaluation; shape of x."""
    _check_cache(cache, "dropout", ("mask", "scale", "shape"))
    return (_dropout_backward(dout, cache),)


@renamed(train="mode='train' or mode='eval'")
def standard_dropout_forward(x: np.ndarray, keep_prob: float, *, mode: str = "train",
                             rng: np.random.Generator | int | None = None,
                             mask: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Dropout as first formulated by Srivastava et al. 2014; x of any shape.

    mode="train": out = x * mask with mask ~ Bernoulli(keep_prob) (no rescaling),
    mode="eval":  out = keep_prob * x (the test-time weight scaling of the paper).
    Arguments as in :func:`dropout_forward` (``keep_prob`` = 1 - torch's p).
    """
    return _dropout(x, keep_prob, mode, rng, mask, False, "standard_dropout")


def standard_dropout_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray]:
    """Gradient of :func:`standard_dropout_forward` as ``(dx,)``: dx = dout * mask in
    training, dx = keep_prob * dout in evaluation; shape of x."""
    _check_cache(cache, "standard_dropout", ("mask", "scale", "shape"))
    return (_dropout_backward(dout, cache),)


def dropout_benefit(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                    y_val: np.ndarray, *, keep_probs: Sequence[float] = (1.0, 0.5),
                    seeds: Sequence[int] = (0, 1, 2), label_noise: float = 0.3,
                    hidden: Sequence[int] = (128, 128), steps: int = 500,
                    batch_size: int = 50, lr: float = 1e-3,
                    record_every: int = 125) -> dict[float, dict[str, Any]]:
    """Validation accuracy of a ReLU MLP trained with dropout (``keep_prob``) on a small,
    partly mislabelled training set - where dropout beats training to the last step (against an
    early-stopped network its gain is inside the seed spread: :func:`early_stopping_benefit`).

    ``x_train`` (N, D), ``y_train`` (N,) int labels in 0..9, ``x_val``/``y_val`` likewise
    (clean labels). For each seed, a fraction ``label_noise`` of the training labels is replaced
    by uniformly random classes (``np.random.default_rng(100 + seed)``; the same corrupted
    labels for every ``keep_prob``), then ``models.mlp(D, hidden, 10, keep_prob=...)`` is trained
    with Adam (``lr``) for ``steps`` steps (:func:`noisy_label_run`). Returns ``{keep_prob:
    {"step": (R,), "val_acc": (len(seeds), R)}}``, validation accuracy in eval mode at the
    record steps.
    """
    out: dict[float, dict[str, Any]] = {}
    for kp in keep_probs:
        curves, steps_rec = [], None
        for seed in seeds:
            hist = noisy_label_run(kp, x_train, y_train, x_val, y_val, seed=seed,
                                   label_noise=label_noise, hidden=hidden, steps=steps,
                                   batch_size=batch_size, lr=lr, record_every=record_every)
            steps_rec, acc = hist.series("val_acc")
            curves.append(acc)
        out[float(kp)] = {"step": np.asarray(steps_rec), "val_acc": np.asarray(curves)}
    return out


def noisy_label_run(keep_prob: float, x_train: np.ndarray, y_train: np.ndarray,
                    x_val: np.ndarray, y_val: np.ndarray, *, seed: int = 0,
                    label_noise: float = 0.3, hidden: Sequence[int] = (128, 128),
                    steps: int = 500, batch_size: int = 50, lr: float = 1e-3,
                    record_every: int = 125, dtype: Any = None, on_record: Any = None) -> Any:
    """One run of :func:`dropout_benefit`: replace a fraction ``label_noise`` of ``y_train`` by
    random classes (``np.random.default_rng(100 + seed)``), train ``models.mlp(D, hidden, 10,
    keep_prob=keep_prob, seed=seed)`` with Adam (``lr``) for ``steps`` minibatch steps of
    ``batch_size`` and validate on ``(x_val, y_val)`` in eval mode every ``record_every``
    steps. ``dtype``: a torch dtype for the model (and so the data), ``None`` = torch's
    default. ``on_record(history)`` as in :func:`trainlab.train.train`. Returns the
    :class:`~trainlab.train.History`. Raises ValueError for ``label_noise`` outside [0, 1] or
    ``keep_prob`` outside (0, 1].
    """
    from trainlab import models
    from trainlab.train import train

    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise}")
    rng = np.random.default_rng(100 + seed)
    labels = np.asarray(y_train).copy()
    flip = rng.random(len(labels)) < label_noise
    labels[flip] = rng.integers(0, 10, int(flip.sum()))
    model = models.mlp(x_train.shape[1], list(hidden), 10, keep_prob=keep_prob, seed=seed)
    if dtype is not None:
        model = model.to(dtype)
    return train(model, (x_train, labels), (x_val, y_val), steps=steps,
                 batch_size=min(batch_size, len(labels)), lr=lr, optimizer="adam",
                 record_every=record_every, stats=False, seed=seed, progress=False,
                 on_record=on_record)


def early_stopping_benefit(*, keep_prob: float = 0.5, n_train: int = 300,
                           label_noise: float = 0.3, hidden: Sequence[int] = (128, 128),
                           steps: int = 500, batch_size: int = 50, lr: float = 1e-3,
                           record_every: int = 25, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                           clean_val: bool = True) -> dict[float, dict[str, np.ndarray]]:
    """Lesson 06's comparison of dropout with early stopping, for other settings.

    scikit-learn's digits (:func:`_digits`) in the order ``np.random.default_rng(0)
    .permutation``: the first ``n_train`` (at most 600) for training, each label replaced by a
    random class with probability ``label_noise`` (``np.random.default_rng(100 + seed)``, as
    :func:`noisy_label_run`); images 600..999 with correct labels choose the early stop
    (``clean_val=False`` replaces theirs too, with the same generator after the training
    labels); the remaining 797 are the test set. For ``keep_prob`` 1.0 and ``keep_prob``, every
    seed trains ``models.mlp(64, hidden, 10, keep_prob=..., seed=seed)`` with Adam and keeps
    its best-validation-accuracy checkpoint (``train(..., restore_best="val_acc")``, checked
    every ``record_every`` steps). Returns ``{kp: {"best": test accuracy of that checkpoint,
    "last": test accuracy after the last step, "step": the checkpoint's step}}``, one entry per
    seed. Raises ValueError for ``n_train`` outside [10, 600] or ``label_noise`` outside [0, 1].
    """
    from trainlab import models
    from trainlab.train import evaluate, train

    if isinstance(n_train, bool) or not isinstance(n_train, int | np.integer) \
            or not 10 <= n_train <= 600:
        raise ValueError(f"n_train must be an int in [10, 600], got {n_train!r}")
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise}")
    x, y = _digits()
    order = np.random.default_rng(0).permutation(len(x))
    tr, va, te = order[:n_train], order[600:1000], order[1000:]
    out: dict[float, dict[str, np.ndarray]] = {}
    for kp in (1.0, float(keep_prob)):
        res: dict[str, list] = {"best": [], "last": [], "step": []}
        for seed in seeds:
            rng = np.random.default_rng(100 + seed)
            labels, val_labels = y[tr].copy(), y[va].copy()
            flip = rng.random(len(labels)) < label_noise
            labels[flip] = rng.integers(0, 10, int(flip.sum()))
            if not clean_val:
                flip = rng.random(len(val_labels)) < label_noise
                val_labels[flip] = rng.integers(0, 10, int(flip.sum()))
            model = models.mlp(64, list(hidden), 10, keep_prob=kp, seed=seed)

            def at_end(h: Any, m: Any = model, r: dict = res) -> None:
                if h.curves[-1]["step"] == steps - 1:
                    r["last"].append(evaluate(m, x[te], y[te])[1])

            hist = train(model, (x[tr], labels), (x[va], val_labels), steps=steps,
                         batch_size=min(batch_size, n_train), lr=lr, optimizer="adam",
                         record_every=record_every, stats=False, seed=seed, progress=False,
                         restore_best="val_acc", on_record=at_end)
            res["best"].append(evaluate(model, x[te], y[te])[1])
            res["step"].append(hist.best_step)
        out[kp] = {k: np.asarray(v) for k, v in res.items()}
    return out


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as read-only ``(X / 16, y)``, parsed once per process (30 ms)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def digits_split(n_train: int = 300, seed: int = 0) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits (1,797 images, 64 pixel values scaled to [0, 1]) split as in
    lesson 06: ``(X, y, Xv, yv)``, the first ``n_train`` images of a permutation drawn with
    ``np.random.default_rng(seed)`` for training and the 797 after its first 1,000 for
    validation. Raises ValueError unless ``10 <= n_train <= 1000``."""
    if isinstance(n_train, bool) or not isinstance(n_train, int | np.integer) \
            or not 10 <= n_train <= 1000:
        raise ValueError(f"n_train must be an int in [10, 1000], got {n_train!r}")
    x, y = _digits()
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order[:n_train]], y[order[:n_train]], x[order[1000:]], y[order[1000:]]


def keep_prob_seeds(keep_prob: float, *, n_train: int = 300, label_noise: float = 0.3,
                    seeds: Sequence[int] = (0, 1, 2), hidden: Sequence[int] = (128, 128),
                    steps: int = 500, batch_size: int = 50, lr: float = 1e-3,
                    record_every: int = 25, dtype: Any = "float32",
                    on_record: Any = None) -> dict[str, Any]:
    """Validation accuracy and loss of :func:`noisy_label_run` on :func:`digits_split` for
    one ``keep_prob``, over ``seeds`` (each its own initialisation, minibatch order and label
    corruption): the keep_prob explorer's measurement.

    ``dtype``: ``"float32"`` (default: fast, the curves are looked at, not printed),
    ``"float64"`` or ``None`` (torch's default). ``on_record(i, history)`` is called at every
    record step of seed number ``i``. Returns ``keep_prob``, ``step`` (R,), ``val_acc`` and
    ``val_loss`` (len(seeds), R), ``acc_mean``/``acc_sd`` and ``loss_mean``/``loss_sd``
    (final value over seeds, sd with ddof 0), ``seeds`` and ``status``.
    """
    import torch

    if isinstance(keep_prob, bool) or not isinstance(keep_prob, int | float | np.floating) \
            or not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")
    if dtype not in (None, "float32", "float64"):
        raise ValueError(f"dtype must be 'float32', 'float64' or None, got {dtype!r}")
    x, y, xv, yv = digits_split(n_train)
    acc, loss, steps_rec, status = [], [], np.zeros(0), "ok"
    for i, seed in enumerate(seeds):
        hist = noisy_label_run(
            float(keep_prob), x, y, xv, yv, seed=seed, label_noise=label_noise, hidden=hidden,
            steps=steps, batch_size=batch_size, lr=lr, record_every=record_every,
            dtype=None if dtype is None else getattr(torch, dtype),
            on_record=None if on_record is None else lambda h, i=i: on_record(i, h))
        steps_rec, a = hist.series("val_acc")
        acc.append(a)
        loss.append(hist.series("val_loss")[1])
        if hist.diverged:
            status = hist.status
    val_acc, val_loss = np.asarray(acc), np.asarray(loss)
    return {"keep_prob": float(keep_prob), "step": np.asarray(steps_rec), "val_acc": val_acc,
            "val_loss": val_loss, "acc_mean": float(val_acc[:, -1].mean()),
            "acc_sd": float(val_acc[:, -1].std()), "loss_mean": float(val_loss[:, -1].mean()),
            "loss_sd": float(val_loss[:, -1].std()), "seeds": list(seeds), "status": status}


# --------------------------------------------------------------------------------------------
# dropout against over-fitting, measured on MNIST-10k (lesson 06 and its explorer)
# --------------------------------------------------------------------------------------------
def keep_prob_data(n_train: int = 1000, n_val: int = 1000,
                   seed: int = 0) -> tuple[np.ndarray, ...]:
    """The fixed images the keep_prob explorer trains and validates on: ``(X, y, Xv, yv)``.

    ``X`` (n_train, 784) and ``Xv`` (n_val, 784) float32 in [0, 1] are random MNIST-10k training
    and validation images (a permutation drawn with ``np.random.default_rng(seed)``), ``y`` and
    ``yv`` their int64 labels. Loaded once per process; the same arguments give the same arrays.
    """
    from trainlab.data import mnist_subset

    return mnist_subset(n_train, n_val, seed)


class _SplitEval:
    """Forward hook that splits the eval-mode outputs of ``train(..., val_data=train + val)``.

    :func:`trainlab.train.train` evaluates its ``val_data`` in eval mode at every record step,
    here in one batch (``eval_batch`` = all rows). Given the training images followed by the
    validation images, this hook takes each eval-mode output of exactly that many rows (other
    calls, e.g. train's two-row shape probe or training steps, are ignored) and records the mean
    cross-entropy ``-log softmax(f(x))[y]`` and the accuracy on each part separately.
    """

    def __init__(self, y_train: np.ndarray, y_val: np.ndarray) -> None:
        import torch

        self.labels = torch.from_numpy(np.concatenate([y_train, y_val]).astype(np.int64))
        self.n_train = len(y_train)
        self.rows: dict[str, list[float]] = {k: [] for k in
                                              ("train_loss", "train_acc", "val_loss", "val_acc")}

    def __call__(self, module: Any, _inputs: Any, output: Any) -> None:
        if module.training or len(output) != len(self.labels):
            return
        import torch.nn.functional as F

        logits = output.detach().double()
        losses = F.cross_entropy(logits, self.labels, reduction="none")
        hits = (logits.argmax(dim=1) == self.labels).double()
        for split, sl in (("train", slice(0, self.n_train)), ("val", slice(self.n_train, None))):
            self.rows[f"{split}_loss"].append(float(losses[sl].mean()))
            self.rows[f"{split}_acc"].append(float(hits[sl].mean()))


def keep_prob_run(keep_prob: float, *, hidden: Sequence[int] = (512, 512),
                  n_train: int = 1000, n_val: int = 1000, steps: int = 500,
                  batch_size: int = 50, optimizer: str = "adam", lr: float = 1e-3,
                  record_every: int = 25, seed: int = 0,
                  on_record: Any = None) -> dict[str, Any]:
    """Train ``mlp(784, hidden, 10, keep_prob=keep_prob)`` and measure train and validation.

    Data: :func:`keep_prob_data` (``n_train`` training, ``n_val`` validation images). Training:
    :func:`trainlab.train.train`, ``steps`` minibatch steps of ``batch_size`` with
    ``optimizer``/``lr``. Every ``record_every`` steps and after the last one, both image sets go
    through the network in eval mode (dropout off, inverted dropout needs no rescaling), giving
    curves of the mean cross-entropy and the accuracy. Returns ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc`` (after the last step), ``gap_loss = val_loss - train_loss``,
    ``gap_acc = train_acc - val_acc``, ``min_val_loss`` and ``min_val_step`` (where validation
    loss was lowest), ``curves`` (dict of ``step`` and the four metrics, 1-D arrays),
    ``keep_prob`` and ``status`` ("ok" or the divergence message). ``on_record(curves)`` is
    called at every record step with the curves so far (see :func:`trainlab.train.train`).
    """
    from trainlab.models import mlp
    from trainlab.train import train

    if isinstance(keep_prob, bool) or not isinstance(keep_prob, int | float | np.floating) \
            or not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")
    X, y, Xv, yv = keep_prob_data(n_train, n_val, seed)
    model = mlp(784, list(hidden), 10, keep_prob=float(keep_prob), seed=seed)
    split = _SplitEval(y, yv)
    handle = model.register_forward_hook(split)
    try:
        hist = train(model, (X, y), (np.concatenate([X, Xv]), np.concatenate([y, yv])),
                     steps=steps, batch_size=min(batch_size, n_train), lr=float(lr),
                     optimizer=optimizer, record_every=record_every, stats=False, seed=seed,
                     eval_batch=len(X) + len(Xv), progress=False,
                     on_record=None if on_record is None else
                     lambda h: on_record(_split_curves(h, split)))
    finally:
        handle.remove()
    curves = _split_curves(hist, split)
    res: dict[str, Any] = {k: float(v[-1]) if v.size else math.nan
                           for k, v in curves.items() if k != "step"}
    best = int(np.argmin(curves["val_loss"])) if curves["val_loss"].size else 0
    res.update(keep_prob=float(keep_prob), curves=curves,
               gap_loss=res["val_loss"] - res["train_loss"],
               gap_acc=res["train_acc"] - res["val_acc"],
               min_val_loss=float(curves["val_loss"][best]) if curves["step"].size else math.nan,
               min_val_step=int(curves["step"][best]) if curves["step"].size else 0,
               status=hist.status if hist.diverged else "ok")
    return res




def _split_curves(hist: Any, split: _SplitEval) -> dict[str, np.ndarray]:
    curves = {"step": hist.series("val_loss")[0]}
    curves.update({k: np.asarray(v, dtype=np.float64) for k, v in split.rows.items()})
    return curves
