"""Checks of the engine's inputs against docs/data-contract.md, each failure naming the table, column, rule and
the first offending ids. The engine refuses bad input whole: ingest (ingest/) is where rows are
sorted into accepted and rejected; by the time tables reach the engine they must be clean."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

import polars as pl

from engine.domain import (
    AMOUNT_EVENT_KINDS,
    CONTRACT_RATE_BASES,
    OWN_YEARS_KINDS,
    EventKind,
    InterestBasis,
    LimitationKind,
)
from engine.errors import InputError
from engine.schema import CLAIMS, EVENTS, Column

#: A contractual rate above this (1000 % a year) is a data error, and the bound keeps the kernels'
#: integer products far from int64's limit.
MAX_CONTRACTUAL_RATE_BP = 100_000
SHOW_IDS = 5


@dataclass
class EngineInputError(InputError):
    """Input that breaks the data contract; ``ids`` are the first offending claim/event ids."""

    table: str
    column: str
    rule: str
    ids: list = None  # type: ignore[assignment]
    count: int = 0

    def __post_init__(self) -> None:
        where = f"{self.table}.{self.column}" if self.column else self.table
        message = f"{where}: {self.rule}"
        if self.count:
            shown = ", ".join(str(i) for i in (self.ids or [])[:SHOW_IDS])
            id_name = "event_id" if self.table == "events" else "claim_id"
            message += f" ({self.count} row{'s' if self.count != 1 else ''}; first {id_name}: {shown})"
        super().__init__(message)

    def __str__(self) -> str:  # dataclass would otherwise print its fields
        return self.args[0]


def conform(frame: pl.DataFrame, table: str, spec: tuple[Column, ...], optional: tuple[str, ...] = ()) -> pl.DataFrame:
    """The frame with the contract's columns and dtypes, or an error naming what does not fit.

    Lossless casts are accepted (any integer width that fits, categorical to string); anything
    else (a datetime for a date, a float for money) is refused: money is never a float. Columns
    named in ``optional`` may be missing (the result then lacks them too)."""
    missing = [c.name for c in spec if c.name not in frame.columns and c.name not in optional]
    if missing:
        raise EngineInputError(table, missing[0], f"missing column(s) {', '.join(missing)} (docs/data-contract.md)")
    spec = tuple(c for c in spec if c.name in frame.columns)
    out = []
    for c in spec:
        have = frame.schema[c.name]
        if not _fits(c, have):
            hint = " (money is int64 grosz, never a float)" if have.is_float() else ""
            raise EngineInputError(table, c.name, f"expected {c.dtype}, got {have}{hint}")
        out.append(pl.col(c.name).cast(c.dtype, strict=False).alias(c.name))
    conformed = frame.select(out)
    # a strict=False cast turns values that do not fit into nulls: find them
    overflow = [
        c.name
        for c in spec
        if c.dtype.is_integer()
        and frame.schema[c.name] != c.dtype
        and conformed[c.name].null_count() != frame[c.name].null_count()
    ]
    if overflow:
        raise EngineInputError(
            table, overflow[0], f"values do not fit {dict((c.name, c.dtype) for c in spec)[overflow[0]]}"
        )
    return conformed


def _fits(column: Column, have: pl.DataType) -> bool:
    """Whether a column of dtype ``have`` casts to the contract's without loss of meaning."""
    want = column.dtype
    return (
        (want.is_integer() and (have.is_integer() or have == pl.Null))
        or (want == pl.String and (have in (pl.String, pl.Categorical, pl.Null) or isinstance(have, pl.Enum)))
        or (want == pl.Date and have in (pl.Date, pl.Null))
    )


#: Frames of up to this many rows are checked in one query (``checked``): one claim's balance asked
#: over the HTTP API is a frame of one row, and there the fixed cost of each polars call (~50 µs,
#: some fifteen of them step by step) is most of the engine's work.
ONE_PASS_ROWS = 4096

Checks = Callable[[pl.Schema], list[tuple[str, str, pl.Expr]]]


