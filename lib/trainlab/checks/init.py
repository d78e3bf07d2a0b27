"""Checks for the graded exercises of lesson 03 (weight initialisation).

Every check draws fresh fans, widths and inputs from ``seed``, calls the learner's function and
compares it with a reference built on :func:`trainlab.init.init_std` (or the equation in the
docstring). When the answer matches a common slip - the fan_out instead of the fan_in, the
ReLU factor 2 forgotten, a variance returned where a standard deviation was asked for - the
error message names the slip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trainlab.checks import ExerciseError, call_student, expect_close, reference

__all__ = [
    "INITS",
    "check_init_scale_sweep",
    "check_init_weights",
    "check_train_mlp",
    "reference_init_scale_sweep",
    "reference_init_weights",
    "reference_train_mlp",
    "LAYER_ACTIVATIONS",
    "check_layer_stds",
    "check_leaky_kaiming_std",
    "reference_layer_stds",
]

LAYER_ACTIVATIONS: tuple[str, ...] = ("linear", "tanh", "relu")
"""The activations :func:`reference_layer_stds` (exercise 3) accepts."""


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _scalar(value: Any, what: str) -> float:
    """``value`` as a float, or an ExerciseError saying that a single number was expected."""
    arr = np.asarray(value, dtype=np.float64) if value is not None else None
    if arr is None or arr.size != 1:
        raise ExerciseError(f"{what}: expected a single number, got {value!r}")
    return float(arr.reshape(()))


def _fan_pairs(rng: np.random.Generator, count: int) -> list[tuple[int, int]]:
    """``count`` pairs (fan_in, fan_out) with fan_in != fan_out, so that the slips differ."""
    pairs = []
    while len(pairs) < count:
        fan_in, fan_out = (int(v) for v in rng.integers(3, 3000, size=2))
        if abs(fan_in - fan_out) > 10:
            pairs.append((fan_in, fan_out))
    return pairs


# --------------------------------------------------------------------------------------------
# Exercise 3: per-layer stds of a forward pass
# --------------------------------------------------------------------------------------------
def _check_layer_inputs(x: np.ndarray, weights: Sequence[np.ndarray], activation: str) -> None:
    if activation not in LAYER_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(LAYER_ACTIVATIONS)}, "
                         f"got {activation!r}")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), got {x.shape}")
    if len(weights) == 0:
        raise ValueError("weights must hold at least one (D_in, D_out) matrix, got none")
    width = x.shape[1]
    for i, w in enumerate(weights):
        if w.ndim != 2 or w.shape[0] != width:
            raise ValueError(f"weights[{i}] must have shape ({width}, D_out), got {w.shape}")
        width = w.shape[1]


def _forward_all(x: np.ndarray, weights: Sequence[np.ndarray],
                 activation: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    f = reference.ACTIVATIONS[activation]
    pre, post = [], []
    a = x
    for w in weights:
        z = a @ w
        a = f(z)
        pre.append(z)
        post.append(a)
    return pre, post


def reference_layer_stds(x: np.ndarray, weights: Sequence[np.ndarray],
                         activation: str) -> np.ndarray:
    """Std of each layer's activations in a forward pass, shape ``(L,)``.

    ``x``: ``(N, D_0)``; ``weights[l]``: ``(D_l, D_{l+1})`` (NumPy layout, no biases);
    ``a_0 = x``, ``a_{l+1} = f(a_l @ W_l)`` with ``f`` in :data:`LAYER_ACTIVATIONS`. Entry l is
    ``std(a_{l+1})`` over all ``N * D_{l+1}`` numbers (``np.std``, ddof 0).
    """
    x = np.asarray(x, dtype=np.float64)
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    _check_layer_inputs(x, weights, activation)
    return np.array([a.std() for a in _forward_all(x, weights, activation)[1]])


def _layer_case(rng: np.random.Generator, activation: str) -> tuple[np.ndarray, list]:
    widths = [int(v) for v in rng.integers(20, 90, size=int(rng.integers(3, 6)) + 1)]
    x = rng.standard_normal((int(rng.integers(8, 40)), widths[0]))
    scale = rng.uniform(0.7, 1.6)
    weights = [rng.standard_normal((m, n)) * scale / np.sqrt(m)
               for m, n in zip(widths[:-1], widths[1:], strict=True)]
    return x, weights


def check_layer_stds(layer_stds: Callable[..., Any], seed: int = 0) -> None:
    """Check ``layer_stds(x, weights, activation) -> (L,)`` on random nets, all activations.

    Reference: :func:`reference_layer_stds`. Hints for stds of the pre-activations, the mean
    of per-unit stds instead of the std of the whole layer, ddof=1, and ``w @ x`` orientation.
    The learner's function gets copies, so modifying its inputs in place cannot fool the check.
    """
    rng = np.random.default_rng(_check_seed(seed))
    for activation in LAYER_ACTIVATIONS:
        x, weights = _layer_case(rng, activation)
        expected = reference_layer_stds(x, weights, activation)
        what = f"layer_stds(x, weights, {activation!r}) for a {len(weights)}-layer net"
        try:
            got = call_student(layer_stds, x.copy(), [w.copy() for w in weights], activation)
        except ValueError as exc:
            if "matmul" in str(exc) or "align" in str(exc):
                raise ExerciseError(f"{what}: {exc}. Hint: x has shape (N, D_in) and "
                                    "w (D_in, D_out), so a layer computes a @ w") from exc
            raise
        got = np.asarray(got, dtype=np.float64)
        if got.shape == (len(weights) + 1,):
            raise ExerciseError(f"{what}: expected {len(weights)} values, got {got.size}. "
                                "Hint: leave out the std of the input x itself")
        pre, post = _forward_all(x, weights, activation)
        expect_close(got, expected, what, hints={
            "these are the stds of the pre-activations a @ w; apply the activation first":
                [z.std() for z in pre],
            "that is the mean of per-unit stds (std over axis 0); take the std of all the "
            "layer's numbers": [a.std(axis=0).mean() for a in post],
            "use np.std's default ddof=0 (population std)": [a.std(ddof=1) for a in post],
            "these are variances; take the square root": expected**2,
        })


# --------------------------------------------------------------------------------------------
# Exercise 4: Kaiming std for leaky ReLU
# --------------------------------------------------------------------------------------------
def check_leaky_kaiming_std(leaky_kaiming_std: Callable[[int, float], float], seed: int = 0,
                            n_cases: int = 6) -> None:
    """Check ``leaky_kaiming_std(fan_in, negative_slope)`` on random fans and slopes.

    Reference: ``sqrt(2 / ((1 + a^2) fan_in))`` (He et al. 2015, eq. 10 with a leaky slope
    ``a``), from :func:`trainlab.init.init_std` with ``nonlinearity="leaky_relu"``. Slopes
    include 0 (plain ReLU) and 1 (a linear layer, where the answer is 1 / sqrt(fan_in)).
    """
    rng = np.random.default_rng(_check_seed(seed))
    slopes = [0.0, 1.0, *(float(s) for s in rng.uniform(0.05, 0.6, size=max(n_cases - 2, 0)))]
    for (fan_in, fan_out), a in zip(_fan_pairs(rng, len(slopes)), slopes, strict=True):
        what = f"leaky_kaiming_std({fan_in}, {a:.4g})"
        got = _scalar(call_student(leaky_kaiming_std, fan_in, a), what)
        expected = reference.kaiming_std(fan_in, a)
        expect_close(got, expected, what, hints={
            "you returned the variance; the weights need its square root": expected**2,
            "E[leaky_relu(z)^2] = (1 + a^2) Var(z) / 2: the slope enters squared, not as "
            "(1 + a)": np.sqrt(2 / ((1 + a) * fan_in)),
            "the factor 2 is missing (half of the inputs are negative and scaled by a)":
                np.sqrt(1 / ((1 + a**2) * fan_in)),
            "that ignores the negative slope: it is the plain-ReLU Kaiming std sqrt(2 / fan_in)":
                np.sqrt(2 / fan_in),
            "that uses fan_out; Kaiming's forward rule uses fan_in":
                np.sqrt(2 / ((1 + a**2) * fan_out)),
        })


# --------------------------------------------------------------------------------------------
# The assignment track: init_weights(dims, init, weight_scale, seed), the init option of the
# course's fully connected layers; and the experiment (train_mlp, init_scale_sweep)
# --------------------------------------------------------------------------------------------
INITS: tuple[str | None, ...] = (None, "xavier", "kaiming")
"""The ``init`` values of ``init_weights``: None (weight_scale as the std), Glorot & Bengio's
``sqrt(2 / (fan_in + fan_out))`` or He et al.'s ``sqrt(2 / fan_in)``."""


