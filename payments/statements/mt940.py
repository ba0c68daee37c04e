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

import polars as pl

from payments.statements.lines import (
    CREDIT,
    DEBIT,
    LINE_SCHEMA,
    Statement,
    StatementError,
    accounts_in,
    frame,
    nrb,
    nrb_expr,
    sha256_of,
    with_refs,
)

_SUBFIELD = re.compile(r"[~^](\d{2})")
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


#: a statement of at least this many lines is read by ``_lines_at_once`` (the library takes ~150 µs a
#: line: a minute for a million); tests/payments/test_statements_mt940.py holds both readings equal
AT_ONCE_FROM = 2_000


def read(path: Path, *, at_once: bool | None = None) -> Statement:
    """The MT940 statement in ``path``; ``at_once``: read by polars over whole columns (None: for a
    statement of AT_ONCE_FROM lines or more; a line it cannot read sends the file to the library)."""
    text = decode(path.read_bytes())
    account = _account(path, text)
    if at_once is None:
        at_once = text.count(":61:") >= AT_ONCE_FROM
    if at_once:
        read_at_once = _lines_at_once(text, account)
        if read_at_once is not None:
            statement_ref, rows = read_at_once
            return Statement(path, "mt940", account, statement_ref, with_refs(rows), sha256_of(path))
    return _read_with_library(path, text, account)


def tag_values(text: str, tag: str) -> list[str]:
    """The rest of every line of ``text`` that starts with ``tag`` (``:25:``), as ``^tag(.*)$`` in
    multiline mode finds them, by plain string search (a regex tried at every position of a
    large statement takes seconds)."""
    found, pos = [], 0
    start = 0 if text.startswith(tag) else -1
    while True:
        if start == -1:
            hit = text.find("\n" + tag, pos)
            if hit == -1:
                return found
            start = hit + 1
        begin = start + len(tag)
        end = text.find("\n", begin)
        end = len(text) if end == -1 else end
        found.append(text[begin:end])
        pos, start = end, -1


def _account(path: Path, text: str) -> str:
    accounts = {nrb(a.strip()) or a.strip().lstrip("/") for a in tag_values(text, ":25:")}
    if not accounts:
        raise StatementError(f"{path}: MT940 without an account (:25:)")
    if len(accounts) > 1:
        raise StatementError(f"{path}: MT940 with statements of several accounts ({', '.join(sorted(accounts))})")
    [account] = accounts
    return account


def _read_with_library(path: Path, text: str, account: str) -> Statement:
    import mt940

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


_TAG = r"^:(\d{2}[A-Z]?):"
#: field 61 as the library reads it (mt940.tags.Statement.pattern): value date, entry date, mark,
#: funds code, amount, transaction type, customer reference, // bank reference, further details
_FIELD_61 = (
    r"^(\d{6})(\d{4})?(RC|RD|C|D)([A-Z])?([\d,]{1,15})([A-Z][A-Z0-9 ]{3})?((?:[^/\n]|/[^/\n]){0,16})"
    r"(?://([^\n]{0,23}))?(?:\n?(.*))?$"
)
#: an entry date this many days from its value date is in the year before or after (the library's rule)
_YEAR_BOUNDARY_DAYS = 330


