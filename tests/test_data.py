"""Tests of trainlab.data: real MNIST-10k from the offline mirror, the cache -> mirror ->
download look-up (against a local HTTP server), checksum failures, the CIFAR pickle guard,
and the generated data sets. Nothing here reaches the internet: every test points
TRAINLAB_DATA_URL at a local address."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import shlex
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from trainlab import data

ROOT = Path(__file__).resolve().parents[1]
IMAGES_10K = "mnist/t10k-images-idx3-ubyte.gz"
LABELS_10K = "mnist/t10k-labels-idx1-ubyte.gz"
CIFAR = "cifar10/cifar-10-python.tar.gz"


def _find_mirror() -> Path | None:
    candidates = [os.environ.get(data.MIRROR_ENV, ""), str(ROOT.parent / "shared" / "data"),
                  "/work/shared/data"]
    for c in candidates:
        if c and (Path(c) / IMAGES_10K).is_file() and (Path(c) / LABELS_10K).is_file():
            return Path(c)
    return None


REAL_MIRROR = _find_mirror()
needs_mirror = pytest.mark.skipif(
    REAL_MIRROR is None,
    reason="the offline MNIST test set (shared/data/mnist/t10k-*.gz) is not here; set "
           "TRAINLAB_DATA_MIRROR to the folder that holds mnist/t10k-images-idx3-ubyte.gz")


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch) -> Path:
    """Empty cache in tmp, no mirror, downloads pointed at a closed local port."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(cache))
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv(data.URL_ENV, _closed_port_url())
    return cache


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory) -> Path:
    """A cache filled once from the real mirror (exercises the mirror path)."""
    if REAL_MIRROR is None:
        pytest.skip("no offline MNIST mirror")
    cache = tmp_path_factory.mktemp("real_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(data.DATA_DIR_ENV, str(cache))
        mp.setenv(data.MIRROR_ENV, str(REAL_MIRROR))
        mp.setenv(data.URL_ENV, _closed_port_url())
        assert data.fetch_course_data(verbose=False)
    return cache


@pytest.fixture
def real(real_cache, monkeypatch) -> Path:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(real_cache))
    return real_cache


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        return None


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local HTTP server on a free port serving ``root`` (laid out like the mirror)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    monkeypatch.setenv(data.URL_ENV, f"http://127.0.0.1:{httpd.server_address[1]}")
    yield root
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


# --------------------------------------------------------------------------------------------
# helpers that write small files in the real formats
# --------------------------------------------------------------------------------------------

def _idx_bytes(arr: np.ndarray) -> bytes:
    magic = 2051 if arr.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)


def _put(root: Path, key: str, blob: bytes) -> str:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return hashlib.md5(blob).hexdigest()


def _register(monkeypatch, key: str, md5: str) -> None:
    entry = dataclasses.replace(data.REGISTRY[key], md5=md5, sha256_content=None)
    monkeypatch.setitem(data.REGISTRY, key, entry)


def _serve_idx_pair(root, monkeypatch, folder, prefix, n, seed) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
        key = f"{folder}/{prefix}-{kind}-ubyte.gz"
        _register(monkeypatch, key, _put(root, key, _idx_bytes(arr)))
    return images, labels


def _cifar_row(images_hwc: np.ndarray) -> np.ndarray:
    return images_hwc.transpose(0, 3, 1, 2).reshape(len(images_hwc), 3072)


def _cifar_batch(images_hwc: np.ndarray, labels: np.ndarray) -> bytes:
    batch = {b"batch_label": b"test batch", b"labels": [int(v) for v in labels],
             b"data": _cifar_row(images_hwc), b"filenames": [b"x.png"] * len(labels)}
    return pickle.dumps(batch, protocol=4)