def checked(
    frame: pl.DataFrame, table: str, spec: tuple[Column, ...], optional: tuple[str, ...], checks_of: Checks
) -> pl.DataFrame:
    """``conform``, then ``as_enums``, then the row rules ``checks_of(schema)``: the frame as the
    engine takes it, or the error of the first rule it breaks. A small frame is first tried in one
    pass (one query counts every failure, one builds the result); a large one, or one that fails
    anything, goes step by step, so an error is always the one the steps give."""
    if frame.height <= ONE_PASS_ROWS:
        clean = _in_one_pass(frame, spec, optional, checks_of)
        if clean is not None:
            return clean
    out = as_enums(conform(frame, table, spec, optional), table, spec)
    _failures(out, table, "event_id" if table == "events" else "claim_id", checks_of(out.schema))
    return out


def _in_one_pass(
    frame: pl.DataFrame, spec: tuple[Column, ...], optional: tuple[str, ...], checks_of: Checks
) -> pl.DataFrame | None:
    """The checked frame when nothing fails (else None): every cast's lost values, every unknown
    value of a closed set and every row rule's failures counted in one query over ``frame`` (the
    rules read values, which the lossless casts keep), then the casts in one more."""
    have = frame.schema  # (a new Schema object at each call: ~20 µs)
    if any(c.name not in have and c.name not in optional for c in spec):
        return None
    spec = tuple(c for c in spec if c.name in have)
    if not all(_fits(c, have[c.name]) for c in spec):
        return None
    final, lost = [], []
    for c in spec:
        value = pl.col(c.name).cast(c.dtype, strict=False)
        if c.values is not None:
            value = value.cast(pl.Enum(list(c.values)), strict=False)
        if c.values is not None or have[c.name] != c.dtype:
            lost.append((value.is_null() & pl.col(c.name).is_not_null()).sum())
        final.append(value.alias(c.name))
    schema = pl.Schema({c.name: pl.Enum(list(c.values)) if c.values is not None else c.dtype for c in spec})
    failing = [count.alias(str(i)) for i, count in enumerate(lost + [mask.sum() for _, _, mask in checks_of(schema)])]
    if failing and any(frame.select(failing).row(0)):
        return None
    return frame.select(final)


def _failures(frame: pl.DataFrame, table: str, id_column: str, checks: list[tuple[str, str, pl.Expr]]) -> None:
    """Evaluate every (column, rule, bad-row mask) in one pass; raise for the first that fails."""
    if frame.height == 0 or not checks:
        return
    counts = frame.select([mask.sum().alias(str(i)) for i, (_, _, mask) in enumerate(checks)]).row(0)
    for (column, rule, mask), count in zip(checks, counts, strict=True):
        if count:
            ids = frame.filter(mask).get_column(id_column).head(SHOW_IDS).to_list()
            raise EngineInputError(table, column, rule, ids, count)


def unknown_value_rule(column: Column) -> str:
    return f"unknown value; allowed: {', '.join(column.values or ())}"


def as_enums(frame: pl.DataFrame, table: str, spec: tuple[Column, ...]) -> pl.DataFrame:
    """The frame with every closed-set string column as a polars Enum of its allowed values (one
    cast, codes instead of strings from then on); a value outside the set is refused here, by
    the same rule the string checks state."""
    closed = [c for c in spec if c.values is not None and c.name in frame.columns]
    cast = frame.with_columns(pl.col(c.name).cast(pl.Enum(list(c.values)), strict=False) for c in closed)
    for c in closed:
        unknown = cast.get_column(c.name).is_null() & frame.get_column(c.name).is_not_null()
        if unknown.any():
            id_column = "event_id" if table == "events" else "claim_id"
            ids = frame.filter(unknown).get_column(id_column).head(SHOW_IDS).to_list()
            raise EngineInputError(table, c.name, unknown_value_rule(c), ids, int(unknown.sum()))
    return cast


def _null_and_enum_checks(spec: tuple[Column, ...], schema: pl.Schema) -> list[tuple[str, str, pl.Expr]]:
    """Nulls where the contract has none; values outside a closed set (a column already cast to an
    Enum by ``as_enums`` was checked then)."""
    checks = []
    for c in spec:
        if c.name not in schema:
            continue  # an optional column left out (see ``conform``)
        if not c.nullable:
            checks.append((c.name, "must not be null", pl.col(c.name).is_null()))
        if c.values is not None and not isinstance(schema.get(c.name), pl.Enum):
            checks.append((c.name, unknown_value_rule(c), ~pl.col(c.name).is_in(list(c.values))))
    return checks


