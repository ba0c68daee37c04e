"""Expected remaining collections (ERC): chain-ladder on the book's monthly collections by vintage.

The method (docs/reports.md says it for people):

1. **The triangle.** Cumulative collections C_v(k) of every vintage v (a portfolio's claims bought
   in one month) at the end of each development month k it has complete (``collections``).
2. **Development factors.** f_k = sum_v C_v(k+1) / sum_v C_v(k) over the vintages that have month
   k+1 complete (volume-weighted, the classic chain-ladder estimator), pooled across the whole
   book: a young portfolio borrows the later months' development of the older ones.
3. **The book's curve and its tail.** The book's collections per zloty of price, month by month:
   r(k) = the month-k collections of the vintages developed by chain-ladder / their price, over
   those that have month k complete; its running sum is the book's curve (cumulative collections /
   price). Past the oldest vintage's months r(k) is extrapolated from its latest months (at most
   ``TAIL_POINTS``) with the better fitting (least squares on log r) of two decays: exponential
   (log r = a + b*k) and inverse power (log r = a + b*log(k+1)); a fit that does not decay (b >= 0)
   is not used; when neither decays, the mean of the latest 12 months goes on ("flat"); with fewer
   than three months there is no tail (nothing expected past the observed months). The factors
   there are the curve's own growth, P(k+1) / P(k).
4. **Projection.** C_v(n+j) = C_v(n) * f_n * ... * f_(n+j-1) from the last complete month n; the
   month-by-month differences are the expected collections, for the ``HORIZON`` months after the
   as-of month (and the rest of the as-of month when it is not over: its projected month less what
   it already collected, never below 0).
5. **Young vintages.** A vintage with fewer than ``MIN_MONTHS`` complete months, or nothing
   collected yet, would let one noisy month decide everything: its expected collections are its
   price times the book's r(k) for the same months.
6. **Value.** Each month's expected collections discounted from the end of that month to the
   as-of day at the annual ``rate``: cf / (1 + rate) ** (days / 365).

Pure numpy over (vintages x months) arrays: a book has tens or hundreds of vintages, never a loop
per claim. Estimates are floats while projected and rounded half up to grosz at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from reports.collections import VINTAGE, month_end

#: months of expected collections after the as-of month (seven years)
HORIZON = 84
#: vintages behind a factor for it to count as observed (fewer: the book's curve's growth is used)
MIN_VINTAGES = 1
#: complete months a vintage needs before its own collections are developed (fewer: price-based)
MIN_MONTHS = 6
#: observed months of the book's curve the tail is fitted on (the latest ones)
TAIL_POINTS = 36


@dataclass(frozen=True)
class Tail:
    model: str  # "exponential", "inverse power", "flat" or "none"
    a: float
    b: float
    points: int  # observed months fitted
    from_month: int  # the first development month the tail supplies

    def rate(self, months: np.ndarray) -> np.ndarray:
        """Collections per zloty of price the tail expects in development months ``months``."""
        if self.model in ("exponential", "flat"):
            return np.exp(self.a + self.b * months)
        if self.model == "inverse power":
            return np.exp(self.a + self.b * np.log(months + 1.0))
        return np.zeros(len(months))


@dataclass(frozen=True)
class Development:
    """The book's development: factors f_k for k = 0 .. len-1 (f_k takes C(k) to C(k+1)), which of
    them were observed, how many vintages stand behind each, the tail, and the pooled curve of
    cumulative collections per zloty of price (``per_price``, by development month)."""

    factors: np.ndarray
    observed: np.ndarray  # bool
    vintages: np.ndarray  # int
    tail: Tail
    per_price: np.ndarray

    def table(self, through: int | None = None) -> list[dict]:
        n = len(self.factors) if through is None else min(through, len(self.factors))
        return [
            {
                "month": k,
                "factor": float(self.factors[k]),
                "source": "observed" if self.observed[k] else "tail",
                "vintages": int(self.vintages[k]),
            }
            for k in range(n)
        ]


def triangle(vintages: pl.DataFrame, monthly: pl.DataFrame) -> np.ndarray:
    """Cumulative collections (float grosz) of each vintage (``vintages``' rows, in order) by
    development month 0 .. max last_complete; NaN where a month is not complete."""
    width = max(int(vintages["last_complete"].max() or -1) + 1, 1)
    index = vintages.select(*VINTAGE).with_row_index("row")
    cells = monthly.join(index, on=list(VINTAGE)).filter(pl.col("month") < width)
    grid = np.zeros((vintages.height, width), dtype=np.float64)
    np.add.at(grid, (cells["row"].to_numpy(), cells["month"].to_numpy()), cells["collected"].to_numpy())
    cumulative = np.cumsum(grid, axis=1)
    complete = np.arange(width)[None, :] <= vintages["last_complete"].to_numpy()[:, None]
    return np.where(complete, cumulative, np.nan)


def development(vintages: pl.DataFrame, cumulative: np.ndarray, length: int) -> Development:
    """Factors f_0 .. f_(length-1): observed where vintages stand behind them, else from the tail."""
    last = vintages["last_complete"].to_numpy()
    price = vintages["price"].to_numpy().astype(np.float64)
    width = cumulative.shape[1]
    filled = np.nan_to_num(cumulative)
    pair = np.arange(1, width)[None, :] <= last[:, None]  # month k+1 complete (so k too)
    num = np.where(pair, filled[:, 1:], 0.0).sum(axis=0)
    den = np.where(pair, filled[:, :-1], 0.0).sum(axis=0)
    behind = pair.sum(axis=0)
    usable = (behind >= MIN_VINTAGES) & (den > 0)

    # the book's collections per zloty of price, month by month, of the vintages developed by
    # chain-ladder (a young vintage's empty months would dilute it): rate(k) = their month-k
    # collections / their price, over those with month k complete
    at_last = filled[np.arange(len(last)), np.clip(last, 0, width - 1)] if len(last) else np.zeros(0)
    grown = (last + 1 >= MIN_MONTHS) & (at_last > 0)
    pooled = grown if grown.any() else last >= 0
    complete = (np.arange(width)[None, :] <= last[:, None]) & pooled[:, None]
    monthly = np.diff(filled, axis=1, prepend=0.0)
    paid = np.where(complete, monthly, 0.0).sum(axis=0)
    priced = np.where(complete, price[:, None], 0.0).sum(axis=0)
    seen = np.nonzero(priced > 0)[0]
    observed_rates = np.where(priced > 0, paid / np.where(priced > 0, priced, 1.0), 0.0)
    tail = fit_tail(observed_rates[: int(seen.max()) + 1] if len(seen) else np.zeros(0))

    rate = np.zeros(length + 1)
    known = min(len(observed_rates), length + 1)
    rate[:known] = observed_rates[:known]
    beyond = np.arange(tail.from_month, length + 1)
    rate[beyond] = tail.rate(beyond.astype(np.float64))
    per_price = np.cumsum(rate)

    factors = np.ones(length)
    observed = np.zeros(length, dtype=bool)
    vintages_behind = np.zeros(length, dtype=np.int64)
    k = min(length, width - 1)
    factors[:k] = np.where(usable[:k], num[:k] / np.where(den[:k] > 0, den[:k], 1.0), 1.0)
    observed[:k], vintages_behind[:k] = usable[:k], behind[:k]
    gaps = ~observed & (per_price[:-1] > 0)
    factors[gaps] = per_price[1:][gaps] / per_price[:-1][gaps]
    return Development(factors, observed, vintages_behind, tail, per_price)


def fit_tail(rates: np.ndarray) -> Tail:
    """The decay of the book's monthly collections per zloty of price fitted on its latest months
    (at most ``TAIL_POINTS``, month 0 left out: it holds what came before the purchase)."""
    from_month = len(rates)
    months = np.nonzero(rates > 0)[0]
    months = months[months >= 1][-TAIL_POINTS:]
    if len(months) < 3:
        return Tail("none", 0.0, 0.0, len(months), from_month)
    y = np.log(rates[months])
    fits = []
    for model, x in (("exponential", months.astype(np.float64)), ("inverse power", np.log(months + 1.0))):
        b, a = np.polyfit(x, y, 1)
        if b < 0:
            sse = float(np.sum((a + b * x - y) ** 2))
            fits.append((sse, Tail(model, float(a), float(b), len(months), from_month)))
    if not fits:  # no decay in sight: the latest year's level goes on
        level = float(np.mean(rates[months[-12:]]))
        return Tail("flat", float(np.log(level)), 0.0, min(len(months), 12), from_month)
    return min(fits, key=lambda f: f[0])[1]


@dataclass(frozen=True)
class Projection:
    """Expected collections by vintage (rows of ``vintages``) and calendar month (``months``:
    month numbers, ``collections.month_number``), and how each vintage was projected."""

    months: np.ndarray
    expected: np.ndarray  # (vintages, months), float grosz
    method: np.ndarray  # per vintage: "chain-ladder" or "price"


def project(
    vintages: pl.DataFrame,
    cumulative: np.ndarray,
    dev: Development,
    as_of_month: int,
    collected_this_month: np.ndarray,
    horizon: int = HORIZON,
) -> Projection:
    """Each vintage's expected collections in the calendar months after its last complete month
    through ``as_of_month + horizon``. ``collected_this_month``: per vintage, what the as-of
    month has brought so far when that month is not complete (taken off its projection)."""
    last = vintages["last_complete"].to_numpy()
    start = vintages["purchase_month"].to_numpy()
    price = vintages["price"].to_numpy().astype(np.float64)
    first_month = int(min(start.min() + last.min() + 1, as_of_month + 1)) if len(last) else as_of_month + 1
    months = np.arange(first_month, as_of_month + horizon + 1)
    expected = np.zeros((len(last), len(months)))
    method = np.empty(len(last), dtype=object)
    cum_factor = np.concatenate([[1.0], np.cumprod(dev.factors)])  # C(k)/C(0): C(k) = C(n) * cf[k] / cf[n]
    for v in range(len(last)):  # vintages, not claims
        n = int(last[v])
        base = cumulative[v, n] if n >= 0 else 0.0
        dev_months = months - start[v]  # development month of each calendar month
        ahead = (dev_months > n) & (dev_months >= 0)
        ks = dev_months[ahead]
        if n + 1 >= MIN_MONTHS and base > 0:
            method[v] = "chain-ladder"
            expected[v, ahead] = base * (cum_factor[ks] - cum_factor[ks - 1]) / cum_factor[n]
        else:
            method[v] = "price"
            expected[v, ahead] = price[v] * (dev.per_price[ks] - dev.per_price[np.maximum(ks - 1, 0)] * (ks > 0))
        current = months == as_of_month
        if current.any() and ahead[current].any():  # the as-of month is not over: its rest only
            i = int(np.nonzero(current)[0][0])
            expected[v, i] = max(expected[v, i] - float(collected_this_month[v]), 0.0)
    return Projection(months, expected, method)


def development_length(vintages: pl.DataFrame, as_of_month: int, horizon: int = HORIZON) -> int:
    """Factors needed: up to the oldest vintage's development month at the horizon's end."""
    if vintages.height == 0:
        return horizon + 1
    return int(as_of_month + horizon - vintages["purchase_month"].min()) + 2


def discounted(months: np.ndarray, expected: np.ndarray, as_of: date, rate: float) -> float:
    """The present value at ``as_of`` of ``expected`` (per calendar month), each month's collections
    discounted from the month's last day at the annual ``rate``."""
    days = np.array([max((month_end(int(m)) - as_of).days, 0) for m in months], dtype=np.float64)  # months
    return float(np.sum(expected * (1.0 + rate) ** (-days / 365.0)))


def grosz(value: float | np.ndarray) -> int | np.ndarray:
    """An estimate rounded half up to grosz."""
    rounded = np.floor(np.asarray(value, dtype=np.float64) + 0.5).astype(np.int64)
    return int(rounded) if np.ndim(rounded) == 0 else rounded
