"""Allocation over the store: a day's decisions (written in one transaction unless a dry run),
the segments and their scores, the placements (with what they brought and the commission),
recalls on demand, and the explanation of one claim's decision.

The strategy is a file (``--strategy``); without one, ``CESSION_STRATEGY``, else the shipped
example (allocation/examples/strategy.yaml).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from allocation import pool as pools
from allocation import results
from allocation import store as allocation_store
from allocation.decide import Allocation, Book, decide, rule_conditions, segmented
from allocation.errors import PlacementError
from allocation.predicates import Predicates
from allocation.scores import calibration, scores_as_of
from allocation.strategy import Strategy, load_strategy
from engine.domain import RecallReason

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parents[2] / "allocation" / "examples"


def _strategy_file(given: Path | None) -> Path:
    if given is not None:
        return given
    from engine.settings import STRATEGY, read

    return Path(read(STRATEGY).strategy or EXAMPLES / "strategy.yaml")


def _strategy(path: Path | None) -> Strategy:
    """The strategy at ``path`` (or the default), validated; its warnings are logged."""
    loaded = load_strategy(_strategy_file(path))
    for warning in loaded.warnings:
        log.warning("%s", warning)
    return loaded


def _book(
    store: sa.Engine, chosen: Strategy, as_of: date, portfolio: str | None = None, *, keep_copies: bool = False
) -> tuple[Book, pl.DataFrame]:
    """What deciding needs; with ``keep_copies``, the claims and debtors read from their tables are
    kept as column copies for the next allocation (engine/store/copies.py; not by a dry run)."""
    settings = chosen.settings
    # the payments of the claims placed since then: what the placements brought (performance, sides)
    since = allocation_store.placements_since(as_of, settings.no_replacement_days, settings.performance_days)
    inputs = allocation_store.read_inputs(store, as_of, portfolio, placed_since=since, keep_copies=keep_copies)
    open_, recalled, recent = allocation_store.book_placements(
        store, as_of, settings.no_replacement_days, settings.performance_days
    )
    agencies = allocation_store.agencies(store)
    performance = results.performance(recent, inputs.payments, as_of, settings.performance_days)
    return Book(inputs, open_, recalled, agencies, performance), recent


@dataclass(frozen=True)
class Allocated:
    allocation: Allocation
    run_id: int | None  # None: a dry run
    seconds: float
    summary: dict
    #: champion and challenger side by side over their placements so far (placed, paid, recovery
    #: rate); None without a challenger
    sides: list[dict] | None = None


def allocate(
    *,
    store: sa.Engine,
    as_of: date,
    strategy_path: Path | None = None,
    dry_run: bool = False,
    portfolio: str | None = None,
) -> Allocated:
    """Every claim's decision as of ``as_of``; unless ``dry_run``, the recalls, placements and
    the run written in one transaction."""
    started = time.perf_counter()
    pools.warm_up()  # numba loads while the store is read
    chosen = _strategy(strategy_path)
    book, recent = _book(store, chosen, as_of, portfolio, keep_copies=not dry_run)
    allocation = decide(book, chosen, as_of)
    summary = allocation_store.summarise(allocation)
    sides = None
    if chosen.challenger is not None:
        sides = results.sides(recent, book.inputs.payments, chosen.sha256, chosen.challenger.sha256, as_of)
    run_id = None
    if not dry_run:
        run_id = allocation_store.write_allocation(store, allocation, time.perf_counter() - started, summary)
    seconds = time.perf_counter() - started
    log.info(
        "allocation as of %s: %d claims, %d placed, %d recalled in %.2f s%s",
        as_of,
        allocation.decisions.height,
        allocation.placements.height,
        allocation.recalls.height,
        seconds,
        " (dry run)" if dry_run else "",
    )
    return Allocated(allocation, run_id, seconds, summary, sides)


def segments(*, store: sa.Engine, as_of: date, strategy_path: Path | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per segment as of ``as_of``: claims, balance, score (pay share), recovery per zloty; and the
    calibration table (last quarter's scores against this quarter's outcomes)."""
    chosen = _strategy(strategy_path)
    inputs = allocation_store.read_inputs(store, as_of, every_payment=True)  # calibration: two horizons back
    segment_of = segmented(chosen)
    learned, book = scores_as_of(inputs, segment_of, as_of)
    from allocation.features import claim_frame

    now = segment_of(claim_frame(inputs, as_of), as_of)
    sizes = (
        now.group_by("segment")
        .agg(claims=pl.len(), balance=pl.col("balance").sum())
        .with_columns(pl.col("segment").cast(pl.String))
    )
    order = pl.DataFrame({"segment": chosen.segment_names(), "order": range(len(chosen.segment_names()))})
    table = (
        order.join(sizes, on="segment", how="left")
        .join(
            learned.select("segment", "pay_share", "recovery", "pay_share_raw", "pay_share_z"), on="segment", how="left"
        )
        .with_columns(
            pl.col("claims", "balance").fill_null(0),
            pl.col("pay_share").fill_null(book["pay_share"]),
            pl.col("recovery").fill_null(book["recovery"]),
        )
        .sort("order")
        .drop("order")
    )
    return table, calibration(inputs, segment_of, as_of)


