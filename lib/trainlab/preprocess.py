"""Input preprocessing that is fitted on the training set and then applied unchanged.

Every transform here follows one pattern: ``fit`` computes statistics from the *training*
data only and keeps them (``mean_``, ``std_``, ...); ``transform`` applies those stored
statistics to any split (train, validation, test, a single new example). Computing the
statistics on all data, test set included, leaks information about the test set into the
model; keeping them with the model (``state_dict`` or :func:`as_torch_module`) makes sure
that deployment applies exactly the preprocessing the network was trained with.

Conventions: a data matrix ``x`` has shape ``(N, D)`` (one example per row, one feature per
column, so statistics are taken over ``axis=0``); an image batch has shape ``(N, H, W, C)``
(``layout="NHWC"``, as scikit-learn and matplotlib store photos) or ``(N, C, H, W)``
(``layout="NCHW"``, torch's convention).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: the NumPy transforms need no torch
    from trainlab.modules import InputNormalization

__all__ = [
    "MinMaxScaler",
    "InputNormalization",
    "PCAWhitener",
    "Standardizer",
    "as_torch_module",
    "channel_mean_std",
    "covariance",
    "line_fit_data",
    "line_fit_descent",
    "line_fit_loss",
    "mean_image",
    "normalize_channels",
]

LAYOUTS = ("NHWC", "NCHW")
_OVERFLOW = " (the data is too large for float64: rescale it first)"


def _as_matrix(x: Any, name: str = "x", min_rows: int = 1) -> np.ndarray:
    """Validate a data matrix of shape (N, D) and return it as float64."""
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
    arr = _real(x, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows (examples), "
                         f"got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least one column (feature), got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains nan or inf")
    return arr


def _real(x: Any, name: str, bool_ok: bool = True) -> np.ndarray:
    """``x`` as a NumPy array of real numbers (bool, int or float), else a TypeError."""
    try:
        arr = np.asarray(x)
    except ValueError as err:
        raise TypeError(f"{name} must be an array of real numbers, got a ragged "
                        f"{type(x).__name__}") from err
    kinds = "biuf" if bool_ok else "iuf"
    if arr.dtype.kind not in kinds:
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _finite_stat(value: Any, name: str, hint: str = "") -> np.ndarray:
    """A fitted or given statistic as float64; refuse nan/inf (an overflow in the data or a
    corrupt state), which would turn every transformed value into nan or 0."""
    arr = _real(value, name).astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}{hint}")
    return arr


def _check_eps(eps: float) -> float:
    if isinstance(eps, bool) or not isinstance(eps, Real) or not 0 <= eps < np.inf:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    return float(eps)


def _check_fitted(obj: Any, attr: str) -> None:
    if getattr(obj, attr) is None:
        raise RuntimeError(f"{type(obj).__name__} is not fitted yet: call fit(x_train) first")


def _check_width(x: np.ndarray, expected: int, name: str = "x") -> None:
    if x.shape[1] != expected:
        raise ValueError(f"{name} has {x.shape[1]} features but the statistics were fitted on "
                         f"{expected}")


def covariance(x: Any) -> np.ndarray:
    """Covariance matrix of the columns of ``x``, shape (N, D) -> (D, D).

    ``C = (x - mu)^T (x - mu) / N`` with ``mu = mean(x, axis=0)`` (the maximum-likelihood
    estimate, the one whitening makes equal to the identity).
    """
    arr = _as_matrix(x, "x", min_rows=2)
    xc = arr - arr.mean(axis=0)
    return xc.T @ xc / arr.shape[0]


def constant_features(mean: np.ndarray, std: np.ndarray, n: int, eps: float) -> np.ndarray:
    """Which features are constant up to the round-off of computing their std from ``n``
    values: scikit-learn's ``var <= n eps var + (n mean eps)**2`` (its
    ``_is_constant_feature``, scikit-learn#17794), with ``eps`` the data's machine epsilon."""
    var = np.square(std.astype(np.float64))
    m = mean.astype(np.float64)
    with np.errstate(over="ignore"):
        bound = n * eps * var + np.square(n * m * eps)
    return var <= bound


