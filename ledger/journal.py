"""The journal of a period: every movement of ``movements`` as a balanced transaction of lines.

| kind | when | debit | credit |
|---|---|---|---|
| ``purchase`` | a claim bought in the period (on its purchase day) | receivables: principal, interest and costs at cut-off | seller: the price; discount: nominal less price (a debit when bought above nominal) |
| ``collection`` | a payment (on the day it is effective) | cash: the amount | receivables: costs, interest, principal as it paid them; overpayments owed back: what it could not place |
| ``cost`` | a cost advanced | receivable costs | cash |
| ``interest`` | interest recognised over the period (on its last day, per claim) | receivable interest | interest income |
| ``waiver`` | interest waived | interest waived | receivable interest |
| ``capitalization`` | interest turned into principal | receivable principal | receivable interest |
| ``write_off`` | a claim written off | write-off loss | receivables: what was left of each |
| ``commission`` | an agency's commission on a payment made during its placement | commission expense | agency payable |
| ``reversal`` | an event removed by a reversal: the removed event's entry with debit and credit swapped, on the reversal's id and day | | |

Each transaction (``tx_id``: entry day, claim, kind, event) balances: the check runs on every
transaction before anything is written (``balanced``), whatever the caller asks; a transaction that
does not balance is a bug, and nothing is written.

How a payment is split when the period holds several changes of one claim: the claim's movement
over the period (what it paid to each bucket, from the engine's two states) is laid out in the
portfolio's waterfall order, and the payments take it in their order (day effective, event id),
each as much as its amount (reversals likewise the negative parts); what a backdated payment or a
reversal moved between the buckets of payments already posted (the *re-allocation*) goes with the
claim's last payment change of the period. So every payment's lines add up to its amount and every
bucket's lines add up to the claim's movement, to the grosz.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import polars as pl

from engine.domain import EventKind
from engine.errors import ComputationFailed
from engine.waterfall import resolve
from ledger.chart import Chart, Role
from ledger.movements import Movements

#: the journal's columns (the public contract; money in grosz)
LINE_SCHEMA = {
    "tx_id": pl.String(),
    "entry_date": pl.Date(),
    "account": pl.String(),
    "debit": pl.Int64(),
    "credit": pl.Int64(),
    "portfolio_id": pl.String(),
    "claim_id": pl.Int64(),
    "event_id": pl.Int64(),
    "kind": pl.String(),
    "memo": pl.String(),
}
KINDS = (
    "purchase",
    "collection",
    "cost",
    "interest",
    "waiver",
    "capitalization",
    "write_off",
    "commission",
    "reversal",
)
#: a posting before it becomes lines: one role's signed amount (+ debit, - credit)
POSTING_SCHEMA = {
    "claim_id": pl.Int64(),
    "portfolio_id": pl.String(),
    "kind": pl.String(),
    "event_id": pl.Int64(),
    "entry_date": pl.Date(),
    "memo": pl.String(),
    "role": pl.String(),
    "amount": pl.Int64(),
}
BUCKETS = ("costs", "interest", "principal")
BUCKET_ROLE = {
    "costs": Role.RECEIVABLE_COSTS,
    "interest": Role.RECEIVABLE_INTEREST,
    "principal": Role.RECEIVABLE_PRINCIPAL,
    "overpaid": Role.OVERPAYMENTS_OWED,
}


class UnbalancedJournal(ComputationFailed):
    """Transactions whose debits and credits differ: a bug; nothing is written."""


def journal(movements: Movements, chart: Chart) -> pl.DataFrame:
    """The period's journal lines (``LINE_SCHEMA``), every transaction checked to balance."""
    return lines(postings(movements), chart)


def postings(movements: Movements, *, interest: bool = True) -> pl.DataFrame:
    """Every posting of the period (``POSTING_SCHEMA``), zero amounts included (``interest``:
    False leaves out the interest transactions, which ``keyed_journal`` builds as columns)."""
    return pl.concat(
        [
            _purchases(movements),
            *([_interest(movements)] if interest else []),
            _collections(movements),
            _costs(movements),
            _remeasured(movements),
            _commissions(movements),
        ],
        how="vertical_relaxed",
    )


