"""Interest accrual over a window of days, split where the claim's rate changes (docs/engine.md §2)."""

from numba import int64, njit, uint64

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
    itself plus r x bp x days < D x bp x days (bp and days are bounded by the caller). Every term
    is >= 0, so the division is an unsigned one (no floor correction for negatives)."""
    w = bp * days
    return q * w + int64((uint64(r * w) + uint64(HALF)) // uint64(DENOMINATOR))


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def record_piece(pieces, n_pieces, first, last, days, bp, interest):
    if n_pieces < pieces.shape[0]:
        pieces[n_pieces, 0] = first
        pieces[n_pieces, 1] = last
        pieces[n_pieces, 2] = days
        pieces[n_pieces, 3] = bp
        pieces[n_pieces, 4] = interest
    return n_pieces + 1


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def split_piece(q, r, bp, first, last, interest, c1, c2):
    """What of a piece's ``interest`` (days first..last at ``bp``) goes to the days before ``c1``
    and to the days c1..c2-1 (the rest: to the days from ``c2``), the piece cut into runs at the
    cuts (docs/engine.md §3a): every run but the last gets min(what is left, its own rounded
    interest), the last run the rest, so the runs add up to the piece exactly."""
    if last < c1:
        return interest, 0
    if first >= c2:
        return 0, 0
    if first >= c1 and last < c2:
        return 0, interest
    left = interest
    before = 0
    day = first
    if day < c1:  # a run before c1, and the piece goes on past it
        before = min(left, piece_interest(q, r, bp, c1 - day))
        left -= before
        day = c1
    if day >= c2:
        return before, 0
    if last < c2:
        return before, left
    middle = min(left, piece_interest(q, r, bp, c2 - day))
    return before, middle


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def accrue(principal, first, last, row, rates, first_row, end_row, capped, contract_bp, pieces, n_pieces, c1, c2):
    """Interest on ``principal`` for days first..last inclusive.

    ``rates`` is (rate_day, rate_bp, rate_last): a row's first day, its rate and its last day (the
    next row's first day - 1, or the largest day for a table's last row); ``first_row:end_row`` are
    the rows deciding the claim's rate. ``row`` is where to start looking for the row in force on
    ``first``: any row at or before it (``first_row - 1`` when nothing is known). A claim's windows
    follow one another, so passing back the row this returns makes the look-up a step or two
    instead of a search. Each stretch at one rate is a piece, rounded on its own. Pieces are written
    to ``pieces`` (rows of first day, last day, days, bp, interest) from row ``n_pieces`` while
    there is room. Each piece is also cut at days ``c1`` <= ``c2`` (``split_piece``; c1 = first and
    c2 = last + 1 cut nothing, and then no piece is split). Returns the total, its parts on the days before ``c1`` and on days
    c1..c2-1, the new piece count and the row in force on ``last``.

    An uncapped basis' rows each change the rate (``KernelRules`` drops a row that repeats the
    rate before it), so each row in the window is one piece; a capped basis may pay the same
    min(contract, table) over several rows, which then make one piece."""
    rate_day, rate_bp, rate_last = rates
    while row + 1 < end_row and rate_day[row + 1] <= first:
        row += 1
    if last < first:
        return 0, 0, 0, n_pieces, row
    q = principal // DENOMINATOR  # once per window: the principal is the same in every piece
    r = principal - q * DENOMINATOR
    total = 0
    band0 = 0
    band1 = 0
    day = first
    cut = c1 > first or c2 <= last
    if not capped and row >= first_row:
        while True:
            bp = rate_bp[row]
            end = rate_last[row]
            if end >= last:
                interest = piece_interest(q, r, bp, last - day + 1)
                n_pieces = record_piece(pieces, n_pieces, day, last, last - day + 1, bp, interest)
                total += interest
                if not cut:
                    return total, 0, total, n_pieces, row
                x0, x1 = split_piece(q, r, bp, day, last, interest, c1, c2)
                return total, band0 + x0, band1 + x1, n_pieces, row
            interest = piece_interest(q, r, bp, end - day + 1)
            n_pieces = record_piece(pieces, n_pieces, day, end, end - day + 1, bp, interest)
            if cut:
                x0, x1 = split_piece(q, r, bp, day, end, interest, c1, c2)
                band0 += x0
                band1 += x1
            total += interest
            day = end + 1
            row += 1
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
        n_pieces = record_piece(pieces, n_pieces, day, end, days, bp, interest)
        if cut:
            x0, x1 = split_piece(q, r, bp, day, end, interest, c1, c2)
            band0 += x0
            band1 += x1
        if end == last:
            if not cut:
                return total, 0, total, n_pieces, nxt - 1
            return total, band0, band1, n_pieces, nxt - 1
        day = end + 1
        row = nxt
