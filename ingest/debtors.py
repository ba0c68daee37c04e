"""Debtors: one debtor_id per person or company, across portfolios; probable duplicates and
name conflicts reported, never merged.

The same PESEL or NIP is the same debtor: within a file (the first accepted row's name and
address are kept) and across the store (a stored debtor keeps its id and its stored data). A row
whose name differs from the name its debtor keeps (compared as ``name_key``: case, diacritics,
punctuation and word order ignored) is still that debtor's claim, and is reported as a name
conflict with both names. A debtor without a national id is a debtor of its own; where its
normalised name and its birth date or postal code equal another debtor's (of this file or
stored), the pair is reported as a candidate for a person to decide.

Who is which debtor is decided once for the whole file (every accepted row) before anything is
written: national ids as int64 keys, one hash join, no per-batch search through the debtors met
so far. New debtors are numbered in the order of their first row in the file.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from engine.store import ingests
from ingest.identifiers import pesel_birth_date

_DIACRITICS = {"Ą": "A", "Ć": "C", "Ę": "E", "Ł": "L", "Ń": "N", "Ó": "O", "Ś": "S", "Ź": "Z", "Ż": "Z",
               "Ä": "A", "Ö": "O", "Ü": "U", "É": "E", "Á": "A", "Í": "I", "Ú": "U", "Č": "C", "Š": "S", "Ž": "Z"}  # fmt: skip
CANDIDATE_SCHEMA = {"debtor_id": pl.Int64(), "row": pl.Int64(), "name": pl.String(), "other_debtor_id": pl.Int64(),
                    "other_in": pl.String(), "match": pl.String()}  # fmt: skip
#: a row whose name is not the name its debtor keeps: kept_row is the row the kept name comes from
#: (null for a stored debtor), kept_in "this file" or "store"
CONFLICT_SCHEMA = {"national_id": pl.String(), "debtor_id": pl.Int64(), "row": pl.Int64(), "seller_ref": pl.String(),
                   "name": pl.String(), "kept_name": pl.String(), "kept_row": pl.Int64(), "kept_in": pl.String()}  # fmt: skip
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
    return pl.when(nip).then((key - _NIP_OFFSET).cast(pl.String).str.zfill(10)).otherwise(key.cast(pl.String).str.zfill(11))


def _name_hash(name: pl.Expr) -> pl.Expr:
    # 64 bits of the name as written: equal hashes are the same text but for a hash collision
    # (about 1 in 2**64 a row); rows whose hashes differ are then compared by name_key
    return name.hash(seed=_NAME_SEED)


class DebtorBook:
    """Debtor ids for the accepted rows of one ingest, in the caller's transaction: a national id
    stored or met earlier in the file keeps its id; a new one, and every debtor without one, gets
    the next id from ``first_id`` on, in the order of its first row.

    ``rows`` (row, national_id, name, seller_ref; in file order) are every accepted row; then
    ``assign`` is called on them batch by batch, in the same order."""

    def __init__(self, conn: sa.Connection, first_id: int, rows: pl.LazyFrame) -> None:
        self.conn, self.first_id = conn, first_id
        self._lonely: list[pl.DataFrame] = []
        self._done = 0
        col = pl.col
        keys = rows.select("row", key=national_key(col("national_id")), h=_name_hash(col("name")),
                           unkeyed=col("national_id").is_not_null() & national_key(col("national_id")).is_null()).collect()  # fmt: skip
        if keys.get_column("unkeyed").any():
            raise RuntimeError("a national id that is no validated PESEL or NIP reached debtor assignment")
        keyed = keys.filter(col("key").is_not_null())
        firsts = keyed.unique("key", keep="first", maintain_order=True)
        has_debtors = conn.exec_driver_sql("SELECT 1 FROM debtors LIMIT 1").first() is not None
        stored = (ingests.debtors_by_national_id(conn, firsts.select(national_id_of(col("key"))).to_series()) if has_debtors
                  else pl.DataFrame(schema={"national_id": pl.String(), "debtor_id": pl.Int64(), "name": pl.String()}))  # fmt: skip
        stored = stored.with_columns(key=national_key(col("national_id")), h=_name_hash(col("name")))
        fresh = firsts.join(stored.select("key"), on="key", how="anti")
        new = pl.concat([fresh.select("row", "key"), keys.filter(col("key").is_null()).select("row", "key")]).sort("row")
        new = new.with_row_index("debtor_id", offset=first_id).with_columns(col("debtor_id").cast(pl.Int64))
        kept = pl.concat([
            stored.select("key", "debtor_id", kept_h="h", kept_row=pl.lit(None, pl.Int64)),
            fresh.join(new.select("row", "debtor_id"), on="row").select("key", "debtor_id", kept_h="h", kept_row="row"),
        ])  # fmt: skip
        decided = (
            keys.join(kept, on="key", how="left", maintain_order="left")
            .join(new.select("row", new_id="debtor_id"), on="row", how="left", maintain_order="left")
        )  # fmt: skip
        self.debtor_id = decided.select(pl.coalesce("debtor_id", "new_id")).to_series()
        self.creates = decided.get_column("new_id").is_not_null()
        self.new, self.known = new.height, stored.height
        clashes = decided.filter(col("key").is_not_null() & (col("h") != col("kept_h")))
        self.conflicts = self._conflicts(rows, clashes.select("row", "key", "debtor_id", "kept_row"), stored)

    @staticmethod
    def _conflicts(rows: pl.LazyFrame, clashes: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
        if clashes.height == 0:
            return pl.DataFrame(schema=CONFLICT_SCHEMA)
        col = pl.col
        wanted = pl.concat([clashes.get_column("row"), clashes.get_column("kept_row").drop_nulls()]).unique()
        named = rows.filter(col("row").is_in(wanted.implode())).select("row", "seller_ref", "name").collect()
        found = (
            clashes.join(named, on="row", how="left")
            .join(named.select(kept_row="row", file_name="name"), on="kept_row", how="left")
            .join(stored.select("key", stored_name="name"), on="key", how="left")
        )  # fmt: skip
        found = found.with_columns(kept_name=pl.coalesce("file_name", "stored_name"))
        return found.filter(name_key(col("name")) != name_key(col("kept_name"))).select(
            national_id_of(col("key")).alias("national_id"), "debtor_id", "row", "seller_ref", "name", "kept_name",
            "kept_row", pl.when(col("kept_row").is_null()).then(pl.lit("store")).otherwise(pl.lit("this file")).alias("kept_in"),
        ).sort("row")  # fmt: skip

    def assign(self, rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """The next batch of the accepted rows -> (the rows with debtor_id, the new debtors they
        bring as SCHEMA.md `debtors`, their match keys)."""
        n = rows.height
        rows = rows.with_columns(self.debtor_id.slice(self._done, n).alias("debtor_id"))
        first = rows.filter(self.creates.slice(self._done, n))
        self._done += n
        birth = pl.coalesce(
            pl.col("birth_date"),
            pl.when(pl.col("debtor_kind") == "consumer").then(pesel_birth_date(pl.col("national_id"))),
        )
        new = first.with_columns(name_key(pl.col("name")).alias("name_key"), birth.alias("birth_date"))
        lonely = new.filter(pl.col("national_id").is_null())
        self._lonely.append(lonely.select("debtor_id", "row", "name", "name_key", "birth_date", "postal_code"))
        return rows, new, new.select("debtor_id", "name_key", "birth_date", "postal_code")

    def candidates(self) -> pl.DataFrame:
        """Pairs (new debtor without a national id, another debtor) with the same name key and birth
        date or postal code; called after this ingest's debtors and keys are written."""
        lonely = pl.concat(self._lonely) if self._lonely else pl.DataFrame()
        if lonely.height == 0:
            return pl.DataFrame(schema=CANDIDATE_SCHEMA)
        others = ingests.debtor_keys_by_name(self.conn, lonely.get_column("name_key")).select(
            pl.col("debtor_id").alias("other_debtor_id"), "name_key", "birth_date", "postal_code",
            other_in=pl.when(pl.col("debtor_id") >= self.first_id).then(pl.lit("this file")).otherwise(pl.lit("store")),
        )  # fmt: skip
        # two equi-joins, not one on the name alone: a common name would pair thousands with thousands
        by_birth = lonely.drop_nulls("birth_date").join(others.drop("postal_code"), on=["name_key", "birth_date"])
        by_postal = lonely.drop_nulls("postal_code").join(others.drop("birth_date"), on=["name_key", "postal_code"])
        pairs = pl.concat([
            by_birth.select("debtor_id", "row", "name", "other_debtor_id", "other_in", match=pl.lit("birth date")),
            by_postal.select("debtor_id", "row", "name", "other_debtor_id", "other_in", match=pl.lit("postal code")),
        ]).filter(pl.col("debtor_id") != pl.col("other_debtor_id"))  # fmt: skip
        pairs = pairs.group_by("debtor_id", "row", "name", "other_debtor_id", "other_in").agg(
            pl.format("name + {}", pl.col("match").sort().str.join(" + ")).alias("match"))
        # a pair of two lonely debtors of this file is one candidate, not two
        mirrored = pl.col("other_debtor_id").is_in(lonely.get_column("debtor_id").implode())
        pairs = pairs.filter(~mirrored | (pl.col("debtor_id") < pl.col("other_debtor_id")))
        return pairs.select(list(CANDIDATE_SCHEMA)).sort("debtor_id", "other_debtor_id")
