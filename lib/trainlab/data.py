"""Data sets of the course: MNIST(-10k), Fashion-MNIST, CIFAR-10, photo patches and toy 2-D sets.

Files are looked up in this order, and every file is checked against the registry's checksums
before it is used:

1. the cache folder :func:`data_dir` (``$TRAINLAB_DATA_DIR``; else the repository's ``data/``
   folder when running from a checkout; else ``~/.cache/trainlab``);
2. a mirror folder ``$TRAINLAB_DATA_MIRROR`` laid out like the cache
   (``MIRROR/mnist/t10k-images-idx3-ubyte.gz``); the file is copied into the cache;
3. the official URLs (or ``$TRAINLAB_DATA_URL/<folder>/<file>`` when that is set), downloaded
   into the cache.

Copies and downloads go to a temporary file in the cache folder, are verified, and only then
renamed into place with :func:`os.replace`, so a half-written file is never seen. A file that
fails its checksum is renamed to ``<name>.corrupt`` and a :class:`ChecksumError` tells what to
do; it is not silently fetched again.

Only the MNIST test set is available offline. The lessons use it as **MNIST-10k**: its
10,000 images re-split with a fixed seed into 8,000 training and 2,000 validation images
(:func:`load_mnist` with ``subset="10k"``).

Command line::

    python -m trainlab.data fetch         # the files the lessons need; exit 1 if any is missing
    python -m trainlab.data fetch --all   # every file of the registry (needs internet)
    python -m trainlab.data status        # where each file is and whether it verifies
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import importlib.util
import io
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_DIR_ENV = "TRAINLAB_DATA_DIR"
"""Overrides the cache folder."""
MIRROR_ENV = "TRAINLAB_DATA_MIRROR"
"""A read-only folder laid out like the cache; CI points it at ``shared/data``."""
URL_ENV = "TRAINLAB_DATA_URL"
"""Replaces the official URLs by ``$TRAINLAB_DATA_URL/<folder>/<file>`` (tests, local mirrors)."""

DOWNLOAD_TIMEOUT_S = 60.0
MAX_CONTENT_BYTES = 128 * 2**20
"""Decompressed size above which a ``.gz`` is refused (no registered file comes close)."""

_MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_CIFAR_URLS = ("https://www.cs.toronto.edu/~kriz/",)

MNIST10K_SEED = 0
"""Seed of the fixed permutation that splits MNIST-10k into train/val."""
MNIST10K_N_VAL = 2000

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
COURSE_FILES = ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz")
"""The files that the lessons executed by CI need (:func:`fetch_course_data`)."""


class DataError(RuntimeError):
    """A data file exists but cannot be used (bad checksum, bad format)."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file is in neither the cache nor the mirror and could not be downloaded."""


class ChecksumError(DataError):
    """A data file does not match its registered checksums; it has been moved aside."""


class UnsafePickleError(DataError, pickle.UnpicklingError):
    """A pickle asked for a global that CIFAR-10's batches never need."""


@dataclass(frozen=True)
class DataFile:
    """One registered file.

    ``md5`` is the published md5 of the file as distributed (the ``.gz`` or the tarball);
    ``sha256_content`` is the sha256 of the *decompressed* content of a ``.gz``, which also
    accepts faithful mirrors that re-compressed the file. A file passes if either matches.
    """

    key: str
    urls: tuple[str, ...]
    md5: str | None = None
    sha256_content: str | None = None

    @property
    def name(self) -> str:
        """File name, e.g. ``t10k-images-idx3-ubyte.gz``."""
        return self.key.rsplit("/", 1)[1]

    @property
    def folder(self) -> str:
        """Sub-folder of the cache and the mirror, e.g. ``mnist``."""
        return self.key.rsplit("/", 1)[0]

    @property
    def is_gzip(self) -> bool:
        """True for a single gzip-compressed file (not a tarball)."""
        return self.name.endswith(".gz") and not self.name.endswith(".tar.gz")


def _entry(key: str, bases: tuple[str, ...], md5: str, sha256_content: str | None = None):
    name = key.rsplit("/", 1)[1]
    return key, DataFile(key, tuple(b + name for b in bases), md5, sha256_content)


