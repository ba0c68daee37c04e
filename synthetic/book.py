"""A seeded synthetic portfolio in docs/data-contract.md's shape (tables ``claims`` and ``events``).

It stands in for a debt purchaser's book of bank, telco and utility claims: used by the demo, the
tests and the benchmarks (up to 10 million claims and ~30 million events), so everything is
vectorised numpy, turned into polars frames chunk by chunk; nothing loops per claim or per event.
The book-wide part (portfolios, each claim's portfolio and debtor) is drawn first; then chunks of
``CHUNK_CLAIMS`` claims with their events are drawn in parallel threads, each from its own stream.

The same ``(n_claims, seed, options)`` give the same frames, bit for bit, whatever the number of
threads (``SeedSequence(seed)`` children per chunk, a fixed order of draws, a stable sort). Money is
int64 grosz, dates are ``pl.Date``.

What the data looks like:

* a handful of portfolios named ``SELLER-YYYY-MM`` (the purchase month); the claims of one portfolio
  are a contiguous claim_id range, share its purchase_date and mostly its cutoff_date (a few claims
  are cut off up to a month earlier); seller_ref is ``PFX/NNNNNNNNN``, unique within a portfolio;
* debtors: most claims have their own debtor, ~12 % belong to a debtor who already has another claim
  (possibly in another portfolio); a debtor keeps one debtor_kind; ~85 % consumers;
* principal log-normal by sector, 50 zł .. 200 000 zł, ~0.7 % zero; interest and costs at cut-off
  mostly nonzero; due dates 2005 .. cutoff; interest_basis, limitation_kind by sector and debtor kind;
  contractual rates 800 .. 3000 bp (often above the statutory maximum); ~10 % bought with a title;
  purchase_price 3 .. 30 % of principal + interest;
* events between cutoff_date + 1 and ``latest_day``: a gamma-Poisson count per claim with mean
  ``events_per_claim`` overall (follow-ups and reversals included); mostly payments, then costs,
  waivers, capitalizations, a few write-offs, acknowledgments (payments are mostly installments of
  a few % of the balance; a payment on the claim's last day of events may settle it in full or
  overpay); court filings followed later by
  proceedings_end and/or title (unless still pending at ``latest_day``), enforcement filings followed
  by enforcement_end; ~3 % reversals, each of an earlier payment or cost of the same claim, dated on
  or after it and sorted after it; ~3 % of events share a day with another event of the claim.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from engine.domain import CLAIM_LIMITATION_KINDS, DebtorFlag, DebtorKind, EventKind, InterestBasis, LimitationKind

__all__ = ["generate_debtors", "generate_portfolio", "write_portfolio"]

_EPOCH = date(1970, 1, 1)
_DUE_FLOOR = date(2005, 1, 1)  # no due date earlier than this (unless cut-off itself is earlier)
_PORTFOLIO_SPAN_YEARS = 14  # purchases happen within this many years before latest_day
_N_PORTFOLIOS = 8
#: claims per chunk: chunks are generated in parallel threads, each from its own random stream
#: (child k of ``SeedSequence(seed)``), so the output depends on this constant, never on the number
#: of threads. 2**18 keeps each chunk's arrays small enough for malloc to reuse them: page faults on
#: fresh memory are what costs most on a VM (1 << 20 took twice as long for 10M claims).
CHUNK_CLAIMS = 1 << 18
#: worker threads; None: one per CPU
WORKERS: int | None = None
_SHARED_DEBTOR = 0.12  # share of claims whose debtor already has another claim
_REF_GAP = 4  # seller_ref numbers advance by 1.._REF_GAP from claim to claim

BANK, TELCO, UTILITY = 0, 1, 2
#: (name in portfolio_id, seller_ref prefix, sector)
SELLERS: tuple[tuple[str, str, int], ...] = (
    ("PKO", "PKO", BANK),
    ("MBANK", "MBK", BANK),
    ("ALIOR", "ALR", BANK),
    ("SANTANDER", "SAN", BANK),
    ("GETIN", "GTN", BANK),
    ("TELCO", "TEL", TELCO),
    ("ORANGE", "ORA", TELCO),
    ("PLAY", "PLY", TELCO),
    ("PGE", "PGE", UTILITY),
    ("ENERGA", "ENG", UTILITY),
    ("TAURON", "TAU", UTILITY),
    ("PGNIG", "PGN", UTILITY),
)

# ------------------------------------------------------------------------------------- vocabularies
_DEBTOR_KINDS = [m.value for m in DebtorKind]
_BASES = [m.value for m in InterestBasis]
_LIMITATION_KINDS = [m.value for m in CLAIM_LIMITATION_KINDS]
_EVENT_KINDS = [m.value for m in EventKind]
_SOURCES = [f"AG{i:02d}" for i in range(1, 13)] + ["bailiff", "direct", "seller"]

CONSUMER, BUSINESS = (_DEBTOR_KINDS.index(k) for k in (DebtorKind.CONSUMER, DebtorKind.BUSINESS))
B_NONE, B_STAT, B_COMM, B_CONTR, B_MED = (
    _BASES.index(k)
    for k in (
        InterestBasis.NONE,
        InterestBasis.STATUTORY_LATE,
        InterestBasis.COMMERCIAL_LATE,
        InterestBasis.CONTRACTUAL,
        InterestBasis.COMMERCIAL_LATE_MEDICAL,
    )
)
L_GENERAL, L_PERIODIC, L_BUSINESS, L_SALES, L_CUSTOM = (
    _LIMITATION_KINDS.index(k)
    for k in (
        LimitationKind.GENERAL,
        LimitationKind.PERIODIC,
        LimitationKind.BUSINESS,
        LimitationKind.SALES,
        LimitationKind.CUSTOM,
    )
)
K = {m: _EVENT_KINDS.index(m.value) for m in EventKind}
N_AGENCIES = 12
S_BAILIFF, S_DIRECT, S_SELLER = N_AGENCIES, N_AGENCIES + 1, N_AGENCIES + 2
S_NULL = -1

# ------------------------------------------------------------------------------------ distributions
#: business share of new debtors, by sector
_BUSINESS_SHARE = np.array([0.08, 0.15, 0.18])
#: principal in zł: log-normal (median, sigma) by sector; business debts are 3x larger
_PRINCIPAL_MEDIAN_ZL = np.array([6000.0, 450.0, 900.0])
_PRINCIPAL_SIGMA = np.array([1.25, 0.9, 1.0])
_PRINCIPAL_MIN, _PRINCIPAL_MAX = 50_00, 200_000_00  # grosz
_ZERO_PRINCIPAL = 0.007
#: days from due date to cut-off: 30 + log-normal(median, sigma) by sector
_AGE_MEDIAN_DAYS = np.array([700.0, 400.0, 500.0])
_AGE_SIGMA = 0.8
#: interest_basis probabilities (columns in _BASES order) for consumers by sector, and for businesses
_BASIS_P_CONSUMER = {
    BANK: {B_STAT: 0.55, B_CONTR: 0.38, B_NONE: 0.07},
    TELCO: {B_STAT: 0.88, B_CONTR: 0.04, B_NONE: 0.08},
    UTILITY: {B_STAT: 0.88, B_CONTR: 0.04, B_NONE: 0.08},
}
#: (B_MED: public hospitals, SP ZOZ, as debtors of utilities and suppliers)
_BASIS_P_BUSINESS = {B_COMM: 0.66, B_MED: 0.04, B_CONTR: 0.15, B_STAT: 0.10, B_NONE: 0.05}
_CONTRACTUAL_BP = (800, 3000)  # inclusive; the statutory maximum was 1850..2450 in the 2020s
#: limitation_kind probabilities by sector (business debtors are then mostly "business")
_LIMITATION_P = {
    BANK: {L_GENERAL: 0.63, L_PERIODIC: 0.35, L_CUSTOM: 0.02},
    TELCO: {L_PERIODIC: 0.65, L_GENERAL: 0.20, L_SALES: 0.13, L_CUSTOM: 0.02},
    UTILITY: {L_SALES: 0.50, L_PERIODIC: 0.35, L_GENERAL: 0.13, L_CUSTOM: 0.02},
}
_BUSINESS_LIMITATION = 0.7
_CUSTOM_YEARS = (1, 10)  # inclusive
_TITLE_SHARE = 0.10
#: purchase price as a share of principal + interest: per-portfolio range by sector, per-claim noise
_PRICE_SHARE = np.array([[0.08, 0.30], [0.03, 0.10], [0.05, 0.15]])
_PRICE_MIN, _PRICE_MAX = 0.03, 0.30

#: kinds of the "primary" events (the others are follow-ups and reversals of these)
_PRIMARY_P = {
    EventKind.PAYMENT: 0.755,
    EventKind.COST: 0.08,
    EventKind.INTEREST_WAIVER: 0.025,
    EventKind.CAPITALIZATION: 0.015,
    EventKind.WRITE_OFF: 0.005,
    EventKind.ACKNOWLEDGMENT: 0.03,
    EventKind.COURT_FILING: 0.05,
    EventKind.ENFORCEMENT_FILING: 0.04,
}
#: court filing outcome: (proceedings_end and title, title only, proceedings_end only); else pending
_COURT_OUTCOME = (0.45, 0.20, 0.20)
_ENFORCEMENT_END = 0.75
#: follow-ups per primary event, before dropping those that would fall after latest_day (~15 %)
_FOLLOW_UPS = (
    _PRIMARY_P[EventKind.COURT_FILING] * (2 * _COURT_OUTCOME[0] + _COURT_OUTCOME[1] + _COURT_OUTCOME[2])
    + _PRIMARY_P[EventKind.ENFORCEMENT_FILING] * _ENFORCEMENT_END
) * 0.85
_REVERSAL_SHARE = 0.03  # of all events
_SETTLE, _OVERPAY = 0.2, 0.03  # of payments on a claim's last day of events
_SAME_DAY = 0.03  # primary events put on the day of the claim's previous primary event
_GAMMA_SHAPE = 2.0  # per-claim event rate ~ Gamma(shape) x mean: some claims are busy, many quiet


def _days(d: date) -> int:
    return (d - _EPOCH).days


def _choice(rng: np.random.Generator, probs: dict[int, float], size: int) -> np.ndarray:
    """Codes drawn with the given probabilities (normalised), as int8."""
    codes = np.fromiter(probs.keys(), dtype=np.int8)
    cdf = np.cumsum(np.fromiter(probs.values(), dtype=np.float64))
    cdf /= cdf[-1]
    picks = np.searchsorted(cdf, rng.random(size), side="right")
    return codes[np.minimum(picks, len(codes) - 1)]


def _lognormal(
    rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float, size: int
) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(size, dtype=np.float32))


def _labels(values: list[str], codes: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    """Strings of ``values`` picked by int codes (null where ``null``), without a Python loop."""
    idx = pl.Series(codes.astype(np.uint32, copy=False))
    if null is not None:
        idx = pl.select(pl.when(pl.lit(pl.Series(null))).then(None).otherwise(pl.lit(idx))).to_series()
    return pl.Series(values, dtype=pl.String).gather(idx)


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32, copy=False)).cast(pl.Date)


def _nullable(values: np.ndarray, valid: np.ndarray, dtype: pl.DataType) -> pl.Series:
    return (
        pl.select(pl.when(pl.lit(pl.Series(valid))).then(pl.lit(pl.Series(values))).otherwise(None))
        .to_series()
        .cast(dtype)
    )


# ------------------------------------------------------------------------------------------- book
@dataclass
class _Book:
    """What spans the whole book: portfolios, and each claim's portfolio and debtor."""

    names: list[str]  # portfolio_id, by portfolio
    prefixes: list[str]  # seller_ref prefix, by portfolio
    sector: np.ndarray  # by portfolio
    purchase: np.ndarray  # day, by portfolio
    cutoff: np.ndarray  # day, by portfolio
    price_share: np.ndarray  # by portfolio
    ref_base: np.ndarray  # first seller_ref number, by portfolio
    port: np.ndarray  # portfolio of each claim (int8)
    debtor_id: np.ndarray  # of each claim
    debtor_kind: np.ndarray  # of each claim (int8 code)


