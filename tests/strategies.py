"""Hypothesis strategies for portfolios (claims + events + as_of) in docs/data-contract.md shape.

Values are plain Python (dates as ``datetime.date``, money as int grosz, null as None);
``to_frames`` turns them into polars DataFrames with exactly docs/data-contract.md's dtypes.

``portfolios()`` draws everything through hypothesis (small portfolios that shrink well);
``large_portfolios()`` / ``random_portfolio(seed)`` run the same generator on a seeded
``random.Random`` for portfolios beyond hypothesis's per-example choice budget (100 claims x 20
events).

Dates aim at edge days on purpose: rate-change days of the tables (and the day before), 29 February,
31 December / 1 January, the limitation reform 2018-07-08/09/10, weekends, public holidays, the
claim's own due/cut-off/as-of days and the current limitation end (and the day after).
"""

from __future__ import annotations

import bisect
import random
from datetime import date, timedelta

import polars as pl
from hypothesis import strategies as st

from engine.domain import (
    AMOUNT_EVENT_KINDS,
    CLAIM_LIMITATION_KINDS,
    Bucket,
    DebtorKind,
    EventKind,
    InterestBasis,
    LimitationKind,
)
from engine.rules import load_rules
from tests.builders import frames
from tests.reference.engine_reference import load_rate_table, reference_limitation_date

MIN_DUE = date(1994, 1, 1)
MAX_DAY = date(2031, 12, 31)
MIN_AS_OF = date(1995, 1, 1)

PORTFOLIOS = ("P1", "P2", "P3")
#: docs/data-contract.md's closed choices, from their registries (engine/domain.py): a value added there is drawn here
DEBTOR_KINDS = tuple(k.value for k in DebtorKind)
INTEREST_BASES = tuple(b.value for b in InterestBasis)
LIMITATION_KINDS = tuple(k.value for k in CLAIM_LIMITATION_KINDS)
EVENT_KINDS = tuple(k.value for k in EventKind)
NON_REVERSAL_KINDS = tuple(k for k in EVENT_KINDS if k != EventKind.REVERSAL)
#: Kinds an event is drawn from (payments more often than the rest).
EVENT_KIND_WEIGHTS = NON_REVERSAL_KINDS + ("payment", "payment", "cost")
AMOUNT_KINDS = frozenset(k.value for k in AMOUNT_EVENT_KINDS)
BUCKETS = tuple(b.value for b in Bucket)
SOURCES = (None, "bailiff", "direct", "seller", "AG-01", "AG-02")


def to_frames(claims: list[dict], events: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(claims, events) as polars DataFrames with exactly docs/data-contract.md's columns and dtypes."""
    return frames(claims, events)


# ---------------------------------------------------------------------------------------------
# Edge days
# ---------------------------------------------------------------------------------------------


def _edge_days() -> list[date]:
    days: set[date] = set()
    for table in ("statutory_late", "commercial_late", "maximum_late"):
        for d, _ in load_rate_table(table):
            days.update({d, d - timedelta(days=1)})
    for year in range(1993, 2033):
        days.update({date(year, 1, 1), date(year, 12, 31)})
        if year % 4 == 0:  # 2000 is a leap year too
            days.update({date(year, 2, 28), date(year, 2, 29), date(year, 3, 1)})
        days.update(d for d, _ in load_rules().holidays.holidays(year))  # limitation ends stay on them
        days.add(date(year, 12, 24))
    days.update({date(2018, 7, 8), date(2018, 7, 9), date(2018, 7, 10)})
    days.update({date(2006, 2, 19), date(2006, 2, 20)})
    return sorted(days)


EDGE_DAYS: list[date] = _edge_days()


# ---------------------------------------------------------------------------------------------
# One generator, two sources of choices: hypothesis draws (small portfolios that shrink) or a
# seeded random.Random (large portfolios, beyond hypothesis's per-example choice budget).
# ---------------------------------------------------------------------------------------------


class _DrawPicker:
    def __init__(self, draw):
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, seq):
        return self.draw(st.sampled_from(tuple(seq)))

    def day(self, lo: date, hi: date) -> date:
        return self.draw(st.dates(lo, hi))

    def unique_ints(self, n: int, lo: int, hi: int) -> list[int]:
        return self.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n, unique=True))

    def permutation(self, seq) -> list:
        return list(self.draw(st.permutations(list(seq))))


