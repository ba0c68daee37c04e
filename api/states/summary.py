"""The summary of a claim_state that every command prints and ``--json`` gives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.metadata import provenance
from engine.totals import StateTotals

if TYPE_CHECKING:
    from engine.computation import DayState


def summary(state, seconds: float, meta: dict | None = None) -> dict:
    """The summary of a claim_state (``--json``'s fields): ``state`` is the table, or its
    ``StateTotals`` with ``meta`` (its provenance) when the table was streamed to a file and never
    held whole."""
    totals = state if isinstance(state, StateTotals) else StateTotals.of_table(state)
    meta = meta if meta is not None else provenance(state)
    return {
        "as_of": meta.get("as_of"),
        "claims": totals.claims,
        "events": meta.get("events"),
        "totals": dict(totals.money),
        "time_barred": totals.time_barred,
        "suspended": totals.suspended,
        "stale_rate_tables": meta.get("stale_rate_tables", {}),
        "waterfall": meta.get("waterfall"),
        "limitation_rule_set": meta.get("rules", {}).get("limitation_rule_set", {}).get("rule_set"),
        "seconds": round(seconds, 3),
    }


def day_summaries(days: list[DayState]) -> list[dict]:
    """The summary of each day's claim_state (``engine.computation.compute``'s), with the executor
    and the partitions it ran on."""
    return [
        dict(
            summary(d.totals, d.seconds, d.provenance),
            executor=d.provenance.get("executor", "local"),
            partitions=d.provenance.get("partitions", 1),
        )
        for d in days
    ]
