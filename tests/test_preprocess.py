"""trainlab.preprocess: fit-on-train transforms against NumPy / scikit-learn, and error paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler as SkMinMax
from sklearn.preprocessing import StandardScaler

from trainlab import preprocess as pp


@pytest.fixture
def cloud() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.multivariate_normal([10.0, -4.0, 2.0],
                                   [[4.0, 3.0, 0.5], [3.0, 5.0, 0.2], [0.5, 0.2, 1.0]], size=300)


def test_standardizer_matches_sklearn_and_uses_train_statistics(cloud: np.ndarray) -> None:
    train, test = cloud[:200], cloud[200:] + 3.0
    ours = pp.Standardizer(eps=0.0).fit(train)
    sk = StandardScaler().fit(train)
    np.testing.assert_allclose(ours.transform(train), sk.transform(train), atol=1e-12)
    np.testing.assert_allclose(ours.transform(test), sk.transform(test), atol=1e-12)
    z = ours.transform(train)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-12)
    assert np.all(ours.transform(test).mean(0) > 0.5)


def test_standardizer_center_only_inverse_and_state_roundtrip(cloud: np.ndarray) -> None:
    centred = pp.Standardizer(scale=False).fit(cloud)
    np.testing.assert_allclose(centred.transform(cloud), cloud - cloud.mean(0), atol=1e-12)
    st = pp.Standardizer().fit(cloud)
    np.testing.assert_allclose(st.inverse_transform(st.transform(cloud)), cloud, atol=1e-10)
    again = pp.Standardizer.from_state_dict(st.state_dict())
    np.testing.assert_array_equal(again.transform(cloud), st.transform(cloud))


def test_standardizer_constant_feature_is_finite() -> None:
    x = np.column_stack([np.arange(5.0), np.full(5, 7.0)])
    for eps in (0.0, 1e-8):
        z = pp.Standardizer(eps=eps).fit_transform(x)
        assert np.all(np.isfinite(z))
        np.testing.assert_allclose(z[:, 1], 0.0)
        st = pp.Standardizer(eps=eps).fit(x)
        np.testing.assert_allclose(st.transform([[0.0, 9.0]])[0, 1], 2.0)


def test_torch_module_keeps_statistics_as_buffers(cloud: np.ndarray) -> None:
    st = pp.Standardizer().fit(cloud)
    module = st.to_torch()
    assert set(module.state_dict()) == {"mean", "std"}
    assert not list(module.parameters())
    out = module(torch.as_tensor(cloud, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, st.transform(cloud), atol=1e-5)
    clone = pp.as_torch_module(np.zeros(3), np.ones(3))
    clone.load_state_dict(module.state_dict())
    np.testing.assert_array_equal(clone.mean.numpy(), module.mean.numpy())


def test_minmax_matches_sklearn_and_does_not_clip(cloud: np.ndarray) -> None:
    train, test = cloud[:200], cloud[200:] * 2.0
    ours = pp.MinMaxScaler().fit(train)
    sk = SkMinMax(feature_range=(-1, 1)).fit(train)
    np.testing.assert_allclose(ours.transform(train), sk.transform(train), atol=1e-12)
    np.testing.assert_allclose(ours.transform(test), sk.transform(test), atol=1e-12)
    m = ours.transform(train)
    np.testing.assert_allclose(m.min(0), -1.0)
    np.testing.assert_allclose(m.max(0), 1.0)
    const = pp.MinMaxScaler(0.0, 1.0).fit_transform(np.ones((4, 2)))
    np.testing.assert_allclose(const, 0.5)


@pytest.mark.parametrize("mode", ["whiten", "zca"])
def test_whitening_gives_identity_covariance(cloud: np.ndarray, mode: str) -> None:
    z = pp.PCAWhitener(mode, eps=0.0).fit_transform(cloud)
    np.testing.assert_allclose(pp.covariance(z), np.eye(3), atol=1e-10)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-10)


def test_zca_is_symmetric_and_closest_to_the_data(cloud: np.ndarray) -> None:
    w = pp.PCAWhitener("zca", eps=0.0).fit(cloud).matrix()
    np.testing.assert_allclose(w, w.T, atol=1e-12)
    white = pp.PCAWhitener("whiten", eps=0.0).fit(cloud)
    xc = cloud - cloud.mean(0)
    assert np.linalg.norm(xc @ w - xc) < np.linalg.norm(white.transform(cloud) - xc)


def test_pca_matches_sklearn_up_to_sign(cloud: np.ndarray) -> None:
    ours = pp.PCAWhitener("pca").fit(cloud)
    sk = PCA().fit(cloud)
    np.testing.assert_allclose(ours.eigenvalues_, sk.explained_variance_ * (299 / 300),
                               rtol=1e-10)
    np.testing.assert_allclose(np.abs(ours.components_), np.abs(sk.components_.T), atol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio(), sk.explained_variance_ratio_)
    z = ours.transform(cloud)
    cov = pp.covariance(z)
    np.testing.assert_allclose(cov, np.diag(ours.eigenvalues_), atol=1e-10)
    assert np.all(np.diff(np.diag(cov)) <= 0)
    two = pp.PCAWhitener("whiten", n_components=2).fit_transform(cloud)
    assert two.shape == (300, 2)


def test_whitening_is_fitted_on_train_only(cloud: np.ndarray) -> None:
    white = pp.PCAWhitener().fit(cloud[:200])
    moved = white.transform(cloud[200:] + 5.0)
    assert np.all(np.abs(moved.mean(0)) > 0.5)


def test_image_statistics_nhwc_and_nchw() -> None:
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(7, 5, 4, 3)).astype(np.uint8)
    mean, std = pp.channel_mean_std(imgs)
    flat = imgs.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(mean, flat.mean(0))
    np.testing.assert_allclose(std, flat.std(0))
    nchw = imgs.transpose(0, 3, 1, 2)
    m2, s2 = pp.channel_mean_std(nchw, layout="NCHW")
    np.testing.assert_allclose(m2, mean)
    np.testing.assert_allclose(s2, std)
    np.testing.assert_allclose(pp.mean_image(imgs), imgs.mean(0))
    assert pp.mean_image(nchw, layout="NCHW").shape == (3, 5, 4)
    normed = pp.normalize_channels(imgs, mean, std)
    np.testing.assert_allclose(normed.reshape(-1, 3).mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(normed.reshape(-1, 3).std(0), 1.0, atol=1e-12)
    normed_t = pp.normalize_channels(nchw, mean, std, layout="NCHW")
    np.testing.assert_allclose(normed_t, normed.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(pp.normalize_channels(imgs, mean), imgs - mean)


def test_image_module_broadcasts_over_nchw() -> None:
    rng = np.random.default_rng(2)
    imgs = rng.uniform(0, 1, size=(4, 3, 6, 6))
    mean, std = pp.channel_mean_std(imgs, layout="NCHW")
    module = pp.as_torch_module(mean.reshape(3, 1, 1), std.reshape(3, 1, 1))
    out = module(torch.as_tensor(imgs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, pp.normalize_channels(imgs, mean, std, layout="NCHW"),
                               atol=1e-5)


@pytest.mark.parametrize(("call", "exc", "words"), [
    (lambda: pp.Standardizer().fit(np.ones(5)), ValueError, "shape (N, D)"),
    (lambda: pp.Standardizer().fit([[1.0, np.nan]]), ValueError, "nan"),
    (lambda: pp.Standardizer().fit("abc"), TypeError, "x must be"),
    (lambda: pp.Standardizer(eps=-1.0), ValueError, "eps must be"),
    (lambda: pp.Standardizer(scale=1), TypeError, "scale must be"),
    (lambda: pp.Standardizer().transform(np.ones((2, 2))), RuntimeError, "not fitted"),
    (lambda: pp.Standardizer().fit(np.ones((3, 2))).transform(np.ones((3, 4))), ValueError,
     "4 features"),
    (lambda: pp.Standardizer.from_state_dict({"mean": np.zeros(2)}), ValueError, "missing"),
    (lambda: pp.MinMaxScaler(1.0, -1.0), ValueError, "low must be < high"),
    (lambda: pp.PCAWhitener("pcaa"), ValueError, "mode must be one of"),
    (lambda: pp.PCAWhitener(n_components=0), ValueError, "n_components"),
    (lambda: pp.PCAWhitener("zca", n_components=2), ValueError, "n_components"),
    (lambda: pp.PCAWhitener(n_components=5).fit(np.ones((4, 2))), ValueError, "n_components"),
    (lambda: pp.PCAWhitener().fit(np.ones((1, 2))), ValueError, "at least 2 rows"),
    (lambda: pp.PCAWhitener(eps=0.0).fit(np.ones((4, 2))).transform(np.ones((4, 2))),
     ValueError, "singular"),
    (lambda: pp.covariance(np.ones((1, 3))), ValueError, "at least 2 rows"),
    (lambda: pp.channel_mean_std(np.ones((2, 3, 3))), ValueError, "(N, H, W, C)"),
    (lambda: pp.channel_mean_std(np.ones((2, 3, 3, 3)), layout="HWC"), ValueError, "layout"),
    (lambda: pp.normalize_channels(np.ones((2, 3, 3, 3)), np.zeros(2)), ValueError,
     "mean must have shape (3,)"),
    (lambda: pp.normalize_channels(np.ones((2, 3, 3, 3)), np.zeros(3), np.zeros(3)),
     ValueError, "std must be > 0"),
    (lambda: pp.as_torch_module(np.zeros(3), np.zeros(3)), ValueError, "std must be > 0"),
    (lambda: pp.as_torch_module(np.zeros(3), np.ones(2)), ValueError, "one shape"),
])
def test_bad_input_is_reported(call, exc: type[Exception], words: str) -> None:
    with pytest.raises(exc, match=None) as info:
        call()
    assert words in str(info.value)


def test_torch_module_keeps_a_float64_input_in_float64():
    """Issue 19: the statistics went through float32 buffers, so a float64 input lost about
    eight digits."""
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 0.1, size=(50, 4))
    mean, std = x.mean(axis=0) + 1 / 3, x.std(axis=0) * np.pi
    out = pp.as_torch_module(mean, std)(torch.from_numpy(x))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), (x - mean) / std, rtol=1e-12, atol=1e-12)
    out32 = pp.as_torch_module(mean, std)(torch.from_numpy(x.astype(np.float32)))
    assert out32.dtype == torch.float32