def _cifar_tarball(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def _cifar_members(seed: int = 0, per_batch: int = 3):
    rng = np.random.default_rng(seed)
    members, expected = {}, {"train": ([], []), "test": ([], [])}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, size=per_batch)
        members[name] = _cifar_batch(x, y)
        split = "test" if name == "test_batch" else "train"
        expected[split][0].append(x)
        expected[split][1].append(y)
    members["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in
                                                             data.CIFAR10_CLASSES]}, protocol=4)
    return members, {k: (np.concatenate(a), np.concatenate(b)) for k, (a, b) in expected.items()}


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


# --------------------------------------------------------------------------------------------
# real MNIST-10k
# --------------------------------------------------------------------------------------------

@needs_mirror
def test_mnist10k_matches_the_published_facts(real):
    x, y = data.load_mnist("10k", "all", dtype="uint8")
    assert x.shape == (10_000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10_000,) and y.dtype == np.int64
    assert round(float(x.mean()), 2) == 33.79
    np.testing.assert_array_equal(np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                   974, 1009])
    np.testing.assert_array_equal(y[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])


@needs_mirror
def test_mnist10k_dtypes_and_layouts(real):
    x8, _ = data.load_mnist("10k", "val", dtype="uint8")
    xf, _ = data.load_mnist("10k", "val")
    assert xf.dtype == np.float32 and xf.min() == 0.0 and xf.max() == 1.0
    np.testing.assert_allclose(xf, x8 / 255.0, rtol=1e-6)
    assert data.load_mnist("10k", "val", dtype=np.float64)[0].dtype == np.float64
    assert data.load_mnist("10k", "val", flatten=True)[0].shape == (2000, 784)
    assert data.load_mnist("10k", "val", channels=True)[0].shape == (2000, 1, 28, 28)


@needs_mirror
@pytest.mark.parametrize("kwargs, words", [
    ({"subset": "60k"}, ["subset", "'60k'", "'10k'", "'full'"]),
    ({"split": "test"}, ["split", "'test'", "'val'"]),
    ({"subset": "full", "split": "val"}, ["split", "'val'", "'train'", "'test'"]),
    ({"dtype": "int16"}, ["dtype", "int16", "float32"]),
    ({"dtype": "not a dtype"}, ["dtype", "not a dtype"]),
    ({"flatten": True, "channels": True}, ["flatten", "channels"]),
])
def test_mnist_bad_arguments(real, kwargs, words):
    with pytest.raises(ValueError) as info:
        data.load_mnist(**kwargs)
    for w in words:
        assert w in str(info.value)


@needs_mirror
def test_mnist10k_split_is_fixed_disjoint_and_complete(real):
    x_all, y_all = data.load_mnist("10k", "all", dtype="uint8")
    x_tr, y_tr = data.load_mnist("10k", "train", dtype="uint8")
    x_va, y_va = data.load_mnist("10k", "val", dtype="uint8")
    assert len(x_tr) == len(y_tr) == 8000 and len(x_va) == len(y_va) == 2000
    i_tr, i_va = data.mnist10k_split_indices("train"), data.mnist10k_split_indices("val")
    assert np.intersect1d(i_tr, i_va).size == 0
    np.testing.assert_array_equal(np.union1d(i_tr, i_va), np.arange(10_000))
    np.testing.assert_array_equal(x_tr, x_all[i_tr])
    np.testing.assert_array_equal(y_va, y_all[i_va])
    again, _ = data.load_mnist("10k", "train", dtype="uint8")
    np.testing.assert_array_equal(again, x_tr)
    assert set(np.unique(y_va)) == set(range(10))


@needs_mirror
def test_returned_arrays_are_private_copies(real):
    x, y = data.load_mnist("10k", "all", dtype="uint8")
    x[:] = 0
    y[:] = -1
    x2, y2 = data.load_mnist("10k", "all", dtype="uint8")
    assert x2.max() == 255 and y2.min() == 0


@needs_mirror
def test_mnist10k_loads_fast(real):
    data._idx_cached.cache_clear()
    start = time.perf_counter()
    data.load_mnist("10k", "all")
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------------------------
# look-up order: cache -> mirror -> download
# --------------------------------------------------------------------------------------------

