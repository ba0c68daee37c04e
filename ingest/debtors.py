"""Debtors: one debtor_id per person or company, across portfolios; probable duplicates and
name conflicts reported, never merged.

The same PESEL or NIP is the same debtor: within a file (the first row's name and address are
kept) and across the store (a stored debtor keeps its id and its stored data). A row
whose name differs from the name its debtor keeps (compared as ``name_key``: case, diacritics,
punctuation and word order ignored) is still that debtor's claim, and is reported as a name
conflict with both names. A debtor without a national id is a debtor of its own; where its
normalised name and its birth date or postal code equal another debtor's (of this file or
stored), the pair is reported as a candidate for a person to decide.

Debtors are assigned and written batch by batch while the file is read: national ids as int64
keys in one hash table (numba) for the whole ingest, so a batch costs the same however many
debtors came before it. New debtors are numbered in the order of their first row in the file; a
debtor's data come from its first row that passes the row rules (a row the whole-file rules
reject later, such as a duplicate seller_ref, may still be that row).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import numpy as np
import polars as pl
import sqlalchemy as sa
from numba import njit

from engine.domain import DebtorKind
from engine.store import ingests
from engine.validation import is_one_of
from ingest.identifiers import pesel_birth_date
from ingest.parsing import detached


class Where(StrEnum):
    """Where the other debtor of a candidate pair, or the name a debtor keeps, comes from (the
    reports' ``other_in`` and ``kept_in``)."""

    THIS_FILE = "this file"
    STORE = "store"


_DIACRITICS = {
    "Ą": "A",
    "Ć": "C",
    "Ę": "E",
    "Ł": "L",
    "Ń": "N",
    "Ó": "O",
    "Ś": "S",
    "Ź": "Z",
    "Ż": "Z",
    "Ä": "A",
    "Ö": "O",
    "Ü": "U",
    "É": "E",
    "Á": "A",
    "Í": "I",
    "Ú": "U",
    "Č": "C",
    "Š": "S",
    "Ž": "Z",
}
CANDIDATE_SCHEMA = {
    "debtor_id": pl.Int64(),
    "row": pl.Int64(),
    "name": pl.String(),
    "other_debtor_id": pl.Int64(),
    "other_in": pl.String(),
    "match": pl.String(),
}
#: a row whose name is not the name its debtor keeps: kept_row is the row the kept name comes from
#: (null for a stored debtor), kept_in where the kept name is (``Where``)
CONFLICT_SCHEMA = {
    "national_id": pl.String(),
    "debtor_id": pl.Int64(),
    "row": pl.Int64(),
    "seller_ref": pl.String(),
    "name": pl.String(),
    "kept_name": pl.String(),
    "kept_row": pl.Int64(),
    "kept_in": pl.String(),
}
#: a NIP's key is the NIP plus this (a PESEL, 11 digits, is below it): equal keys <=> equal ids
_NIP_OFFSET = 10**11
_NAME_SEED = 11


def name_key(name: pl.Expr) -> pl.Expr:
    """'  Kowalski-Nowak, Józef ' -> 'JOZEF KOWALSKI NOWAK': upper case, no diacritics or
    punctuation, words in order (so 'Jan Kowalski' and 'KOWALSKI JAN' meet)."""
    upper = name.str.to_uppercase().str.replace_many(list(_DIACRITICS), list(_DIACRITICS.values()))
    words = upper.str.replace_all(r"[^A-Z0-9]+", " ").str.strip_chars().str.split(" ")
    return words.list.sort().list.join(" ")


def national_key(national_id: pl.Expr) -> pl.Expr:
    """A validated PESEL (11 digits) or NIP (10 digits) as one int64, the NIP moved past every PESEL."""
    digits = national_id.cast(pl.Int64, strict=False)
    return pl.when(national_id.str.len_bytes() == 10).then(digits + _NIP_OFFSET).otherwise(digits)


def national_id_of(key: pl.Expr) -> pl.Expr:
    """national_key's inverse: the id's text, leading zeros included."""
    nip = key >= _NIP_OFFSET
    return (
        pl.when(nip)
        .then((key - _NIP_OFFSET).cast(pl.String).str.zfill(10))
        .otherwise(key.cast(pl.String).str.zfill(11))
    )


def _name_hash(name: pl.Expr) -> pl.Expr:
    # 64 bits of the name as written: equal hashes are the same text but for a hash collision
    # (about 1 in 2**64 a row); rows whose hashes differ are then compared by name_key
    return name.hash(seed=_NAME_SEED)


#: what ``with_match_keys`` adds to a row, and ``DebtorBook.assign`` takes away again
_MATCH_KEYS = ("_national_key", "_name_hash", "_name_key", "_key_birth_date")


#: the debtor kinds whose national id is a PESEL, which holds a birth date
PESEL_KINDS = tuple(k for k in DebtorKind if k.national_id == "PESEL")


def with_match_keys(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with what ``DebtorBook.assign`` matches them by: the national id as one int64, a
    hash of the name, the name key, the birth date for the match keys (given, or the PESEL's).
    Each comes from its row alone, so batches can get them on any thread, in any order."""
    col = pl.col
    birth = pl.coalesce(
        col("birth_date"), pl.when(is_one_of("debtor_kind", PESEL_KINDS)).then(pesel_birth_date(col("national_id")))
    )
    return rows.with_columns(
        national_key(col("national_id")).alias("_national_key"),
        _name_hash(col("name")).alias("_name_hash"),
        name_key(col("name")).alias("_name_key"),
        birth.alias("_key_birth_date"),
    )


@njit(cache=True, nogil=True, fastmath=False)
def _find_or_add(slots, keys, used, batch):  # pragma: no cover - numba
    """Open addressing (linear probing) over ``slots`` (a power of two long, -1 empty, else an
    ordinal into ``keys``): each key of ``batch`` -> its ordinal, added as ``used``, ``used`` + 1,
    ... when new; (ordinals, whether this row added its key, the ordinals now used)."""
    mask = slots.shape[0] - 1
    found = np.empty(batch.shape[0], np.int64)
    added = np.zeros(batch.shape[0], np.bool_)
    for i in range(batch.shape[0]):
        key = batch[i]
        at = np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & mask
        while True:
            ordinal = slots[at]
            if ordinal == -1:
                slots[at], keys[used], found[i], added[i] = used, key, used, True
                used += 1
                break
            if keys[ordinal] == key:
                found[i] = ordinal
                break
            at = (at + 1) & mask
    return found, added, used


class _Met:
    """The national ids met so far in one ingest (int64 keys), each with the debtor it is, the
    hash of the name that debtor keeps and the row that name comes from (-1: stored)."""

    def __init__(self, expected: int = 0, smallest: int = 1 << 15) -> None:
        size = max(expected, smallest)
        self.slots = np.full(self._capacity(size), -1, np.int64)
        self.used = 0
        self.keys = np.empty(size, np.int64)
        self.debtor_id = np.empty(size, np.int64)
        self.kept_hash = np.empty(size, np.uint64)
        self.kept_row = np.empty(size, np.int64)

    @staticmethod
    def _capacity(keys: int) -> int:
        """Slots for ``keys`` keys at most 70 % full (short probes): a power of two."""
        return 1 << max(1, int(np.ceil(np.log2(max(keys, 1) / 0.7))))

    def find_or_add(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        need = self.used + len(keys)
        if need > len(self.keys):
            size = max(need, len(self.keys) * 3 // 2)
            for name in ("keys", "debtor_id", "kept_hash", "kept_row"):
                old = getattr(self, name)
                grown = np.empty(size, old.dtype)
                grown[: self.used] = old[: self.used]
                setattr(self, name, grown)
        if self._capacity(need) > len(self.slots):
            self.slots = np.full(self._capacity(need), -1, np.int64)
            _find_or_add(self.slots, self.keys.copy(), 0, self.keys[: self.used])
        found, added, self.used = _find_or_add(self.slots, self.keys, self.used, keys)
        return found, added


class DebtorBook:
    """Debtor ids handed out over the batches of one ingest, in the caller's transaction, as the
    file is read: a national id stored or met earlier in the file keeps its id; a new one, and
    every debtor without one, gets the next id from ``first_id`` on, in the order of its first row.

    Rows come batch by batch in file order (those that pass the row rules); a row the whole-file
    rules reject afterwards may have brought a debtor: ``settle`` takes away those no accepted row
    refers to."""

    def __init__(self, conn: sa.Connection, first_id: int, expected_rows: int | None = None) -> None:
        self.conn, self.first_id, self.next_id = conn, first_id, first_id
        self.store_has_debtors = conn.exec_driver_sql("SELECT 1 FROM debtors LIMIT 1").first() is not None
        self.new = self.known = 0
        self._met = _Met(expected_rows or 0)
        self._lonely: list[pl.DataFrame] = []
        self._clashes: list[pl.DataFrame] = []
        self._stored: list[pl.DataFrame] = []

    def assign(
        self, rows: pl.DataFrame, before_lookup: Callable[[], None] | None = None
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """The next batch of rows (``with_match_keys`` of them, or they get them here) -> (the rows
        with debtor_id, the new debtors they bring as docs/data-contract.md `debtors`, their match keys). ``before_lookup`` is called before the store is
        asked about national ids (the caller's writes must be done by then)."""
        col = pl.col
        if "_national_key" not in rows.columns:
            rows = with_match_keys(rows)
        keyed = rows.select(
            key=col("_national_key"),
            h=col("_name_hash"),
            unkeyed=col("national_id").is_not_null() & col("_national_key").is_null(),
        )
        if keyed.get_column("unkeyed").any():
            raise RuntimeError("a national id that is no validated PESEL or NIP reached debtor assignment")
        has_key = keyed.get_column("key").is_not_null().to_numpy()
        at = np.flatnonzero(has_key)
        keys = keyed.get_column("key").to_numpy()[at].astype(np.int64)
        hashes = keyed.get_column("h").to_numpy()
        row_numbers = rows.get_column("row").to_numpy()
        met = self._met
        ordinal, added = met.find_or_add(keys)
        stored_at = np.zeros(len(at), np.bool_)
        if self.store_has_debtors and added.any():
            if before_lookup is not None:
                before_lookup()
            national = rows.get_column("national_id").gather(at[added])
            stored = ingests.debtors_by_national_id(self.conn, national)
            if stored.height:
                stored = stored.with_columns(key=national_key(col("national_id")), h=_name_hash(col("name")))
                self._stored.append(stored.select("key", "name"))
                stored_ordinal, _, _ = _find_or_add(met.slots, met.keys, met.used, stored.get_column("key").to_numpy())
                met.debtor_id[stored_ordinal] = stored.get_column("debtor_id").to_numpy()
                met.kept_hash[stored_ordinal] = stored.get_column("h").to_numpy()
                met.kept_row[stored_ordinal] = -1
                self.known += stored.height
                is_stored = np.zeros(met.used, np.bool_)
                is_stored[stored_ordinal] = True
                stored_at = added & is_stored[ordinal]
        # new debtors: the rows that met a national id first (and it is not stored), and rows without one
        creates = np.zeros(rows.height, np.bool_)
        creates[at[added & ~stored_at]] = True
        creates[~has_key] = True
        new_ids = np.full(rows.height, -1, np.int64)
        new_ids[creates] = np.arange(self.next_id, self.next_id + int(creates.sum()), dtype=np.int64)
        self.next_id += int(creates.sum())
        self.new += int(creates.sum())
        fresh = at[added & ~stored_at]
        met.debtor_id[ordinal[added & ~stored_at]] = new_ids[fresh]
        met.kept_hash[ordinal[added & ~stored_at]] = hashes[fresh]
        met.kept_row[ordinal[added & ~stored_at]] = row_numbers[fresh]
        debtor_id = new_ids
        debtor_id[at] = met.debtor_id[ordinal]
        clash = hashes[at] != met.kept_hash[ordinal]
        if clash.any():
            kept_row = met.kept_row[ordinal[clash]]
            self._clashes.append(
                pl.DataFrame(
                    {
                        "row": row_numbers[at[clash]],
                        "key": keys[clash],
                        "debtor_id": debtor_id[at[clash]],
                        "kept_row": kept_row,
                    }
                ).with_columns(pl.when(col("kept_row") >= 0).then(col("kept_row")).alias("kept_row"))
            )
        rows = rows.with_columns(pl.Series("debtor_id", debtor_id, dtype=pl.Int64))
        new = rows.filter(pl.Series(creates)).with_columns(
            col("_name_key").alias("name_key"), col("_key_birth_date").alias("birth_date")
        )
        lonely = new.filter(col("national_id").is_null()).select(
            "debtor_id", "row", "name", "name_key", "birth_date", "postal_code"
        )
        self._lonely.append(detached(lonely))
        return (
            rows.drop(_MATCH_KEYS),
            new.drop(_MATCH_KEYS),
            new.select("debtor_id", "name_key", "birth_date", "postal_code"),
        )

    def settle(self, kept_ids: pl.Series, kept_rows: pl.Series, rows: Callable[[pl.Series], pl.DataFrame]) -> pl.Series:
        """After the whole-file rules: ``kept_ids`` the debtor_id of every accepted row, ``kept_rows``
        their row numbers, ``rows(numbers)`` the rows assigned of those numbers (row, seller_ref, name). The debtors this
        ingest made that no accepted row refers to (the caller deletes them); the counts and the
        name conflicts from here on speak of the accepted rows only."""
        made = np.zeros(self.next_id - self.first_id, np.bool_)
        ids = kept_ids.to_numpy()
        made[ids[ids >= self.first_id] - self.first_id] = True
        unused = pl.Series("debtor_id", np.flatnonzero(~made) + self.first_id, dtype=pl.Int64)
        self.new = int(made.sum())
        self.known = int(pl.Series(ids[ids < self.first_id]).n_unique()) if (ids < self.first_id).any() else 0
        self._lonely = [f.filter(~pl.col("debtor_id").is_in(unused.implode())) for f in self._lonely]
        clashes = (
            pl.concat(self._clashes)
            if self._clashes
            else pl.DataFrame(schema={"row": pl.Int64, "key": pl.Int64, "debtor_id": pl.Int64, "kept_row": pl.Int64})
        )
        clashes = clashes.filter(pl.col("row").is_in(kept_rows.implode()))
        stored = pl.concat(self._stored) if self._stored else pl.DataFrame(schema={"key": pl.Int64, "name": pl.String})
        self.conflicts = self._conflicts(rows, clashes, stored)
        return unused

    @staticmethod
    def _conflicts(
        rows: Callable[[pl.Series], pl.DataFrame], clashes: pl.DataFrame, stored: pl.DataFrame
    ) -> pl.DataFrame:
        if clashes.height == 0:
            return pl.DataFrame(schema=CONFLICT_SCHEMA)
        col = pl.col
        wanted = pl.concat([clashes.get_column("row"), clashes.get_column("kept_row").drop_nulls()]).unique()
        named = rows(wanted).select("row", "seller_ref", "name")
        found = (
            clashes.join(named, on="row", how="left")
            .join(named.select(kept_row="row", file_name="name"), on="kept_row", how="left")
            .join(stored.select("key", stored_name="name"), on="key", how="left")
        )
        found = found.with_columns(kept_name=pl.coalesce("file_name", "stored_name"))
        return (
            found.filter(name_key(col("name")) != name_key(col("kept_name")))
            .select(
                national_id_of(col("key")).alias("national_id"),
                "debtor_id",
                "row",
                "seller_ref",
                "name",
                "kept_name",
                "kept_row",
                pl.when(col("kept_row").is_null())
                .then(pl.lit(Where.STORE))
                .otherwise(pl.lit(Where.THIS_FILE))
                .alias("kept_in"),
            )
            .sort("row")
        )

    def candidates(self) -> pl.DataFrame:
        """Pairs (new debtor without a national id, another debtor) with the same name key and birth
        date or postal code; called after this ingest's debtors and keys are written."""
        lonely = pl.concat(self._lonely) if self._lonely else pl.DataFrame()
        if lonely.height == 0:
            return pl.DataFrame(schema=CANDIDATE_SCHEMA)
        others = ingests.debtor_keys_matching(
            self.conn, lonely.select("debtor_id", "name_key", "birth_date", "postal_code")
        ).select(
            pl.col("debtor_id").alias("other_debtor_id"),
            "name_key",
            "birth_date",
            "postal_code",
            other_in=pl.when(pl.col("debtor_id") >= self.first_id)
            .then(pl.lit(Where.THIS_FILE))
            .otherwise(pl.lit(Where.STORE)),
        )
        # two equi-joins, not one on the name alone: a common name would pair thousands with thousands
        by_birth = lonely.drop_nulls("birth_date").join(others.drop("postal_code"), on=["name_key", "birth_date"])
        by_postal = lonely.drop_nulls("postal_code").join(others.drop("birth_date"), on=["name_key", "postal_code"])
        pairs = pl.concat(
            [
                by_birth.select("debtor_id", "row", "name", "other_debtor_id", "other_in", match=pl.lit("birth date")),
                by_postal.select(
                    "debtor_id", "row", "name", "other_debtor_id", "other_in", match=pl.lit("postal code")
                ),
            ]
        ).filter(pl.col("debtor_id") != pl.col("other_debtor_id"))
        pairs = pairs.group_by("debtor_id", "row", "name", "other_debtor_id", "other_in").agg(
            pl.format("name + {}", pl.col("match").sort().str.join(" + ")).alias("match")
        )
        # a pair of two lonely debtors of this file is one candidate, not two
        mirrored = pl.col("other_debtor_id").is_in(lonely.get_column("debtor_id").implode())
        pairs = pairs.filter(~mirrored | (pl.col("debtor_id") < pl.col("other_debtor_id")))
        return pairs.select(list(CANDIDATE_SCHEMA)).sort("debtor_id", "other_debtor_id")