class Standardizer:
    """Per-feature mean subtraction and (optionally) division by the standard deviation.

    ``fit(x_train)`` stores ``mean_ = mean(x_train, axis=0)`` and
    ``std_ = std(x_train, axis=0)`` (population std, shape (D,)); ``transform(x)`` returns
    ``(x - mean_) / (std_ + eps)`` (or ``x - mean_`` with ``scale=False``). A feature that is
    constant on the training set is only centred (divisor 1, as scikit-learn's
    ``StandardScaler`` does): dividing by ``eps`` would blow up any test value that differs
    from the training constant. "Constant" is scikit-learn's test (scikit-learn#17794), so
    that a column of one repeated value whose float std is round-off (3.6e-15 for 1000 copies
    of 14.62) counts as constant: ``var <= n eps var + (n mean eps)**2`` with ``eps`` the
    machine epsilon of x's dtype; ``constant_`` holds the mask. Features that are *nearly*
    constant (a real, tiny spread) still get divided by their std; for images prefer
    per-channel statistics (:func:`channel_mean_std`).

    Parameters
    ----------
    scale : divide by the standard deviation (True) or only subtract the mean (False).
    eps : added to the standard deviation before dividing, >= 0.
    """

    def __init__(self, scale: bool = True, eps: float = 1e-8) -> None:
        if not isinstance(scale, bool):
            raise TypeError(f"scale must be True or False, got {scale!r}")
        self.scale = scale
        self.eps = _check_eps(eps)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.constant_: np.ndarray | None = None

    def fit(self, x: Any) -> Standardizer:
        """Compute ``mean_`` and ``std_`` (each shape (D,)) from ``x`` of shape (N, D), and
        ``constant_``, the features constant up to round-off."""
        arr = _as_matrix(x, "x")
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = arr.mean(axis=0), arr.std(axis=0)
        self.mean_ = _finite_stat(mean, "the mean of x", _OVERFLOW)
        self.std_ = _finite_stat(std, "the std of x", _OVERFLOW)
        self.constant_ = constant_features(self.mean_, self.std_, arr.shape[0],
                                           np.finfo(arr.dtype).eps)
        return self

    def _divisor(self) -> np.ndarray:
        constant = self.std_ == 0 if self.constant_ is None else self.constant_
        return np.where(constant, 1.0, self.std_ + self.eps)

    def transform(self, x: Any) -> np.ndarray:
        """Apply the stored statistics: ``(x - mean_) / (std_ + eps)``, shape (N, D)
        (divisor 1 for features with ``std_ = 0``)."""
        _check_fitted(self, "mean_")
        arr = _as_matrix(x, "x")
        _check_width(arr, self.mean_.shape[0])
        out = arr - self.mean_
        return out / self._divisor() if self.scale else out

    def fit_transform(self, x: Any) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``; use only on the training split."""
        return self.fit(x).transform(x)

    def inverse_transform(self, z: Any) -> np.ndarray:
        """Undo :meth:`transform`: ``z * (std_ + eps) + mean_``, shape (N, D)."""
        _check_fitted(self, "mean_")
        arr = _as_matrix(z, "z")
        _check_width(arr, self.mean_.shape[0], "z")
        out = arr * self._divisor() if self.scale else arr
        return out + self.mean_

    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted statistics ``{"mean": (D,), "std": (D,), "constant": (D,) bool}``, to
        save with the model."""
        _check_fitted(self, "mean_")
        constant = self.std_ == 0 if self.constant_ is None else self.constant_
        return {"mean": self.mean_.copy(), "std": self.std_.copy(), "constant": constant.copy()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], scale: bool = True,
                        eps: float = 1e-8) -> Standardizer:
        """Rebuild a fitted standardiser from :meth:`state_dict`'s ``mean`` and ``std`` (and
        ``constant``; without it a feature counts as constant when its std is exactly 0)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict with 'mean' and 'std', got "
                            f"{type(state).__name__}")
        missing = {"mean", "std"} - set(state)
        if missing:
            raise ValueError(f"state must hold 'mean' and 'std', missing {sorted(missing)}")
        obj = cls(scale=scale, eps=eps)
        mean = _finite_stat(state["mean"], "state['mean']")
        std = _finite_stat(state["std"], "state['std']")
        if mean.ndim != 1 or std.shape != mean.shape:
            raise ValueError(f"mean and std must be 1-D of one length, got shapes {mean.shape} "
                             f"and {std.shape}")
        if np.any(std < 0):
            raise ValueError("std must be >= 0 everywhere")
        obj.mean_, obj.std_ = mean, std
        if "constant" in state:
            constant = np.asarray(state["constant"])
            if constant.shape != mean.shape or constant.dtype != bool:
                raise ValueError(f"state['constant'] must be a bool array of shape {mean.shape}, "
                                 f"got {constant.dtype} of shape {constant.shape}")
            obj.constant_ = constant.copy()
        return obj

    def to_torch(self) -> InputNormalization:
        """This transform as a torch module whose buffers hold the fitted statistics."""
        _check_fitted(self, "mean_")
        divisor = self._divisor() if self.scale else np.ones_like(self.mean_)
        return as_torch_module(self.mean_, divisor)


class MinMaxScaler:
    """Per-feature affine map of the training range onto ``[low, high]`` (default [-1, 1]).

    ``fit(x_train)`` stores ``min_`` and ``max_`` (shape (D,)); ``transform(x)`` returns
    ``low + (high - low) * (x - min_) / (max_ - min_)``. New data outside the training range
    lands outside ``[low, high]`` (nothing is clipped). A constant feature maps to the middle
    of the interval.
    """

    def __init__(self, low: float = -1.0, high: float = 1.0) -> None:
        for name, value in (("low", low), ("high", high)):
            if not isinstance(value, Real) or isinstance(value, bool) \
                    or not np.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not low < high:
            raise ValueError(f"low must be < high, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)
        self.min_: np.ndarray | None = None
        self.max_: np.ndarray | None = None

    def fit(self, x: Any) -> MinMaxScaler:
        """Store the column minima and maxima of ``x`` (N, D) as ``min_`` and ``max_`` (D,)."""
        arr = _as_matrix(x, "x")
        with np.errstate(over="ignore"):
            span = arr.max(axis=0) - arr.min(axis=0)
        _finite_stat(span, "the range max - min of x", _OVERFLOW)
        self.min_ = arr.min(axis=0)
        self.max_ = arr.max(axis=0)
        return self

    def transform(self, x: Any) -> np.ndarray:
        """Map ``x`` (N, D) with the stored range; training data lands in [low, high]."""
        _check_fitted(self, "min_")
        arr = _as_matrix(x, "x")
        _check_width(arr, self.min_.shape[0])
        span = self.max_ - self.min_
        safe = np.where(span > 0, span, 1.0)
        unit = np.where(span > 0, (arr - self.min_) / safe, 0.5)
        return self.low + (self.high - self.low) * unit

    def fit_transform(self, x: Any) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``; use only on the training split."""
        return self.fit(x).transform(x)