def open_placements(
    *, store: sa.Engine, as_of: date, agency: str | None = None, open_only: bool = True
) -> pl.DataFrame:
    """The placements (open ones, of one agency) with the strategy's version, what was paid during
    each and the commission on it."""
    rows = allocation_store.placements(store, open_only=open_only, agency=agency)
    payments = _payments(store, rows, as_of)
    agencies = allocation_store.agencies(store)
    with_paid = results.with_commission(rows, payments, agencies, as_of)
    versions = allocation_store.strategy_versions(store)
    return with_paid.with_columns(
        strategy=pl.col("strategy_hash").str.slice(0, 12),
        strategy_version=pl.col("strategy_hash").replace_strict(versions, default=None, return_dtype=pl.Int32),
    )


def _payments(store: sa.Engine, placements: pl.DataFrame, as_of: date) -> pl.DataFrame:
    from allocation.features import PAYMENT_SCHEMA
    from engine.store.bulk import read_frame

    if placements.height == 0:
        return pl.DataFrame(schema=PAYMENT_SCHEMA)
    first = placements["placed_on"].min()
    with store.connect() as conn:
        frame = read_frame(
            conn,
            "SELECT claim_id, event_date, amount, source FROM events e WHERE kind = 'payment' "
            "AND event_date >= :first AND event_date <= :as_of AND e.event_id NOT IN (SELECT r.reverses FROM events r "
            "WHERE r.kind = 'reversal' AND r.reverses IS NOT NULL)",
            PAYMENT_SCHEMA,
            {"first": first, "as_of": as_of},
        )
    return frame.join(placements.select("claim_id").unique(), on="claim_id", how="semi")


def recall(*, store: sa.Engine, as_of: date, claims: list[int] | None = None, agency: str | None = None) -> int:
    """Recall on demand the open placements of ``claims`` and/or ``agency``; how many."""
    return allocation_store.recall_on_demand(store, as_of, claims, agency, RecallReason.ON_DEMAND.value)


@dataclass(frozen=True)
class Explained:
    claim: dict  # the claim frame's row (state, debtor, payments, segment, score, legal facts)
    segments: list[dict]  # each segment tried: name, matched, conditions [(field, wanted, held)]
    rules: list[dict]  # each rule tried: name, action, matched, conditions [(field, wanted, held)]
    decision: dict  # the row of the decisions
    holds: list[str]
    open_placement: dict | None
    strategy: Strategy


