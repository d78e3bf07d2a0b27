"""Checks for the graded exercises of lesson 02 (data preprocessing).

Each ``check_*`` calls the learner's function on fresh data drawn from ``seed`` (train and
test deliberately come from shifted distributions, so that using the wrong statistics shows)
and compares the answer with :mod:`trainlab.preprocess`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainlab.checks import ExerciseError, call_student, expect_close, reference, seeded_rng

__all__ = [
    "check_apply_preprocessor",
    "check_fit_preprocessor",
    "check_channel_mean_std",
    "check_minmax_train_test",
    "check_pca_whiten",
    "check_standardize_train_test",
    "shifted_split",
]




def _pair(result: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ExerciseError(f"{what} must return a tuple of two arrays, got "
                            f"{type(result).__name__}")
    return np.asarray(result[0], dtype=np.float64), np.asarray(result[1], dtype=np.float64)


def shifted_split(seed: int = 0, n_train: int = 60, n_test: int = 40,
                  d: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A train set (n_train, d) and a test set (n_test, d) whose features have different
    means and scales per column (the test set is shifted and stretched)."""
    for name, value in (("n_train", n_train), ("n_test", n_test), ("d", d)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"{name} must be an int >= 2, got {value!r}")
    rng = seeded_rng(seed)
    loc = rng.uniform(-20, 20, d)
    scale = rng.uniform(0.5, 8.0, d)
    x_train = loc + scale * rng.standard_normal((n_train, d))
    x_test = loc + 3.0 * scale + 1.5 * scale * rng.standard_normal((n_test, d))
    return x_train, x_test


def check_standardize_train_test(fn: Callable[[np.ndarray, np.ndarray], Any], seed: int = 0,
                                 n_train: int = 60, n_test: int = 40, d: int = 5) -> None:
    """Check ``fn(x_train, x_test) -> (z_train, z_test)``: both standardised with the mean and
    (population) standard deviation of ``x_train`` only."""
    x_train, x_test = shifted_split(seed, n_train, n_test, d)
    z_train, z_test = _pair(call_student(fn, x_train.copy(), x_test.copy()),
                            "standardize_train_test")
    mu, sd = x_train.mean(0), x_train.std(0)
    ddof1 = x_train.std(0, ddof=1)
    ref_train, ref_test = reference.standardise(x_train, x_test)
    both = np.vstack([x_train, x_test])
    expect_close(z_train, ref_train, "z_train", hints={
        "divide by the standard deviation too, not only subtract the mean": x_train - mu,
        "use the population standard deviation (np.std's default ddof=0)":
            (x_train - mu) / ddof1,
        "statistics must come from x_train alone, not from train and test together":
            reference.standardise(both, x_train)[1],
    })
    expect_close(z_test, ref_test, "z_test", hints={
        "the test set must be transformed with the TRAINING mean and std, not its own":
            reference.standardise(x_test, x_test)[0],
        "statistics must come from x_train alone, not from train and test together":
            reference.standardise(both, x_test)[1],
        "divide by the standard deviation too, not only subtract the mean": x_test - mu,
        "use the population standard deviation (np.std's default ddof=0)":
            (x_test - mu) / ddof1,
        "subtract the training mean before dividing": x_test / sd,
    })


def check_minmax_train_test(fn: Callable[[np.ndarray, np.ndarray], Any], seed: int = 0,
                            n_train: int = 60, n_test: int = 40, d: int = 5) -> None:
    """Check ``fn(x_train, x_test) -> (m_train, m_test)``: each feature mapped affinely so the
    training minimum goes to -1 and the training maximum to +1 (test data may fall outside)."""
    x_train, x_test = shifted_split(seed, n_train, n_test, d)
    lo, hi = x_train.min(0), x_train.max(0)
    m_train, m_test = _pair(call_student(fn, x_train.copy(), x_test.copy()),
                            "minmax_train_test")
    unit_train, unit_test = (x_train - lo) / (hi - lo), (x_test - lo) / (hi - lo)
    expect_close(m_train, 2 * unit_train - 1, "m_train", hints={
        "that maps to [0, 1]; stretch to [-1, 1] with 2 * u - 1": unit_train,
    })
    expect_close(m_test, 2 * unit_test - 1, "m_test", hints={
        "the test set must use the TRAINING minimum and maximum, not its own":
            2 * (x_test - x_test.min(0)) / (x_test.max(0) - x_test.min(0)) - 1,
        "that maps to [0, 1]; stretch to [-1, 1] with 2 * u - 1": unit_test,
        "do not clip the test data; values outside the training range stay outside":
            np.clip(2 * unit_test - 1, -1.0, 1.0),
    })