REGISTRY: dict[str, DataFile] = dict([
    _entry("mnist/train-images-idx3-ubyte.gz", _MNIST_URLS, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    _entry("mnist/train-labels-idx1-ubyte.gz", _MNIST_URLS, "d53e105ee54ea40749a09fcbcd1e9432"),
    _entry("mnist/t10k-images-idx3-ubyte.gz", _MNIST_URLS, "9fb629c4189551a2d022fa330f9573f3",
           "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    _entry("mnist/t10k-labels-idx1-ubyte.gz", _MNIST_URLS, "ec29112dd5afa0611ce80d1b7f02629c",
           "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    _entry("fashion_mnist/train-images-idx3-ubyte.gz", _FASHION_URLS,
           "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    _entry("fashion_mnist/train-labels-idx1-ubyte.gz", _FASHION_URLS,
           "25c81989df183df01b3e8a0aad5dffbe"),
    _entry("fashion_mnist/t10k-images-idx3-ubyte.gz", _FASHION_URLS,
           "bef4ecab320f06d8554ea6380940ec79"),
    _entry("fashion_mnist/t10k-labels-idx1-ubyte.gz", _FASHION_URLS,
           "bb300cfdad3c16e7a12a480ee83cd310"),
    _entry("cifar10/cifar-10-python.tar.gz", _CIFAR_URLS, "c58f30108f718f92721af3b95e74349a"),
])
"""Every file a loader may read, keyed by ``<folder>/<file name>``."""


# --------------------------------------------------------------------------------------------
# Locations
# --------------------------------------------------------------------------------------------

def data_dir() -> Path:
    """The cache folder: ``$TRAINLAB_DATA_DIR``, else ``<checkout>/data``, else
    ``$XDG_CACHE_HOME/trainlab`` (default ``~/.cache/trainlab``)."""
    env = os.environ.get(DATA_DIR_ENV, "")
    if env:
        return Path(env).expanduser()
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "data").is_dir():
        return root / "data"
    cache_home = os.environ.get("XDG_CACHE_HOME", "") or Path.home() / ".cache"
    return Path(cache_home) / "trainlab"


def mirror_dir() -> Path | None:
    """The mirror folder ``$TRAINLAB_DATA_MIRROR``, or None when unset."""
    env = os.environ.get(MIRROR_ENV, "")
    return Path(env).expanduser() if env else None


def download_urls(key: str) -> list[str]:
    """URLs tried, in order, for ``key``: ``$TRAINLAB_DATA_URL/<key>`` if set, else the official
    ones."""
    entry = _registry_entry(key)
    base = os.environ.get(URL_ENV, "")
    return [base.rstrip("/") + "/" + entry.key] if base else list(entry.urls)


def _registry_entry(key: str) -> DataFile:
    try:
        return REGISTRY[key]
    except KeyError:
        raise ValueError(f"key must be one of {sorted(REGISTRY)}, got {key!r}") from None


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------

def _gunzip(raw: bytes) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
        out = f.read(MAX_CONTENT_BYTES + 1)
    if len(out) > MAX_CONTENT_BYTES:
        raise OSError(f"decompresses to more than {MAX_CONTENT_BYTES} bytes")
    return out


def _verify(entry: DataFile, path: Path) -> tuple[bytes, str | None]:
    """Read ``path`` and check it. Returns (payload, problem): the payload is the decompressed
    content of a ``.gz`` (the raw bytes otherwise); ``problem`` is None when the file passes,
    else a description with the expected and actual sums."""
    raw = path.read_bytes()
    md5 = hashlib.md5(raw).hexdigest()
    content: bytes | None = None
    unzip_error = ""
    if entry.is_gzip:
        try:
            content = _gunzip(raw)
        except (OSError, EOFError, zlib.error) as exc:
            unzip_error = f"{type(exc).__name__}: {exc}"
    payload = raw if not entry.is_gzip else (content if content is not None else b"")
    if entry.md5 is not None and md5 == entry.md5 and not unzip_error:
        return payload, None
    if entry.sha256_content is not None and content is not None:
        if hashlib.sha256(content).hexdigest() == entry.sha256_content:
            return payload, None
    lines = []
    if entry.md5 is not None:
        lines.append(f"  md5 of the file:                 expected {entry.md5}, actual {md5}")
    if entry.sha256_content is not None:
        actual = (hashlib.sha256(content).hexdigest() if content is not None
                  else f"none (not a readable gzip file: {unzip_error})")
        lines.append(f"  sha256 of the decompressed data: expected {entry.sha256_content}, "
                     f"actual {actual}")
    elif entry.is_gzip:
        lines.append("  (only the md5 of the original .gz is published for this file, so a "
                     "re-compressed mirror copy cannot be verified: use an official URL)")
    if unzip_error and entry.sha256_content is None:
        lines.append(f"  the file is not a readable gzip file: {unzip_error}")
    return payload, "\n".join(lines)


