"""Claims and events into the store from Parquet files in docs/data-contract.md's shape, in one
transaction (``engine.store.records.load``): every row inserted, already stored or rejected with
its reason; a file that breaks the contract is refused whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from api.states.files import readable_parquet
from engine.store import records
from engine.store.records import Written


@dataclass(frozen=True)
class Loaded:
    written: dict[str, Written]  # per table: rows, inserted, already stored, rejects

    @property
    def rejects(self) -> pl.DataFrame:
        """Every rejected row of every table (table, key, reason)."""
        return pl.concat([w.rejects for w in self.written.values()])

    def summary(self) -> dict:
        return {table: w.summary() for table, w in self.written.items()}


def load(*, store: sa.Engine, claims: Path, events: Path | None = None, who: str | None = None) -> Loaded:
    """Store the claims of ``claims`` (their portfolios created as needed) and the events of
    ``events``; loading a file again stores nothing twice."""
    for path in (claims, events):
        if path is not None:
            readable_parquet(path)
    claims_frame = pl.read_parquet(claims)
    events_frame = pl.read_parquet(events) if events is not None else None
    return Loaded(records.load(store, claims_frame, events_frame, who=who))


def load_debtors(*, store: sa.Engine, debtors: pl.DataFrame, who: str | None = None) -> Written:
    """Store the debtors (docs/data-contract.md ``debtors``) whose ids are new; stored ones are kept."""
    return records.load_debtors(store, debtors, who=who)


#: claim_state's money columns (grosz inside; decimal strings in PLN in the API's JSON)
MONEY = (
    "principal_due",
    "interest_due",
    "costs_due",
    "total_due",
    "interest_accrued",
    "interest_time_barred",
    "paid_costs",
    "paid_interest",
    "paid_principal",
    "overpaid",
)


def computed_state(*, store: sa.Engine, claim_id: int, as_of, allow_stale_rates: bool = True) -> dict:
    """One claim's claim_state row as of ``as_of``, computed now by the engine from the claim and
    all its stored events (``NotFound`` for an unknown claim)."""
    from engine.store.claims import claim_and_events

    with store.connect() as conn:
        found = claim_and_events(conn, claim_id)
    return state_of_rows(found=found, claim_id=claim_id, as_of=as_of, allow_stale_rates=allow_stale_rates)


def state_of_rows(
    *, found: tuple[dict, list[dict]] | None, claim_id: int, as_of, allow_stale_rates: bool = True
) -> dict:
    """The claim_state row the engine computes from one claim's rows (``claim_and_events``; None:
    ``NotFound``): packed straight from the rows (engine/claim_rows.py), or, for rows that are not
    plainly within the data contract, by ``compute_state`` over their frames (its error, or the
    same state)."""
    from engine.claim_rows import state_of_rows as computed
    from engine.errors import NotFound
    from engine.store.claims import frames_of

    if found is None:
        raise NotFound(f"claim {claim_id}: not found")
    claim, events = found
    row = computed(claim, events, as_of, allow_stale_rates=allow_stale_rates)
    if row is None:
        return state_of(
            frames=frames_of(claim, events), claim_id=claim_id, as_of=as_of, allow_stale_rates=allow_stale_rates
        )
    row["portfolio_id"] = claim["portfolio_id"]
    return row


def state_of(*, frames, claim_id: int, as_of, allow_stale_rates: bool = True) -> dict:
    """The claim_state row the engine computes from one claim's frames (``claim_frames``; None:
    ``NotFound``)."""
    from engine.errors import NotFound
    from engine.kernel_run import compute_state

    if frames is None:
        raise NotFound(f"claim {claim_id}: not found")
    claims, events = frames
    table = compute_state(claims, events, as_of, allow_stale_rates=allow_stale_rates)
    row = table.to_pylist()[0]
    row["portfolio_id"] = claims.item(0, "portfolio_id")
    return row


def detail(*, store: sa.Engine, claim_id: int, who: str, as_of=None) -> dict:
    """A claim as the store holds it: its row, its debtor (personal data: the read is audited), its
    events, the current stored state, its placements and its limitation explained as of ``as_of``
    (default today) (``NotFound`` for an unknown claim)."""
    from engine.errors import NotFound
    from engine.store import claims as repository
    from engine.store.records import AuditAction, audit

    with store.begin() as conn:
        claim = repository.claim_row(conn, claim_id)
        if claim is None:
            raise NotFound(f"claim {claim_id}: not found")
        debtor = repository.debtor_row(conn, claim["debtor_id"])
        audit(conn, AuditAction.READ_DEBTOR, f"claim:{claim_id}", {"debtor_id": claim["debtor_id"]}, who)
        found = {
            "claim": claim,
            "debtor": debtor,
            "events": repository.event_rows(conn, claim_id),
            "state": repository.current_state_row(conn, claim_id),
            "placements": repository.placement_rows(conn, claim_id),
            "contacts": _contact_history(conn, claim_id, claim["debtor_id"]),
        }
    from datetime import date

    found["limitation"] = limitation(claim=claim, events=found["events"], as_of=as_of or date.today())
    return found


def _contact_history(conn: sa.Connection, claim_id: int, debtor_id: int) -> dict:
    """The claim's contacts (newest first, with their delivery results and the rule of each held
    one), and its debtor's objections and doubtful addresses (contacts/)."""
    from contacts import store as contacts

    return {
        "contacts": contacts.history(conn, claim_id=claim_id),
        "objections": contacts.objections(conn, debtor_id),
        "doubtful_addresses": contacts.doubtful(conn, debtor_id),
    }


