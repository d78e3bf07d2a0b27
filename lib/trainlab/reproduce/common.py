"""What every reproduction shares: the MNIST loader, progress and argument checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trainlab.data import DataError, load_mnist
from trainlab.notebook import progress

__all__ = ["Arrays", "load_data"]

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]



def load_data(subset: str = "auto") -> tuple[Arrays, str]:
    """``((X_train, y_train, X_val, y_val), description)`` with flattened MNIST (N, 784).

    ``subset="full"``: the 60k training set and the 10k test set (needs the downloaded files);
    ``"10k"``: MNIST-10k, the official test set re-split 8,000 / 2,000; ``"auto"``: full when
    available, else 10k.
    """
    if subset not in ("auto", "full", "10k"):
        raise ValueError(f"subset must be 'auto', 'full' or '10k', got {subset!r}")
    if subset in ("auto", "full"):
        try:
            xtr, ytr = load_mnist("full", "train", flatten=True)
            xte, yte = load_mnist("full", "test", flatten=True)
            return (xtr, ytr, xte, yte), "MNIST (60,000 train / 10,000 test)"
        except (DataError, FileNotFoundError):
            if subset == "full":
                raise
    xtr, ytr = load_mnist("10k", "train", flatten=True)
    xva, yva = load_mnist("10k", "val", flatten=True)
    return (xtr, ytr, xva, yva), ("MNIST-10k (8,000 train / 2,000 validation, re-split from "
                                  "the official test set; the 60k training set is not on disk)")


def maybe_progress(items: Sequence[Any], show: bool, desc: str) -> Any:
    return progress(items, total=len(items), desc=desc) if show else iter(items)


def check_positive_int(**values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")