def _check(entry: DataFile, path: Path, source: str) -> bytes:
    """Verify ``path``; on failure rename it to ``<name>.corrupt`` and raise ChecksumError."""
    payload, problem = _verify(entry, path)
    if problem is None:
        return payload
    bad = path.with_name(entry.name + ".corrupt")
    os.replace(path, bad)
    raise ChecksumError(
        f"Checksum mismatch for {entry.key} ({source}):\n{problem}\n"
        f"The bad file was moved aside to {bad}.\n"
        f"To fix: run `python -m trainlab.data fetch --all` (or call the loader again) to fetch "
        f"a fresh copy from ${MIRROR_ENV} or {entry.urls[0]}, or download it yourself and put "
        f"it in {path.parent}{os.sep} under the name {entry.name}.")


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------

def _atomic_fill(entry: DataFile, dest: Path, write: Callable[[io.BufferedWriter], None],
                 source: str) -> None:
    """Write via ``write`` into a temp file beside ``dest``, verify it, then os.replace it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        _check(entry, tmp, source)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _download_into(url: str) -> Callable[[io.BufferedWriter], None]:
    def write(f: io.BufferedWriter) -> None:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            shutil.copyfileobj(response, f, length=2**20)
    return write


def _copy_into(src: Path) -> Callable[[io.BufferedWriter], None]:
    def write(f: io.BufferedWriter) -> None:
        with open(src, "rb") as s:
            shutil.copyfileobj(s, f, length=2**20)
    return write


def _missing_message(entry: DataFile, dest: Path, tried: list[str]) -> str:
    mirror = mirror_dir()
    mirror_line = (f"${MIRROR_ENV} is not set" if mirror is None
                   else f"not in the mirror: {mirror / entry.key} does not exist")
    tried_lines = "\n".join(f"    {t}" for t in tried) or "    (no URL)"
    return (
        f"Data file {entry.key} is not available.\n"
        f"  not in the cache: {dest} does not exist\n"
        f"  {mirror_line}\n"
        f"  download failed:\n{tried_lines}\n"
        f"To fix, either\n"
        f"  - download {entry.urls[0]} and put it in {dest.parent}{os.sep} (keep the name "
        f"{entry.name}), or\n"
        f"  - set {MIRROR_ENV} to a folder that holds {entry.key} (e.g. the course's "
        f"shared/data) and run `python -m trainlab.data fetch`.\n"
        f"See data/README.md for the list of files and their checksums.")


def _obtain(key: str) -> tuple[Path, str]:
    """Make sure ``key`` is in the cache. Returns (path, how) with how one of "cache", "mirror
    <path>", "download <url>". A file already in the cache is not verified here."""
    entry = _registry_entry(key)
    dest = data_dir() / entry.key
    if dest.is_file():
        return dest, "cache"
    mirror = mirror_dir()
    if mirror is not None and (mirror / entry.key).is_file():
        src = mirror / entry.key
        _atomic_fill(entry, dest, _copy_into(src), f"copied from the mirror {src}")
        return dest, f"mirror {src}"
    tried = []
    for url in download_urls(key):
        try:
            _atomic_fill(entry, dest, _download_into(url), f"downloaded from {url}")
        except (OSError, http.client.HTTPException) as exc:
            tried.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        return dest, f"download {url}"
    raise DataNotFoundError(_missing_message(entry, dest, tried))


