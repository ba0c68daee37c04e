"""ISO 20022 camt.053 (BankToCustomerStatement) read with the standard library's ElementTree, any
version of the namespace (``urn:iso:std:iso:20022:tech:xsd:camt.053.001.02`` to ``.08`` and later
differ where this reads only in where the debtor's name sits).

One line per transaction: each ``Ntry/NtryDtls/TxDtls`` (a batch booking holds several), or the
``Ntry`` itself when it has none. What is read, per line:

- amount: ``TxDtls/Amt`` (.08), ``TxDtls/AmtDtls/TxAmt/Amt`` (.02), else the entry's ``Amt``;
  ``CdtDbtInd`` (``CRDT`` credit, ``DBIT`` debit);
- reference: ``TxDtls/Refs/AcctSvcrRef``, else the entry's ``AcctSvcrRef`` (with the transaction's
  number in a batch), else ``Refs/EndToEndId`` (unless ``NOTPROVIDED``);
- title: the unstructured remittance (``RmtInf/Ustrd``, joined) and the structured creditor
  reference (``RmtInf/Strd/CdtrRefInf/Ref``);
- payer: ``RltdPties/Dbtr/Nm`` or ``RltdPties/Dbtr/Pty/Nm``, ``RltdPties/DbtrAcct/Id/IBAN``;
- the virtual account credited: ``RltdPties/CdtrAcct/Id`` (IBAN or ``Othr/Id``) when it is not the
  statement's own account;
- a return: a debit with ``RtrInf`` or the reversal indicator (``RvslInd``) or the bank
  transaction code's sub-family ``RRTN``; ``RtrInf/AddtlInf`` may name the original reference.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

from payments.statements.lines import (
    CREDIT,
    DEBIT,
    Statement,
    StatementError,
    frame,
    grosz,
    nrb,
    sha256_of,
)

_NS = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.\d{3}\.\d{2}\}")


def looks_like(head: str) -> bool:
    return "camt.053" in head and "<" in head


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(node: ET.Element | None, path: str) -> ET.Element | None:
    """The first descendant along ``path`` ('A/B/C', local names, any namespace)."""
    for step in path.split("/"):
        if node is None:
            return None
        node = next((child for child in node if _local(child.tag) == step), None)
    return node


def _all(node: ET.Element | None, path: str) -> list[ET.Element]:
    *parents, last = path.split("/")
    parent = _find(node, "/".join(parents)) if parents else node
    return [] if parent is None else [c for c in parent if _local(c.tag) == last]


def _text(node: ET.Element | None, *paths: str) -> str | None:
    for path in paths:
        found = _find(node, path)
        if found is not None and found.text and found.text.strip():
            return found.text.strip()
    return None


def _day(node: ET.Element | None, path: str) -> date | None:
    text = _text(node, f"{path}/Dt", f"{path}/DtTm")
    return date.fromisoformat(text[:10]) if text else None


def read(path: Path) -> Statement:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise StatementError(f"{path}: not readable XML: {e}") from None
    if not _NS.match(root.tag):
        raise StatementError(f"{path}: not a camt.053 document (root {root.tag})")
    statements = _all(root, "BkToCstmrStmt/Stmt")
    if not statements:
        raise StatementError(f"{path}: camt.053 without a statement (BkToCstmrStmt/Stmt)")
    accounts = {_account(_find(s, "Acct")) for s in statements}
    if len(accounts) != 1 or None in accounts:
        raise StatementError(f"{path}: camt.053 statements of {len(accounts)} accounts (Stmt/Acct/Id): one a file")
    [account] = accounts
    rows: list[dict] = []
    for statement in statements:
        for entry in _all(statement, "Ntry"):
            details = [tx for d in _all(entry, "NtryDtls") for tx in _all(d, "TxDtls")]
            for number, tx in enumerate(details or [None], start=1):
                rows.append(_line(len(rows) + 1, entry, tx, number if len(details) > 1 else 0, account))
    return Statement(path, "camt053", account, _text(statements[0], "Id"), frame(rows), sha256_of(path))


def _account(node: ET.Element | None) -> str | None:
    text = _text(node, "Id/IBAN", "Id/Othr/Id")
    return nrb(text) or text


def _line(position: int, entry: ET.Element, tx: ET.Element | None, number: int, account: str) -> dict:
    # an Element with no children is false: each found node is compared with None
    amount_node = next(
        (n for n in (_find(tx, "Amt"), _find(tx, "AmtDtls/TxAmt/Amt"), _find(entry, "Amt")) if n is not None), None
    )
    problem, amount = None, None
    try:
        amount = grosz(amount_node.text if amount_node is not None else "")
    except ValueError:
        problem = "the amount is not an amount in grosz (Amt)"
    currency = amount_node.get("Ccy") if amount_node is not None else None
    direction = {"CRDT": CREDIT, "DBIT": DEBIT}.get(_text(tx, "CdtDbtInd") or _text(entry, "CdtDbtInd") or "")
    if direction is None:
        problem = problem or "CdtDbtInd is neither CRDT nor DBIT"
    status = _text(entry, "Sts/Cd", "Sts")
    if status and status not in ("BOOK",):
        problem = problem or f"an entry not booked (Sts {status})"
    end_to_end = _text(tx, "Refs/EndToEndId")
    end_to_end = None if end_to_end in (None, "NOTPROVIDED") else end_to_end
    entry_ref = _text(entry, "AcctSvcrRef")
    ref = (
        _text(tx, "Refs/AcctSvcrRef") or (f"{entry_ref}/{number}" if entry_ref and number else entry_ref) or end_to_end
    )
    remittance = _find(tx, "RmtInf")
    unstructured = " ".join(n.text.strip() for n in _all(remittance, "Ustrd") if n.text and n.text.strip())
    structured = " ".join(
        r for s in _all(remittance, "Strd") if (r := _text(s, "CdtrRefInf/Ref", "CdtrRefInf/CdtrRef")) is not None
    )
    title = " ".join(t for t in (structured, unstructured) if t) or _text(entry, "AddtlNtryInf")
    parties = _find(tx, "RltdPties")
    payer_account = _text(parties, "DbtrAcct/Id/IBAN", "DbtrAcct/Id/Othr/Id")
    credited = _account(_find(parties, "CdtrAcct"))
    returned = _find(tx, "RtrInf")
    reversal = (_text(entry, "RvslInd") or "").lower() == "true"
    sub_family = _text(entry, "BkTxCd/Domn/Fmly/SubFmlyCd") or _text(tx, "BkTxCd/Domn/Fmly/SubFmlyCd")
    is_return = direction == DEBIT and (returned is not None or reversal or sub_family == "RRTN")
    return_of = _text(returned, "AddtlInf")
    return {
        "position": position,
        "bank_ref": ref,
        "end_to_end_id": end_to_end,
        "booking_date": _day(entry, "BookgDt"),
        "value_date": _day(entry, "ValDt"),
        "amount": amount,
        "currency": currency,
        "direction": direction,
        "is_return": is_return,
        "return_of": return_of if return_of and " " not in return_of else None,
        "title": title,
        "counterparty_name": _text(parties, "Dbtr/Nm", "Dbtr/Pty/Nm"),
        "counterparty_account": nrb(payer_account) or payer_account,
        "virtual_account": credited if credited and credited != account and nrb(credited) else None,
        "problem": problem,
    }