def _correlated_cloud(seed: int, n: int, d: int) -> np.ndarray:
    """n points in d dimensions, correlated, with covariance eigenvalues in [0.25, 9] (so a
    small eps barely changes the whitened variances)."""
    rng = seeded_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    mix = rng.uniform(0.5, 3.0, d)[:, None] * rotation.T
    return rng.uniform(-5, 5, d) + rng.standard_normal((n, d)) @ mix


def check_pca_whiten(fn: Callable[[np.ndarray], np.ndarray], seed: int = 0, n: int = 400,
                     d: int = 3, tol: float = 5e-3) -> None:
    """Check ``fn(x) -> z`` whitens ``x`` of shape (n, d).

    Whitening is unique only up to a rotation (PCA and ZCA whitening both pass), so the
    check tests the defining properties: ``z`` has shape (n, d), is an affine function of
    ``x``, has zero mean, and its covariance ``z^T z / n`` is the identity (within ``tol``,
    which also admits the n - 1 normalisation).
    """
    x = _correlated_cloud(seed, n, d)
    z = np.asarray(call_student(fn, x.copy()), dtype=np.float64)
    if z.shape != x.shape:
        raise ExerciseError(f"pca_whiten: expected shape {x.shape}, got {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ExerciseError("pca_whiten: the result contains nan or inf")
    design = np.column_stack([x, np.ones(n)])
    coef, *_ = np.linalg.lstsq(design, z, rcond=None)
    if np.linalg.norm(design @ coef - z) > 1e-6 * max(1.0, np.linalg.norm(z)):
        raise ExerciseError("pca_whiten: z is not an affine function of x; whitening is "
                            "z = (x - mean) @ W for one matrix W")
    if np.max(np.abs(z.mean(axis=0))) > 1e-6:
        raise ExerciseError("pca_whiten: the columns of z do not have mean 0; subtract the "
                            "mean of x first")
    cov = z.T @ z / n
    off = cov - np.diag(np.diag(cov))
    if np.max(np.abs(off)) > tol:
        raise ExerciseError("pca_whiten: the features of z are still correlated (off-diagonal "
                            f"covariance up to {np.max(np.abs(off)):.3f}); rotate onto the "
                            "eigenvectors of the covariance. Dividing each feature by its own "
                            "std is not enough")
    diag = np.diag(cov)
    if np.max(np.abs(diag - 1.0)) > tol:
        lam = reference.covariance_eigenvalues(x)
        hint = ""
        got = np.sort(diag)
        if np.allclose(got, np.sort(lam), rtol=1e-2):
            hint = ("; the variances equal the eigenvalues: you decorrelated (PCA) but did "
                    "not divide by sqrt(eigenvalue + eps)")
        elif np.allclose(got, np.sort(1.0 / lam), rtol=1e-2):
            hint = "; divide by the SQUARE ROOT of the eigenvalues, not the eigenvalues"
        raise ExerciseError("pca_whiten: the variances of z are "
                            f"{np.array2string(diag, precision=3)}, not 1{hint}")


def check_channel_mean_std(fn: Callable[[np.ndarray], Any], seed: int = 0, n: int = 6,
                           size: int = 5, channels: int = 3) -> None:
    """Check ``fn(images) -> (mean, std)`` for an (n, size, size, channels) batch: each of
    shape (channels,), over all images and pixels (population std)."""
    rng = seeded_rng(seed)
    offsets = rng.uniform(20, 200, channels)
    spread = rng.uniform(5, 60, channels)
    per_image = rng.normal(0, 30, (n, 1, 1, channels))
    images = offsets + per_image + spread * rng.standard_normal((n, size, size, channels))
    ref_mean, ref_std = images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2))
    result = call_student(fn, images.copy())
    mean, std = _pair(result, "channel_mean_std")
    if mean.shape == (size, size, channels):
        raise ExerciseError("channel_mean_std: you averaged over the images only, which gives "
                            "the mean IMAGE (AlexNet style); average over images, height and "
                            f"width: axis=(0, 1, 2), shape ({channels},)")
    expect_close(mean, ref_mean, "mean", hints={
        "average each channel separately (keep the last axis)": np.full(channels, images.mean()),
    })
    expect_close(std, ref_std, "std", hints={
        "the per-channel std is over ALL N*H*W values, not the average of per-image stds":
            images.std(axis=(1, 2)).mean(axis=0),
        "use the population standard deviation (np.std's default ddof=0)":
            images.std(axis=(0, 1, 2), ddof=1),
        "return the standard deviation, not the variance": images.var(axis=(0, 1, 2)),
    })