class _RandomPicker:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq):
        return self.rng.choice(tuple(seq))

    def day(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.rng.randint(0, (hi - lo).days))

    def unique_ints(self, n: int, lo: int, hi: int) -> list[int]:
        return self.rng.sample(range(lo, hi + 1), n)

    def permutation(self, seq) -> list:
        seq = list(seq)
        return self.rng.sample(seq, len(seq))


def _day(pick, lo: date, hi: date, anchors: tuple[date, ...] = ()) -> date:
    """A day in [lo, hi], often an edge day, a weekend day or near one of ``anchors``."""
    if lo >= hi:
        return lo
    mode = pick.choice(("uniform", "edge", "anchor", "weekend", "lo", "hi"))
    if mode == "edge":
        i, j = bisect.bisect_left(EDGE_DAYS, lo), bisect.bisect_right(EDGE_DAYS, hi)
        if i < j:
            return EDGE_DAYS[pick.int(i, j - 1)]
    elif mode == "anchor" and anchors:
        d = pick.choice(anchors) + timedelta(days=pick.choice((0, 0, -1, 1, 2)))
        if lo <= d <= hi:
            return d
    elif mode == "weekend":
        d = pick.day(lo, hi)
        while d.weekday() < 5 and d < hi:
            d += timedelta(days=1)
        return d
    elif mode == "lo":
        return lo
    elif mode == "hi":
        return hi
    return pick.day(lo, hi)


def _money(pick, max_value: int) -> int:
    hi = pick.choice((0, 100, 100_000, max_value, max_value, max_value))
    return pick.int(0, hi) if hi else 0