def reference_init_weights(dims: Sequence[int], init: str | None, weight_scale: float,
                           seed: int) -> list[np.ndarray]:
    """Weights (dims[l], dims[l+1]) for each layer, drawn in order from
    ``np.random.default_rng(seed)`` as ``std * rng.standard_normal((d_in, d_out))``; std is
    ``weight_scale`` (init None), :func:`reference.xavier_std` or :func:`reference.kaiming_std`.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    rng = np.random.default_rng(seed)
    out = []
    for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
        std = weight_scale if init is None else reference.xavier_std(d_in, d_out) \
            if init == "xavier" else reference.kaiming_std(d_in)
        out.append(std * rng.standard_normal((d_in, d_out)))
    return out


def _weights_list(got: Any, n: int, what: str) -> list[np.ndarray]:
    if not isinstance(got, list | tuple) or len(got) != n:
        raise ExerciseError(f"{what}: expected a list of {n} weight matrices (one per layer), "
                            f"got {type(got).__name__}"
                            + (f" of length {len(got)}" if isinstance(got, list | tuple) else ""))
    return [np.asarray(w, dtype=np.float64) for w in got]


def check_init_weights(init_weights: Callable[..., Any], seed: int = 0) -> None:
    """Check ``init_weights(dims, init, weight_scale, seed) -> [W_1, ..., W_L]`` for the three
    ``init`` values on random non-square layer sizes, draw for draw against
    :func:`reference_init_weights`; hints for a variance instead of a std, fan_out instead of
    fan_in, the ReLU factor forgotten, and (D_out, D_in) (torch's) layout."""
    rng = np.random.default_rng(_check_seed(seed))
    for init in ("kaiming", "xavier", None):
        depth = int(rng.integers(2, 5))
        dims = [int(v) for v in rng.integers(3, 40, size=depth + 1)]
        while any(a == b for a, b in zip(dims[:-1], dims[1:], strict=True)):
            dims = [int(v) for v in rng.integers(3, 40, size=depth + 1)]
        scale, draw_seed = float(rng.uniform(0.01, 2.0)), int(rng.integers(0, 10_000))
        what = f"init_weights({dims}, init={init!r}, weight_scale={scale:.3g}, seed={draw_seed})"
        got = _weights_list(call_student(init_weights, list(dims), init, scale, draw_seed),
                            depth, what)
        expected = reference_init_weights(dims, init, scale, draw_seed)
        unit = reference_init_weights(dims, None, 1.0, draw_seed)
        for layer, (g, e, z) in enumerate(zip(got, expected, unit, strict=True), start=1):
            d_in, d_out = e.shape
            if g.shape == (d_out, d_in):
                raise ExerciseError(f"{what}: layer {layer} has shape {g.shape}, torch's "
                                    f"(D_out, D_in) layout; this course uses (D_in, D_out) = "
                                    f"{e.shape}, out = x @ W")
            std = float(e.flat[0] / z.flat[0]) if z.flat[0] else 1.0
            hints = {"you scaled by the variance; the weights need a standard deviation":
                     z * std**2}
            if init == "kaiming":
                hints["that uses the fan-out (d_out); the forward pass needs the fan-in"] = \
                    z * np.sqrt(2 / d_out)
                hints["the ReLU factor 2 is missing: Kaiming's Var(W) = 2 / fan_in"] = \
                    z / np.sqrt(d_in)
            elif init == "xavier":
                hints["Glorot & Bengio average the two fans: Var(W) = 2 / (fan_in + fan_out), "
                      "not 1 / fan_in"] = z / np.sqrt(d_in)
            expect_close(g, e, f"{what}, layer {layer}", hints=hints)


def reference_train_mlp(x: np.ndarray, y: np.ndarray, weights: Sequence[np.ndarray],
                        steps: int, lr: float) -> np.ndarray:
    """Losses (steps,) of ``train_mlp``: a bias-free ReLU MLP with the given weights (hidden:
    h = relu(h @ W), output: scores = h @ W_L), mean softmax cross-entropy, full-batch gradient
    descent W -= lr dW on every weight; entry t is the loss of step t, before its update."""
    from trainlab import layers

    ws = [np.array(w, dtype=np.float64) for w in weights]
    losses = []
    for _ in range(steps):
        hs = [x]
        for w in ws[:-1]:
            hs.append(np.maximum(hs[-1] @ w, 0.0))
        loss, dh = layers.softmax_cross_entropy(hs[-1] @ ws[-1], y)
        losses.append(loss)
        grads = []
        for i in range(len(ws) - 1, -1, -1):
            grads.append(hs[i].T @ dh)
            dh = (dh @ ws[i].T) * (hs[i] > 0) if i else dh
        ws = [w - lr * g for w, g in zip(ws, grads[::-1], strict=True)]
    return np.array(losses)


def _mlp_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int]]:
    n, d, classes = int(rng.integers(12, 20)), int(rng.integers(4, 8)), int(rng.integers(3, 5))
    x = rng.normal(size=(n, d))
    y = rng.permutation(np.concatenate([np.arange(classes),
                                        rng.integers(0, classes, n - classes)]))
    return x, y, [d, *(int(v) for v in rng.integers(4, 8, size=3)), classes]


