"""Cession's columnar engine: claims and events in, claim_state out (docs/engine.md).

Importing ``engine`` (or a light module of it: ``engine.errors``, ``engine.money``,
``engine.domain``) loads neither numba nor polars: the names below are imported when first used,
so a command pays only for what it uses (``cession --help`` loads none of them). numba's cache
folder is set (``kernel_cache``) just before the first kernel module is imported, wherever that
import comes from.
"""

from __future__ import annotations

import importlib
import sys
from importlib.abc import MetaPathFinder
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.errors import InputError
    from engine.rules import StaleRulesError, load_rules
    from engine.state import compute_state, provenance
    from engine.validation import EngineInputError
    from engine.waterfall import DEFAULT_WATERFALL, Waterfall

#: the public names and the module each comes from (imported on first use, PEP 562)
_LAZY = {
    "DEFAULT_WATERFALL": "engine.waterfall",
    "EngineInputError": "engine.validation",
    "InputError": "engine.errors",
    "StaleRulesError": "engine.rules",
    "Waterfall": "engine.waterfall",
    "compute_state": "engine.state",
    "load_rules": "engine.rules",
    "provenance": "engine.state",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _KernelCacheFirst(MetaPathFinder):
    """Sets numba's cache folder (``kernel_cache.use_versioned_cache``) when ``engine.kernels`` is
    about to be imported, before any kernel is decorated; it finds nothing itself."""

    def find_spec(self, name, path=None, target=None):
        if name == "engine.kernels":
            sys.meta_path.remove(self)
            from engine.kernel_cache import use_versioned_cache

            use_versioned_cache()
        return None


sys.meta_path.insert(0, _KernelCacheFirst())
