"""Virtual accounts: every debtor's own account number at the fund's bank, so that a transfer names
its payer by the account it was sent to, whatever its title says.

A Polish account number (NRB, the IBAN without ``PL``) has 26 digits: two check digits, the
bank's 8-digit sort code (its last digit a check digit of its own), and 16 digits of the account.
A bank that offers virtual accounts gives the fund a prefix: the sort code and the first digits of
the account (the fund's client number); the fund fills the rest. Cession fills it with the
debtor's id, zero-padded:

    NRB = check digits + prefix (CESSION_VIRTUAL_ACCOUNT_PREFIX) + debtor_id (to 24 digits in all)

The number is given once, when the debtor (or the first claim naming the debtor) is stored, in the
same transaction, and kept in ``virtual_accounts``: a prefix changed later gives new debtors new
numbers and leaves the given ones as they are.

The check digits are python-stdnum's (``stdnum.iban.calc_check_digits``), not computed here: with
the prefix fixed they depend only on the debtor number modulo 97 (the IBAN check is a remainder
modulo 97 of the number the digits spell), so stdnum is asked once for each of the 97 remainders and
a column of millions of numbers is mapped from those 97 answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import polars as pl
import sqlalchemy as sa

from engine.errors import InputError
from engine.store.bulk import Schema, read_frame, write_frame

#: the digits an NRB holds after its check digits: sort code (8) + account (16)
BBAN_DIGITS = 24
SORT_CODE_DIGITS = 8
#: the fewest digits left for debtor numbers (a prefix may not be longer than BBAN_DIGITS - this)
MIN_DEBTOR_DIGITS = 6
#: the weights of a Polish sort code's check digit (its 8th digit), NBP's rule for bank numbers
SORT_CODE_WEIGHTS = (3, 9, 7, 1, 3, 9, 7)
SETTING = "CESSION_VIRTUAL_ACCOUNT_PREFIX"

VIRTUAL_ACCOUNT_SCHEMA: Schema = {"debtor_id": pl.Int64(), "nrb": pl.String()}


def configured_prefix() -> str:
    """The fund's prefix from the settings (``CESSION_VIRTUAL_ACCOUNT_PREFIX``), checked."""
    from engine import settings

    return check_prefix(settings.read(settings.VIRTUAL_ACCOUNTS).virtual_account_prefix)


def check_prefix(prefix: str) -> str:
    """The prefix, or ``InputError`` naming the setting and what is wrong with it."""
    if not prefix.isdigit() or not SORT_CODE_DIGITS <= len(prefix) <= BBAN_DIGITS - MIN_DEBTOR_DIGITS:
        raise InputError(
            f"{SETTING}={prefix!r}: must be the bank's 8-digit sort code and up to "
            f"{BBAN_DIGITS - MIN_DEBTOR_DIGITS - SORT_CODE_DIGITS} digits of the fund's client number (digits only)"
        )
    digits = [int(c) for c in prefix[:SORT_CODE_DIGITS]]
    check = (10 - sum(d * w for d, w in zip(digits, SORT_CODE_WEIGHTS, strict=False)) % 10) % 10
    if check != digits[-1]:
        raise InputError(
            f"{SETTING}={prefix!r}: the sort code {prefix[:SORT_CODE_DIGITS]} is not a bank's number "
            f"(its check digit should be {check})"
        )
    return prefix


@cache
def _check_digits(prefix: str) -> tuple[str, ...]:
    """The check digits of a number under ``prefix`` whose debtor number is r modulo 97, for r in 0..96."""
    from stdnum import iban

    width = BBAN_DIGITS - len(prefix)
    return tuple(iban.calc_check_digits(f"PL00{prefix}{r:0{width}d}") for r in range(97))


def numbers(debtor_ids: pl.Series, prefix: str) -> pl.Series:
    """The NRB (26 digits) of each debtor id under ``prefix`` (checked: ``check_prefix``)."""
    check_prefix(prefix)
    width = BBAN_DIGITS - len(prefix)
    ids = debtor_ids.cast(pl.Int64)
    too_big = ids.filter((ids < 0) | (ids >= 10**width))
    if too_big.len():
        raise InputError(
            f"{SETTING}={prefix!r} leaves {width} digits for debtor numbers; debtor_id {too_big[0]} does not fit"
        )
    frame = pl.DataFrame({"debtor_id": ids})
    return frame.select(
        pl.concat_str(
            (pl.col("debtor_id") % 97).replace_strict(
                list(range(97)), list(_check_digits(prefix)), return_dtype=pl.String
            ),
            pl.lit(prefix),
            pl.col("debtor_id").cast(pl.String).str.zfill(width),
        ).alias("nrb")
    ).to_series()