class PCAWhitener:
    """Decorrelation (PCA rotation) and whitening fitted on training data.

    With the training mean ``mu`` and the eigendecomposition of the covariance
    ``C = U diag(lam) U^T`` (eigenvalues sorted in decreasing order, columns of ``U`` the
    principal directions, each with its largest-magnitude entry made positive so the signs
    are reproducible):

    - ``mode="pca"``:    ``z = (x - mu) U``                 (decorrelated, cov = diag(lam))
    - ``mode="whiten"``: ``z = (x - mu) U diag(lam + eps)^(-1/2)``      (cov = identity)
    - ``mode="zca"``:    ``z = (x - mu) U diag(lam + eps)^(-1/2) U^T``  (cov = identity, the
      whitened cloud rotated back to the original axes, so images still look like images)

    ``n_components`` keeps only the leading components (``pca`` and ``whiten`` only).
    ``eps`` (>= 0) keeps near-zero eigenvalues from blowing up noise.
    """

    MODES = ("pca", "whiten", "zca")

    def __init__(self, mode: str = "whiten", eps: float = 1e-5,
                 n_components: int | None = None) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        if n_components is not None:
            if not isinstance(n_components, Integral) or isinstance(n_components, bool) \
                    or n_components < 1:
                raise ValueError(f"n_components must be a positive int or None, "
                                 f"got {n_components!r}")
            if mode == "zca":
                raise ValueError("n_components must be None for mode='zca' (ZCA rotates back "
                                 "to all D original axes)")
        self.mode = mode
        self.eps = _check_eps(eps)
        self.n_components = None if n_components is None else int(n_components)
        self.mean_: np.ndarray | None = None
        self.eigenvalues_: np.ndarray | None = None
        self.components_: np.ndarray | None = None

    def fit(self, x: Any) -> PCAWhitener:
        """Store ``mean_`` (D,), ``eigenvalues_`` (K,) and ``components_`` (D, K) from ``x``."""
        arr = _as_matrix(x, "x", min_rows=2)
        k = self.n_components or arr.shape[1]
        if k > arr.shape[1]:
            raise ValueError(f"n_components must be <= the number of features {arr.shape[1]}, "
                             f"got {k}")
        with np.errstate(over="ignore", invalid="ignore"):
            cov = covariance(arr)
        lam, vecs = np.linalg.eigh(_finite_stat(cov, "the covariance of x", _OVERFLOW))
        order = np.argsort(lam)[::-1][:k]
        lam, vecs = np.clip(lam[order], 0.0, None), vecs[:, order]
        pivot = np.abs(vecs).argmax(axis=0)
        vecs = vecs * np.sign(vecs[pivot, np.arange(vecs.shape[1])])
        self.mean_, self.eigenvalues_, self.components_ = arr.mean(axis=0), lam, vecs
        return self

    def matrix(self) -> np.ndarray:
        """The (D, K) matrix ``W`` with ``transform(x) = (x - mean_) @ W``."""
        _check_fitted(self, "components_")
        u = self.components_
        if self.mode == "pca":
            return u
        if self.eps == 0 and np.any(self.eigenvalues_ <= 0):
            raise ValueError("the covariance is singular; whitening needs eps > 0")
        scaled = u / np.sqrt(self.eigenvalues_ + self.eps)
        return scaled @ u.T if self.mode == "zca" else scaled

    def transform(self, x: Any) -> np.ndarray:
        """Apply the stored rotation/scaling to ``x`` (N, D); returns (N, K)."""
        _check_fitted(self, "components_")
        arr = _as_matrix(x, "x")
        _check_width(arr, self.mean_.shape[0])
        return (arr - self.mean_) @ self.matrix()

    def fit_transform(self, x: Any) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``; use only on the training split."""
        return self.fit(x).transform(x)

    def explained_variance_ratio(self) -> np.ndarray:
        """Fraction of the total variance along each kept component, shape (K,)."""
        _check_fitted(self, "eigenvalues_")
        total = self.eigenvalues_.sum()
        return self.eigenvalues_ / total if total > 0 else np.zeros_like(self.eigenvalues_)


def _as_images(images: Any, layout: str, name: str = "images") -> tuple[np.ndarray, int]:
    """Validate a 4-D image batch; return it as float64 and the index of its channel axis."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if not isinstance(layout, str):
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    arr = _real(images, name, bool_ok=False)
    if arr.ndim != 4:
        raise ValueError(f"{name} must have shape (N, H, W, C) or (N, C, H, W) (layout "
                         f"{layout}), got shape {arr.shape}")
    if arr.shape[0] < 1 or 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains nan or inf")
    return arr, (3 if layout == "NHWC" else 1)