def _book(rng: np.random.Generator, n: int, first_claim_id: int, latest: int) -> _Book:
    # portfolios: distinct sellers, purchase days in the years before latest_day
    n_port = max(1, min(_N_PORTFOLIOS, n))
    sellers = rng.choice(len(SELLERS), n_port, replace=False)
    hi = latest - 45
    lo = hi - 365 * _PORTFOLIO_SPAN_YEARS
    purchase = np.sort(rng.integers(lo, hi + 1, n_port))
    cutoff = purchase - rng.integers(14, 121, n_port)
    sector = np.array([SELLERS[s][2] for s in sellers], dtype=np.int8)
    price_lo = _PRICE_SHARE[sector, 0]
    price_share = price_lo + rng.random(n_port) * (_PRICE_SHARE[sector, 1] - price_lo)
    names = []
    for s, day in zip(sellers, purchase.tolist(), strict=True):  # a handful: not per claim
        d = date.fromordinal(_EPOCH.toordinal() + day)
        names.append(f"{SELLERS[s][0]}-{d.year}-{d.month:02d}")
    ref_base = rng.integers(1_000_000, 50_000_000, n_port)
    sizes = rng.multinomial(n, rng.dirichlet(np.full(n_port, 2.0)))
    port = np.repeat(np.arange(n_port, dtype=np.int8), sizes)

    # debtors: most claims bring a new debtor; some go to a debtor met earlier in the book (in any
    # portfolio); a debtor keeps the kind drawn for its first claim
    shared = rng.random(n) < _SHARED_DEBTOR
    shared[:1] = False
    debtor_rank = np.cumsum(~shared) - 1  # 0-based number of the new debtor
    debtor_rank[shared] = rng.integers(0, debtor_rank[shared] + 1)  # a debtor already seen
    first_kind = np.where(rng.random(n) < _BUSINESS_SHARE[sector[port]], BUSINESS, CONSUMER).astype(np.int8)
    debtor_kind = first_kind[~shared][debtor_rank]  # first_kind[~shared] is indexed by debtor rank
    return _Book(
        names=names,
        prefixes=[SELLERS[s][1] for s in sellers],
        sector=sector,
        purchase=purchase,
        cutoff=cutoff,
        price_share=price_share,
        ref_base=ref_base,
        port=port,
        debtor_id=first_claim_id + debtor_rank.astype(np.int64),
        debtor_kind=debtor_kind,
    )


