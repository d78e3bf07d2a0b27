"""trainlab.checks.preprocessing: references pass, common slips fail with their hint."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import preprocessing as chk


def good_standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = x_train.mean(0), x_train.std(0)
    return (x_train - mu) / sd, (x_test - mu) / sd


def good_minmax(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = x_train.min(0), x_train.max(0)
    return 2 * (x_train - lo) / (hi - lo) - 1, 2 * (x_test - lo) / (hi - lo) - 1


def pca_whiten(x: np.ndarray, eps: float = 1e-5, scale: bool = True,
               ddof: int = 0, zca: bool = False) -> np.ndarray:
    xc = x - x.mean(0)
    lam, u = np.linalg.eigh(xc.T @ xc / (x.shape[0] - ddof))
    z = xc @ u
    if scale:
        z = z / np.sqrt(lam + eps)
    return z @ u.T if zca else z


def good_channels(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2))


def stub(*args: object) -> object:
    raise NotImplementedError()


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_references_pass(seed: int) -> None:
    chk.check_standardize_train_test(good_standardize, seed=seed)
    chk.check_minmax_train_test(good_minmax, seed=seed)
    chk.check_pca_whiten(pca_whiten, seed=seed)
    chk.check_pca_whiten(lambda x: pca_whiten(x, zca=True), seed=seed, d=4)
    chk.check_pca_whiten(lambda x: pca_whiten(x, ddof=1), seed=seed)
    chk.check_channel_mean_std(good_channels, seed=seed)


def test_standardize_slips() -> None:
    def own_test_stats(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return good_standardize(a, a)[0], (b - b.mean(0)) / b.std(0)

    def pooled(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        both = np.vstack([a, b])
        mu, sd = both.mean(0), both.std(0)
        return (a - mu) / sd, (b - mu) / sd

    def ddof1(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu, sd = a.mean(0), a.std(0, ddof=1)
        return (a - mu) / sd, (b - mu) / sd

    def centre_only(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return a - a.mean(0), b - a.mean(0)

    for fn, hint in ((own_test_stats, "TRAINING mean and std"), (pooled, "x_train alone"),
                     (ddof1, "ddof=0"), (centre_only, "not only subtract")):
        with pytest.raises(ExerciseError, match=hint):
            chk.check_standardize_train_test(fn)


def test_minmax_slips() -> None:
    def unit(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = a.min(0), a.max(0)
        return (a - lo) / (hi - lo), (b - lo) / (hi - lo)

    def own(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return good_minmax(a, a)[0], good_minmax(b, b)[0]

    def clipped(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, t = good_minmax(a, b)
        return m, np.clip(t, -1, 1)

    for fn, hint in ((unit, "\\[0, 1\\]"), (own, "TRAINING minimum"), (clipped, "clip")):
        with pytest.raises(ExerciseError, match=hint):
            chk.check_minmax_train_test(fn)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x: pca_whiten(x, scale=False), "did not divide by sqrt"),
    (lambda x: (x - x.mean(0)) / x.std(0), "still correlated"),
    (lambda x: (x - x.mean(0)) @ np.linalg.eigh(np.cov(x.T, bias=True))[1]
     / np.linalg.eigh(np.cov(x.T, bias=True))[0], "SQUARE ROOT"),
    (lambda x: pca_whiten(x) + 1.0, "mean 0"),
    (lambda x: np.tanh(pca_whiten(x)), "affine function"),
    (lambda x: pca_whiten(x)[:, :2], "expected shape"),
])
def test_whiten_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_pca_whiten(fn)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda im: (im.mean(0), im.std(0)), "mean IMAGE"),
    (lambda im: (im.mean(axis=(0, 1, 2)), im.std(axis=(1, 2)).mean(0)), "per-image stds"),
    (lambda im: (im.mean(axis=(0, 1, 2)), im.std(axis=(0, 1, 2), ddof=1)), "ddof=0"),
    (lambda im: (im.mean(axis=(0, 1, 2)), im.var(axis=(0, 1, 2))), "not the variance"),
    (lambda im: (np.full(3, im.mean()), im.std(axis=(0, 1, 2))), "each channel separately"),
    (lambda im: im.mean(axis=(0, 1, 2)), "tuple of two"),
])
def test_channel_slips(fn, hint: str) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_channel_mean_std(fn)


def test_stubs_are_not_attempted() -> None:
    for check in (chk.check_standardize_train_test, chk.check_minmax_train_test,
                  chk.check_pca_whiten, chk.check_channel_mean_std):
        with pytest.raises(NotAttemptedError):
            check(stub)


def test_shifted_split_is_shifted_and_validated() -> None:
    a, b = chk.shifted_split(seed=2, n_train=30, n_test=20, d=3)
    assert a.shape == (30, 3) and b.shape == (20, 3)
    assert np.all(np.abs(b.mean(0) - a.mean(0)) > 0.5)
    with pytest.raises(ValueError, match="n_train must be"):
        chk.shifted_split(n_train=1)


# --------------------------------------------------------------------------------------------
# exercise 1 of lesson 02: a preprocessor fitted on the training split, applied to any split
# --------------------------------------------------------------------------------------------
def good_fit(x: np.ndarray, method: str) -> dict:
    if method == "minmax":
        return {"min": x.min(0), "max": x.max(0)}
    axes = tuple(range(x.ndim - 1)) if method == "channel" else 0
    return {"mean": x.mean(axes), "std": x.std(axes)}


def good_apply(stats: dict, x: np.ndarray) -> np.ndarray:
    if "min" in stats:
        return 2 * (x - stats["min"]) / (stats["max"] - stats["min"]) - 1
    return (x - stats["mean"]) / stats["std"]


@pytest.mark.parametrize("seed", [0, 2])
@pytest.mark.parametrize("method", ["standardize", "minmax", "channel"])
def test_a_fitted_preprocessor_passes(method: str, seed: int) -> None:
    chk.check_fit_preprocessor(good_fit, method, seed=seed)
    if method != "channel":
        chk.check_apply_preprocessor(good_apply, method, seed=seed)


def test_preprocessor_slips_get_their_hints() -> None:
    def refit(stats: dict, x: np.ndarray) -> np.ndarray:     # statistics of the split itself
        return good_apply(good_fit(x, "minmax" if "min" in stats else "standardize"), x)

    with pytest.raises(ExerciseError, match="TRAINING mean and std"):
        chk.check_apply_preprocessor(refit, "standardize")
    with pytest.raises(ExerciseError, match="TRAINING minimum"):
        chk.check_apply_preprocessor(refit, "minmax")
    with pytest.raises(ExerciseError, match="do not clip"):
        chk.check_apply_preprocessor(lambda s, x: np.clip(good_apply(s, x), -1, 1), "minmax")
    with pytest.raises(ExerciseError, match="2 \\* u - 1"):
        chk.check_apply_preprocessor(lambda s, x: (x - s["min"]) / (s["max"] - s["min"]),
                                     "minmax")

    def mean_image(x: np.ndarray, method: str) -> dict:
        return {"mean": x.mean(0), "std": x.std(0)}

    with pytest.raises(ExerciseError, match="mean IMAGE"):
        chk.check_fit_preprocessor(mean_image, "channel")
    with pytest.raises(ExerciseError, match="population"):
        chk.check_fit_preprocessor(lambda x, m: {"mean": x.mean(0), "std": x.std(0, ddof=1)},
                                   "standardize")
    with pytest.raises(ExerciseError, match="per feature"):
        chk.check_fit_preprocessor(
            lambda x, m: {"min": np.full(x.shape[1], x.min()), "max": x.max(0)}, "minmax")
    with pytest.raises(ExerciseError, match="keys"):
        chk.check_fit_preprocessor(lambda x, m: (x.mean(0), x.std(0)), "standardize")
    with pytest.raises(NotAttemptedError):
        chk.check_fit_preprocessor(stub, "minmax")
    with pytest.raises(NotAttemptedError):
        chk.check_apply_preprocessor(stub, "standardize")
    with pytest.raises(ValueError, match="method must be"):
        chk.check_fit_preprocessor(good_fit, "zca")
    with pytest.raises(ValueError, match="method must be"):
        chk.check_apply_preprocessor(good_apply, "channel")