def ensure_file(key: str) -> Path:
    """Path of a verified copy of registry file ``key`` (e.g. ``"mnist/t10k-images-idx3-ubyte.gz"``)
    in the cache, fetched from the mirror or the URLs if needed.

    Raises DataNotFoundError (a FileNotFoundError) when it cannot be had, ChecksumError when the
    copy is bad (the bad file is moved to ``<name>.corrupt``).
    """
    path, how = _obtain(key)
    if how == "cache":
        _check(REGISTRY[key], path, f"found in the cache {path.parent}")
    return path


def _describe(how: str, path: Path) -> str:
    if how == "cache":
        return f"found in cache ({path})"
    kind, where = how.split(" ", 1)
    return (f"copied from mirror {where} -> {path}" if kind == "mirror"
            else f"downloaded from {where} -> {path}")


def fetch_course_data(verbose: bool = True, keys: Sequence[str] = COURSE_FILES) -> bool:
    """Make sure the files the CI-executed lessons need (MNIST t10k images and labels; or
    ``keys``) are in the cache: cache -> mirror -> download, each verified.

    Prints one line per file when ``verbose``. Returns True when every file is present and
    verified, False otherwise (never raises for a missing or corrupt file).
    """
    ok = True
    for key in keys:
        try:
            path, how = _obtain(key)
            if how == "cache":
                _check(REGISTRY[key], path, f"found in the cache {path.parent}")
            line = f"{key}: {_describe(how, path)}"
        except DataNotFoundError:
            ok = False
            entry = REGISTRY[key]
            line = (f"{key}: MISSING - download {entry.urls[0]} into "
                    f"{(data_dir() / key).parent}{os.sep} or set {MIRROR_ENV} to a folder "
                    f"holding {key} (see data/README.md)")
        except ChecksumError:
            ok = False
            line = (f"{key}: CORRUPT - moved aside to {data_dir() / key}.corrupt; run again to "
                    f"fetch a fresh copy")
        if verbose:
            print(line)
    return ok


def data_status() -> list[str]:
    """One line per registry file: whether it is in the cache (and verifies) and in the
    mirror. Nothing is moved or fetched."""
    lines = [f"cache: {data_dir()}", f"mirror: {mirror_dir() or f'(${MIRROR_ENV} not set)'}"]
    mirror = mirror_dir()
    for key, entry in REGISTRY.items():
        path = data_dir() / key
        if path.is_file():
            state = "cached, verified" if _verify(entry, path)[1] is None else "cached, BAD SUM"
        else:
            state = "not cached"
        in_mirror = mirror is not None and (mirror / key).is_file()
        lines.append(f"{key}: {state}{'; in mirror' if in_mirror else ''}")
    return lines


# --------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)
# --------------------------------------------------------------------------------------------

def parse_idx(content: bytes, *, name: str = "IDX data") -> np.ndarray:
    """Parse decompressed IDX bytes into a read-only uint8 array.

    Format: big-endian int32 magic ``0x0000080D`` with D = number of dimensions (2051 for
    images, D = 3, shape (N, rows, cols); 2049 for labels, D = 1, shape (N,)), then D
    big-endian int32 sizes, then prod(sizes) unsigned bytes.
    """
    if len(content) < 4:
        raise DataError(f"{name}: too short for an IDX header ({len(content)} bytes)")
    magic = int.from_bytes(content[:4], "big")
    if magic not in (2049, 2051):
        raise DataError(f"{name}: IDX magic must be 2049 (labels) or 2051 (images), got {magic}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(content) != expected:
        raise DataError(f"{name}: header says shape {dims} ({expected} bytes), file has "
                        f"{len(content)} bytes")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims)


@lru_cache(maxsize=8)
def _idx_cached(key: str, path: str, size: int, mtime_ns: int) -> np.ndarray:
    content = _check(REGISTRY[key], Path(path), f"found in the cache {Path(path).parent}")
    return parse_idx(content, name=key)


def _idx_array(key: str) -> np.ndarray:
    path, _ = _obtain(key)
    st = path.stat()
    return _idx_cached(key, str(path), st.st_size, st.st_mtime_ns)