def _claim(
    pick,
    claim_id: int,
    portfolio_id: str,
    seller_ref: str,
    debtor_id: int,
    debtor_kind: str,
    as_of: date,
    max_money: int,
) -> dict:
    # Mostly due and cut off well before as_of (so that interest accrues), sometimes not.
    due_hi = as_of - timedelta(days=pick.choice((0, 30, 365, 3650))) if pick.int(0, 9) else MAX_DAY
    due = _day(pick, MIN_DUE, max(MIN_DUE, due_hi), (as_of, date(2018, 7, 9), date(max(as_of.year - 3, 1995), 1, 1)))
    how = pick.choice(("same", "soon", "any", "any"))
    if how == "same":
        cutoff = due
    elif how == "soon":
        cutoff = min(MAX_DAY, due + timedelta(days=pick.int(0, 400)))
    else:
        back = timedelta(days=pick.choice((0, 30, 365, 3650)))
        cutoff_hi = max(due, as_of - back) if pick.int(0, 9) else MAX_DAY
        cutoff = _day(pick, due, cutoff_hi, (due, as_of))
    basis = pick.choice(INTEREST_BASES)
    rate = None
    if InterestBasis(basis).contract_rate:
        rate = pick.choice((0, 1, 1000, 2300, 2400, 40000)) if pick.int(0, 1) else pick.int(0, 40000)
    kind = pick.choice(LIMITATION_KINDS)
    years = pick.int(1, 10) if LimitationKind(kind).own_years else None
    title = None
    if pick.int(0, 4) == 0:
        title = _day(pick, due, MAX_DAY, (due, date(2018, 7, 9), as_of))
    purchase = _day(pick, cutoff, MAX_DAY, (cutoff,))
    principal = _money(pick, max_money)
    return {
        "claim_id": claim_id,
        "portfolio_id": portfolio_id,
        "seller_ref": seller_ref,
        "debtor_id": debtor_id,
        "debtor_kind": debtor_kind,
        "principal": principal,
        "interest_at_cutoff": _money(pick, max_money // 10),
        "costs_at_cutoff": _money(pick, max_money // 100),
        "due_date": due,
        "cutoff_date": cutoff,
        "interest_basis": basis,
        "contractual_rate_bp": rate,
        "limitation_kind": kind,
        "limitation_years": years,
        "title_date": title,
        "purchase_date": purchase,
        "purchase_price": pick.int(0, max(principal, 1)),
    }


def _claim_events(pick, claim: dict, as_of: date, min_events: int, max_events: int) -> list[dict]:
    """Events of one claim; ``event_id`` and ``reverses`` hold list positions for now."""
    events: list[dict] = []
    start = max(claim["due_date"], claim["cutoff_date"])
    # the first day whose interest's own 3-year run reaches as_of (docs/engine.md §3a), and the day before
    interest_edge = date(max(as_of.year - 3, MIN_DUE.year), 1, 1)
    base_anchors = (
        claim["due_date"],
        claim["cutoff_date"],
        start,
        as_of,
        as_of + timedelta(days=1),
        claim["purchase_date"],
        interest_edge,
        interest_edge - timedelta(days=1),
    ) + ((claim["title_date"], claim["title_date"] - timedelta(days=1)) if claim["title_date"] else ())
    lo = max(MIN_DUE, claim["due_date"] - timedelta(days=400))  # some before the accrual start
    total = claim["principal"] + claim["interest_at_cutoff"] + claim["costs_at_cutoff"]
    exact = tuple(a for a in (total, claim["principal"], claim["costs_at_cutoff"]) if a > 0)
    may_write_off = pick.int(0, 2) == 0  # else a long ledger would nearly always write off
    for _ in range(pick.int(min_events, max_events)):
        # the current limitation end (and the day after), as the events so far leave it
        end = reference_limitation_date(claim, [dict(e, event_id=i) for i, e in enumerate(events)], date(9999, 12, 31))
        anchors = base_anchors + tuple(e["event_date"] for e in events)  # same-day events
        if end is not None and end < MAX_DAY:
            anchors += (end, end + timedelta(days=1))
        lo_e = lo if pick.int(0, 3) == 0 else start
        hi = MAX_DAY if pick.int(0, 9) == 0 else max(as_of, lo_e)  # some after as_of
        kind = pick.choice(EVENT_KIND_WEIGHTS)
        if kind == "write_off" and not may_write_off:
            kind = "payment"
        amount = None
        if kind in AMOUNT_KINDS:
            how = pick.choice(("small", "medium", "large", "exact"))
            if how == "exact" and exact:
                amount = pick.choice(exact)  # brings a bucket or the total exactly to zero
            else:
                amount = pick.int(1, {"small": 100, "medium": 1_000_000}.get(how, 10 * max(total, 1)))
        events.append(
            {
                "event_id": len(events),
                "claim_id": claim["claim_id"],
                "event_date": _day(pick, lo_e, hi, anchors),
                "kind": kind,
                "amount": amount,
                "reverses": None,
                "source": pick.choice(SOURCES),
            }
        )
    n_targets = len(events)
    if n_targets:
        for _ in range(pick.int(0, max(1, n_targets // 2))):
            t = pick.int(0, n_targets - 1)
            target_day = events[t]["event_date"]
            when = pick.choice(("same", "after", "before", "after_as_of"))
            if when == "same":
                day = target_day
            elif when == "after":
                day = _day(pick, target_day, MAX_DAY, (as_of,))
            elif when == "before":
                day = _day(pick, MIN_DUE, target_day, (target_day - timedelta(days=1),))
            else:
                day = _day(pick, min(as_of + timedelta(days=1), MAX_DAY), MAX_DAY)
            for _ in range(pick.choice((1, 1, 1, 2))):  # sometimes two reversals of one target
                events.append(
                    {
                        "event_id": len(events),
                        "claim_id": claim["claim_id"],
                        "event_date": day,
                        "kind": "reversal",
                        "amount": None,
                        "reverses": t,
                        "source": pick.choice(SOURCES),
                    }
                )
    return events


def _portfolio(
    pick, min_claims: int, max_claims: int, min_events: int, max_events: int, max_money: int
) -> tuple[list[dict], list[dict], date]:
    as_of = _day(pick, MIN_AS_OF, MAX_DAY, (date(2018, 7, 9), date(2025, 12, 24)))
    n = pick.int(min_claims, max_claims)
    claim_ids = pick.unique_ints(n, 1, 2**40)
    debtor_kind_of: dict[int, str] = {}
    per_portfolio: dict[str, int] = {}
    claims, events_per_claim = [], []
    for claim_id in claim_ids:
        portfolio_id = pick.choice(PORTFOLIOS)
        per_portfolio[portfolio_id] = per_portfolio.get(portfolio_id, 0) + 1
        seller_ref = f"ACC-{per_portfolio[portfolio_id]:04d}"  # unique within a portfolio only
        debtor_id = pick.int(1, n // 2 + 1)  # debtors repeat across claims
        if debtor_id not in debtor_kind_of:
            debtor_kind_of[debtor_id] = pick.choice(DEBTOR_KINDS)
        claim = _claim(pick, claim_id, portfolio_id, seller_ref, debtor_id, debtor_kind_of[debtor_id], as_of, max_money)
        claims.append(claim)
        events_per_claim.append(_claim_events(pick, claim, as_of, min_events, max_events))

    # Real event ids: unique across the portfolio and shuffled, so not monotone in date.
    total = sum(len(evs) for evs in events_per_claim)
    ids = pick.permutation(range(1, total + 1)) if total <= 200 else pick.unique_ints(total, 1, 2**40)
    scale = pick.choice((1, 7, 1000))
    events, k = [], 0
    for evs in events_per_claim:
        local = [ids[k + i] * scale for i in range(len(evs))]
        for e in evs:
            e["event_id"] = local[e["event_id"]]
            if e["kind"] == "reversal":
                e["reverses"] = local[e["reverses"]]
        k += len(evs)
        events.extend(evs)
    if total <= 60:  # the ledger's physical order is not the event order either
        events = pick.permutation(events)
    return claims, events, as_of


# ---------------------------------------------------------------------------------------------
# Public strategies
# ---------------------------------------------------------------------------------------------


def portfolios(
    min_claims: int = 1,
    max_claims: int = 8,
    max_events_per_claim: int = 10,
    max_money: int = 10**9,
    min_events_per_claim: int = 0,
):
    """Strategy for ``(claims, events, as_of)`` in docs/data-contract.md shape (shrinks well).

    Keep claims x events small (hypothesis has a per-example choice budget); for large portfolios
    use ``large_portfolios``. ``max_money`` bounds principal (interest_at_cutoff <= max_money/10,
    costs_at_cutoff <= max_money/100).
    """

    @st.composite
    def strategy(draw):
        return _portfolio(
            _DrawPicker(draw), min_claims, max_claims, min_events_per_claim, max_events_per_claim, max_money
        )

    return strategy()


def random_portfolio(
    seed: int,
    n_claims: int = 100,
    min_events_per_claim: int = 10,
    max_events_per_claim: int = 30,
    max_money: int = 10**9,
):
    """A deterministic large portfolio ``(claims, events, as_of)`` from ``seed`` (same generator)."""
    return _portfolio(_RandomPicker(seed), n_claims, n_claims, min_events_per_claim, max_events_per_claim, max_money)


def large_portfolios(
    n_claims: int = 100, min_events_per_claim: int = 10, max_events_per_claim: int = 30, max_money: int = 10**9
):
    """Strategy of large portfolios: a seed drawn by hypothesis (no shrinking inside)."""
    return st.integers(0, 2**32 - 1).map(
        lambda seed: random_portfolio(seed, n_claims, min_events_per_claim, max_events_per_claim, max_money)
    )


def waterfall_orders():
    """One waterfall order (a permutation of costs, interest, principal)."""
    return st.permutations(BUCKETS).map(tuple)


def waterfalls():
    """A single order, or portfolio_id -> order (some portfolios left to the default)."""
    return st.one_of(
        waterfall_orders(),
        st.dictionaries(st.sampled_from(PORTFOLIOS), waterfall_orders(), max_size=len(PORTFOLIOS)),
    )
