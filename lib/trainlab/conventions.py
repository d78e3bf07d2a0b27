"""The course's conventions, one per concept, written down here and nowhere else.

Every function of trainlab follows them; an old spelling raises an error that names the new
one (:func:`renamed`).

Layers (NumPy, CS231n style)
    ``out, cache = xxx_forward(x, params..., *, options)`` and
    ``grads = xxx_backward(dout, cache)``: ``grads`` is a *tuple* of the gradients of the
    differentiable inputs in the order of the forward's arguments, also for a layer with one
    such input (``dx, = dropout_backward(dout, cache)``; activations included).
    Weights are ``(D_in, D_out)`` with ``out = x @ w + b`` (torch stores the transpose).

Train / eval
    One spelling for every layer that behaves differently in training:
    ``mode="train"`` or ``mode="eval"`` (batch norm, spatial batch norm, dropout, standard
    dropout; CS231n's ``bn_param["mode"]``/``dropout_param["mode"]``). torch modules use
    ``module.train()`` / ``module.eval()``.

Random numbers
    One argument name, ``rng``, in NumPy and torch functions alike: NumPy functions take an int
    seed, a ``numpy.random.Generator`` or None; torch functions an int seed, a
    ``torch.Generator`` or None (None: the global generator). ``seed`` (an int) is used only
    where a whole run is seeded (``models.mlp``, ``train.train``).

Dropout
    ``keep_prob`` = probability of KEEPING a unit; torch's ``nn.Dropout(p)`` drops with ``p``,
    so ``p = 1 - keep_prob``.

Batch norm's running averages (torch's convention)
    ``running = (1 - momentum) * running + momentum * batch`` with ``momentum = 0.1``;
    ``momentum=None`` is the cumulative average of all batches. CS231n's ``0.9`` weights the
    other way round. The running variance averages the unbiased batch variance.

Degenerate groups
    Every normalisation (batch, spatial batch, layer, instance, group, lp batch norm; NumPy
    functions and torch modules) refuses a group of one value with a ValueError naming the
    shape and the valid range: every normalised value would be 0.

Normalisation parameters and argument order (as torch)
    ``groupnorm_forward(x, num_groups, gamma, beta)`` like ``F.group_norm(x, num_groups, w, b)``.
    gamma/beta have one entry per channel, shape (C,), for batch, instance and group norm; for
    layer norm they have the shape of the normalised features ``x.shape[1:]`` (torch's
    ``nn.LayerNorm(normalized_shape)``: (D,) for (N, D), (C, H, W) for images). One gamma per
    channel over all of (C, H, W) is group norm with ``num_groups=1``.
    eps sits under the square root everywhere, ``sqrt(var + eps)``; lp batch norm divides by
    ``sqrt(s_p**2 + eps)`` (NumPy and torch alike), so p = 2 is batch norm exactly.

Initialisation
    A scheme means its paper: ``xavier_*`` is Glorot & Bengio's ``2 / (fan_in + fan_out)``
    with no activation gain; ``kaiming_*`` takes ``nonlinearity`` and ``a`` with torch's
    meaning (default ``"leaky_relu"`` with slope ``a = 0``, i.e. ReLU's gain sqrt(2);
    ``a=math.sqrt(5)`` is torch's ``nn.Linear`` default). Any other factor, e.g. tanh's gain
    5/3, is explicit: ``scale=init.gain("tanh")``.
    Weight layouts are explicit in :func:`trainlab.init.fans`: ``"numpy"`` (D_in, D_out),
    ``"maxout"`` (D_in, D_out, k), ``"torch"`` (out, in, *kernel) (also CS231n's conv kernels).

Network shapes
    ``models.mlp(in_dim, hidden, out_dim)`` takes ``hidden`` as a list of widths only:
    ``[100] * 4`` is four layers of 100 units, ``[]`` a linear model.

Precision
    A float64 input gives a float64 result computed in float64 throughout (no float32
    constant or buffer on the way); float32 stays float32.

Gradient checks
    :func:`trainlab.gradcheck.check_layer` reports ``||analytic - numeric|| / (||analytic|| +
    ||numeric||)`` per input (:func:`trainlab.gradcheck.rel_error` with ``per_entry=False``),
    judged against the numeric gradient's round-off, with ``dout`` from a stream independent
    of ``default_rng(seed)``. Its verdict names its reason: ``ok``, ``kink`` (entries within
    ``h`` of a non-differentiable point, checked against the one-sided slopes), ``float32``
    (cannot tell) or ``WRONG``.

Where trainlab differs from torch and scikit-learn, on purpose
    Every public function that mirrors torch or scikit-learn takes their arguments with their
    meaning (``tests/test_oracles.py`` and the torch comparisons in ``tests/`` check it), except:

    - ``keep_prob`` (probability of keeping) instead of torch's drop probability ``p``;
      ``keep_prob=0`` is refused (torch's ``p=1`` zeroes everything). ``models.mlp`` puts
      ``nn.AlphaDropout(p=1 - keep_prob)`` after SELU, ``nn.Dropout`` after anything else.
    - NumPy layers take ``mode="train"/"eval"`` where torch has ``module.train()/eval()``;
      weights are ``(D_in, D_out)`` (torch stores ``(out, in)``).
    - Xavier has no ``gain`` argument: a gain is ``scale=init.gain(...)`` (torch's ``gain``);
      ``orthogonal``'s ``gain`` is ``scale`` too. A maxout weight ``(D_in, D_out, k)`` is drawn
      orthogonal piece by piece (torch has no maxout).
    - ``a`` of a kaiming scheme is refused where torch ignores it silently (a nonlinearity
      other than ``leaky_relu``, a non-kaiming scheme); ``init.gain("leaky_relu")`` without a
      slope uses torch's 0.01, kaiming's default slope is torch's 0.
    - Every normalisation refuses a group of one value; torch refuses it in batch and
      instance norm too, but returns beta (plus round-off) in layer and group norm.
    - ``preprocess.Standardizer`` adds ``eps = 1e-8`` to the std (scikit-learn's
      ``StandardScaler`` adds nothing); constant features (scikit-learn's round-off test) are
      only centred, as there. ``scale=False`` is scikit-learn's ``with_std=False``.
    - ``preprocess.MinMaxScaler`` maps to ``[-1, 1]`` by default (scikit-learn: ``[0, 1]``) and
      a constant feature to the interval's middle (scikit-learn: to its lower end), so a
      constant input stays 0 in the zero-centred default.
    - ``preprocess.PCAWhitener`` uses the covariance with ``1 / N`` (the lesson's formula) and
      adds ``eps`` to the eigenvalues: whitened training data has variance exactly 1 with
      ``eps = 0``; scikit-learn's ``PCA(whiten=True)`` divides by the ``1 / (N - 1)``
      eigenvalues, so its variance is ``(N - 1) / N``.
    - ``leaky_relu_forward(x, alpha)``: ``alpha`` is torch's ``negative_slope`` and must be
      >= 0 (torch accepts a negative slope, which is no longer a leaky ReLU).
      ``softplus_forward`` is torch's ``softplus`` with ``beta=1`` computed exactly, without
      torch's switch to the identity above ``threshold=20`` (they differ by < 3e-9 there).
    - ``layers.mse_loss`` is torch's ``mse_loss`` (mean over every entry, no 1/2 factor);
      ``layers.softmax_cross_entropy`` is ``F.cross_entropy`` with ``reduction="mean"`` and
      integer labels only (no label smoothing, weights or probabilities as targets).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["renamed"]


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: a call with an old keyword (a key of ``old_to_new``) raises a TypeError
    naming the new spelling, e.g. ``@renamed(generator="rng=")``."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    raise TypeError(f"{fn.__qualname__}() takes {new} instead of {old}= "
                                    f"(one convention per concept; see trainlab.conventions)")
            return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap
