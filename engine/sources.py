"""Where the claims and events come from: frames in memory, Parquet files, or the store.

A ``Source`` reads the whole input (``whole``: the computation in one piece) or one partition
(``read``: a claim_id range, in the worker that computes it, so the data never passes through
the driver), and tells the claim ids to plan the partitions from. Sources are picklable: Ray
ships them to the workers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import polars as pl

from engine.packing import Frame, as_polars
from engine.parquet_io import read_engine_columns
from engine.partitions import Partition, check_event_id_column
from engine.schema import CLAIMS, EVENTS, NOT_READ_BY_ENGINE, engine_columns
from engine.validation import EngineInputError, conform

log = logging.getLogger(__name__)

Batch = tuple[pl.DataFrame, pl.DataFrame]  # claims, events of whole claims
#: claim_id and portfolio_id of every claim of a source, by claim_id.
PORTFOLIOS_SCHEMA = {"claim_id": pl.Int64(), "portfolio_id": pl.String()}


class Source(Protocol):
    """Where the claims and events come from. Picklable: Ray ships it to the workers."""

    #: True when a partition can only be read where the data is (frames in the driver's memory).
    in_driver: bool

    def fixed(self) -> AbstractContextManager[Source]:
        """This source as of one moment for the block (the store: every read in one exported
        snapshot); files and frames are themselves."""
        ...

    def claim_ids(self) -> np.ndarray: ...

    def portfolios(self) -> pl.DataFrame:
        """claim_id and portfolio_id of every claim (``PORTFOLIOS_SCHEMA``), by claim_id."""
        ...

    def check(self) -> None:
        """What only the whole input can tell (event ids unique across partitions)."""

    def whole(self) -> Batch:
        """Every claim and event (the engine's columns), for a computation in one piece."""
        ...

    def read(self, part: Partition) -> Batch: ...


@dataclass
class FramesSource:
    """Claims and events already in memory (the Python API, tests)."""

    claims: pl.DataFrame
    events: pl.DataFrame
    in_driver: bool = True

    @classmethod
    def of(cls, claims: Frame, events: Frame) -> FramesSource:
        return cls(
            *(
                conform(as_polars(frame, name), name, spec, NOT_READ_BY_ENGINE[name])
                for frame, name, spec in ((claims, "claims", CLAIMS), (events, "events", EVENTS))
            )
        )

    def fixed(self) -> AbstractContextManager[FramesSource]:
        return nullcontext(self)

    def claim_ids(self) -> np.ndarray:
        return self.claims.get_column("claim_id").drop_nulls().to_numpy()

    def portfolios(self) -> pl.DataFrame:
        return self.claims.select("claim_id", "portfolio_id").sort("claim_id")

    def check(self) -> None:
        check_event_id_column(self.events.get_column("event_id"))

    def whole(self) -> Batch:
        return self.claims, self.events

    def read(self, part: Partition) -> Batch:
        return self.claims.filter(part.where()), self.events.filter(part.where())


@dataclass(frozen=True)
class ParquetSource:
    """claims.parquet and events.parquet (paths or URLs every worker can read: a shared folder,
    s3://, gs://). Each worker scans its claim_id range; row-group statistics skip the rest."""

    claims_path: str
    events_path: str
    in_driver: bool = False

    def fixed(self) -> AbstractContextManager[ParquetSource]:
        return nullcontext(self)

    def claim_ids(self) -> np.ndarray:
        return self._column(self.claims_path, "claims", "claim_id").drop_nulls().to_numpy()

    def portfolios(self) -> pl.DataFrame:
        return pl.read_parquet(self.claims_path, columns=list(PORTFOLIOS_SCHEMA)).sort("claim_id")

    def check(self) -> None:
        check_event_id_column(self._column(self.events_path, "events", "event_id"))

    @staticmethod
    def _column(path: str, table: str, column: str) -> pl.Series:
        scan = pl.scan_parquet(path)
        if column not in scan.collect_schema().names():
            raise EngineInputError(table, column, "missing column (docs/data-contract.md)")
        return scan.select(column).collect().get_column(column)

    def whole(self) -> Batch:
        return read_engine_columns(self.claims_path, "claims"), read_engine_columns(self.events_path, "events")

    def read(self, part: Partition) -> Batch:
        """The partition's rows, only the columns the engine reads (a missing one is left for the
        engine's own error, which names it)."""
        out = []
        for path, name, spec in ((self.claims_path, "claims", CLAIMS), (self.events_path, "events", EVENTS)):
            scan = pl.scan_parquet(path)
            present = set(scan.collect_schema().names())
            columns = [c for c in engine_columns(spec, name) if c in present]
            out.append(scan.select(columns).filter(part.where()).collect())
        return out[0], out[1]


@dataclass(frozen=True)
class StoreSource:
    """The store (``engine.store``) at ``url``: claims and events of one portfolio or all, only the
    columns the engine reads, through the store's one Arrow reader (``bulk.read_snapshot``: claims
    and events at once). Each worker reads its claim_id range with a range query; on PostgreSQL
    every read joins one exported ``snapshot`` (``fixed``), so all partitions see one moment."""

    url: str
    portfolio: str | None = None
    snapshot: str | None = None
    in_driver: bool = False

    @classmethod
    def of(cls, engine, portfolio: str | None = None) -> StoreSource:
        """The store an SQLAlchemy engine is on."""
        return cls(engine.url.render_as_string(hide_password=False), portfolio)

    @contextmanager
    def fixed(self) -> Iterator[StoreSource]:
        if self.snapshot is not None:
            yield self
            return
        from engine.store.bulk import exported_snapshot

        with self._engine() as engine, exported_snapshot(engine) as snapshot:
            yield replace(self, snapshot=snapshot)

    @contextmanager
    def _engine(self):
        from engine.store.database import engine_at

        engine = engine_at(self.url)
        try:
            yield engine
        finally:
            engine.dispose()

    def portfolios(self) -> pl.DataFrame:
        from engine.store.records import claims_query

        query, _, params = claims_query(self.portfolio, list(PORTFOLIOS_SCHEMA))
        return self._read({"claims": (query, PORTFOLIOS_SCHEMA, params)})["claims"].sort("claim_id")

    def claim_ids(self) -> np.ndarray:
        return self.portfolios().get_column("claim_id").to_numpy()

    def check(self) -> None:
        """Event ids are the events table's primary key."""

    def whole(self) -> Batch:
        return self.read(None)

    def read(self, part: Partition | None) -> Batch:
        """The claims and events of ``part`` (None: all), in id order."""
        from engine.store.bulk import in_id_order
        from engine.store.records import claims_query, events_query

        queries = {}
        for name, (query, schema, params) in (
            ("claims", claims_query(self.portfolio, engine_columns(CLAIMS, "claims"))),
            ("events", events_query(self.portfolio, engine_columns(EVENTS, "events"))),
        ):
            conditions, bounds = [], dict(params or {})
            if part is not None and part.lo is not None:
                conditions.append("claim_id >= :part_lo")
                bounds["part_lo"] = part.lo
            if part is not None and part.hi is not None:
                conditions.append("claim_id < :part_hi")
                bounds["part_hi"] = part.hi
            if conditions:
                query = f"SELECT * FROM ({query}) q WHERE {' AND '.join(conditions)}"
            queries[name] = (query, schema, bounds or None)
        read = self._read(queries)
        # rows come in storage order, which is nearly id order (PostgreSQL's COPY leaves a few rows
        # on earlier pages with room); in id order the engine proves ids unique in one linear pass
        # instead of hashing them, and finds loaded files' events already in its order (it sorts
        # only when they are not, e.g. events posted later)
        return in_id_order(read["claims"], "claim_id"), in_id_order(read["events"], "event_id")

    def _read(self, queries: dict) -> dict[str, pl.DataFrame]:
        from engine.store.bulk import read_snapshot

        with self._engine() as engine:
            return read_snapshot(engine, queries, self.snapshot)