# ------------------------------------------------------------------------------------------ claims
def _claims(rng: np.random.Generator, book: _Book, lo: int, hi: int, first_claim_id: int) -> dict[str, np.ndarray]:
    """Claims lo..hi (0-based positions in the book) as numpy arrays (codes for strings, day numbers
    for dates)."""
    n = hi - lo
    port = book.port[lo:hi]
    sector = book.sector[port]
    debtor_kind = book.debtor_kind[lo:hi]
    business = debtor_kind == BUSINESS
    # seller_ref numbers: strictly increasing along the book, so unique within each portfolio
    ref_num = book.ref_base[port] + lo * _REF_GAP + np.cumsum(rng.integers(1, _REF_GAP + 1, n, dtype=np.int64))

    # money
    zl = _lognormal(rng, _PRINCIPAL_MEDIAN_ZL[sector], _PRINCIPAL_SIGMA[sector], n) * np.where(business, 3.0, 1.0)
    grosz = zl * 100.0
    # fold the tails back into the range instead of piling them up on its ends
    grosz = np.where(grosz > _PRINCIPAL_MAX, _PRINCIPAL_MAX * (0.3 + 0.7 * rng.random(n, dtype=np.float32)), grosz)
    grosz = np.where(grosz < _PRINCIPAL_MIN, _PRINCIPAL_MIN * (1.0 + 3.0 * rng.random(n, dtype=np.float32)), grosz)
    principal = np.clip(np.rint(grosz), _PRINCIPAL_MIN, _PRINCIPAL_MAX).astype(np.int64)
    del grosz
    principal[rng.random(n) < _ZERO_PRINCIPAL] = 0
    del zl

    # dates
    cutoff = book.cutoff[port] - np.where(rng.random(n) < 0.2, rng.integers(0, 31, n), 0)
    purchase = book.purchase[port]
    age = 30 + _lognormal(rng, _AGE_MEDIAN_DAYS[sector], _AGE_SIGMA, n).astype(np.int64)
    age[rng.random(n) < 0.005] = 0
    max_age = np.maximum(cutoff - _days(_DUE_FLOOR), 0)
    age = np.where(age > max_age, age % (max_age + 1), age)  # no pile-up on the floor
    due = cutoff - age

    years = age / 365.0
    has_interest = (rng.random(n) < 0.85) & (age > 0)
    interest = np.where(
        principal > 0,
        np.minimum(principal * years * (0.05 + 0.15 * rng.random(n)), 1.5 * principal),
        _lognormal(rng, 20000.0, 1.0, n),
    )
    interest = np.where(has_interest, np.rint(interest), 0).astype(np.int64)
    costs = np.minimum(_lognormal(rng, 8000.0, 1.0, n), 2_000_000.0)
    costs = np.where(rng.random(n) < 0.65, np.maximum(np.rint(costs), 100), 0).astype(np.int64)
    del years, has_interest

    basis = np.where(
        business,
        _choice(rng, _BASIS_P_BUSINESS, n),
        np.select(
            [sector == BANK, sector == TELCO],
            [_choice(rng, _BASIS_P_CONSUMER[BANK], n), _choice(rng, _BASIS_P_CONSUMER[TELCO], n)],
            _choice(rng, _BASIS_P_CONSUMER[UTILITY], n),
        ),
    ).astype(np.int8)
    rate_bp = rng.integers(_CONTRACTUAL_BP[0], _CONTRACTUAL_BP[1] + 1, n, dtype=np.int32)

    limitation = np.select(
        [sector == BANK, sector == TELCO],
        [_choice(rng, _LIMITATION_P[BANK], n), _choice(rng, _LIMITATION_P[TELCO], n)],
        _choice(rng, _LIMITATION_P[UTILITY], n),
    ).astype(np.int8)
    limitation[business & (rng.random(n) < _BUSINESS_LIMITATION)] = L_BUSINESS
    limitation_years = rng.integers(_CUSTOM_YEARS[0], _CUSTOM_YEARS[1] + 1, n, dtype=np.int8)

    # a title became final after the due date and before the purchase
    room = purchase - due - 1  # days strictly between
    has_title = (rng.random(n) < _TITLE_SHARE) & (room >= 1)
    title = due + 1 + (rng.random(n) * np.maximum(room, 1)).astype(np.int64)
    title = np.minimum(title, purchase - 1)

    share = book.price_share[port] * np.exp(0.25 * rng.standard_normal(n, dtype=np.float32))
    share = np.clip(share, _PRICE_MIN, _PRICE_MAX)
    price = np.floor((principal + interest) * share).astype(np.int64)
    del share

    return {
        "claim_id": first_claim_id + np.arange(lo, hi, dtype=np.int64),
        "port": port,
        "ref_num": ref_num,
        "debtor_id": book.debtor_id[lo:hi],
        "debtor_kind": debtor_kind,
        "principal": principal,
        "interest": interest,
        "costs": costs,
        "due": due,
        "cutoff": cutoff,
        "basis": basis,
        "rate_bp": rate_bp,
        "limitation": limitation,
        "limitation_years": limitation_years,
        "has_title": has_title,
        "title": title,
        "purchase": purchase,
        "price": price,
    }