def lines(postings: pl.DataFrame, chart: Chart) -> pl.DataFrame:
    """Postings as journal lines (one line per posting), every transaction checked to balance."""
    return as_lines(keyed(postings, chart))


#: the journal's lines before they are written out (``KEYED_SCHEMA``): in the journal's order, the
#: strings as categoricals, money signed (+ debit, - credit), no tx_id (``as_lines`` makes them)
KEYED_SCHEMA = {
    "entry_date": pl.Date(),
    "claim_id": pl.Int64(),
    "kind": pl.Categorical(),
    "event_id": pl.Int64(),
    "account": pl.Categorical(),
    "amount": pl.Int64(),
    "portfolio_id": pl.Categorical(),
    "memo": pl.Categorical(),
}


def keyed(postings: pl.DataFrame, chart: Chart) -> pl.DataFrame:
    """Postings as lines (``KEYED_SCHEMA``, in the journal's order: entry day, claim, kind, event,
    the chart's order of roles, then the signed amount: credits first -- two lines of one account
    in one transaction come in the same order every run), every transaction checked to balance."""
    accounts = pl.DataFrame(
        {
            "role": [r.value for r in Role],
            "account": [chart.number(r) for r in Role],
            "rank": pl.Series(range(len(Role)), dtype=pl.Int8),
        }
    )
    kind_code = pl.col("kind").replace_strict({k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int8)
    tx = ["entry_date", "claim_id", "kind_code", "event_id"]
    out = (
        postings.lazy()
        .filter(pl.col("amount") != 0)
        .join(accounts.lazy(), on="role", how="left", maintain_order="left")
        .with_columns(kind_code=kind_code)
        .sort(*tx, "rank", "amount", nulls_last=False, maintain_order=True)
        .collect()
    )
    # sorted, each transaction's lines are consecutive: its sum is one np.add.reduceat away
    starts = np.flatnonzero(out.select(tx_starts(tx)).to_series().to_numpy())
    if len(starts) and np.add.reduceat(out.get_column("amount").to_numpy(), starts).any():
        balanced(out, keys=tx)  # names them and raises
    return out.select(list(KEYED_SCHEMA)).cast(KEYED_SCHEMA)


def keyed_journal(movements: Movements, chart: Chart) -> pl.DataFrame:
    """``keyed(postings(movements), chart)``, the interest transactions (one per accruing claim,
    most of the lines) built straight as columns and merged in the journal's order with the
    others (postings, sorted and checked as ``keyed`` does)."""
    others = keyed(postings(movements, interest=False), chart)
    accrued = movements.claims.filter(pl.col("d_accrued") != 0).select("claim_id", "portfolio_id", "d_accrued")
    if accrued.height == 0:
        return others
    claim = accrued.get_column("claim_id").to_numpy()
    if len(claim) > 1 and not bool(np.all(claim[1:] > claim[:-1])):
        accrued = accrued.sort("claim_id")
        claim = accrued.get_column("claim_id").to_numpy()
    n = accrued.height
    d = accrued.get_column("d_accrued").to_numpy()
    # a transaction's two lines in the chart's order of roles (as ``keyed`` sorts them)
    legs = sorted([(Role.RECEIVABLE_INTEREST, 1), (Role.INTEREST_INCOME, -1)], key=lambda r: list(Role).index(r[0]))
    amount = np.empty(2 * n, dtype=np.int64)
    amount[0::2], amount[1::2] = legs[0][1] * d, legs[1][1] * d
    pair = np.tile(np.arange(2, dtype=np.uint32), n)
    each = np.repeat(np.arange(n, dtype=np.uint32), 2)
    cat = KEYED_SCHEMA["kind"]

    def constant(value: str, height: int) -> pl.Series:
        return pl.Series([value], dtype=cat).new_from_index(0, height)

    interest = pl.DataFrame(
        {
            "entry_date": pl.Series([movements.period.last], dtype=pl.Date).new_from_index(0, 2 * n),
            "claim_id": np.repeat(claim, 2),
            "kind": constant("interest", 2 * n),
            "event_id": pl.Series([None], dtype=pl.Int64).new_from_index(0, 2 * n),
            "account": pl.Series([chart.number(legs[0][0]), chart.number(legs[1][0])], dtype=cat).gather(pair),
            "amount": amount,
            "portfolio_id": accrued.get_column("portfolio_id").cast(cat).gather(each),
            "memo": constant(f"interest accrued {movements.period.first}..{movements.period.last}", 2 * n),
        },
        schema=KEYED_SCHEMA,
    )
    if others.height == 0:
        return interest
    # where each other line goes among the interest transactions (entry day, claim, kind)
    last = (movements.period.last - date(1970, 1, 1)).days
    day = others.get_column("entry_date").cast(pl.Int32).fill_null(np.iinfo(np.int32).min).to_numpy()
    kind_code = (
        others.get_column("kind")
        .cast(pl.String)
        .replace_strict({k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int8)
        .to_numpy()
    )
    other_claim = others.get_column("claim_id").to_numpy()
    before = kind_code < KINDS.index("interest")
    at = np.where(
        before,
        np.searchsorted(claim, other_claim, side="left"),
        np.searchsorted(claim, other_claim, side="right"),
    )
    tx = np.where(day < last, 0, np.where(day > last, n, at))
    # the merged order: the k-th interest transaction after the other lines placed before it
    place = np.empty(2 * n + others.height, dtype=np.int64)
    place[: 2 * n] = np.arange(2 * n) + np.repeat(np.searchsorted(tx, np.arange(n), side="right"), 2)
    place[2 * n :] = 2 * tx + np.arange(others.height)
    order = np.empty_like(place)
    order[place] = np.arange(len(place))
    return pl.concat([interest, others], rechunk=False).gather(order)


def tx_starts(keys: list[str]) -> pl.Expr:
    """True on the first line of each transaction of lines sorted by ``keys`` (those that make one)."""
    return pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys]).fill_null(True)