def mean_image(images: Any, layout: str = "NHWC") -> np.ndarray:
    """The average image over the batch (AlexNet-style preprocessing subtracts it).

    ``images`` (N, H, W, C) -> (H, W, C) (or (N, C, H, W) -> (C, H, W) with
    ``layout="NCHW"``): ``mean_image[h, w, c] = (1/N) sum_n images[n, h, w, c]``.
    """
    arr, _ = _as_images(images, layout)
    return arr.mean(axis=0)


def channel_mean_std(images: Any, layout: str = "NHWC") -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over all images and pixels.

    ``images`` (N, H, W, C) or (N, C, H, W) -> ``(mean, std)``, each shape (C,):
    ``mean_c = mean over n, h, w of images[n, h, w, c]`` and ``std_c`` the population standard
    deviation over the same N*H*W values (VGG subtracts ``mean``; ResNet also divides by
    ``std``). Note ``std_c`` is *not* the average of per-image standard deviations.
    """
    arr, c_axis = _as_images(images, layout)
    axes = tuple(i for i in range(4) if i != c_axis)
    return arr.mean(axis=axes), arr.std(axis=axes)


def normalize_channels(images: Any, mean: Any, std: Any | None = None,
                       layout: str = "NHWC") -> np.ndarray:
    """Subtract a per-channel ``mean`` (C,) and divide by ``std`` (C,) if given.

    ``out[n, h, w, c] = (images[n, h, w, c] - mean[c]) / std[c]``; same shape as ``images``.
    Pass the statistics of the *training* images (from :func:`channel_mean_std`).
    """
    arr, c_axis = _as_images(images, layout)
    channels = arr.shape[c_axis]
    shape = [1, 1, 1, 1]
    shape[c_axis] = channels

    def _stat(value: Any, name: str) -> np.ndarray:
        vec = _finite_stat(value, name)
        if vec.shape != (channels,):
            raise ValueError(f"{name} must have shape ({channels},) to match the channels of "
                             f"images, got {vec.shape}")
        return vec.reshape(shape)

    out = arr - _stat(mean, "mean")
    if std is None:
        return out
    s = _stat(std, "std")
    if np.any(s <= 0):
        raise ValueError(f"std must be > 0 for every channel, got {np.ravel(s)}")
    return out / s


def as_torch_module(mean: Any, std: Any | None = None) -> InputNormalization:
    """An :class:`InputNormalization` module computing ``(x - mean) / std``.

    ``mean`` and ``std`` have shape (D,) (or any shape broadcastable against the input, e.g.
    (C, 1, 1) for NCHW images); ``std=None`` means 1 (mean subtraction only). Stored as
    float64 buffers and applied in the input's precision.
    """
    import torch

    from trainlab.modules import InputNormalization

    with np.errstate(over="ignore"):
        mean_t = torch.as_tensor(_real(mean, "mean").astype(np.float64))
        std_t = torch.ones_like(mean_t) if std is None else \
            torch.as_tensor(_real(std, "std").astype(np.float64))
    if std_t.shape != mean_t.shape:
        raise ValueError(f"mean and std must have one shape, got {tuple(mean_t.shape)} and "
                         f"{tuple(std_t.shape)}")
    if not bool(torch.isfinite(mean_t).all()):
        raise ValueError("mean contains nan or inf")
    if not bool(((std_t > 0) & torch.isfinite(std_t)).all()):
        raise ValueError("std must be > 0 and finite everywhere")
    return InputNormalization(mean_t, std_t)


# --------------------------------------------------------------------------------------------
# why centring and scaling help: least squares for a line, in weight space
# --------------------------------------------------------------------------------------------
def line_fit_data(offset: float = 5.0, scale: float = 1.0, n: int = 50,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``x = offset + scale * u`` and targets ``y`` of lesson 02's line fit, shapes (n,).

    ``u ~ U(-1, 1)`` and ``y = 0.8 (u + 5) - 3 + 0.2 e = 0.8 u + 1 + 0.2 e`` with
    ``e ~ N(0, 1)``, both from ``np.random.default_rng(seed)``, so the targets stay fixed while
    ``offset`` and ``scale`` change how the inputs are presented (the defaults give the lesson's
    raw inputs in [4, 6]; ``offset=0, scale=1`` centres them). The best line is then
    ``w* = 0.8 / scale``, ``b* = 1 - 0.8 offset / scale`` up to the noise.

    Raises ValueError unless ``offset`` is finite with ``|offset| <= 1e3``, ``scale`` is in
    [1e-3, 1e3] and ``n >= 2``.
    """
    if not (isinstance(offset, Real) and math.isfinite(offset) and abs(offset) <= 1e3):
        raise ValueError(f"offset must be a number in [-1000, 1000], got {offset!r}")
    if not (isinstance(scale, Real) and 1e-3 <= scale <= 1e3):
        raise ValueError(f"scale must be a number in [0.001, 1000], got {scale!r}")
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1.0, 1.0, size=int(n))
    y = 0.8 * (u + 5.0) - 3.0 + 0.2 * rng.standard_normal(int(n))
    return float(offset) + float(scale) * u, y