def check_train_mlp(train_mlp: Callable[..., Any], seed: int = 0) -> None:
    """Check ``train_mlp(x, y, weights, steps, lr) -> losses (steps,)`` against
    :func:`reference_train_mlp` on tiny random problems, at Kaiming's scale and 3 times it;
    the learner's weights list must not be changed in place."""
    rng = np.random.default_rng(_check_seed(seed))
    x, y, dims = _mlp_case(rng)
    steps, lr = int(rng.integers(4, 7)), float(rng.uniform(0.05, 0.3))
    for mult in (1.0, 3.0):
        weights = [mult * w for w in reference_init_weights(dims, "kaiming", 1.0,
                                                            int(rng.integers(0, 1000)))]
        sent = [w.copy() for w in weights]
        what = f"train_mlp on dims {dims} ({mult:g} x Kaiming's std, steps={steps}, lr={lr:.3g})"
        got = call_student(train_mlp, x.copy(), y.copy(), sent, steps, lr)
        expected = reference_train_mlp(x, y, weights, steps, lr)
        after = reference_train_mlp(x, y, weights, steps + 1, lr)[1:]
        expect_close(got, expected, what, tol=1e-5, hints={
            "entry t is the loss computed in step t BEFORE its update (entry 0: the loss at "
            "initialisation); yours are the losses after each update": after})
        if not all(np.array_equal(s, w) for s, w in zip(sent, weights, strict=True)):
            raise ExerciseError(f"{what}: your train_mlp changed the weight arrays it was given; "
                                "work on copies (the sweep reuses the initial weights)")


