"""Debtors: one debtor_id per person or company, across portfolios, and probable duplicates
reported, never merged.

The same PESEL or NIP is the same debtor: within a file (the first row's name and address are
kept) and across the store (a stored debtor keeps its id and its stored data). A debtor without
a national id is a debtor of its own; where its normalised name and its birth date or postal code
equal another debtor's (of this file or stored), the pair is reported as a candidate for a person
to decide.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Assigned:
    claims: pl.DataFrame  # the accepted rows with debtor_id
    new_debtors: pl.DataFrame  # SCHEMA.md `debtors` rows to store
    new_keys: pl.DataFrame  # their match keys
    stored_debtors: int  # national ids found in the store
    candidates: pl.DataFrame  # probable duplicates (CANDIDATE_SCHEMA)


def assign(conn: sa.Connection, rows: pl.DataFrame, first_id: int) -> Assigned:
    """debtor_ids for accepted rows, new ids from ``first_id`` on (in the caller's transaction)."""
    birth = pl.coalesce(
        pl.col("birth_date"),
        pl.when(pl.col("debtor_kind") == "consumer").then(pesel_birth_date(pl.col("national_id"))),
    )
    rows = rows.with_columns(name_key(pl.col("name")).alias("name_key"), birth.alias("birth_date"))
    with_id = rows.filter(pl.col("national_id").is_not_null()).unique("national_id", keep="first", maintain_order=True)
    stored = ingests.debtors_by_national_id(conn, with_id.get_column("national_id"))
    fresh = with_id.join(stored, on="national_id", how="anti", maintain_order="left")
    without_id = rows.filter(pl.col("national_id").is_null())
    new = pl.concat([fresh, without_id]).with_row_index("debtor_id", offset=first_id)
    new = new.with_columns(pl.col("debtor_id").cast(pl.Int64))
    by_national = pl.concat([stored, new.filter(pl.col("national_id").is_not_null()).select("national_id", "debtor_id")])
    by_row = new.filter(pl.col("national_id").is_null()).select("row", pl.col("debtor_id").alias("debtor_of_row"))
    claims = (
        rows.join(by_national, on="national_id", how="left", maintain_order="left")
        .join(by_row, on="row", how="left", maintain_order="left")
        .with_columns(pl.coalesce("debtor_id", "debtor_of_row").alias("debtor_id"))
        .drop("debtor_of_row")
    )
    keys = new.select("debtor_id", "name_key", "birth_date", "postal_code")
    return Assigned(claims, new, keys, stored.height, _candidates(conn, new))


def _candidates(conn: sa.Connection, new: pl.DataFrame) -> pl.DataFrame:
    """Pairs (new debtor, other debtor) with the same name key and birth date or postal code,
    where at least the new one has no national id to tell them apart."""
    lonely = new.filter(pl.col("national_id").is_null())
    if lonely.height == 0:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    here = new.select("debtor_id", "name_key", "birth_date", "postal_code", other_in=pl.lit("this file"))
    there = ingests.debtor_keys_by_name(conn, lonely.get_column("name_key")).with_columns(other_in=pl.lit("store"))
    others = pl.concat([here, there]).rename({"debtor_id": "other_debtor_id"})
    mine = lonely.select("debtor_id", "row", "name", "name_key", "birth_date", "postal_code")
    # two equi-joins, not one on the name alone: a common name would pair thousands with thousands
    by_birth = mine.drop_nulls("birth_date").join(others.drop("postal_code"), on=["name_key", "birth_date"])
    by_postal = mine.drop_nulls("postal_code").join(others.drop("birth_date"), on=["name_key", "postal_code"])
    pairs = pl.concat([by_birth.select("debtor_id", "row", "name", "other_debtor_id", "other_in", match=pl.lit("name + birth date")),
                       by_postal.select("debtor_id", "row", "name", "other_debtor_id", "other_in", match=pl.lit("name + postal code"))])
    pairs = pairs.filter(pl.col("debtor_id") != pl.col("other_debtor_id"))
    pairs = pairs.group_by("debtor_id", "row", "name", "other_debtor_id", "other_in").agg(pl.col("match").sort().str.join(" / "))
    # a pair of two lonely debtors of this file is one candidate, not two
    mirrored = (pl.col("other_in") == "this file") & pl.col("other_debtor_id").is_in(lonely.get_column("debtor_id").implode())
    pairs = pairs.filter(~mirrored | (pl.col("debtor_id") < pl.col("other_debtor_id")))
    return pairs.select(list(CANDIDATE_SCHEMA)).sort("debtor_id", "other_debtor_id")
