"""Compatibility name for :mod:`trainlab.explorers` (the lessons call ``widgets.init_explorer``
and friends): every public name of the package, and -- for tests written against the old
single module -- its helpers, looked up in the explorer modules on first use."""

from __future__ import annotations

import importlib
from typing import Any

from trainlab.explorers import *  # noqa: F403
from trainlab.explorers import __all__  # noqa: F401

_MODULES = ("core", "live", "_training", "initialisation", "activations", "preprocessing",
            "batchnorm", "dashboard", "why_batchnorm_works", "dropout", "beyond_batchnorm")


def __getattr__(name: str) -> Any:
    for mod in _MODULES:
        module = importlib.import_module(f"trainlab.explorers.{mod}")
        if name in vars(module):
            return vars(module)[name]
    raise AttributeError(f"module 'trainlab.widgets' has no attribute {name!r}")