def _idx_pair(folder: str, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images = _idx_array(f"{folder}/{prefix}-images-idx3-ubyte.gz")
    labels = _idx_array(f"{folder}/{prefix}-labels-idx1-ubyte.gz")
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise DataError(f"{folder}/{prefix}: expected images (N, 28, 28) and labels (N,), got "
                        f"{images.shape} and {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{folder}/{prefix}: {images.shape[0]} images but "
                        f"{labels.shape[0]} labels")
    return images, labels


_DTYPES = ("uint8", "float32", "float64")


def _convert(images: np.ndarray, dtype: object) -> np.ndarray:
    """uint8 copy as stored, or float scaled to [0, 1]: x / 255."""
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        dt = None
    if dt is None or dt.name not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    if dt == np.uint8:
        return images.copy()
    return images.astype(dt) / dt.type(255)


def _shape_images(x: np.ndarray, flatten: bool, channels: bool) -> np.ndarray:
    if flatten and channels:
        raise ValueError("flatten and channels cannot both be True (got flatten=True, "
                         "channels=True)")
    if flatten:
        return x.reshape(x.shape[0], -1)
    if channels:
        return x[:, None, :, :]
    return x


def mnist10k_split_indices(split: str) -> np.ndarray:
    """Sorted indices into the official MNIST test set for MNIST-10k's ``split``:
    "train" (8,000), "val" (2,000) or "all" (10,000, file order). The split is a fixed
    permutation ``default_rng(MNIST10K_SEED).permutation(10000)``: its last 2,000 entries are
    "val", the rest "train"."""
    if split == "all":
        return np.arange(10_000)
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train', 'val' or 'all' for subset='10k', got {split!r}")
    perm = np.random.default_rng(MNIST10K_SEED).permutation(10_000)
    part = perm[-MNIST10K_N_VAL:] if split == "val" else perm[:-MNIST10K_N_VAL]
    return np.sort(part)


def load_mnist(subset: str = "10k", split: str = "train", dtype: object = "float32",
               flatten: bool = False, channels: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits as NumPy arrays ``(images, labels)``.

    - ``subset="10k"`` (MNIST-10k, available offline): the official 10,000-image TEST set,
      split by :func:`mnist10k_split_indices` into ``split="train"`` (8,000), ``"val"``
      (2,000) or ``"all"`` (10,000 in file order). Do not compare its accuracies with
      published MNIST results: it is a different (smaller) training set.
    - ``subset="full"`` (needs the 60k training files, i.e. internet): ``split="train"``
      (60,000) or ``"test"`` (10,000).

    images: ``dtype="uint8"`` gives the stored pixels 0..255; ``"float32"``/``"float64"`` give
    ``x / 255`` in [0, 1]. Shape (N, 28, 28); (N, 784) with ``flatten=True``; (N, 1, 28, 28)
    with ``channels=True`` (torch's NCHW). labels: int64, shape (N,), values 0..9.
    The arrays are fresh copies, free to modify.
    """
    if subset == "10k":
        idx = mnist10k_split_indices(split)
        images, labels = _idx_pair("mnist", "t10k")
        images, labels = images[idx], labels[idx]
    elif subset == "full":
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test' for subset='full', got {split!r}")
        images, labels = _idx_pair("mnist", "train" if split == "train" else "t10k")
    else:
        raise ValueError(f"subset must be '10k' or 'full', got {subset!r}")
    x = _shape_images(_convert(images, dtype), flatten, channels)
    return x, labels.astype(np.int64)


def load_fashion_mnist(split: str = "train", dtype: object = "float32", flatten: bool = False,
                       channels: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Xiao et al. 2017; needs internet the first time): ``split="train"``
    (60,000) or ``"test"`` (10,000). Same layout, dtypes and flags as :func:`load_mnist`;
    class names in :data:`FASHION_MNIST_CLASSES`."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images, labels = _idx_pair("fashion_mnist", "train" if split == "train" else "t10k")
    return _shape_images(_convert(images, dtype), flatten, channels), labels.astype(np.int64)


# --------------------------------------------------------------------------------------------
# CIFAR-10 (python pickles inside a tarball)
# --------------------------------------------------------------------------------------------

def _numpy_reconstruct() -> Callable[..., np.ndarray]:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_CIFAR_GLOBALS: dict[tuple[str, str], Callable[[], object]] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class CifarUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` allows only what CIFAR-10's batches contain: NumPy
    array reconstruction (``_reconstruct``, ``ndarray``, ``dtype``). Everything else (e.g.
    ``os.system``) raises :class:`UnsafePickleError`."""

    def find_class(self, module: str, name: str) -> object:
        """Return an allowed global, refuse any other."""
        factory = _CIFAR_GLOBALS.get((module, name))
        if factory is None:
            raise UnsafePickleError(f"refused to load global {module}.{name} from a CIFAR-10 "
                                    f"batch (only NumPy array reconstruction is allowed)")
        return factory()


def _parse_cifar_batch(blob: bytes, member: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch -> images (N, 32, 32, 3) uint8, labels (N,) int64. A row of ``data``
    holds the red plane (1024 bytes, row-major), then green, then blue."""
    batch = CifarUnpickler(io.BytesIO(blob), encoding="latin1").load()
    if not isinstance(batch, dict):
        raise DataError(f"CIFAR-10 member {member}: expected a dict, got {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
            or data.shape[1] != 3072 or not isinstance(labels, list)
            or len(labels) != data.shape[0]):
        raise DataError(f"CIFAR-10 member {member}: expected 'data' uint8 (N, 3072) and "
                        f"'labels' a list of N ints")
    y = np.asarray(labels, dtype=np.int64)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"CIFAR-10 member {member}: labels must be in 0..9")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y


_CIFAR_MEMBERS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


@lru_cache(maxsize=2)
def _cifar_cached(split: str, path: str, size: int, mtime_ns: int) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    entry = REGISTRY["cifar10/cifar-10-python.tar.gz"]
    raw = _check(entry, Path(path), f"found in the cache {Path(path).parent}")
    xs, ys = [], []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        for member in _CIFAR_MEMBERS[split]:
            name = f"cifar-10-batches-py/{member}"
            try:
                info = tar.getmember(name)
            except KeyError:
                raise DataError(f"{entry.key}: member {name} is missing") from None
            f = tar.extractfile(info) if info.isfile() else None
            if f is None:
                raise DataError(f"{entry.key}: member {name} is not a regular file")
            x, y = _parse_cifar_batch(f.read(), name)
            xs.append(x)
            ys.append(y)
    images, labels = np.concatenate(xs), np.concatenate(ys)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_cifar10(split: str = "train", dtype: object = "float32",
                 channels_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 (Krizhevsky 2009; needs internet the first time, 163 MB): ``split="train"``
    (50,000) or ``"test"`` (10,000).

    images: (N, 32, 32, 3) RGB, or (N, 3, 32, 32) with ``channels_first=True``; uint8 0..255
    or float ``x / 255``. labels: int64 (N,), names in :data:`CIFAR10_CLASSES`. The tarball's
    md5 is verified before any pickle in it is read, and the pickles are read with
    :class:`CifarUnpickler`, which refuses anything but NumPy arrays.
    """
    if split not in _CIFAR_MEMBERS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path, _ = _obtain("cifar10/cifar-10-python.tar.gz")
    st = path.stat()
    images, labels = _cifar_cached(split, str(path), st.st_size, st.st_mtime_ns)
    x = _convert(images, dtype)
    return (x.transpose(0, 3, 1, 2).copy() if channels_first else x), labels.copy()


# --------------------------------------------------------------------------------------------
# Data made on the spot: photo patches and toy 2-D sets
# --------------------------------------------------------------------------------------------

SAMPLE_PHOTOS = ("china.jpg", "flower.jpg")


@lru_cache(maxsize=1)
def _sample_photos() -> tuple[np.ndarray, ...]:
    """The photos of ``sklearn.datasets.load_sample_images``, read straight from scikit-learn's
    package folder (4x faster than importing ``sklearn.datasets``), with that function as the
    fallback."""
    spec = importlib.util.find_spec("sklearn")
    folder = Path(spec.origin).parent / "datasets" / "images" if spec and spec.origin else None
    if folder is not None and all((folder / n).is_file() for n in SAMPLE_PHOTOS):
        from PIL import Image

        images = []
        for name in SAMPLE_PHOTOS:
            with Image.open(folder / name) as im:
                images.append(np.asarray(im.convert("RGB")))
    else:
        from sklearn.datasets import load_sample_images

        images = list(load_sample_images().images)
    photos = tuple(np.ascontiguousarray(im, dtype=np.uint8) for im in images)
    for im in photos:
        im.flags.writeable = False
    return photos


def _rng_from_seed(seed: int | np.random.Generator) -> np.random.Generator:
    """``default_rng(seed)`` for a non-negative int seed or a Generator; else a ValueError."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an int >= 0 or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def load_photo_patches(n: int = 2000, size: int = 32, seed: int = 0) -> np.ndarray:
    """``n`` random ``size`` x ``size`` RGB patches, uint8 (n, size, size, 3), cut from
    scikit-learn's bundled photos (china.jpg and flower.jpg, each 427 x 640): a CIFAR-like,
    offline stand-in for natural images. Each patch picks a photo uniformly, then a top-left
    corner uniformly among the valid ones; deterministic given ``seed``."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    photos = _sample_photos()
    max_size = min(min(p.shape[:2]) for p in photos)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or not (
            1 <= size <= max_size):
        raise ValueError(f"size must be an int in [1, {max_size}], got {size!r}")
    rng = _rng_from_seed(seed)
    which = rng.integers(len(photos), size=n)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for k, photo in enumerate(photos):
        sel = np.flatnonzero(which == k)
        rows = rng.integers(photo.shape[0] - size + 1, size=sel.size)
        cols = rng.integers(photo.shape[1] - size + 1, size=sel.size)
        windows = np.lib.stride_tricks.sliding_window_view(photo, (size, size), axis=(0, 1))
        out[sel] = windows[rows, cols].transpose(0, 2, 3, 1)
    return out


def _disc(rng: np.random.Generator, m: int, r_in: float, r_out: float) -> np.ndarray:
    """m points uniform (by area) in the annulus r_in <= r <= r_out around the origin."""
    r = np.sqrt(rng.uniform(r_in**2, r_out**2, size=m))
    theta = rng.uniform(0.0, 2 * np.pi, size=m)
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def _toy_xor(rng: np.random.Generator, m0: int, m1: int) -> tuple[np.ndarray, np.ndarray]:
    def quadrants(m: int, same_sign: bool) -> np.ndarray:
        mag = rng.uniform(0.05, 1.0, size=(m, 2))
        s0 = rng.choice([-1.0, 1.0], size=m)
        s1 = s0 if same_sign else -s0
        return mag * np.column_stack([s0, s1])
    return quadrants(m0, True), quadrants(m1, False)


def _toy_ring(rng: np.random.Generator, m0: int, m1: int) -> tuple[np.ndarray, np.ndarray]:
    return _disc(rng, m0, 0.0, 0.5), _disc(rng, m1, 0.8, 1.1)


def _toy_three_modes(rng: np.random.Generator, m0: int, m1: int) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    angles = np.deg2rad([90.0, 210.0, 330.0])
    centres = np.column_stack([np.cos(angles), np.sin(angles)])
    mode = rng.integers(3, size=m1)
    return _disc(rng, m0, 0.0, 0.35), centres[mode] + _disc(rng, m1, 0.0, 0.35)


def _toy_spirals(rng: np.random.Generator, m0: int, m1: int) -> tuple[np.ndarray, np.ndarray]:
    def arm(m: int, phase: float) -> np.ndarray:
        t = rng.uniform(0.0, 1.0, size=m)
        r, theta = 0.1 + 0.9 * t, 3 * np.pi * t + phase
        return np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    return arm(m0, 0.0), arm(m1, np.pi)


def _toy_blobs(rng: np.random.Generator, m0: int, m1: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([-0.6, -0.6]) + _disc(rng, m0, 0.0, 0.6),
            np.array([0.6, 0.6]) + _disc(rng, m1, 0.0, 0.6))


_TOY_KINDS = {"xor": (_toy_xor, 0.05), "ring": (_toy_ring, 0.05),
              "three_modes": (_toy_three_modes, 0.05), "spirals": (_toy_spirals, 0.03),
              "blobs": (_toy_blobs, 0.05)}
"""kind -> (generator of the clean classes, default noise)."""
TOY_KINDS = tuple(_TOY_KINDS)


def make_toy_2d(kind: str, n: int = 400, seed: int | np.random.Generator = 0,
                noise: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A two-class 2-D data set for decision-boundary demos: X float64 (n, 2), y int64 (n,).

    Classes have n // 2 and n - n // 2 points, shuffled. The clean shapes (all within about
    [-1.5, 1.5]^2) are separated by a margin; then ``X += noise * N(0, I)`` (``noise=None``
    uses the kind's default, 0.03 to 0.05). ``seed``: an int >= 0 for ``default_rng`` or a
    NumPy ``Generator`` to draw from; anything else raises ValueError.

    - ``"xor"``: class 0 in quadrants I and III, class 1 in II and IV (|coordinate| >= 0.05);
    - ``"ring"``: class 0 a disc of radius 0.5, class 1 the ring 0.8 <= r <= 1.1;
    - ``"three_modes"``: class 0 a disc of radius 0.35 at the origin, class 1 three such discs
      centred on the unit circle at 90, 210 and 330 degrees;
    - ``"spirals"``: two interleaved spirals r = 0.1 + 0.9 t, theta = 3 pi t (+ pi), t in [0, 1];
    - ``"blobs"``: discs of radius 0.6 at (-0.6, -0.6) and (0.6, 0.6) (linearly separable).
    """
    if not isinstance(kind, str) or kind not in _TOY_KINDS:
        raise ValueError(f"kind must be one of {TOY_KINDS}, got {kind!r}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"n must be an int >= 2 (one point per class at least), got {n!r}")
    generate, default_noise = _TOY_KINDS[kind]
    noise = default_noise if noise is None else noise
    if (isinstance(noise, bool) or not isinstance(noise, int | float | np.floating)
            or not 0 <= noise < np.inf):
        raise ValueError(f"noise must be a finite float >= 0, got {noise!r}")
    rng = _rng_from_seed(seed)
    m0 = n // 2
    x0, x1 = generate(rng, m0, n - m0)
    X = np.concatenate([x0, x1]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(m0, np.int64), np.ones(n - m0, np.int64)])
    order = rng.permutation(n)
    return X[order], y[order]


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

_MNIST_CACHE: dict[tuple[int, int, int], tuple[np.ndarray, ...]] = {}


def mnist_subset(n_train: int, n_val: int, seed: int) -> tuple[np.ndarray, ...]:
    """``(X, y, Xv, yv)``: ``n_train`` random MNIST-10k training images and ``n_val`` validation
    images, flattened to (N, 784) float32 in [0, 1], int64 labels; a permutation drawn with
    ``np.random.default_rng(seed)``; loaded once per process (the training explorers and
    :func:`trainlab.dropout.keep_prob_run` use it). Raises ValueError for sizes outside
    [10, 8000] / [10, 2000]."""
    key = (n_train, n_val, seed)
    if key not in _MNIST_CACHE:
        X, y = load_mnist("10k", "train", flatten=True)
        Xv, yv = load_mnist("10k", "val", flatten=True)
        for name, value, hi in (("n_train", n_train, len(X)), ("n_val", n_val, len(Xv))):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                    or not 10 <= value <= hi:
                raise ValueError(f"{name} must be an int in [10, {hi}], got {value!r}")
        rng = np.random.default_rng(seed)
        i, j = rng.permutation(len(X))[:n_train], rng.permutation(len(Xv))[:n_val]
        _MNIST_CACHE[key] = (X[i], y[i], Xv[j], yv[j])
    return _MNIST_CACHE[key]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trainlab.data fetch [--all] | status``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m trainlab.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="fetch the lessons' files (exit 1 if any is missing)")
    fetch.add_argument("--all", action="store_true", help="every registered file")
    sub.add_parser("status", help="where each file is and whether it verifies")
    args = parser.parse_args(argv)
    if args.command == "status":
        print("\n".join(data_status()))
        return 0
    keys = tuple(REGISTRY) if args.all else COURSE_FILES
    return 0 if fetch_course_data(verbose=True, keys=keys) else 1


if __name__ == "__main__":
    sys.exit(main())