def display(nrb: str) -> str:
    """An NRB as people write it: ``61 1090 1014 0000 0712 1981 2874``."""
    from stdnum import iban

    return iban.format(f"PL{nrb}")[2:].strip()


def to_iban(nrb: str) -> str:
    """The IBAN of an NRB (``PL`` and the 26 digits), for SEPA and camt.053 files."""
    return f"PL{nrb}"


def assign(conn: sa.Connection, debtor_ids: pl.Series, prefix: str) -> int:
    """Give each of these debtors that has no virtual account one (in the open transaction); the
    number of accounts given."""
    ids = debtor_ids.drop_nulls().unique().sort().cast(pl.Int64)
    if not ids.len():
        return 0
    held = read_frame(
        conn,
        "SELECT debtor_id FROM virtual_accounts WHERE debtor_id BETWEEN :low AND :high",
        {"debtor_id": pl.Int64()},
        {"low": ids[0], "high": ids[-1]},
    )
    new = pl.DataFrame({"debtor_id": ids}).join(held, on="debtor_id", how="anti")
    if not new.height:
        return 0
    new = new.with_columns(
        numbers(new["debtor_id"], prefix).alias("nrb"), pl.lit(datetime.now(UTC)).alias("assigned_at")
    )
    return write_frame(conn, "virtual_accounts", new)


def assign_missing(conn: sa.Connection, prefix: str) -> int:
    """Give every stored debtor without a virtual account one: the debtors' rows and the debtors
    named by claims (a claim stored by `cession load` may have no debtor row)."""
    ids = read_frame(
        conn,
        "SELECT debtor_id FROM debtors UNION SELECT DISTINCT debtor_id FROM claims",
        {"debtor_id": pl.Int64()},
    )["debtor_id"]
    return assign(conn, ids, prefix)


def _lookup(conn: sa.Connection, column: str, values: pl.Series) -> pl.DataFrame:
    """Stored virtual accounts whose ``column`` is one of ``values``, through a temporary table
    (millions of values are one COPY, not millions of parameters)."""
    dtype = VIRTUAL_ACCOUNT_SCHEMA[column]
    wanted = pl.DataFrame({column: values.drop_nulls().unique().cast(dtype)})
    if not wanted.height:
        return pl.DataFrame(schema=VIRTUAL_ACCOUNT_SCHEMA)
    sql_type = "BIGINT" if column == "debtor_id" else "VARCHAR(26)"
    conn.execute(sa.text(f"CREATE TEMPORARY TABLE IF NOT EXISTS wanted_{column} ({column} {sql_type})"))
    conn.execute(sa.text(f"DELETE FROM wanted_{column}"))
    write_frame(conn, f"wanted_{column}", wanted)
    found = read_frame(
        conn,
        f"SELECT v.debtor_id, v.nrb FROM virtual_accounts v JOIN wanted_{column} w ON w.{column} = v.{column}",
        VIRTUAL_ACCOUNT_SCHEMA,
    )
    conn.execute(sa.text(f"DELETE FROM wanted_{column}"))
    return found


def of_debtors(conn: sa.Connection, debtor_ids: pl.Series) -> pl.DataFrame:
    """(debtor_id, nrb) of these debtors that have a virtual account."""
    return _lookup(conn, "debtor_id", debtor_ids)


def debtors_of(conn: sa.Connection, nrbs: pl.Series) -> pl.DataFrame:
    """(debtor_id, nrb) of the stored virtual accounts among ``nrbs`` (26 digits, no spaces, no ``PL``)."""
    return _lookup(conn, "nrb", nrbs).select("nrb", "debtor_id")


def read_all(conn: sa.Connection) -> pl.DataFrame:
    """Every stored virtual account."""
    return read_frame(conn, "SELECT debtor_id, nrb FROM virtual_accounts", VIRTUAL_ACCOUNT_SCHEMA)