def _lines_at_once(text: str, account: str) -> tuple[str | None, pl.DataFrame] | None:
    """Fields 61 and 86 of every line read as columns; None if a line is not as expected."""
    col = pl.col
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    found_ref = re.search(r"^:20:(.*)$", body, re.MULTILINE)
    statement_ref = found_ref[1].strip() if found_ref else None
    found_currency = re.search(r"^:60[FM]:[CD]\d{6}([A-Z]{3})", body, re.MULTILINE)
    currency = found_currency[1] if found_currency else None
    later_tags = r"\n:(?:\d{2}[A-Z]?):[\s\S]*$|\n-\s*$"
    # each piece after the head: a field 61, its 86, and whatever tag ends the statement (split by
    # polars: a million Python strings cost seconds)
    pieces = pl.Series("piece", [body], dtype=pl.String).str.split("\n:61:").explode().slice(1)
    split = (
        pieces.to_frame()
        .with_row_index("n", offset=1)
        .with_columns(parts=col("piece").str.split_exact("\n:86:", 1))
        .unnest("parts")
    )
    lines = split.select(
        "n",
        value=col("field_0").str.replace(later_tags, "").str.strip_chars_end(),
        details=col("field_1").str.replace(later_tags, ""),
    )
    parsed = lines.with_columns(m=col("value").str.extract_groups(_FIELD_61)).unnest("m")
    names = ["value_day", "entry", "status", "funds", "amount", "kind", "customer_ref", "bank_ref", "extra"]
    parsed = parsed.rename({str(i + 1): name for i, name in enumerate(names)})
    if parsed.get_column("value_day").null_count() or parsed.get_column("amount").null_count():
        return None  # not as the library reads them: let it read (and name what it cannot)
    parsed = parsed.sort("n")
    value_day = col("value_day").str.to_date("%y%m%d", strict=False)
    entry_same_year = pl.concat_str(col("value_day").str.slice(0, 2), col("entry")).str.to_date("%y%m%d", strict=False)
    gap = (value_day - entry_same_year).dt.total_days()
    entry = (
        pl.when(gap >= _YEAR_BOUNDARY_DAYS)
        .then(entry_same_year.dt.offset_by("1y"))
        .when(gap <= -_YEAR_BOUNDARY_DAYS)
        .then(entry_same_year.dt.offset_by("-1y"))
        .otherwise(entry_same_year)
    )
    whole, fraction = col("amount").str.extract(r"^(\d*),"), col("amount").str.extract(r",(\d*)$")
    grosz = whole.cast(pl.Int64, strict=False).fill_null(0) * 100 + fraction.str.pad_end(2, "0").cast(
        pl.Int64, strict=False
    )
    # the details' subfields: split at "~" ("^" read as "~"), a piece's first two characters its
    # code (the piece before the first "~" has none); each code read is its pieces joined in order,
    # taken out of the text by a pattern per code (not one row per piece: millions for a large file)
    text86 = col("details").fill_null("").str.replace_all("\n", "", literal=True).str.replace_all(r"\^(\d{2})", "~${1}")
    parsed = parsed.with_columns(t86=text86)
    read_codes = ["20", "21", "22", "23", "24", "25", "27", "28", "31", "32", "33", "38"]
    has_read = col("t86").str.contains("~(?:" + "|".join(read_codes) + ")")
    # a line with no piece of a code read has none of them (null), else "" for a code it lacks
    parsed = parsed.with_columns(
        pl.when(has_read)
        .then(col("t86").str.extract_all(f"~{c}[^~]*").list.eval(pl.element().str.slice(3)).list.join(""))
        .alias(f"s{c}")
        for c in read_codes
    ).with_columns(structured=col("t86").str.contains("~", literal=True))
    payer_iban, payer_account = col("s38"), col("s31")
    payer = pl.coalesce(
        nrb_expr(payer_iban),
        nrb_expr(payer_account),
        pl.when(payer_iban != "").then(payer_iban.str.strip_chars()),
        pl.when(payer_account != "").then(payer_account.str.strip_chars()),
    )
    name = pl.concat_str(col("s32"), col("s33")).str.strip_chars()
    name = pl.when(name != "").then(name).otherwise(pl.concat_str(col("s27"), col("s28")).str.strip_chars())
    title = pl.concat_str([col(f"s{k}") for k in range(20, 26)]).str.strip_chars()
    title = pl.when(col("structured")).then(title).otherwise(col("t86").str.strip_chars())
    customer = col("customer_ref").fill_null("").str.strip_chars()
    bank = col("bank_ref").fill_null("").str.strip_chars()
    none = list(_NOREF)
    is_return = (col("status") == "RC") | (col("kind").fill_null("").str.slice(1) == "RTI")
    frame = parsed.with_columns(payer=payer)
    # the first 26-digit number written in a piece of the details but the counterparty's (30, 31,
    # 38): those pieces dropped, each other piece's code cut to its "~" (the first piece has none),
    # then the pieces holding 26 digits in a row, their numbers read with spaces and dashes dropped
    values = (
        pl.lit("~") + col("t86").str.replace_all(r"~3[018][^~]*", "").str.replace_all(r"~[^~]{0,2}", "~")
    ).str.extract_all(r"~[^~]*\d{26}[^~]*")
    squeezed = (
        col("value")
        .str.replace_all(r"(\d)[ \u00a0-](\d)", "${1}${2}")
        .str.replace_all(r"(\d)[ \u00a0-](\d)", "${1}${2}")
    )
    virtual = (
        frame.select("n", "payer", value=values)
        .explode("value")
        .drop_nulls("value")
        .with_columns(candidate=squeezed.str.extract_all(r"\d+"))
        .explode("candidate")
        .filter(col("candidate").str.len_chars() == 26)
        .filter((col("candidate") != account) & (col("candidate") != col("payer").fill_null("")))
        .group_by("n", maintain_order=True)
        .agg(virtual_account=col("candidate").first())
    )
    frame = frame.join(virtual, on="n", how="left", maintain_order="left")
    rows = frame.select(
        position=col("n").cast(pl.Int64),
        bank_ref=pl.when(~bank.str.to_uppercase().is_in(none))
        .then(bank)
        .when(~customer.str.to_uppercase().is_in(none))
        .then(customer),
        end_to_end_id=pl.lit(None, pl.String),
        booking_date=pl.when(col("entry").is_not_null()).then(entry).otherwise(value_day),
        value_date=value_day,
        amount=grosz,
        currency=pl.lit(currency, pl.String),
        direction=pl.when(col("status").is_in(["C", "RD"])).then(pl.lit(CREDIT)).otherwise(pl.lit(DEBIT)),
        is_return=is_return,
        return_of=pl.when(is_return & ~customer.str.to_uppercase().is_in(none)).then(customer),
        title=title,
        counterparty_name=pl.when(name != "").then(name),
        counterparty_account=payer,
        virtual_account=col("virtual_account"),
        problem=pl.when(fraction.str.len_chars() > 2).then(pl.lit("the amount is not an amount in grosz")),
    )
    return statement_ref, rows.select(pl.col(c).cast(t) for c, t in LINE_SCHEMA.items())