@needs_mirror
def test_fetch_copies_from_mirror_then_finds_in_cache(isolated, monkeypatch, capsys):
    monkeypatch.setenv(data.MIRROR_ENV, str(REAL_MIRROR))
    assert data.fetch_course_data() is True
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("copied from mirror" in line for line in out)
    for key in (IMAGES_10K, LABELS_10K):
        assert (isolated / key).read_bytes() == (REAL_MIRROR / key).read_bytes()
    assert not list(isolated.rglob("*.part"))
    assert data.fetch_course_data() is True
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("found in cache" in line for line in out)


@needs_mirror
def test_loader_copies_from_mirror_on_demand(isolated, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(REAL_MIRROR))
    x, _ = data.load_mnist("10k", "val")
    assert x.shape == (2000, 28, 28)
    assert (isolated / IMAGES_10K).is_file() and (isolated / LABELS_10K).is_file()


def test_default_cache_is_the_checkout_data_folder(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV)
    assert data.data_dir() == ROOT / "data"
    monkeypatch.setenv(data.DATA_DIR_ENV, "/some/where")
    assert data.data_dir() == Path("/some/where")


@needs_mirror
def test_download_from_local_server(isolated, server, capsys):
    for key in (IMAGES_10K, LABELS_10K):
        _put(server, key, (REAL_MIRROR / key).read_bytes())
    assert data.fetch_course_data() is True
    out = capsys.readouterr().out
    assert out.count("downloaded from http://127.0.0.1:") == 2
    x, y = data.load_mnist("10k", "all", dtype="uint8")
    assert x.shape == (10_000, 28, 28) and y[:3].tolist() == [7, 2, 1]


def test_full_mnist_and_fashion_mnist_from_generated_files(isolated, server, monkeypatch):
    tr_x, tr_y = _serve_idx_pair(server, monkeypatch, "mnist", "train", 12, seed=1)
    x, y = data.load_mnist("full", "train", dtype="uint8")
    np.testing.assert_array_equal(x, tr_x)
    np.testing.assert_array_equal(y, tr_y)
    assert y.dtype == np.int64 and (isolated / "mnist/train-images-idx3-ubyte.gz").is_file()
    for split, prefix, n in (("train", "train", 9), ("test", "t10k", 5)):
        fx, fy = _serve_idx_pair(server, monkeypatch, "fashion_mnist", prefix, n, seed=n)
        x, y = data.load_fashion_mnist(split, flatten=True)
        assert x.shape == (n, 784) and x.dtype == np.float32
        np.testing.assert_allclose(x, fx.reshape(n, -1) / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y, fy)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        data.load_fashion_mnist("val")


