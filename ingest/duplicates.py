"""Duplicates beyond identical bytes: the same claims in another file (re-saved with other line
endings, rows reordered, other number formats) or partly in one.

A file's **content fingerprint** is what its rows say, not how the file spells them: the seller,
and each row's seller_ref, national id, principal (grosz) and due date, in any order. Each row is
hashed (its texts by a polynomial over their bytes, the numbers as they are, each mixed and
combined: pure arithmetic, the same on every machine and polars version) and the row hashes are
summed (mod 2^64, twice with other constants): a sum does not depend on the order of the rows
and is made batch by batch in constant memory.

A row **overlaps** a claim of another portfolio of the same seller when it has that claim's
seller_ref: the seller's own number of the debt, whatever the principal says today. The report
line says which of national id, principal and due date differ from the stored claim's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

#: each of the two sums: the multiplier of the text hash, the seeds of the key columns
_HASHES = (
    (0x100000001B3, (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)),
    (0xC6A4A7935BD1E995, (0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x85EBCA77C2B2AE63)),
)
KEY_COLUMNS = ("seller_ref", "national_id", "principal", "due_date")
_SLICE = 25_000  # rows hashed at a time
OVERLAP_SCHEMA = {
    "row": pl.Int64(),
    "seller_ref": pl.String(),
    "portfolio_id": pl.String(),
    "claim_id": pl.Int64(),
    "differs": pl.String(),
}


@dataclass
class Fingerprint:
    """The running sums of the row hashes of the rows seen so far."""

    rows: int = 0
    sums: tuple[int, int] = (0, 0)

    def add(self, other: Fingerprint) -> None:
        self.rows += other.rows
        self.sums = tuple((a + b) % 2**64 for a, b in zip(self.sums, other.sums, strict=True))  # type: ignore[assignment]

    def of(self, seller: str | None) -> str:
        """The fingerprint (sha256 hex) of these rows bought from ``seller``."""
        text = f"cession fingerprint 1\x1f{seller or ''}\x1f{self.rows}\x1f{self.sums[0]}\x1f{self.sums[1]}"
        return hashlib.sha256(text.encode()).hexdigest()


def fingerprint_of(rows: pl.DataFrame) -> Fingerprint:
    """The running sums of ``rows`` (typed: KEY_COLUMNS; principal in grosz, due_date a date)."""
    if rows.height > _SLICE:  # the padded texts of a slice stay a few MB
        parts = Fingerprint()
        for part in rows.iter_slices(_SLICE):
            parts.add(fingerprint_of(part))
        return parts
    multipliers = [m for m, _ in _HASHES]
    texts = [_polynomial(*_text(rows.get_column(c)), multipliers) for c in ("seller_ref", "national_id")]
    numbers = [
        rows.get_column("principal").cast(pl.Int64).fill_null(-1).to_numpy().view(np.uint64),
        rows.get_column("due_date").cast(pl.Int32).cast(pl.Int64).fill_null(-(2**40)).to_numpy().view(np.uint64),
    ]
    sums = []
    with np.errstate(over="ignore"):
        for i, (_, seeds) in enumerate(_HASHES):
            row = np.zeros(rows.height, np.uint64)
            for hashed, seed in zip([texts[0][i], texts[1][i], *numbers], seeds, strict=True):
                row += _mixed(hashed ^ np.uint64(seed)) * np.uint64(seed | 1)
            sums.append(int(_mixed(row).sum(dtype=np.uint64)))
    return Fingerprint(rows.height, (sums[0], sums[1]))


def _text(values: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes, where each value starts, its length; a null's length is -1) of a text column."""
    import pyarrow as pa

    array = values.cast(pl.Binary).to_arrow()
    array = (array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array).cast(pa.large_binary())
    if len(array) == 0:
        return np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64)
    offsets = np.frombuffer(array.buffers()[1], np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], np.uint8) if array.buffers()[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    if array.null_count:
        lengths = np.where(values.is_null().to_numpy(), -1, lengths)
    return data, offsets[:-1], lengths


def _polynomial(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, multipliers: list[int]) -> list[np.ndarray]:
    """For each multiplier m, each value's bytes, zero-padded to whole 8-byte words w0 w1 ... (read
    little-endian), as ((w0 * m + w1) * m + ...) mod 2^64, then its length added (a null: length -1)."""
    width = -(-max(int(lengths.max(initial=0)), 1) // 8) * 8
    ahead = np.concatenate([data, np.zeros(width, np.uint8)])  # every value's window fits
    padded = np.lib.stride_tricks.sliding_window_view(ahead, width)[starts]  # each value's bytes and what follows
    padded *= np.arange(width, dtype=np.int64) < lengths[:, None]  # ... what follows zeroed
    words = padded.view("<u8").astype(np.uint64)
    hashes = []
    with np.errstate(over="ignore"):
        for m in multipliers:
            h = np.zeros(len(starts), np.uint64)
            for k in range(words.shape[1]):
                h *= np.uint64(m)
                h += words[:, k]
            hashes.append(h + lengths.view(np.uint64))
    return hashes


def _mixed(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every bit of the input moves about half the output's bits."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def overlaps(rows: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """OVERLAP_SCHEMA lines of ``rows`` (row + KEY_COLUMNS) whose seller_ref is a claim of
    ``stored`` (CLAIM_KEY_SCHEMA + national_id): one line per row and portfolio holding it."""
    both = rows.join(stored, on="seller_ref", suffix="_stored")
    differs = pl.concat_str(
        [pl.when(~pl.col(c).eq_missing(pl.col(f"{c}_stored"))).then(pl.lit(c)) for c in KEY_COLUMNS[1:]],
        separator=", ",
        ignore_nulls=True,
    )
    return both.select(
        "row", "seller_ref", "portfolio_id", "claim_id", pl.when(differs != "").then(differs).alias("differs")
    ).cast(OVERLAP_SCHEMA)


def described(found: pl.DataFrame, accepted: int, shown: int = 5) -> str:
    """The overlapping rows in one line: how many, the portfolios holding them, the first few."""
    rows = found.unique("row", keep="first").sort("row")
    held = (
        found.group_by("portfolio_id")
        .agg(pl.col("row").n_unique().alias("n"))
        .sort("n", "portfolio_id", descending=[True, False])
    )
    where = ", ".join(f"{p} ({n:,} row{'s' if n > 1 else ''})" for p, n in held.iter_rows())
    first = ", ".join(f"{r} ({ref})" for r, ref in rows.head(shown).select("row", "seller_ref").iter_rows())
    more = f" and {rows.height - shown:,} more" if rows.height > shown else ""
    if rows.height == accepted:
        return f"every one of its {accepted:,} rows is a claim already stored in portfolio {where}"
    return (
        f"{rows.height:,} of its {accepted:,} rows {'are claims' if rows.height > 1 else 'is a claim'} already "
        f"stored in portfolio {where}: row{'s' if rows.height > 1 else ''} {first}{more}"
    )
