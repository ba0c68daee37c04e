"""Allocation's loops compiled by numba on first use (``compiled_loop``), not on import: importing
numba and loading a loop from its on-disk cache take ~0.9 s in a fresh process, which
``allocation.pool.warm_up`` spends on a thread while the store is read."""

from __future__ import annotations

import threading
from functools import cache

_COMPILING = threading.Lock()


def compiled_loop(loop):
    """``loop`` compiled (numba, cached on disk), made once per process, whichever thread asks first."""
    with _COMPILING:
        return _compiled(loop)


@cache
def _compiled(loop):
    from numba import njit

    return njit(cache=True, nogil=True, fastmath=False)(loop)
