"""MT940 statements as Polish banks write them (the ZBP variant), read with the ``mt-940`` library.

``mt940.parse`` reads the tags (``:25:`` account, ``:61:`` statement line, ``:86:`` its details);
the ``:86:`` details of Polish banks are ``~NN`` subfields, read here:

======  ===========================================================
``~00`` the bank's name of the transaction type (``VE02``, ``PRZELEW``)
``~20``-``~25``  the title, in 35-character pieces (joined as written)
``~27``, ``~28``  the counterparty's name (``~29``: its address)
``~30``, ``~31``  the counterparty's bank sort code and account
``~32``, ``~33``  the counterparty's name again (preferred when present)
``~38``  the counterparty's IBAN
``~60``-``~63``  further details: a bank that identifies mass payments writes the virtual
         account credited here (any 26-digit number in the details that is not the
         counterparty's nor the statement's own account is taken as it)
======  ===========================================================

A ``:61:`` marked ``RC`` (reversal of a credit) or with a ``RTI`` transaction type (returned item)
is a return; its customer reference, when not ``NONREF``, names the credit it returns.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from payments.statements.lines import (
    CREDIT,
    DEBIT,
    Statement,
    StatementError,
    accounts_in,
    frame,
    nrb,
    sha256_of,
)

_SUBFIELD = re.compile(r"[~^](\d{2})")
_ACCOUNT_TAG = re.compile(r"^:25:(.*)$", re.MULTILINE)
_NOREF = {"", "NONREF", "NOTPROVIDED"}


def looks_like(head: str) -> bool:
    return bool(re.search(r"^:20:", head, re.MULTILINE)) and ":61:" in head or ":25:" in head and ":60F:" in head


def decode(raw: bytes) -> str:
    """MT940 files come in UTF-8 or, from older systems, Windows-1250."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1250")


def subfields(details: str) -> tuple[str, dict[str, str]]:
    """'034~00VE02~20Title~21more' -> ('034', {'00': 'VE02', '20': 'Title', '21': 'more'}); a
    subfield repeated is joined."""
    text = details.replace("\r", "").replace("\n", "")
    parts = _SUBFIELD.split(text)
    code, found = parts[0].strip(), {}
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        found[key] = found.get(key, "") + value
    return code, found


def read(path: Path) -> Statement:
    import mt940

    text = decode(path.read_bytes())
    accounts = {nrb(a.strip()) or a.strip().lstrip("/") for a in _ACCOUNT_TAG.findall(text)}
    if not accounts:
        raise StatementError(f"{path}: MT940 without an account (:25:)")
    if len(accounts) > 1:
        raise StatementError(f"{path}: MT940 with statements of several accounts ({', '.join(sorted(accounts))})")
    [account] = accounts
    try:
        transactions = mt940.parse(text)
    except Exception as e:  # the library raises its own and plain errors on malformed tags
        raise StatementError(f"{path}: not a readable MT940 statement: {e}") from None
    statement_ref = transactions.data.get("transaction_reference")
    rows = [_line(position, t.data, account) for position, t in enumerate(transactions, start=1)]
    return Statement(path, "mt940", account, statement_ref, frame(rows), sha256_of(path))


def _line(position: int, data: dict, account: str) -> dict:
    status = str(data.get("status") or "")
    amount = data.get("amount")
    value = abs(Decimal(str(amount.amount))) if amount is not None else None
    code, fields = subfields(str(data.get("transaction_details") or ""))
    payer = nrb(fields.get("38")) or nrb(fields.get("31")) or (fields.get("38") or fields.get("31") or "").strip()
    name = (fields.get("32", "") + fields.get("33", "")).strip() or (
        fields.get("27", "") + fields.get("28", "")
    ).strip()
    title = "".join(fields.get(str(k), "") for k in range(20, 26)).strip()
    if not fields:  # unstructured details: the whole text is the title
        title = code
    further = " ".join(v for k, v in fields.items() if k not in ("31", "38", "30"))
    virtual = accounts_in(further, {account, payer or ""})
    customer_ref = str(data.get("customer_reference") or "").strip()
    bank_ref = str(data.get("bank_reference") or "").strip()
    kind = str(data.get("id") or "")
    is_return = status == "RC" or kind[1:] == "RTI"
    problem = None
    if value is None or value != value.quantize(Decimal("0.01")):
        problem = "the amount is not an amount in grosz"
    ref = next((r for r in (bank_ref, customer_ref) if r.upper() not in _NOREF), None)
    return {
        "position": position,
        "bank_ref": ref,
        "booking_date": data.get("entry_date") or data.get("date"),
        "value_date": data.get("date"),
        "amount": int(value * 100) if problem is None else None,
        "currency": getattr(amount, "currency", None),
        # RD (reversal of a debit) puts money in, RC takes it out
        "direction": CREDIT if status in ("C", "RD") else DEBIT,
        "is_return": is_return,
        "return_of": customer_ref if is_return and customer_ref.upper() not in _NOREF else None,
        "title": title,
        "counterparty_name": name or None,
        "counterparty_account": payer or None,
        "virtual_account": virtual[0] if virtual else None,
        "problem": problem,
    }