def is_one_of(column: str, values: tuple[str, ...]) -> pl.Expr:
    """``column`` equals one of ``values`` (a few of a registry's members): equalities, which polars
    evaluates several times faster than ``is_in`` over millions of rows."""
    return reduce(operator.or_, (pl.col(column) == v for v in values))


def check_claims(claims: pl.DataFrame) -> None:
    _failures(claims, "claims", "claim_id", claim_checks(claims.schema))


def claim_checks(schema: pl.Schema) -> list[tuple[str, str, pl.Expr]]:
    """Every row rule of claims: (column, rule, bad-row mask) over columns of ``schema``."""
    col = pl.col
    checks = _null_and_enum_checks(CLAIMS, schema)
    for money in ("principal", "interest_at_cutoff", "costs_at_cutoff", "purchase_price"):
        if money in schema:  # purchase_price is optional for the engine
            checks.append((money, "must be >= 0 (grosz)", col(money) < 0))
    contractual = is_one_of("interest_basis", CONTRACT_RATE_BASES)
    own_years = is_one_of("limitation_kind", OWN_YEARS_KINDS)
    checks += [
        (
            "contractual_rate_bp",
            f"required for interest_basis {InterestBasis.spelled(CONTRACT_RATE_BASES)}, 0..{MAX_CONTRACTUAL_RATE_BP} bp",
            contractual
            & (
                col("contractual_rate_bp").is_null()
                | (col("contractual_rate_bp") < 0)
                | (col("contractual_rate_bp") > MAX_CONTRACTUAL_RATE_BP)
            ),
        ),
        (
            "limitation_years",
            f"required for limitation_kind {LimitationKind.spelled(OWN_YEARS_KINDS)}, 1..100 years",
            own_years
            & (col("limitation_years").is_null() | (col("limitation_years") < 1) | (col("limitation_years") > 100)),
        ),
    ]
    return checks


def check_unique(frame: pl.DataFrame, table: str, column: str) -> None:
    """Ids must be unique (callers skip this when the ids are already strictly increasing)."""
    dupes = frame.filter(pl.col(column).is_duplicated())
    if dupes.height:
        ids = dupes.get_column(column).unique(maintain_order=True)
        raise EngineInputError(table, column, "must be unique", ids.head(SHOW_IDS).to_list(), ids.len())


def check_events(events: pl.DataFrame) -> None:
    _failures(events, "events", "event_id", event_checks(events.schema))


def event_checks(schema: pl.Schema) -> list[tuple[str, str, pl.Expr]]:
    """Every row rule of events: (column, rule, bad-row mask) over columns of ``schema``."""
    col = pl.col
    amount_kinds = [k.value for k in AMOUNT_EVENT_KINDS]
    checks = _null_and_enum_checks(EVENTS, schema)
    checks += [
        (
            "amount",
            f"required and > 0 (grosz) for kinds {', '.join(sorted(amount_kinds))}",
            col("kind").is_in(amount_kinds) & (col("amount").is_null() | (col("amount") <= 0)),
        ),
        (
            "reverses",
            "required for kind reversal (the event_id it cancels)",
            (col("kind") == EventKind.REVERSAL) & col("reverses").is_null(),
        ),
    ]
    return checks


def reversal_error(event_ids: list[int], count: int) -> EngineInputError:
    return EngineInputError("events", "reverses", "must name an event_id of the same claim", event_ids, count)


def check_unknown_claims(claims: pl.DataFrame, events: pl.DataFrame) -> None:
    unknown = events.join(claims.select("claim_id"), on="claim_id", how="anti")
    if unknown.height:
        raise EngineInputError(
            "events",
            "claim_id",
            "event for an unknown claim (no such claims.claim_id)",
            unknown.get_column("event_id").head(SHOW_IDS).to_list(),
            unknown.height,
        )
