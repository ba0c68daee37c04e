"""Cession's columnar engine: claims and events in, claim_state out (docs/engine.md).

Where things are (each module says more):

- ``computation``: the one entry point (``compute``): any source, one day or a series, on the
  chosen executor, by the quickest path; ``kernel_run.compute_state`` is the engine on frames in
  memory.
- ``inputs`` (checks and ``prepare``), ``packing`` (frames -> arrays), ``kernel_rules`` (the rule
  book as arrays), ``kernel_run`` (the kernel -> claim_state), ``totals``, ``metadata`` (provenance).
- ``parquet_io`` (Parquet in and out), ``file_inputs`` (files -> arrays a slice at a time),
  ``streaming`` (files -> file, never whole in memory).
- ``partitions``, ``sources`` (frames, Parquet, the store), ``executors`` (local | Ray).
- ``store_run`` (a run from the store), ``store/`` (the store's repositories), ``settings``.
- ``rules/`` (dated law as data), ``kernels/`` (numba, pure), ``interest``/``limitation`` (the
  calculators), ``domain``, ``errors``, ``schema``, ``validation``, ``waterfall``, ``money``.

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
    from engine.computation import DayState, compute
    from engine.errors import InputError
    from engine.inputs import prepare_inputs
    from engine.kernel_run import compute_state, state_table
    from engine.metadata import provenance
    from engine.rules import StaleRulesError, load_rules
    from engine.streaming import stream_state
    from engine.validation import EngineInputError
    from engine.waterfall import DEFAULT_WATERFALL, Waterfall

#: the public names and the module each comes from (imported on first use, PEP 562)
_LAZY = {
    "DEFAULT_WATERFALL": "engine.waterfall",
    "DayState": "engine.computation",
    "EngineInputError": "engine.validation",
    "InputError": "engine.errors",
    "StaleRulesError": "engine.rules",
    "Waterfall": "engine.waterfall",
    "compute": "engine.computation",
    "compute_state": "engine.kernel_run",
    "load_rules": "engine.rules",
    "prepare_inputs": "engine.inputs",
    "provenance": "engine.metadata",
    "state_table": "engine.kernel_run",
    "stream_state": "engine.streaming",
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