def reference_init_scale_sweep(x: np.ndarray, y: np.ndarray, dims: Sequence[int],
                               multipliers: Sequence[float], steps: int, lr: float,
                               seed: int) -> np.ndarray:
    """Last loss of ``train_mlp`` per multiplier m, with the weights
    ``[m * W for W in init_weights(dims, "kaiming", 1.0, seed)]``; shape (len(multipliers),)."""
    base = reference_init_weights(dims, "kaiming", 1.0, seed)
    return np.array([reference_train_mlp(x, y, [m * w for w in base], steps, lr)[-1]
                     for m in multipliers])


def check_init_scale_sweep(init_scale_sweep: Callable[..., Any], seed: int = 0) -> None:
    """Check ``init_scale_sweep(x, y, dims, multipliers, steps, lr, seed) -> (M,)`` against
    :func:`reference_init_scale_sweep` on a tiny random problem."""
    rng = np.random.default_rng(_check_seed(seed))
    x, y, dims = _mlp_case(rng)
    multipliers = np.sort(rng.uniform(0.2, 3.0, 3))
    steps, lr, net_seed = 4, float(rng.uniform(0.05, 0.3)), int(rng.integers(0, 1000))
    got = call_student(init_scale_sweep, x.copy(), y.copy(), list(dims), multipliers.copy(),
                       steps, lr, net_seed)
    expected = reference_init_scale_sweep(x, y, dims, multipliers, steps, lr, net_seed)
    expect_close(got, expected, f"init_scale_sweep over multipliers {np.round(multipliers, 3)}",
                 tol=1e-5)
