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
def piece_interest(principal, bp, days):
    """round_half_up(principal x bp x days / (10000 x 365)) in exact int64 arithmetic.

    Split principal = q x D + r, so the product never exceeds the result itself plus
    r x bp x days < D x bp x days (bp and days are bounded by the caller)."""
    q = principal // DENOMINATOR
    r = principal - q * DENOMINATOR
    return q * bp * days + (r * bp * days + HALF) // DENOMINATOR


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def accrue(principal, first, last, rate_day, rate_bp, first_row, end_row, capped, contract_bp, pieces, n_pieces):
    """Interest on ``principal`` for days first..last inclusive.

    ``rate_day[first_row:end_row]`` / ``rate_bp`` is the table deciding the rate. Each stretch at
    one rate is a piece, rounded on its own. Pieces are written to ``pieces`` (rows of first day,
    last day, days, bp, interest) from row ``n_pieces`` while there is room. Returns the total and
    the new piece count."""
    if last < first:
        return 0, n_pieces
    lo = first_row
    hi = end_row
    while lo < hi:  # row = last row with rate_day <= first
        mid = (lo + hi) // 2
        if rate_day[mid] <= first:
            lo = mid + 1
        else:
            hi = mid
    row = lo - 1
    total = 0
    day = first
    while day <= last:
        bp = rate_in_force(row, first_row, capped, contract_bp, rate_bp)
        nxt = row + 1
        end = last
        while nxt < end_row and rate_day[nxt] <= last:
            if rate_in_force(nxt, first_row, capped, contract_bp, rate_bp) != bp:
                end = rate_day[nxt] - 1
                break
            nxt += 1
        days = end - day + 1
        interest = piece_interest(principal, bp, days)
        total += interest
        if n_pieces < pieces.shape[0]:
            pieces[n_pieces, 0] = day
            pieces[n_pieces, 1] = end
            pieces[n_pieces, 2] = days
            pieces[n_pieces, 3] = bp
            pieces[n_pieces, 4] = interest
        n_pieces += 1
        day = end + 1
        row = nxt
    return total, n_pieces