def _claims_frame(book: _Book, c: dict[str, np.ndarray]) -> pl.DataFrame:
    port = c["port"]
    ref = _labels(book.prefixes, port)
    seller_ref = pl.select(
        pl.concat_str([pl.lit(ref), pl.lit(pl.Series(c["ref_num"])).cast(pl.String).str.zfill(9)], separator="/")
    ).to_series()
    return pl.DataFrame(
        [
            pl.Series("claim_id", c["claim_id"], dtype=pl.Int64),
            _labels(book.names, port).alias("portfolio_id"),
            seller_ref.alias("seller_ref"),
            pl.Series("debtor_id", c["debtor_id"], dtype=pl.Int64),
            _labels(_DEBTOR_KINDS, c["debtor_kind"]).alias("debtor_kind"),
            pl.Series("principal", c["principal"], dtype=pl.Int64),
            pl.Series("interest_at_cutoff", c["interest"], dtype=pl.Int64),
            pl.Series("costs_at_cutoff", c["costs"], dtype=pl.Int64),
            _dates(c["due"]).alias("due_date"),
            _dates(c["cutoff"]).alias("cutoff_date"),
            _labels(_BASES, c["basis"]).alias("interest_basis"),
            _nullable(c["rate_bp"], c["basis"] == B_CONTR, pl.Int32).alias("contractual_rate_bp"),
            _labels(_LIMITATION_KINDS, c["limitation"]).alias("limitation_kind"),
            _nullable(c["limitation_years"], c["limitation"] == L_CUSTOM, pl.Int8).alias("limitation_years"),
            _nullable(c["title"].astype(np.int32), c["has_title"], pl.Int32).cast(pl.Date).alias("title_date"),
            _dates(c["purchase"]).alias("purchase_date"),
            pl.Series("purchase_price", c["price"], dtype=pl.Int64),
        ]
    )


