"""Where numba keeps the compiled kernels: one folder per version of the kernels' sources.

numba's on-disk cache checks only the timestamp of the file that defines a function, not of the
files whose functions it inlines: after an edit of ``kernels/interest.py`` alone, ``claim_states``
(in ``kernels/claim_state.py``, with ``accrue`` inlined) would load from the cache compiled from
the old source and give old answers. A folder keyed by a digest of every kernel source makes any
edit a fresh compile. ``NUMBA_CACHE_DIR``, when set, is left as the user set it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
from platformdirs import user_cache_dir

KERNELS = Path(__file__).parent / "kernels"


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(KERNELS.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def use_versioned_cache() -> None:
    """Point numba's cache at a folder of this version of the kernels (before any is decorated)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = Path(user_cache_dir("cession")) / "numba" / sources_digest()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # not writable: numba falls back to its own places (or compiles every time)
    numba.config.CACHE_DIR = str(folder)