def as_lines(keyed: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Keyed lines (``keyed``) as the journal's lines (``LINE_SCHEMA``), in the same order; lazy
    when given lazy (a file is then written without the whole journal as text in memory)."""
    strings = keyed.with_columns([pl.col(c).cast(pl.String) for c in ("kind", "account", "portfolio_id", "memo")])
    return strings.select(
        tx_id=pl.concat_str(
            pl.col("entry_date").dt.strftime("%Y%m%d"),
            pl.col("claim_id").cast(pl.String),
            pl.col("kind"),
            pl.col("event_id").cast(pl.String).fill_null("0"),
            separator="-",
        ),
        entry_date="entry_date",
        account="account",
        debit=pl.when(pl.col("amount") > 0).then(pl.col("amount")).otherwise(0),
        credit=pl.when(pl.col("amount") < 0).then(-pl.col("amount")).otherwise(0),
        portfolio_id="portfolio_id",
        claim_id="claim_id",
        event_id="event_id",
        kind="kind",
        memo="memo",
    ).cast(LINE_SCHEMA)


def balanced(lines: pl.DataFrame, keys: list[str] | None = None) -> None:
    """Raise ``UnbalancedJournal`` naming the first transactions (``keys``: the columns that make
    one, default ``tx_id``) whose signed amounts (``amount``, or ``debit`` less ``credit``) do not
    add up to zero. Never skipped."""
    keys = keys or ["tx_id"]
    signed = pl.col("amount") if "amount" in lines.columns else pl.col("debit") - pl.col("credit")
    off = lines.group_by(keys).agg(off=signed.sum()).filter(pl.col("off") != 0)
    if off.height:
        first = off.sort(keys).head(5)
        if "tx_id" not in first.columns:
            first = first.with_columns(
                tx_id=pl.concat_str(
                    pl.col("entry_date").dt.strftime("%Y%m%d"),
                    pl.col("claim_id").cast(pl.String),
                    pl.col("kind_code").replace_strict(dict(enumerate(KINDS)), return_dtype=pl.String),
                    pl.col("event_id").cast(pl.String).fill_null("0"),
                    separator="-",
                )
            )
        named = ", ".join(f"{r['tx_id']} ({r['off']:+d} grosz)" for r in first.iter_rows(named=True))
        raise UnbalancedJournal(
            f"{off.height} transaction(s) of the journal do not balance (debits - credits): {named}; nothing was written"
        )


# --- postings ------------------------------------------------------------------------------------


def _posting(frame: pl.DataFrame, kind: pl.Expr, event: pl.Expr, day: pl.Expr, memo: pl.Expr, legs) -> pl.DataFrame:
    """One posting per row of ``frame`` per (role, amount expression) leg."""
    if frame.height == 0:
        return pl.DataFrame(schema=POSTING_SCHEMA)
    base = frame.select(
        "claim_id",
        "portfolio_id",
        kind=kind,
        event_id=event.cast(pl.Int64),
        entry_date=day,
        memo=memo,
        **{f"leg{i}": amount for i, (_role, amount) in enumerate(legs)},
    )
    parts = [
        base.select(
            "claim_id",
            "portfolio_id",
            "kind",
            "event_id",
            "entry_date",
            "memo",
            role=pl.lit(role.value),
            amount=pl.col(f"leg{i}").cast(pl.Int64),
        )
        for i, (role, _amount) in enumerate(legs)
    ]
    return pl.concat(parts).cast(POSTING_SCHEMA)


def _purchases(m: Movements) -> pl.DataFrame:
    bought = m.claims.filter(pl.col("purchased"))
    nominal = pl.col("principal") + pl.col("interest_at_cutoff") + pl.col("costs_at_cutoff")
    return _posting(
        bought,
        pl.lit("purchase"),
        pl.lit(None),
        pl.col("purchase_date"),
        pl.lit("purchase of the claim: nominal at cut-off, price paid"),
        [
            (Role.RECEIVABLE_PRINCIPAL, pl.col("principal")),
            (Role.RECEIVABLE_INTEREST, pl.col("interest_at_cutoff")),
            (Role.RECEIVABLE_COSTS, pl.col("costs_at_cutoff")),
            (Role.PURCHASE_SETTLEMENT, -pl.col("purchase_price")),
            (Role.PURCHASE_DISCOUNT, pl.col("purchase_price") - nominal),
        ],
    )


def _interest(m: Movements) -> pl.DataFrame:
    moved = m.claims.filter(pl.col("d_accrued") != 0)
    span = f"interest accrued {m.period.first}..{m.period.last}"
    return _posting(
        moved,
        pl.lit("interest"),
        pl.lit(None),
        pl.lit(m.period.last),
        pl.lit(span),
        [(Role.RECEIVABLE_INTEREST, pl.col("d_accrued")), (Role.INTEREST_INCOME, -pl.col("d_accrued"))],
    )


def _event_memo() -> pl.Expr:
    """'payment 17 of 2026-10-03' (', recorded 2026-11-02' when recorded after its day);
    removals: 'reversal of payment 17 of 2026-10-03'."""
    what = pl.concat_str(
        pl.col("kind").str.replace("_", " "),
        pl.lit(" "),
        pl.col("target").cast(pl.String),
        pl.lit(" of "),
        pl.col("source_date").dt.strftime("%Y-%m-%d"),
    )
    what = (
        pl.when(pl.col("recorded_on") > pl.col("source_date"))
        .then(pl.concat_str(what, pl.lit(", recorded "), pl.col("recorded_on").dt.strftime("%Y-%m-%d")))
        .otherwise(what)
    )
    return pl.when(pl.col("sign") < 0).then(pl.concat_str(pl.lit("reversal of "), what)).otherwise(what)


def _kind_of(kind: str) -> pl.Expr:
    return pl.when(pl.col("sign") < 0).then(pl.lit("reversal")).otherwise(pl.lit(kind))


def _costs(m: Movements) -> pl.DataFrame:
    costs = m.changes.filter(pl.col("kind") == "cost")
    signed = pl.col("sign") * pl.col("amount")
    return _posting(
        costs,
        _kind_of("cost"),
        pl.col("posted_event"),
        pl.col("day"),
        _event_memo(),
        [(Role.RECEIVABLE_COSTS, signed), (Role.CASH, -signed)],
    )


def _positions(m: Movements) -> pl.DataFrame:
    """Each portfolio's waterfall: the position (0 first) of each bucket."""
    default, per = resolve(m.waterfall)
    portfolios = m.claims.get_column("portfolio_id").unique().to_list()
    rows = []
    for p in portfolios:
        order = [str(b) for b in per.get(p, default).order]
        rows.append({"portfolio_id": p, **{f"pos_{b}": order.index(b) for b in BUCKETS}})
    schema = {"portfolio_id": pl.String} | {f"pos_{b}": pl.Int64 for b in BUCKETS}
    return pl.DataFrame(rows, schema=schema)


def _collections(m: Movements) -> pl.DataFrame:
    """Each payment change split over the buckets (the module's docstring), the claim's
    re-allocation with its last payment change."""
    delta = {b: pl.col(f"d_paid_{b}") for b in BUCKETS} | {"overpaid": pl.col("d_overpaid")}
    moved = m.claims.filter(pl.any_horizontal([d != 0 for d in delta.values()])).select(
        "claim_id", "portfolio_id", **{f"d_{b}": d for b, d in delta.items()}
    )
    pays = (
        m.changes.filter(pl.col("kind") == "payment")
        .join(moved.drop("portfolio_id"), on="claim_id", how="left")
        .join(_positions(m), on="portfolio_id", how="left")
        .with_columns([pl.col(f"d_{b}").fill_null(0) for b in (*BUCKETS, "overpaid")])
        .sort("claim_id", "order")
    )
    # a payment entered and reversed within the period never counted at either end: both its
    # entries go through overpayments owed (cash in, cash back), the receivables untouched
    pays = pays.with_columns(
        paired=pl.col("target").is_in(
            m.changes.filter((pl.col("sign") < 0) & (pl.col("day") >= m.period.first))
            .join(m.changes.filter(pl.col("sign") > 0).select("target"), on="target", how="semi")
            .get_column("target")
            .implode()
        )
    ).with_columns(amount=pl.when(pl.col("paired")).then(0).otherwise(pl.col("amount")), whole=pl.col("amount"))
    cum_end = pl.col("amount").cum_sum().over("claim_id", "sign")
    cum_start = cum_end - pl.col("amount")
    take = {}
    for b in BUCKETS:
        room = lambda x: (pl.col("sign") * pl.col(f"d_{x}")).clip(lower_bound=0)  # noqa: E731
        start = pl.sum_horizontal(
            [pl.when(pl.col(f"pos_{o}") < pl.col(f"pos_{b}")).then(room(o)).otherwise(0) for o in BUCKETS]
        )
        end = start + room(b)
        take[b] = pl.col("sign") * (pl.min_horizontal(cum_end, end) - pl.max_horizontal(cum_start, start)).clip(
            lower_bound=0
        )
    pays = pays.with_columns(**{f"take_{b}": e for b, e in take.items()})
    pays = pays.with_columns(
        take_overpaid=pl.col("sign") * pl.col("whole") - pl.sum_horizontal([pl.col(f"take_{b}") for b in BUCKETS])
    )
    # the residual (re-allocation) of each claim: its movement less what its payments took
    names = (*BUCKETS, "overpaid")
    taken = pays.group_by("claim_id").agg([pl.col(f"take_{b}").sum().alias(f"took_{b}") for b in names])
    last_pay = pays.group_by("claim_id").agg(pl.col("order").max().alias("last_order"))
    residual = (
        moved.join(taken, on="claim_id", how="left")
        .with_columns([(pl.col(f"d_{b}") - pl.col(f"took_{b}").fill_null(0)).alias(f"rest_{b}") for b in names])
        .filter(pl.any_horizontal([pl.col(f"rest_{b}") != 0 for b in names]))
        .join(last_pay, on="claim_id", how="left")
    )
    pays = pays.join(
        residual.select("claim_id", pl.col("last_order").alias("order"), *[f"rest_{b}" for b in names]),
        on=["claim_id", "order"],
        how="left",
    ).with_columns([(pl.col(f"take_{b}") + pl.col(f"rest_{b}").fill_null(0)).alias(f"take_{b}") for b in names])
    # claims re-allocated with no payment change of their own in the period (a backdated cost,
    # say): on the claim's last change, as a collection of nothing
    orphans = _on_last_change(m, residual.filter(pl.col("last_order").is_null()))
    orphans = orphans.with_columns(
        **{f"take_{b}": pl.col(f"rest_{b}") for b in names},
        kind=pl.lit("collection"),
        memo=pl.concat_str(pl.lit("re-allocation of earlier payments: "), pl.col("memo")),
    )
    pays = pays.with_columns(kind=_kind_of("collection"), memo=_event_memo(), event=pl.col("posted_event"))
    columns = ["claim_id", "portfolio_id", "kind", "event", "day", "memo", *[f"take_{b}" for b in names]]
    every = pl.concat([pays.select(columns), orphans.select(columns)], how="vertical_relaxed")
    cash = pl.sum_horizontal([pl.col(f"take_{b}") for b in names])
    return _posting(
        every,
        pl.col("kind"),
        pl.col("event"),
        pl.col("day"),
        pl.col("memo"),
        [(Role.CASH, cash)] + [(BUCKET_ROLE[b], -pl.col(f"take_{b}")) for b in names],
    )


#: the events that move money (the others act on limitation only)
MONEY_KINDS = tuple(k.value for k in EventKind if not k.limitation and k is not EventKind.REVERSAL)


def _on_last_change(m: Movements, claims: pl.DataFrame) -> pl.DataFrame:
    """``claims`` with the event, day and memo of each one's last change in the period of an event
    that moves money (none: no event, the period's last day)."""
    last = (
        m.changes.filter(pl.col("kind").is_in(MONEY_KINDS))
        .sort("claim_id", "order")
        .group_by("claim_id", maintain_order=True)
        .last()
        .select("claim_id", event="posted_event", day="day", memo=_event_memo(), last_sign="sign")
    )
    return claims.join(last, on="claim_id", how="left").with_columns(
        pl.col("day").fill_null(m.period.last),
        pl.col("memo").fill_null(pl.lit(f"period {m.period.first}..{m.period.last}")),
    )


def _remeasured(m: Movements) -> pl.DataFrame:
    """Waivers, capitalizations and write-offs: each claim's movement on its last change of that
    kind in the period; a movement with no such change (a backdated payment before a waiver
    changed what the waiver took) on the claim's last change of any kind."""
    parts = []
    specs: Mapping[str, tuple[str, list]] = {
        "waiver": (
            "interest_waiver",
            [(Role.INTEREST_WAIVED, pl.col("d_waived")), (Role.RECEIVABLE_INTEREST, -pl.col("d_waived"))],
        ),
        "capitalization": (
            "capitalization",
            [
                (Role.RECEIVABLE_PRINCIPAL, pl.col("d_capitalized")),
                (Role.RECEIVABLE_INTEREST, -pl.col("d_capitalized")),
            ],
        ),
        "write_off": (
            "write_off",
            [
                (Role.WRITE_OFF_LOSS, pl.col("d_wo_principal") + pl.col("d_wo_interest") + pl.col("d_wo_costs")),
                (Role.RECEIVABLE_PRINCIPAL, -pl.col("d_wo_principal")),
                (Role.RECEIVABLE_INTEREST, -pl.col("d_wo_interest")),
                (Role.RECEIVABLE_COSTS, -pl.col("d_wo_costs")),
            ],
        ),
    }
    counters = {
        "waiver": ["d_waived"],
        "capitalization": ["d_capitalized"],
        "write_off": ["d_wo_principal", "d_wo_interest", "d_wo_costs"],
    }
    for kind, (event_kind, legs) in specs.items():
        moved = m.claims.filter(pl.any_horizontal([pl.col(c) != 0 for c in counters[kind]])).select(
            "claim_id", "portfolio_id", *counters[kind]
        )
        if moved.height == 0:
            continue
        own = (
            m.changes.filter(pl.col("kind") == event_kind)
            .sort("claim_id", "order")
            .group_by("claim_id", maintain_order=True)
            .last()
            .select("claim_id", event="posted_event", day="day", memo=_event_memo(), last_sign="sign")
        )
        with_own = moved.join(own, on="claim_id", how="inner")
        others = _on_last_change(m, moved.join(own, on="claim_id", how="anti"))
        every = pl.concat([with_own, others.select(with_own.columns)], how="vertical_relaxed")
        parts.append(
            _posting(
                every,
                pl.when(pl.col("last_sign") < 0).then(pl.lit("reversal")).otherwise(pl.lit(kind)),
                pl.col("event"),
                pl.col("day"),
                pl.col("memo"),
                legs,
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=POSTING_SCHEMA)


def _commissions(m: Movements) -> pl.DataFrame:
    """An agency's commission on each payment change made during one of its placements (the
    payment's day within placed_on..recalled_on and its source the agency, as allocation/results.py
    counts them): half up on the amount at the agency's rate; a reversal takes it back."""
    if m.placements.height == 0:
        return pl.DataFrame(schema=POSTING_SCHEMA)
    pays = m.changes.filter(pl.col("kind") == "payment")
    during = (
        pays.join(m.placements, on="claim_id", how="inner")
        .filter(
            (pl.col("source_date") >= pl.col("placed_on"))
            & (pl.col("recalled_on").is_null() | (pl.col("source_date") <= pl.col("recalled_on")))
            & (pl.col("source") == pl.col("agency_id"))
        )
        .unique(["claim_id", "posted_event", "target"], keep="first", maintain_order=True)
        .with_columns(fee=pl.col("sign") * ((pl.col("amount") * pl.col("rate_bp") + 5_000) // 10_000))
    )
    memo = pl.concat_str(pl.lit("commission of "), pl.col("agency_id"), pl.lit(" on "), _event_memo())
    return _posting(
        during,
        _kind_of("commission"),
        pl.col("posted_event"),
        pl.col("day"),
        memo,
        [(Role.COMMISSION_EXPENSE, pl.col("fee")), (Role.AGENCY_PAYABLE, -pl.col("fee"))],
    )


def trial_balance(lines: pl.DataFrame, chart: Chart) -> pl.DataFrame:
    """Debits, credits and their difference per account and portfolio (and each account's total
    over the portfolios, portfolio_id null), in the chart's order."""
    names = chart.names()
    per = lines.group_by("account", "portfolio_id").agg(pl.col("debit").sum(), pl.col("credit").sum())
    total = per.group_by("account").agg(pl.col("debit").sum(), pl.col("credit").sum())
    total = total.with_columns(portfolio_id=pl.lit(None, pl.String)).select(per.columns)
    order = {number: i for i, number in enumerate(dict.fromkeys(chart.number(r) for r in Role))}
    out = pl.concat([per, total]).with_columns(
        name=pl.col("account").replace_strict(names, default=None),
        balance=pl.col("debit") - pl.col("credit"),
        rank=pl.col("account").replace_strict(order, default=len(order)),
    )
    return out.sort("rank", pl.col("portfolio_id").is_null(), "portfolio_id").select(
        "account", "name", "portfolio_id", "debit", "credit", "balance"
    )