# ------------------------------------------------------------------------------------------ events
def _events(
    rng: np.random.Generator, c: dict[str, np.ndarray], events_per_claim: float, first_event_id: int, latest: int
) -> dict[str, np.ndarray]:
    n = len(c["claim_id"])
    cutoff = c["cutoff"]
    span = latest - cutoff  # event days are cutoff + 1 .. latest
    # primary events per claim, so that with follow-ups and reversals the mean is events_per_claim
    primary_mean = events_per_claim * (1.0 - _REVERSAL_SHARE) / (1.0 + _FOLLOW_UPS)
    rate = primary_mean * rng.gamma(_GAMMA_SHAPE, 1.0 / _GAMMA_SHAPE, n) if primary_mean > 0 else np.zeros(n)
    counts = np.where(span >= 1, rng.poisson(rate), 0)
    del rate
    ci = np.repeat(np.arange(n, dtype=np.int64), counts)  # claim index of each primary event
    e0 = len(ci)

    # days: skewed towards the early years after cut-off
    u = rng.random(e0, dtype=np.float32).astype(np.float64) ** 1.3
    day = cutoff[ci] + 1 + np.minimum((u * span[ci]).astype(np.int64), span[ci] - 1)
    del u
    same = rng.random(e0, dtype=np.float32) < _SAME_DAY
    same[0:1] = False
    same[1:] &= ci[1:] == ci[:-1]
    day[1:][same[1:]] = day[:-1][same[1:]]
    del same

    kinds = np.fromiter((K[k] for k in _PRIMARY_P), dtype=np.int8)
    kind = kinds[_choice(rng, dict(enumerate(_PRIMARY_P.values())), e0)]

    # amounts, relative to the claim's balance at cut-off. Payments are mostly installments; a
    # payment on the claim's last day of (primary) events may settle it: the balance plus roughly
    # the interest accrued since cut-off, so a little short or a little over, or clearly over
    balance = (c["principal"] + c["interest"] + c["costs"])[ci].astype(np.float64)
    amount = np.zeros(e0, dtype=np.int64)
    pay = kind == K[EventKind.PAYMENT]
    starts = np.cumsum(counts) - counts
    last_day = np.maximum.reduceat(day, starts[counts > 0]) if e0 else np.zeros(0, dtype=day.dtype)
    is_last = day == np.repeat(last_day, counts[counts > 0])
    del starts, last_day
    r = np.where(is_last, rng.random(e0, dtype=np.float32), np.float32(1.0))
    installment = np.clip(_lognormal(rng, 0.04, 0.8, e0), 0.002, 0.5) * balance
    installment = np.maximum(installment, 1000.0)
    installment = np.where(rng.random(e0, dtype=np.float32) < 0.6, np.rint(installment / 100.0) * 100.0, installment)
    accrued = c["principal"][ci] * (0.11 / 365.0) * (day - cutoff[ci])
    settle = (balance + accrued) * (0.92 + 0.1 * rng.random(e0, dtype=np.float32))
    over = (balance + accrued) * (1.2 + 0.8 * rng.random(e0, dtype=np.float32)) + 100.0
    pay_amount = np.where(r < _SETTLE, settle, np.where(r < _SETTLE + _OVERPAY, over, installment))
    amount[pay] = np.maximum(np.rint(pay_amount[pay]), 1).astype(np.int64)
    del installment, settle, over, accrued, pay_amount, r, is_last
    cost = kind == K[EventKind.COST]
    amount[cost] = np.clip(np.rint(_lognormal(rng, 15000.0, 1.0, e0)[cost]), 100, 5_000_000).astype(np.int64)
    waive = kind == K[EventKind.INTEREST_WAIVER]
    interest = c["interest"][ci[waive]].astype(np.float64)
    waived = np.where(interest > 0, interest * (0.1 + 0.9 * rng.random(len(interest))), 5000.0)
    amount[waive] = np.maximum(np.rint(waived), 1).astype(np.int64)
    del balance, interest, waived

    # sources: each claim has its collection agency
    agency = rng.integers(0, N_AGENCIES, n, dtype=np.int8)[ci]
    r = rng.random(e0, dtype=np.float32)
    before_purchase = day <= c["purchase"][ci]
    source = np.full(e0, S_NULL, dtype=np.int8)
    pay_source = np.where(
        before_purchase,
        np.where(r < 0.9, S_SELLER, S_DIRECT),
        np.where(r < 0.55, agency, np.where(r < 0.75, S_BAILIFF, S_DIRECT)),
    )
    source[pay] = pay_source[pay]
    cost_source = np.where(r < 0.35, S_BAILIFF, np.where(r < 0.8, S_DIRECT, agency))
    source[cost] = cost_source[cost]
    ack = kind == K[EventKind.ACKNOWLEDGMENT]
    source[ack] = np.where(r < 0.6, agency, S_DIRECT)[ack]
    office = np.isin(kind, [K[EventKind.INTEREST_WAIVER], K[EventKind.CAPITALIZATION], K[EventKind.WRITE_OFF]])
    source[office & (r < 0.5)] = S_DIRECT
    source[kind == K[EventKind.ENFORCEMENT_FILING]] = S_DIRECT
    del pay_source, cost_source, before_purchase, agency, r, ack, office

    # follow-ups: court filing -> proceedings_end and/or title; enforcement filing -> enforcement_end
    court = np.flatnonzero(kind == K[EventKind.COURT_FILING])
    r = rng.random(len(court))
    a, b, cc = _COURT_OUTCOME
    has_end = (r < a) | ((r >= a + b) & (r < a + b + cc))
    has_title = r < a + b
    end_day = day[court] + 30 + _lognormal(rng, 200.0, 0.8, len(court)).astype(np.int64)
    title_day = np.where(
        has_end,
        end_day + rng.integers(0, 46, len(court)),
        day[court] + 30 + _lognormal(rng, 150.0, 0.8, len(court)).astype(np.int64),
    )
    enf = np.flatnonzero(kind == K[EventKind.ENFORCEMENT_FILING])
    has_enf_end = rng.random(len(enf)) < _ENFORCEMENT_END
    enf_end_day = day[enf] + 30 + _lognormal(rng, 400.0, 0.8, len(enf)).astype(np.int64)
    keep_end = has_end & (end_day <= latest)
    keep_title = has_title & (title_day <= latest)
    keep_enf = has_enf_end & (enf_end_day <= latest)
    f_ci = np.concatenate([ci[court[keep_end]], ci[court[keep_title]], ci[enf[keep_enf]]])
    f_day = np.concatenate([end_day[keep_end], title_day[keep_title], enf_end_day[keep_enf]])
    f_kind = np.concatenate(
        [
            np.full(int(keep_end.sum()), K[EventKind.PROCEEDINGS_END], dtype=np.int8),
            np.full(int(keep_title.sum()), K[EventKind.TITLE], dtype=np.int8),
            np.full(int(keep_enf.sum()), K[EventKind.ENFORCEMENT_END], dtype=np.int8),
        ]
    )
    f_source = np.where(f_kind == K[EventKind.ENFORCEMENT_END], S_BAILIFF, S_NULL).astype(np.int8)
    # rank orders same-day events: primaries, then proceedings_end, title, and reversals last
    f_rank = np.where(f_kind == K[EventKind.TITLE], 2, 1).astype(np.int8)

    # reversals of payments and costs, on the day of the target or up to 90 days later
    e_final = e0 * (1.0 + _FOLLOW_UPS) / (1.0 - _REVERSAL_SHARE)
    candidates = np.flatnonzero(pay | cost)
    p_rev = min(1.0, _REVERSAL_SHARE * e_final / max(len(candidates), 1))
    target = candidates[rng.random(len(candidates)) < p_rev]
    lag = np.where(rng.random(len(target)) < 0.3, 0, rng.integers(1, 91, len(target)))
    r_day = np.minimum(day[target] + lag, latest)
    del candidates, pay, cost, lag

    n_f, n_r = len(f_ci), len(target)
    all_ci = np.concatenate([ci, f_ci, ci[target]])
    all_day = np.concatenate([day, f_day, r_day])
    all_kind = np.concatenate([kind, f_kind, np.full(n_r, K[EventKind.REVERSAL], dtype=np.int8)])
    all_amount = np.concatenate([amount, np.zeros(n_f + n_r, dtype=np.int64)])
    all_source = np.concatenate([source, f_source, source[target]])
    rank = np.concatenate([np.zeros(e0, dtype=np.int8), f_rank, np.full(n_r, 3, dtype=np.int8)])
    rev_target = np.concatenate([np.full(e0 + n_f, -1, dtype=np.int64), target])  # pre-sort index
    del ci, day, kind, amount, source, f_ci, f_day, f_kind, f_source, f_rank, r_day

    # sort by (claim, day, rank), stable, and number the events in that order
    order = _sort_order(all_ci, all_day, rank)
    del rank
    position = np.empty_like(order)
    position[order] = np.arange(len(order), dtype=order.dtype)
    event_id = first_event_id + np.arange(len(order), dtype=np.int64)
    rev_target = rev_target[order]
    is_rev = rev_target >= 0
    reverses = np.zeros(len(order), dtype=np.int64)
    reverses[is_rev] = first_event_id + position[rev_target[is_rev]]
    del position, rev_target
    return {
        "event_id": event_id,
        "claim_id": c["claim_id"][all_ci[order]],
        "day": all_day[order],
        "kind": all_kind[order],
        "amount": all_amount[order],
        "reverses": reverses,
        "is_rev": is_rev,
        "source": all_source[order],
    }