def explain(*, store: sa.Engine, claim_id: int, as_of: date, strategy_path: Path | None = None) -> Explained:
    """Why ``claim_id`` gets its decision as of ``as_of`` (a dry run of the whole allocation: the
    pools' capacity depends on every claim)."""
    chosen = _strategy(strategy_path)
    book, _ = _book(store, chosen, as_of)
    if book.inputs.joined().filter(pl.col("claim_id") == claim_id).height == 0:
        raise PlacementError(f"claim {claim_id}: not in the stored claim_state")
    allocation = decide(book, chosen, as_of, keep_frame=True)
    row = allocation.frame.filter(pl.col("claim_id") == claim_id)
    decision = allocation.decisions.filter(pl.col("claim_id") == claim_id).row(0, named=True)
    side = chosen.challenger if decision["side"] == "challenger" else chosen
    segments_tried = []
    for segment in chosen.segments:
        segments_tried.append(
            _tried(
                segment.name, None, segment.when.named(as_of, chosen.settings.limitation_window_days), segment.when, row
            )
        )
        if segments_tried[-1]["matched"]:
            break
    rules_tried = []
    for rule in side.rules:
        tried = _tried(rule.name, rule.action.value, rule_conditions(rule, side, as_of), rule.when, row, rule.segment)
        rules_tried.append(tried)
        if tried["matched"]:
            break
    open_ = book.open_placements.filter(pl.col("claim_id") == claim_id)
    claim = row.drop("costs_epu", "costs_court").row(0, named=True) | {
        "costs_epu": row["costs_epu"][0],
        "costs_court": row["costs_court"][0],
    }
    holds = []
    if claim["hold"]:
        holds.append(f"debtor flagged {claim['hold']}: held whatever a rule says")
    if claim["time_barred_consumer"]:
        holds.append("time-barred consumer claim: never a legal queue (art. 117 § 2¹ KC), only voluntary collection")
    return Explained(
        claim, segments_tried, rules_tried, decision, holds, open_.row(0, named=True) if open_.height else None, chosen
    )


def _tried(
    name, action, conditions: dict[str, pl.Expr], predicates: Predicates, row: pl.DataFrame, segment=None
) -> dict:
    described = predicates.described()
    if segment is not None:
        described["segment"] = ", ".join(segment)
    held = row.select(**{k: v.fill_null(False) for k, v in conditions.items()}).row(0, named=True) if conditions else {}
    return {
        "name": name,
        "action": action,
        "matched": all(held.values()),
        "conditions": [(k, described.get(k, ""), bool(v)) for k, v in held.items()],
    }


def summary(*, done: Allocated) -> dict:
    """An allocation as `cession allocate --json` and the HTTP API give it (amounts as strings)."""
    from engine.money import pln

    summary = done.summary
    groups = {
        key: [row | {"balance": pln(row["balance"])} for row in summary[key]]
        for key in ("by_action", "by_agency", "by_queue", "by_side")
    }
    strategy = done.allocation.strategy
    return {
        "as_of": done.allocation.day.isoformat(),
        "dry_run": done.run_id is None,
        "allocation_run_id": done.run_id,
        "strategy": {"name": strategy.name, "sha256": strategy.sha256, "path": str(strategy.path)},
        "challenger": None
        if strategy.challenger is None
        else {
            "name": strategy.challenger.name,
            "sha256": strategy.challenger.sha256,
            "share": strategy.challenger_share,
        },
        "claims": summary["claims"],
        "balance": pln(summary["balance"]),
        **groups,
        "placed": done.allocation.placements.height,
        "recalled": summary["recalled"],
        "sides": None
        if done.sides is None
        else [
            r | {"balance": pln(r["balance"]), "paid": pln(r["paid"]), "recovery_rate": round(r["recovery_rate"], 6)}
            for r in done.sides
        ],
        "warnings": list(done.allocation.warnings),
        "stale_fee_tables": list(done.allocation.stale_fee_tables),
        "seconds": round(done.seconds, 3),
    }
