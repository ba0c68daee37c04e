"""A claim_state's metadata: how it was computed (its provenance), kept with it. The as-of day,
the engine's version, the rule tables (path, sha256, validity) and which of them were stale, the
waterfall, the counts, and where it ran: the Arrow schema's metadata of a claim_state table and
the key-value metadata of its Parquet file, under the key ``cession``."""

from __future__ import annotations

import json

import pyarrow as pa

from engine.kernel_rules import rate_tables_in_order

#: 2: limitation rule set 2026-12, interest_time_barred
ENGINE_VERSION = "2"
METADATA_KEY = b"cession"


def provenance(table: pa.Table) -> dict:
    """How a claim_state table was computed (as_of, rule tables, stale tables, waterfall, ...)."""
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def with_provenance(table: pa.Table, meta: dict) -> pa.Table:
    """``table`` carrying ``meta`` as its provenance (in place of any metadata it had)."""
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})


def combined_provenance(metas: list[dict]) -> dict:
    """The provenance of a claim_state put together from parts' (slices, partitions): the first's,
    with the rate tables used and stale of all, and their claims and events summed."""
    meta = dict(metas[0])
    used = {name for m in metas for name in m.get("rate_tables_used", [])}
    meta["rate_tables_used"] = [name for name in rate_tables_in_order() if name in used]
    meta["stale_rate_tables"] = {k: v for m in metas for k, v in m.get("stale_rate_tables", {}).items()}
    meta["claims"] = sum(m.get("claims", 0) for m in metas)
    meta["events"] = sum(m.get("events", 0) for m in metas)
    return meta


def merged_provenance(metas: list[dict], executor: str, partitions: int, seconds: float) -> dict:
    """The provenance of a claim_state put together from partitions' (their provenances), with the
    executor, the partitions and the seconds it took."""
    return dict(combined_provenance(metas), executor=executor, partitions=partitions, seconds=round(seconds, 3))