def _sort_order(ci: np.ndarray, day: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The stable order by (claim, day, rank): one packed uint64 key when it fits, else lexsort."""
    if len(ci) == 0:
        return np.zeros(0, dtype=np.int64)
    d0 = int(day.min())
    claim_bits = max(1, int(ci.max()).bit_length())
    day_bits = max(1, (int(day.max()) - d0).bit_length())
    if claim_bits + day_bits + 2 > 64:
        return np.lexsort((rank, day, ci))
    key = ci.astype(np.uint64) << np.uint64(day_bits + 2)
    key |= (day - d0).astype(np.uint64) << np.uint64(2)
    key |= rank.astype(np.uint64)
    return np.argsort(key, kind="stable")


def _events_frame(e: dict[str, np.ndarray]) -> pl.DataFrame:
    kind = e["kind"]
    has_amount = np.isin(kind, [K[k] for k in (EventKind.PAYMENT, EventKind.COST, EventKind.INTEREST_WAIVER)])
    source = e["source"]
    return pl.DataFrame(
        [
            pl.Series("event_id", e["event_id"], dtype=pl.Int64),
            pl.Series("claim_id", e["claim_id"], dtype=pl.Int64),
            _dates(e["day"]).alias("event_date"),
            _labels(_EVENT_KINDS, kind).alias("kind"),
            _nullable(e["amount"], has_amount, pl.Int64).alias("amount"),
            _nullable(e["reverses"], e["is_rev"], pl.Int64).alias("reverses"),
            _labels(_SOURCES, np.maximum(source, 0), source < 0).alias("source"),
        ]
    )


# ---------------------------------------------------------------------------------------------- API
def generate_portfolio(
    n_claims: int,
    seed: int,
    *,
    events_per_claim: float = 3.0,
    first_claim_id: int = 1,
    first_event_id: int = 1,
    latest_day: date = date(2026, 10, 31),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(claims, events)`` in docs/data-contract.md's dtypes, the same for the same arguments.

    Claims are sorted by claim_id (``first_claim_id`` ..), events by (claim_id, event_date,
    event_id) with event_id ``first_event_id`` .. increasing along that order. Every date is on
    or before ``latest_day``; events fall on cutoff_date + 1 .. latest_day. debtor_id values start
    at ``first_claim_id`` too, so generating chunks with disjoint claim_id ranges gives disjoint
    debtors. ``events_per_claim`` is the mean number of events per claim (all kinds). ``seed`` is
    a non-negative int (numpy's ``SeedSequence``).

    The frames are made of one polars chunk per ``CHUNK_CLAIMS`` claims (no final rechunk: copying
    2.7 GB for 10M claims would take longer than generating them); call ``.rechunk()`` if
    contiguous buffers matter. ``write_portfolio`` does not need it.
    """
    if n_claims < 0:
        raise ValueError("n_claims must be >= 0")
    if events_per_claim < 0:
        raise ValueError("events_per_claim must be >= 0")
    n = int(n_claims)
    latest = _days(latest_day)
    n_chunks = max(1, -(-n // CHUNK_CLAIMS))
    streams = np.random.SeedSequence(seed).spawn(1 + n_chunks)  # child k is the same for any count
    book = _book(np.random.default_rng(streams[0]), n, int(first_claim_id), latest)

    def chunk(k: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        rng = np.random.default_rng(streams[1 + k])
        lo, hi = k * CHUNK_CLAIMS, min(n, (k + 1) * CHUNK_CLAIMS)
        c = _claims(rng, book, lo, hi, int(first_claim_id))
        e = _events(rng, c, float(events_per_claim), 0, latest)  # event ids from 0 in each chunk
        return _claims_frame(book, c), _events_frame(e)

    workers = min(n_chunks, WORKERS or os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:  # numpy and polars release the GIL
            parts = list(pool.map(chunk, range(n_chunks)))
    else:
        parts = [chunk(k) for k in range(n_chunks)]
    claims = pl.concat([p[0] for p in parts], rechunk=False)
    offset = int(first_event_id)
    events = []
    for _, ev in parts:
        events.append(ev.with_columns(pl.col("event_id") + offset, pl.col("reverses") + offset))
        offset += ev.height
    del parts
    return claims, pl.concat(events, rechunk=False)


def write_portfolio(out_dir: Path, claims: pl.DataFrame, events: pl.DataFrame) -> tuple[Path, Path]:
    """Write ``claims.parquet`` and ``events.parquet`` into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    claims_path, events_path = out_dir / "claims.parquet", out_dir / "events.parquet"
    claims.write_parquet(claims_path)
    events.write_parquet(events_path)
    return claims_path, events_path


# -------------------------------------------------------------------------------------------- debtors
#: share of debtors carrying each flag (allocation holds them)
DEBTOR_FLAG_SHARES = {
    DebtorFlag.DECEASED: 0.006,
    DebtorFlag.BANKRUPT: 0.008,
    DebtorFlag.DISPUTED: 0.01,
    DebtorFlag.GDPR_RESTRICTED: 0.004,
}
_NO_NATIONAL_ID = 0.06  # debtors the seller sent without a PESEL/NIP
_BAD_NATIONAL_ID = 0.02  # ... with one whose check digit is wrong
_NO_POSTAL_CODE = 0.02
_PESEL_WEIGHTS = np.array([1, 3, 7, 9, 1, 3, 7, 9, 1, 3])
_NIP_WEIGHTS = np.array([6, 5, 7, 2, 3, 4, 5, 6, 7])


def _digits_text(digits: np.ndarray) -> pl.Series:
    """Rows of digits (n x k, 0..9) as strings."""
    n, k = digits.shape
    raw = (digits.astype(np.uint8) + ord("0")).tobytes()
    return pl.Series([raw[i * k : (i + 1) * k].decode() for i in range(n)], dtype=pl.String)


def _pesels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid PESELs (n x 11 digits) of people born 1940..1999."""
    year = rng.integers(40, 100, n)
    month, day = rng.integers(1, 13, n), rng.integers(1, 29, n)
    serial = rng.integers(0, 10_000, n)
    d = np.stack(
        [
            year // 10,
            year % 10,
            month // 10,
            month % 10,
            day // 10,
            day % 10,
            serial // 1000,
            serial // 100 % 10,
            serial // 10 % 10,
            serial % 10,
        ],
        axis=1,
    )
    check = (10 - (d * _PESEL_WEIGHTS).sum(axis=1) % 10) % 10
    return np.concatenate([d, check[:, None]], axis=1)


def _nips(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid NIPs (n x 10 digits): a draw whose check would be 10 takes another last digit."""
    d = rng.integers(0, 10, (n, 9))
    d[:, 0] = rng.integers(1, 10, n)
    check = (d * _NIP_WEIGHTS).sum(axis=1) % 11
    while (bad := check == 10).any():  # the last weighed digit moved on until the check is a digit
        d[bad, 8] = (d[bad, 8] + 1) % 10
        check = (d * _NIP_WEIGHTS).sum(axis=1) % 11
    return np.concatenate([d, check[:, None]], axis=1)


def generate_debtors(claims: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The debtors of ``claims`` (docs/data-contract.md ``debtors``), the same for the same claims
    and seed: a valid PESEL (consumers) or NIP (businesses) for most, none or a wrong check digit
    for some, a postal code NN-NNN for most, and a few of each holding flag (DEBTOR_FLAG_SHARES)."""
    people = claims.select("debtor_id", "debtor_kind").unique("debtor_id", keep="first").sort("debtor_id")
    n = people.height
    rng = np.random.default_rng(np.random.SeedSequence([seed, 17]))
    consumer = (people["debtor_kind"] == DebtorKind.CONSUMER.value).to_numpy()
    pesel, nip = _digits_text(_pesels(rng, n)), _digits_text(_nips(rng, n))
    national = pl.select(pl.when(pl.Series(consumer)).then(pesel).otherwise(nip)).to_series()
    r = rng.random(n)
    wrong = (r >= _NO_NATIONAL_ID) & (r < _NO_NATIONAL_ID + _BAD_NATIONAL_ID)
    last = national.str.slice(-1).cast(pl.Int32)
    national = pl.select(
        pl.when(pl.Series(r < _NO_NATIONAL_ID))
        .then(None)
        .when(pl.Series(wrong))
        .then(national.str.slice(0, national.str.len_chars() - 1) + ((last + 1) % 10).cast(pl.String))
        .otherwise(national)
    ).to_series()
    postal = rng.integers(0, 100_000, n)
    postal_code = pl.Series([f"{p // 1000:02d}-{p % 1000:03d}" for p in postal.tolist()], dtype=pl.String)
    postal_code = pl.select(
        pl.when(pl.Series(rng.random(n) < _NO_POSTAL_CODE)).then(None).otherwise(postal_code)
    ).to_series()
    flags = [
        pl.when(pl.Series(rng.random(n) < share)).then(pl.lit(flag.value)) for flag, share in DEBTOR_FLAG_SHARES.items()
    ]
    flag_lists = pl.select(pl.concat_list(flags).list.drop_nulls()).to_series()
    return people.with_columns(
        national_id=national,
        name=pl.format("Dłużnik {}", pl.col("debtor_id")),
        street=pl.lit(None, pl.String),
        postal_code=postal_code,
        city=pl.lit(None, pl.String),
        phone=pl.lit(None, pl.String),
        email=pl.lit(None, pl.String),
        flags=flag_lists,
    )