METHODS = ("standardize", "minmax", "channel")
STAT_KEYS = {"standardize": ("mean", "std"), "minmax": ("min", "max"),
             "channel": ("mean", "std")}
"""What ``fit_preprocessor`` stores for each method: the statistics, fitted on the training
split only, that ``apply_preprocessor`` (and, in lesson 08, the grader) applies to any split."""


def _stats(fit: Callable[..., Any], x: np.ndarray, method: str) -> dict[str, Any]:
    stats = call_student(fit, x.copy(), method)
    keys = STAT_KEYS[method]
    if not isinstance(stats, dict) or not all(k in stats for k in keys):
        got = sorted(stats) if isinstance(stats, dict) else type(stats).__name__
        raise ExerciseError(f"fit_preprocessor(x, {method!r}) must return a dict with the keys "
                            f"{keys}, got {got}")
    return stats


def _reference_stats(x: np.ndarray, method: str) -> dict[str, np.ndarray]:
    if method == "minmax":
        return {"min": x.min(0), "max": x.max(0)}
    axes = tuple(range(x.ndim - 1)) if method == "channel" else 0
    return {"mean": x.mean(axis=axes), "std": x.std(axis=axes)}


def check_fit_preprocessor(fit: Callable[..., Any], method: str, seed: int = 0,
                           **sizes: int) -> None:
    """``fit(x_train, method) -> stats``, a dict: "mean" and "std" per feature for
    "standardize", "min" and "max" per feature for "minmax", "mean" and "std" per channel of
    (N, H, W, C) images for "channel" (population standard deviations)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "channel":
        check_channel_mean_std(lambda images: tuple(
            _stats(fit, images, "channel")[k] for k in ("mean", "std")), seed, **sizes)
        return
    x_train, _ = shifted_split(seed, **sizes)
    stats, ref = _stats(fit, x_train, method), _reference_stats(x_train, method)
    if method == "minmax":
        expect_close(stats["min"], ref["min"], "stats['min']", hints={
            "one minimum per feature (axis=0)": np.full_like(ref["min"], x_train.min())})
        expect_close(stats["max"], ref["max"], "stats['max']", hints={
            "one maximum per feature (axis=0)": np.full_like(ref["max"], x_train.max())})
        return
    expect_close(stats["mean"], ref["mean"], "stats['mean']", hints={
        "one mean per feature (axis=0), not per example": np.full_like(ref["mean"],
                                                                        x_train.mean())})
    expect_close(stats["std"], ref["std"], "stats['std']", hints={
        "use the population standard deviation (np.std's default ddof=0)":
            x_train.std(0, ddof=1),
        "return the standard deviation, not the variance": x_train.var(0)})


def check_apply_preprocessor(apply: Callable[..., Any], method: str, seed: int = 0,
                             **sizes: int) -> None:
    """``apply(stats, x) -> z`` (x's shape) with the check's own training statistics (see
    :func:`check_fit_preprocessor`), on the training split and on a shifted test split:
    ``(x - mean) / std`` for "standardize", the affine map sending the training minimum to -1
    and maximum to +1, without clipping, for "minmax"."""
    if method not in ("standardize", "minmax"):
        raise ValueError(f"method must be 'standardize' or 'minmax', got {method!r}")

    def pair(x_train: np.ndarray, x_test: np.ndarray) -> tuple[Any, Any]:
        stats = _reference_stats(x_train, method)
        return (call_student(apply, dict(stats), x_train.copy()),
                call_student(apply, dict(stats), x_test.copy()))

    if method == "standardize":
        check_standardize_train_test(pair, seed, **sizes)
    else:
        check_minmax_train_test(pair, seed, **sizes)
