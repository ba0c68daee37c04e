"""One item made ahead on a thread while the caller uses the one before: for readers, encoders and
writers whose work releases the GIL (polars, pyarrow, numba, I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_END = object()


def ahead(items: Iterable[T], name: str = "ahead") -> Iterator[T]:
    """``items`` as they come, the next one made (``next`` called, so a generator's own work runs
    there) on a thread named ``name`` while the caller uses this one."""
    items = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        coming = pool.submit(next, items, _END)
        while (item := coming.result()) is not _END:
            coming = pool.submit(next, items, _END)
            yield item
