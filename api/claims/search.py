"""Claims found by what a person has at hand: the seller's reference (``PKO/000123456``), the
debtor's PESEL or NIP (digits; dashes and spaces are ignored), or a part of the debtor's name.

What is typed decides what is searched: ten or eleven digits are a NIP or a PESEL (then a
seller_ref), anything with a digit or a slash is a seller_ref (exact; then a name, if no seller_ref
matches), anything else a name (case ignored: on PostgreSQL for every letter, on SQLite for ASCII
letters only; at least three letters). The results name debtors, so the search is audited (``read_debtor``, subject
``search``) with the caller, the query and the debtors shown.

Speed: a PESEL/NIP is looked up by its index; a seller_ref or a name scans (a 10M-claim book on
PostgreSQL: a second or two). At most ``LIMIT`` rows are returned, by claim_id.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from engine.errors import InputError
from engine.store.records import AuditAction, audit

LIMIT = 50
_SELECT = (
    "SELECT c.claim_id, c.portfolio_id, c.seller_ref, c.principal, c.due_date, d.debtor_id, d.name, d.national_id, "
    "d.city, s.total_due, s.time_barred, s.limitation_date FROM claims c LEFT JOIN debtors d ON d.debtor_id = c.debtor_id "
    "LEFT JOIN portfolios f ON f.portfolio_id = c.portfolio_id "
    "LEFT JOIN claim_state s ON s.run_id = f.current_run_id AND s.claim_id = c.claim_id "
)


def kinds_of(query: str) -> list[tuple[str, str]]:
    """What a typed query is searched as, in order (the first that finds claims wins)."""
    text = " ".join(query.split())
    digits = re.sub(r"[\s-]", "", text)
    if digits.isdigit() and len(digits) in (10, 11):
        return [("national_id", digits), ("seller_ref", text)]
    letters = len(re.sub(r"[\W\d_]", "", text))
    if any(ch.isdigit() for ch in text) or "/" in text:
        return [("seller_ref", text)] + ([("name", text)] if letters >= 3 else [])
    if letters < 3:
        raise InputError(f"search {query!r}: a seller_ref, a PESEL or NIP, or at least three letters of a name")
    return [("name", text)]


def search(*, store: sa.Engine, query: str, who: str, limit: int = LIMIT) -> dict:
    """The claims matching ``query`` (at most ``limit``), how it was read, and whether there are more."""
    tried = kinds_of(query)
    with store.begin() as conn:
        for kind, value in tried:
            if kind == "national_id":
                where, params = "d.national_id = :value", {"value": value}
            elif kind == "seller_ref":
                where, params = "c.seller_ref = :value", {"value": value}
            else:
                pattern = "%" + value.lower().replace("%", "").replace("_", "") + "%"
                where, params = "lower(d.name) LIKE :value", {"value": pattern}
            statement = sa.text(_SELECT + f"WHERE {where} ORDER BY c.claim_id LIMIT :limit")
            rows = [dict(r) for r in conn.execute(statement, params | {"limit": limit + 1}).mappings()]
            if rows:
                break
        shown = rows[:limit]
        debtors = sorted({r["debtor_id"] for r in shown if r["debtor_id"] is not None})
        audit(conn, AuditAction.READ_DEBTOR, "search", {"query": query, "by": kind, "debtor_ids": debtors[:200]}, who)
    return {"query": query, "by": kind, "claims": shown, "more": len(rows) > limit}