def portfolios(*, store: sa.Engine) -> list[dict]:
    """Every portfolio with its count of claims and its current run (id, as_of, status)."""
    from engine.store import claims as repository

    with store.connect() as conn:
        return repository.portfolio_rows(conn)


def portfolio(*, store: sa.Engine, portfolio_id: str) -> dict:
    """A portfolio with its count of claims, its current run and that run's totals, and its ingests."""
    from engine.errors import NotFound
    from engine.store import claims as repository

    with store.connect() as conn:
        found = repository.portfolio_rows(conn, portfolio_id)
        if not found:
            raise NotFound(f"portfolio {portfolio_id!r}: not found")
        ingests = repository.ingest_rows(conn, portfolio_id)
    from engine.money import pln

    for ingest in ingests:
        ingest["principal"], ingest["purchase_price"] = pln(ingest["principal"]), pln(ingest["purchase_price"])
    return found[0] | {"ingests": ingests}


def limitation(*, claim: dict, events: list[dict], as_of) -> dict:
    """A stored claim's limitation as of ``as_of``, step by step, each step with the article or
    resolution behind it (``engine.limitation.explain_limitation``, what `cession limitation`
    prints): from its due date, kind, years and title_date, and its limitation events that count
    (a reversal on or before ``as_of`` cancels the event it names)."""
    from engine.domain import LIMITATION_EVENT_KINDS, EventKind
    from engine.limitation import explain_limitation

    reversed_ = {e["reverses"] for e in events if e["kind"] == EventKind.REVERSAL and e["event_date"] <= as_of}
    counted = [
        (e["kind"], e["event_date"])
        for e in events
        if e["kind"] in {k.value for k in LIMITATION_EVENT_KINDS}
        and e["event_id"] not in reversed_
        and e["event_date"] <= as_of
    ]
    result = explain_limitation(
        claim["due_date"],
        claim["limitation_kind"],
        as_of=as_of,
        years=claim["limitation_years"],
        title=claim["title_date"],
        events=counted,
    )
    return {
        "as_of": result.as_of,
        "limitation_date": result.limitation_date,
        "time_barred": result.time_barred,
        "rule_set": result.rule_set,
        "steps": [
            {"day": s.day, "what": s.what, "effect": s.effect, "rule": s.rule, "end": s.end, "pending": s.pending}
            for s in result.steps
        ],
    }