def test_cifar10_from_generated_tarball(isolated, server, monkeypatch):
    members, expected = _cifar_members()
    _register(monkeypatch, CIFAR, _put(server, CIFAR, _cifar_tarball(members)))
    for split in ("train", "test"):
        x, y = data.load_cifar10(split, dtype="uint8")
        np.testing.assert_array_equal(x, expected[split][0])
        np.testing.assert_array_equal(y, expected[split][1])
        assert y.dtype == np.int64
    x, _ = data.load_cifar10("train", channels_first=True)
    assert x.shape == (15, 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x, expected["train"][0].transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        data.load_cifar10("val")


# --------------------------------------------------------------------------------------------
# damaged and missing files
# --------------------------------------------------------------------------------------------

def _assert_moved_aside(cache: Path, key: str, bad_bytes: bytes) -> None:
    assert not (cache / key).exists()
    assert (cache / f"{key}.corrupt").read_bytes() == bad_bytes


@needs_mirror
def test_truncated_file_is_refused_and_moved_aside(isolated, monkeypatch):
    bad = (REAL_MIRROR / LABELS_10K).read_bytes()[:2000]
    _put(isolated, LABELS_10K, bad)
    _put(isolated, IMAGES_10K, (REAL_MIRROR / IMAGES_10K).read_bytes())
    with pytest.raises(data.ChecksumError) as info:
        data.load_mnist("10k", "all")
    msg = str(info.value)
    entry = data.REGISTRY[LABELS_10K]
    for part in ("t10k-labels-idx1-ubyte.gz", entry.md5, entry.sha256_content,
                 hashlib.md5(bad).hexdigest(), "not a readable gzip file", ".corrupt",
                 "To fix"):
        assert part in msg
    _assert_moved_aside(isolated, LABELS_10K, bad)
    monkeypatch.setenv(data.MIRROR_ENV, str(REAL_MIRROR))
    assert data.load_mnist("10k", "all")[1].shape == (10_000,)


@needs_mirror
def test_corrupted_byte_is_refused(isolated):
    bad = bytearray((REAL_MIRROR / IMAGES_10K).read_bytes())
    bad[len(bad) // 2] ^= 0xFF
    _put(isolated, IMAGES_10K, bytes(bad))
    with pytest.raises(data.ChecksumError) as info:
        data.ensure_file(IMAGES_10K)
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)
    assert hashlib.md5(bad).hexdigest() in str(info.value)
    _assert_moved_aside(isolated, IMAGES_10K, bytes(bad))


@needs_mirror
def test_wrong_checksum_names_both_sums(isolated, monkeypatch):
    good = (REAL_MIRROR / LABELS_10K).read_bytes()
    _put(isolated, LABELS_10K, good)
    monkeypatch.setitem(data.REGISTRY, LABELS_10K, dataclasses.replace(
        data.REGISTRY[LABELS_10K], md5="0" * 32, sha256_content="1" * 64))
    with pytest.raises(data.ChecksumError) as info:
        data.ensure_file(LABELS_10K)
    msg = str(info.value)
    assert "0" * 32 in msg and "1" * 64 in msg
    assert hashlib.md5(good).hexdigest() in msg
    assert hashlib.sha256(gzip.decompress(good)).hexdigest() in msg
    _assert_moved_aside(isolated, LABELS_10K, good)


def test_bad_mirror_copy_never_reaches_the_cache(isolated, tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    bad = gzip.compress(b"not mnist", mtime=0)   # gzip's header holds the time: compress once
    _put(mirror, LABELS_10K, bad)
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    with pytest.raises(data.ChecksumError, match="copied from the mirror"):
        data.ensure_file(LABELS_10K)
    _assert_moved_aside(isolated, LABELS_10K, bad)
    assert (mirror / LABELS_10K).is_file()
    assert not list(isolated.rglob("*.part"))
    assert data.fetch_course_data(keys=(LABELS_10K,)) is False
    assert "CORRUPT" in capsys.readouterr().out


def test_missing_everywhere_gives_an_actionable_error(isolated, capsys):
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_mnist("10k", "train")
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    for part in ("t10k-images-idx3-ubyte.gz", str(isolated / "mnist"), data.MIRROR_ENV,
                 data.REGISTRY[IMAGES_10K].urls[0], "127.0.0.1", "Connection refused"):
        assert part in msg
    assert data.fetch_course_data() is False
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("MISSING" in line and data.MIRROR_ENV in line for line in out)
    assert data.main(["fetch"]) == 1


def test_parse_idx_rejects_bad_headers():
    with pytest.raises(data.DataError, match="magic must be 2049"):
        data.parse_idx((2052).to_bytes(4, "big") + bytes(20))
    good = gzip.decompress(_idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    with pytest.raises(data.DataError, match=r"shape \(2, 28, 28\)"):
        data.parse_idx(good[:-1])
    assert data.parse_idx(good).shape == (2, 28, 28)


@needs_mirror
def test_cli_fetch_and_status(isolated):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"))
    cmd = [sys.executable, "-m", "trainlab.data"]
    done = subprocess.run(cmd + ["fetch"], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "MISSING" in done.stdout
    env[data.MIRROR_ENV] = str(REAL_MIRROR)
    done = subprocess.run(cmd + ["fetch"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.count("copied from mirror") == 2
    done = subprocess.run(cmd + ["status"], env=env, capture_output=True, text=True)
    assert done.returncode == 0
    assert f"{IMAGES_10K}: cached, verified" in done.stdout
    assert "cifar10/cifar-10-python.tar.gz: not cached" in done.stdout


# --------------------------------------------------------------------------------------------
# CIFAR-10 pickles are never trusted
# --------------------------------------------------------------------------------------------

def test_evil_pickle_is_live(tmp_path):
    """Sanity check for the two tests below: plain pickle really runs this payload."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Evil(marker), protocol=4))
    assert marker.exists()


def _evil_tarball(marker: Path) -> bytes:
    members, _ = _cifar_members()
    members["test_batch"] = pickle.dumps(_Evil(marker), protocol=4)
    return _cifar_tarball(members)


def test_cifar_evil_tarball_with_wrong_checksum_is_not_unpickled(isolated, server, monkeypatch,
                                                                 tmp_path):
    good_members, _ = _cifar_members()
    _register(monkeypatch, CIFAR, hashlib.md5(_cifar_tarball(good_members)).hexdigest())
    marker = tmp_path / "pwned"
    evil = _evil_tarball(marker)
    _put(server, CIFAR, evil)
    with pytest.raises(data.ChecksumError, match="cifar-10-python.tar.gz"):
        data.load_cifar10("test")
    assert not marker.exists()
    _assert_moved_aside(isolated, CIFAR, evil)


def test_cifar_evil_pickle_is_refused_by_the_restricted_unpickler(isolated, server, monkeypatch,
                                                                  tmp_path):
    marker = tmp_path / "pwned"
    _register(monkeypatch, CIFAR, _put(server, CIFAR, _evil_tarball(marker)))
    with pytest.raises(data.UnsafePickleError, match="system"):
        data.load_cifar10("test")
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):
        data.CifarUnpickler(io.BytesIO(pickle.dumps(_Evil(marker)))).load()
    assert not marker.exists()


def test_cifar_batch_with_wrong_structure_is_refused(isolated, server, monkeypatch):
    members, _ = _cifar_members()
    members["test_batch"] = pickle.dumps({b"data": np.zeros((2, 10), np.uint8),
                                          b"labels": [0, 1]}, protocol=4)
    _register(monkeypatch, CIFAR, _put(server, CIFAR, _cifar_tarball(members)))
    with pytest.raises(data.DataError, match="test_batch"):
        data.load_cifar10("test")


# --------------------------------------------------------------------------------------------
# generated data
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", data.TOY_KINDS)
def test_make_toy_2d_shapes_balance_determinism(kind):
    X, y = data.make_toy_2d(kind, n=301, seed=3)
    assert X.shape == (301, 2) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [150, 151])
    X2, y2 = data.make_toy_2d(kind, n=301, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, data.make_toy_2d(kind, n=301, seed=4)[0])
    assert np.isfinite(X).all() and np.abs(X).max() < 2.5


def test_make_toy_2d_clean_shapes_follow_their_definitions():
    X, y = data.make_toy_2d("xor", n=500, noise=0.0)
    np.testing.assert_array_equal(X[:, 0] * X[:, 1] < 0, y == 1)
    X, y = data.make_toy_2d("ring", n=500, noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 0].max() <= 0.5 and r[y == 1].min() >= 0.8
    X, y = data.make_toy_2d("blobs", n=500, noise=0.0)
    np.testing.assert_array_equal(X.sum(axis=1) > 0, y == 1)
    X, y = data.make_toy_2d("three_modes", n=600, noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 0].max() <= 0.35 and r[y == 1].min() >= 0.65
    angles = np.degrees(np.arctan2(X[y == 1, 1], X[y == 1, 0])) % 360
    for centre in (90, 210, 330):
        assert (np.abs(angles - centre) < 25).sum() > 50
    X, y = data.make_toy_2d("spirals", n=500, noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 0.1 - 1e-12 and r.max() <= 1.0 + 1e-12


@pytest.mark.parametrize("kwargs, words", [
    ({"kind": "moons"}, ["kind", "'moons'", "xor", "spirals"]),
    ({"kind": "xor", "n": 1}, ["n", "1", ">= 2"]),
    ({"kind": "xor", "n": 10.5}, ["n", "10.5"]),
    ({"kind": "xor", "n": True}, ["n", "True"]),
    ({"kind": "ring", "noise": -0.1}, ["noise", "-0.1", ">= 0"]),
    ({"kind": "ring", "noise": float("nan")}, ["noise", "nan"]),
])
def test_make_toy_2d_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as info:
        data.make_toy_2d(**kwargs)
    for w in words:
        assert w in str(info.value)


def _occurs_in(patch: np.ndarray, photo: np.ndarray) -> bool:
    s = patch.shape[0]
    corner = photo[: photo.shape[0] - s + 1, : photo.shape[1] - s + 1]
    for r, c in np.argwhere(np.all(corner == patch[0, 0], axis=-1)):
        if np.array_equal(photo[r:r + s, c:c + s], patch):
            return True
    return False


def test_load_photo_patches():
    p = data.load_photo_patches(n=40, size=16, seed=5)
    assert p.shape == (40, 16, 16, 3) and p.dtype == np.uint8
    np.testing.assert_array_equal(p, data.load_photo_patches(n=40, size=16, seed=5))
    assert not np.array_equal(p, data.load_photo_patches(n=40, size=16, seed=6))
    photos = data._sample_photos()
    from sklearn.datasets import load_sample_images

    for mine, sklearns in zip(photos, load_sample_images().images, strict=True):
        np.testing.assert_array_equal(mine, sklearns)
    for patch in p[:4]:
        assert any(_occurs_in(patch, photo) for photo in photos)
    assert data.load_photo_patches(n=3)[0].shape == (32, 32, 3)


@pytest.mark.parametrize("kwargs, words", [
    ({"n": 0}, ["n", "0", ">= 1"]),
    ({"n": 2.0}, ["n", "2.0"]),
    ({"size": 0}, ["size", "0", "[1, 427]"]),
    ({"size": 500}, ["size", "500", "[1, 427]"]),
])
def test_load_photo_patches_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as info:
        data.load_photo_patches(**kwargs)
    for w in words:
        assert w in str(info.value)


# --------------------------------------------------------------------------------------------
# damaged files without the real mirror (these run everywhere)
# --------------------------------------------------------------------------------------------

def test_truncated_generated_file_is_refused_without_a_mirror(isolated, monkeypatch):
    blob = _idx_bytes(np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256)
    _register(monkeypatch, LABELS_10K, hashlib.md5(blob).hexdigest())
    _put(isolated, LABELS_10K, blob[: len(blob) // 2])
    with pytest.raises(data.ChecksumError) as info:
        data.ensure_file(LABELS_10K)
    msg = str(info.value)
    assert "not a readable gzip file" in msg and hashlib.md5(blob).hexdigest() in msg
    _assert_moved_aside(isolated, LABELS_10K, blob[: len(blob) // 2])
    with pytest.raises(data.DataNotFoundError, match="not in the cache"):
        data.ensure_file(LABELS_10K)


def test_cached_cifar_swapped_for_a_malicious_tarball_is_refused_before_unpickling(
        isolated, monkeypatch, tmp_path):
    members, expected = _cifar_members()
    good = _cifar_tarball(members)
    _register(monkeypatch, CIFAR, _put(isolated, CIFAR, good))
    np.testing.assert_array_equal(data.load_cifar10("test", dtype="uint8")[0],
                                  expected["test"][0])
    marker = tmp_path / "pwned"
    evil = _evil_tarball(marker)
    _put(isolated, CIFAR, evil)
    with pytest.raises(data.ChecksumError, match="found in the cache"):
        data.load_cifar10("test")
    assert not marker.exists()
    _assert_moved_aside(isolated, CIFAR, evil)
