"""Interest accrual over a window of days, split where the claim's rate changes (ENGINE.md §2)."""

from numba import njit

#: Basis points of a yearly rate times the days of an actual/365 year: the divisor of every piece.
DENOMINATOR = 10_000 * 365
HALF = DENOMINATOR // 2


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def rate_in_force(row, first_row, capped, contract_bp, rate_bp):
    """The claim's yearly rate (bp) when table row ``row`` is in force (``row < first_row``: before
    the table). An uncapped basis reads the table; a capped one (contractual) pays
    min(contract, table), and the bare contract rate before the table starts."""
    if row < first_row:
        return contract_bp
    table = rate_bp[row]
    if capped and contract_bp < table:
        return contract_bp
    return table


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def piece_interest(q, r, bp, days):
    """round_half_up(principal x bp x days / (10000 x 365)) in exact int64 arithmetic, for
    principal = q x D + r (D = DENOMINATOR, 0 <= r < D): the product never exceeds the result
    itself plus r x bp x days < D x bp x days (bp and days are bounded by the caller)."""
    return q * bp * days + (r * bp * days + HALF) // DENOMINATOR


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def accrue(principal, first, last, row, rate_day, rate_bp, first_row, end_row, capped, contract_bp, pieces, n_pieces):
    """Interest on ``principal`` for days first..last inclusive.

    ``rate_day[first_row:end_row]`` / ``rate_bp`` is the table deciding the rate. ``row`` is where
    to start looking for the row in force on ``first``: any row at or before it (``first_row - 1``
    when nothing is known). A claim's windows follow one another, so passing back the row this
    returns makes the look-up a step or two instead of a search. Each stretch at one rate is a
    piece, rounded on its own. Pieces are written to ``pieces`` (rows of first day, last day, days,
    bp, interest) from row ``n_pieces`` while there is room. Returns the total, the new piece count
    and the row in force on ``last``."""
    while row + 1 < end_row and rate_day[row + 1] <= first:
        row += 1
    if last < first:
        return 0, n_pieces, row
    q = principal // DENOMINATOR  # once per window: the principal is the same in every piece
    r = principal - q * DENOMINATOR
    total = 0
    day = first
    while True:
        bp = rate_in_force(row, first_row, capped, contract_bp, rate_bp)
        nxt = row + 1
        end = last
        while nxt < end_row and rate_day[nxt] <= last:
            if rate_in_force(nxt, first_row, capped, contract_bp, rate_bp) != bp:
                end = rate_day[nxt] - 1
                break
            nxt += 1
        days = end - day + 1
        interest = piece_interest(q, r, bp, days)
        total += interest
        if n_pieces < pieces.shape[0]:
            pieces[n_pieces, 0] = day
            pieces[n_pieces, 1] = end
            pieces[n_pieces, 2] = days
            pieces[n_pieces, 3] = bp
            pieces[n_pieces, 4] = interest
        n_pieces += 1
        if end == last:
            return total, n_pieces, nxt - 1
        day = end + 1
        row = nxt
