"""Duplicates beyond identical bytes: the same claims in another file (re-saved with other line
endings, rows reordered, other number formats) or partly in one.

A file's **content fingerprint** is what its rows say, not how the file spells them: the seller,
and each row's seller_ref, national id, principal (grosz) and due date, in any order. Each row's
key is hashed (a polynomial over its bytes, then mixed: pure arithmetic, the same on every machine
and polars version) and the hashes are summed (mod 2^64, twice with other multipliers): a sum
does not depend on the order of the rows and is made batch by batch in constant memory.

A row **overlaps** a claim of another portfolio of the same seller when it has that claim's
seller_ref: the seller's own number of the debt, whatever the principal says today. The report
line says which of national id, principal and due date differ from the stored claim's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

#: (multiplier, mixing constant) of each of the two sums
_HASHES = ((0x100000001B3, 0x9E3779B97F4A7C15), (0xC6A4A7935BD1E995, 0xD6E8FEB86659FD93))
_SLICE = 20_000  # rows hashed at a time (their bytes as uint64 stay a few MB)
OVERLAP_SCHEMA = {"row": pl.Int64(), "seller_ref": pl.String(), "portfolio_id": pl.String(), "claim_id": pl.Int64(),
                  "differs": pl.String()}  # fmt: skip
KEY_COLUMNS = ("seller_ref", "national_id", "principal", "due_date")


@dataclass
class Fingerprint:
    """The running sums of the row hashes of the rows seen so far."""

    rows: int = 0
    sums: tuple[int, int] = (0, 0)

    def add(self, other: Fingerprint) -> None:
        self.rows += other.rows
        self.sums = tuple((a + b) % 2**64 for a, b in zip(self.sums, other.sums))  # type: ignore[assignment]

    def of(self, seller: str | None) -> str:
        """The fingerprint (sha256 hex) of these rows bought from ``seller``."""
        text = f"cession fingerprint 1\x1f{seller or ''}\x1f{self.rows}\x1f{self.sums[0]}\x1f{self.sums[1]}"
        return hashlib.sha256(text.encode()).hexdigest()


def row_keys(rows: pl.DataFrame) -> pl.Series:
    """Each typed row's key: seller_ref, national id, principal in grosz and due date (ISO), joined by U+001F."""
    return rows.select(
        pl.concat_str([pl.col("seller_ref").fill_null(""), pl.col("national_id").fill_null(""),
                       pl.col("principal").cast(pl.String).fill_null(""), pl.col("due_date").dt.to_string("%Y-%m-%d").fill_null("")],
                      separator="\x1f")  # fmt: skip
    ).to_series()


def fingerprint_of(rows: pl.DataFrame) -> Fingerprint:
    """The running sums of ``rows`` (typed: KEY_COLUMNS)."""
    sums = [0, 0]
    for part in row_keys(rows).cast(pl.Binary).to_frame().iter_slices(_SLICE):
        for i, hashed in enumerate(_row_hashes(part.to_series())):
            sums[i] = (sums[i] + int(hashed.sum(dtype=np.uint64))) % 2**64
    return Fingerprint(rows.height, (sums[0], sums[1]))


def _row_hashes(keys: pl.Series) -> list[np.ndarray]:
    """Two 64-bit hashes of each (non-empty) byte string of ``keys``: sum of byte x multiplier^(bytes
    after it), mod 2^64, then mixed (splitmix64's finaliser with the length folded in)."""
    import pyarrow as pa

    array = pa.concat_arrays(keys.to_arrow().chunks) if isinstance(keys.to_arrow(), pa.ChunkedArray) else keys.to_arrow()
    array = array.cast(pa.large_binary())
    if len(array) == 0:
        return [np.zeros(0, np.uint64), np.zeros(0, np.uint64)]
    offsets = np.frombuffer(array.buffers()[1], np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].astype(np.uint64)
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    lengths = ends - starts
    after = np.repeat(ends, lengths) - 1 - np.arange(len(data))  # bytes after each byte in its row
    hashes = []
    with np.errstate(over="ignore"):
        for multiplier, mix in _HASHES:
            powers = np.cumprod(np.full(int(lengths.max()), multiplier, np.uint64))
            powers = np.concatenate([np.ones(1, np.uint64), powers[:-1]])
            h = np.add.reduceat(data * powers[after], starts) + lengths.astype(np.uint64) * np.uint64(mix)
            h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            hashes.append(h ^ (h >> np.uint64(31)))
    return hashes


def overlaps(rows: pl.DataFrame, stored: pl.DataFrame, portfolio_id: str) -> pl.DataFrame:
    """OVERLAP_SCHEMA lines of ``rows`` (row + KEY_COLUMNS) whose seller_ref is a claim of
    ``stored`` (CLAIM_KEY_SCHEMA + national_id), held by ``portfolio_id``."""
    both = rows.join(stored, on="seller_ref", suffix="_stored")
    differs = pl.concat_str(
        [pl.when(~pl.col(c).eq_missing(pl.col(f"{c}_stored"))).then(pl.lit(c)) for c in KEY_COLUMNS[1:]],
        separator=", ", ignore_nulls=True,
    )  # fmt: skip
    return both.select("row", "seller_ref", pl.lit(portfolio_id).alias("portfolio_id"), "claim_id",
                       pl.when(differs != "").then(differs).alias("differs")).cast(OVERLAP_SCHEMA)  # fmt: skip


def described(found: pl.DataFrame, accepted: int, shown: int = 5) -> str:
    """The overlapping rows in one line: how many, the portfolios holding them, the first few."""
    rows = found.unique("row", keep="first").sort("row")
    held = found.group_by("portfolio_id").agg(pl.col("row").n_unique().alias("n")).sort("n", "portfolio_id", descending=[True, False])
    where = ", ".join(f"{p} ({n:,} row{'s' if n > 1 else ''})" for p, n in held.iter_rows())
    first = ", ".join(f"{r} ({ref})" for r, ref in rows.head(shown).select("row", "seller_ref").iter_rows())
    more = f" and {rows.height - shown:,} more" if rows.height > shown else ""
    if rows.height == accepted:
        return f"every one of its {accepted:,} rows is a claim already stored in portfolio {where}"
    return (f"{rows.height:,} of its {accepted:,} rows {'are claims' if rows.height > 1 else 'is a claim'} already "
            f"stored in portfolio {where}: row{'s' if rows.height > 1 else ''} {first}{more}")  # fmt: skip
