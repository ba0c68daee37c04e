"""What a letter says: the data a template is rendered with, read from the store and computed by
the engine for the letter's day. The amounts are the engine's claim_state of the claim as of that
day (principal, interest to the day included with its basis and rate, costs), to the grosz: the
same computation `cession run` and `cession explain` make.

The data is kept with the letter (``contacts.data``): rendering it again with the stored template
version gives the same bytes."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from pathlib import Path

import polars as pl
import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field

from contacts.rules import ContactRulesError
from contacts.vocabulary import Template
from engine.domain import DebtorKind, InterestBasis
from engine.store.bulk import read_frame

DATA = Path(__file__).with_name("data")
DEFAULT_PURCHASER = DATA / "purchaser.yaml"
#: claim ids per query of the letters' claims and events
CHUNK = 5_000


class Purchaser(BaseModel):
    """Who the letters come from (contacts/data/purchaser.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    short_name: str = Field(min_length=1)
    street: str
    postal_code: str = Field(pattern=r"^\d{2}-\d{3}$")
    city: str
    registration: str
    phone: str
    email: str
    hours: str
    data_officer: str
    pay_within_days: int = Field(7, ge=1, le=90)


def purchaser(path: Path | None = None) -> Purchaser:
    from allocation import yamlfile
    from allocation.errors import AllocationFileError

    try:
        found, _ = yamlfile.load(Purchaser, path or DEFAULT_PURCHASER)
    except AllocationFileError as e:
        raise ContactRulesError(str(e)) from None
    return found


@cache
def basis_words() -> dict[str, str]:
    return yaml.safe_load((DATA / "interest_bases.yaml").read_text(encoding="utf-8"))


def rate_on(basis: str, contractual_rate_bp: int | None, day: date) -> int | None:
    """The yearly rate (bp) a claim's interest runs at on ``day``: its basis' table, or its own
    contractual rate capped by maximum late interest (None: no interest)."""
    from engine.rules.loader import load_rules

    b = InterestBasis(basis)
    if b.rates is None:
        return None
    table = load_rules().rates[b.value if b.value in load_rules().rates else b.rates.table]
    rate = table.rate_on(day)
    if b.capped and rate is not None:
        return min(contractual_rate_bp or 0, rate)
    return rate


LETTER_COLUMNS = {
    "claim_id": pl.Int64,
    "portfolio_id": pl.String,
    "seller_ref": pl.String,
    "due_date": pl.Date,
    "purchase_date": pl.Date,
    "interest_basis": pl.String,
    "contractual_rate_bp": pl.Int64,
    "debtor_kind": pl.String,
    "debtor_id": pl.Int64,
    "name": pl.String,
    "street": pl.String,
    "postal_code": pl.String,
    "city": pl.String,
    "email": pl.String,
    "phone": pl.String,
    "seller": pl.String,
}


def _in(ids: list[int]) -> str:
    return "(" + ", ".join(str(int(i)) for i in ids) + ")"


def claims_of(conn: sa.Connection, claim_ids: list[int]) -> pl.DataFrame:
    """The claims, their debtors' names and addresses and their sellers (LETTER_COLUMNS)."""
    parts = []
    for first in range(0, len(claim_ids), CHUNK):
        ids = _in(claim_ids[first : first + CHUNK])
        parts.append(
            read_frame(
                conn,
                "SELECT c.claim_id, c.portfolio_id, c.seller_ref, c.due_date, c.purchase_date, c.interest_basis, "
                "c.contractual_rate_bp, c.debtor_kind, d.debtor_id, d.name, d.street, d.postal_code, d.city, d.email, "
                "d.phone, COALESCE(p.seller, p.name, c.portfolio_id) AS seller FROM claims c "
                "JOIN debtors d ON d.debtor_id = c.debtor_id LEFT JOIN portfolios p ON p.portfolio_id = c.portfolio_id "
                f"WHERE c.claim_id IN {ids}",
                LETTER_COLUMNS,
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=LETTER_COLUMNS)


def amounts_on(conn: sa.Connection, claim_ids: list[int], day: date, *, allow_stale_rates: bool) -> pl.DataFrame:
    """The engine's claim_state of ``claim_ids`` as of ``day``, from their stored claims and events."""
    from engine.kernel_run import compute_state
    from engine.store.claims import CLAIM_SCHEMA, EVENT_SCHEMA

    claims, events = [], []
    for first in range(0, len(claim_ids), CHUNK):
        ids = _in(claim_ids[first : first + CHUNK])
        claims.append(
            read_frame(conn, f"SELECT {', '.join(CLAIM_SCHEMA)} FROM claims WHERE claim_id IN {ids}", CLAIM_SCHEMA)
        )
        events.append(
            read_frame(conn, f"SELECT {', '.join(EVENT_SCHEMA)} FROM events WHERE claim_id IN {ids}", EVENT_SCHEMA)
        )
    if not claims:
        return pl.DataFrame()
    state = compute_state(pl.concat(claims), pl.concat(events), day, allow_stale_rates=allow_stale_rates)
    return pl.from_arrow(state)


def facts(
    conn: sa.Connection, contacts: pl.DataFrame, day: date, accounts: pl.DataFrame, *, allow_stale_rates: bool
) -> pl.DataFrame:
    """``contacts`` (contact_id, claim_id, template, ...) with what their letters say."""
    ids = contacts["claim_id"].unique().sort().to_list()
    state = amounts_on(conn, ids, day, allow_stale_rates=allow_stale_rates)
    return (
        contacts.join(claims_of(conn, ids).drop("debtor_id"), on="claim_id", how="left")
        .join(
            state.select(
                "claim_id",
                "principal_due",
                "interest_due",
                "costs_due",
                "total_due",
                "interest_time_barred",
                "time_barred",
                "limitation_date",
            ),
            on="claim_id",
            how="left",
        )
        .join(accounts.select("debtor_id", "nrb"), on="debtor_id", how="left")
    )


def data_of(row: dict, who: Purchaser, day: date, title: str) -> dict:
    """A letter's data (JSON: dates as ISO text, amounts in grosz) from a row of ``facts``."""
    limitation_safe = bool(row["time_barred"]) and row["debtor_kind"] == DebtorKind.CONSUMER.value
    return {
        "template": row["template"],
        "title": title,
        "letter": {
            "letter_id": row["contact_id"],
            "date": day.isoformat(),
            "pay_within_days": who.pay_within_days,
            "pay_by": (day + timedelta(days=who.pay_within_days)).isoformat(),
        },
        "purchaser": who.model_dump(),
        "debtor": {k: row[k] for k in ("debtor_id", "debtor_kind", "name", "street", "postal_code", "city")},
        "claim": {
            "claim_id": row["claim_id"],
            "portfolio_id": row["portfolio_id"],
            "seller_ref": row["seller_ref"],
            "seller": row["seller"],
            "purchase_date": row["purchase_date"].isoformat(),
            "due_date": row["due_date"].isoformat(),
            "limitation_date": None if row["limitation_date"] is None else row["limitation_date"].isoformat(),
        },
        "amounts": {
            "as_of": day.isoformat(),
            "principal": row["principal_due"],
            "interest": row["interest_due"],
            "costs": row["costs_due"],
            "total": row["total_due"],
            "interest_time_barred": row["interest_time_barred"] or 0,
            "basis": row["interest_basis"],
            "basis_pl": basis_words()[row["interest_basis"]],
            "rate_bp": rate_on(row["interest_basis"], row["contractual_rate_bp"], day),
        },
        "account": row["nrb"],
        "time_barred": bool(row["time_barred"]),
        "limitation_safe": limitation_safe,
    }


def title_of(version, template: str, limitation_safe: bool) -> str:
    return version.title(Template(template).value, limitation_safe)
