"""Debtors: one debtor_id per person or company, across portfolios, and probable duplicates
reported, never merged.

The same PESEL or NIP is the same debtor: within a file (the first row's name and address are
kept) and across the store (a stored debtor keeps its id and its stored data). A debtor without
a national id is a debtor of its own; where its normalised name and its birth date or postal code
equal another debtor's (of this file or stored), the pair is reported as a candidate for a person
to decide.
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


def name_key(name: pl.Expr) -> pl.Expr:
    """'  Kowalski-Nowak, Józef ' -> 'JOZEF KOWALSKI NOWAK': upper case, no diacritics or
    punctuation, words in order (so 'Jan Kowalski' and 'KOWALSKI JAN' meet)."""
    upper = name.str.to_uppercase().str.replace_many(list(_DIACRITICS), list(_DIACRITICS.values()))
    words = upper.str.replace_all(r"[^A-Z0-9]+", " ").str.strip_chars().str.split(" ")
    return words.list.sort().list.join(" ")


class DebtorBook:
    """Debtor ids handed out over the batches of one ingest, in the caller's transaction: a
    national id met before (earlier in this file, or stored) keeps its id; a new one, and every
    debtor without one, gets the next id from ``first_id`` on."""

    def __init__(self, conn: sa.Connection, first_id: int) -> None:
        self.conn, self.first_id, self.next_id = conn, first_id, first_id
        self.seen = pl.DataFrame(schema={"national_id": pl.String(), "debtor_id": pl.Int64()})
        self.store_has_debtors = conn.exec_driver_sql("SELECT 1 FROM debtors LIMIT 1").first() is not None
        self.new = self.known = 0
        self._lonely: list[pl.DataFrame] = []

    def assign(self, rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """(the rows with debtor_id, new debtors as SCHEMA.md `debtors`, their match keys)."""
        birth = pl.coalesce(
            pl.col("birth_date"),
            pl.when(pl.col("debtor_kind") == "consumer").then(pesel_birth_date(pl.col("national_id"))),
        )
        rows = rows.with_columns(name_key(pl.col("name")).alias("name_key"), birth.alias("birth_date"))
        ids = rows.get_column("national_id").drop_nulls().unique()
        met = self.seen.filter(pl.col("national_id").is_in(ids.implode()))
        first_rows = rows.filter(pl.col("national_id").is_not_null()).unique("national_id", keep="first", maintain_order=True)
        unmet = first_rows.filter(~pl.col("national_id").is_in(met.get_column("national_id").implode()))
        stored = (ingests.debtors_by_national_id(self.conn, unmet.get_column("national_id")) if self.store_has_debtors
                  else pl.DataFrame(schema=self.seen.schema))  # fmt: skip
        fresh = unmet.filter(~pl.col("national_id").is_in(stored.get_column("national_id").implode()))
        new = pl.concat([fresh, rows.filter(pl.col("national_id").is_null())]).with_row_index("debtor_id", offset=self.next_id)
        new = new.with_columns(pl.col("debtor_id").cast(pl.Int64))
        self.next_id += new.height
        self.new, self.known = self.new + new.height, self.known + stored.height
        with_id = new.filter(pl.col("national_id").is_not_null()).select("national_id", "debtor_id")
        self.seen = pl.concat([self.seen, stored.select(self.seen.columns), with_id], rechunk=False)
        by_national = pl.concat([met, stored.select(self.seen.columns), with_id])
        lonely = new.filter(pl.col("national_id").is_null())
        self._lonely.append(lonely.select("debtor_id", "row", "name", "name_key", "birth_date", "postal_code"))
        claims = (
            rows.join(by_national, on="national_id", how="left", maintain_order="left")
            .join(lonely.select("row", pl.col("debtor_id").alias("debtor_of_row")), on="row", how="left", maintain_order="left")
            .with_columns(pl.coalesce("debtor_id", "debtor_of_row").alias("debtor_id"))
            .drop("debtor_of_row")
        )  # fmt: skip
        return claims, new, new.select("debtor_id", "name_key", "birth_date", "postal_code")

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