def line_fit_loss(w: Any, b: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares loss of the line ``w x + b``: ``L = 1/(2N) sum_n (w x_n + b - y_n)^2``.

    ``w`` and ``b`` are arrays of one shape (e.g. meshgrids); returns that shape. Evaluated
    through the moments of ``x`` and ``y`` (a quadratic in ``w``, ``b``), so a 150 x 150 grid
    costs no more than a few array operations.
    """
    w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mx, my, mxx, mxy, myy = (np.mean(x), np.mean(y), np.mean(x * x), np.mean(x * y),
                             np.mean(y * y))
    return 0.5 * (w * w * mxx + 2 * w * b * mx + b * b - 2 * w * mxy - 2 * b * my + myy)


def line_fit_descent(x: Any, y: Any, *, step_fraction: float = 0.5, steps: int = 60,
                     start: tuple[float, float] = (-1.5, 1.5)) -> dict[str, Any]:
    """Gradient descent on :func:`line_fit_loss` and the Hessian that governs it.

    ``theta = (w, b)`` starts at ``start`` and takes ``steps`` steps
    ``theta <- theta - eta grad L`` with ``eta = step_fraction * 2 / lambda_max``, where
    ``H = [[mean(x^2), mean(x)], [mean(x), 1]]`` is the (constant) Hessian of ``L`` and
    ``lambda_max >= lambda_min`` its eigenvalues. Along the eigenvector of ``lambda`` the error
    is multiplied by ``1 - eta lambda`` per step, so the run converges only for
    ``step_fraction < 1`` and its slowest factor is ``rate = max |1 - eta lambda|``
    (LeCun et al. 1998, "Efficient BackProp").

    Returns ``hessian`` (2, 2), ``eigenvalues`` (2,) descending, ``eigenvectors`` (2, 2)
    (column k belongs to eigenvalue k; the last is the valley floor's direction),
    ``condition_number``
    ``lambda_max / lambda_min``, ``lr`` (= eta), ``factors`` (2,) = ``1 - eta lambda``,
    ``rate``, ``mode_excess`` (2,): the start's excess loss along each eigenvector,
    ``lambda c^2 / 2`` with ``c`` the start's error along it (after t steps that term is
    ``mode_excess * factors^(2t)``, and the excess loss is their sum), ``path``
    (steps + 1, 2), ``losses`` (steps + 1,), ``minimum`` (w*, b*) and ``min_loss`` (the
    least-squares solution), ``excess`` = final loss - ``min_loss``, ``diverged``
    (``rate > 1``).

    Raises ValueError for inputs that are not two 1-D arrays of one length >= 2, a constant
    ``x`` (singular Hessian), ``step_fraction`` outside (0, 2] or ``steps`` outside [0, 10000].
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape or xs.size < 2:
        raise ValueError(f"x and y must be 1-D of one length >= 2, got shapes {xs.shape} and "
                         f"{ys.shape}")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("x and y must be finite")
    if not (isinstance(step_fraction, Real) and 0 < step_fraction <= 2):
        raise ValueError(f"step_fraction must be in (0, 2], got {step_fraction!r}")
    if isinstance(steps, bool) or not isinstance(steps, Integral) or not 0 <= steps <= 10_000:
        raise ValueError(f"steps must be an int in [0, 10000], got {steps!r}")
    hess = np.array([[np.mean(xs * xs), np.mean(xs)], [np.mean(xs), 1.0]])
    lam, vecs = np.linalg.eigh(hess)
    lam, vecs = lam[::-1], vecs[:, ::-1]
    if not lam[1] > 1e-12 * lam[0]:
        raise ValueError("x is (numerically) constant: the Hessian is singular, no unique "
                         "minimum")
    lr = float(step_fraction) * 2.0 / lam[0]
    grad_at_zero = -np.array([np.mean(xs * ys), np.mean(ys)])
    minimum = np.linalg.solve(hess, -grad_at_zero)
    path = np.empty((int(steps) + 1, 2))
    path[0] = start
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(int(steps)):
            path[t + 1] = path[t] - lr * (hess @ path[t] + grad_at_zero)
        losses = line_fit_loss(path[:, 0], path[:, 1], xs, ys)
    min_loss = float(line_fit_loss(minimum[0], minimum[1], xs, ys))
    factors = 1.0 - lr * lam
    rate = float(np.max(np.abs(factors)))
    error0 = vecs.T @ (np.asarray(start, dtype=np.float64) - minimum)
    return {"hessian": hess, "eigenvalues": lam, "eigenvectors": vecs,
            "condition_number": float(lam[0] / lam[1]),
            "lr": lr, "factors": factors, "rate": rate, "mode_excess": 0.5 * lam * error0 ** 2,
            "path": path, "losses": losses,
            "minimum": (float(minimum[0]), float(minimum[1])), "min_loss": min_loss,
            "excess": float(losses[-1] - min_loss), "diverged": rate > 1.0}


def __getattr__(name: str) -> Any:
    """``preprocess.InputNormalization`` (the class lives in :mod:`trainlab.modules`, which
    needs torch, and is imported only when asked for)."""
    if name == "InputNormalization":
        from trainlab.modules import InputNormalization

        return InputNormalization
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
