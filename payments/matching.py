"""Each credit of a statement matched to claims, in this order (docs/payments.md):

1. **virtual account**: the debtor whose virtual account was credited (``virtual_accounts``);
2. **the title names a claim**: a claim's ``seller_ref`` written whole in the title, or its id after
   a marker (``ID 123``, ``sprawa 123``, ``nr sprawy: 123``, ``wierzytelność 123``, ``claim 123``);
3. **PESEL or NIP** in the title (a valid one: check digit, and a PESEL's birth date), of one debtor;
4. **name and amount**: a debtor whose name is the payer's (compared as ``name_key``: case, diacritics,
   word order) with exactly one open claim whose balance is at least the amount: a *candidate*,
   reported and kept in suspense until a person confirms it (`cession suspense assign`).

A line of a debtor whose title names some of the debtor's claims pays those claims; otherwise it is
split over all of the debtor's open claims by the ``SplitRule``. A line that finds nobody, or finds
several debtors, or a debtor with no open claim, goes to suspense with the reason. Every lookup is
one join of the statement's keys with the store, whatever the number of lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from engine.domain import MatchedBy, SplitRule
from ingest.debtors import name_key
from ingest.identifiers import nip_problem, pesel_problem
from payments import repository
from payments.split import PART_SCHEMA, split

col = pl.col
#: a claim's id is read from a title only after one of these words (a bare number may be an amount)
CLAIM_ID_MARKER = r"(?i)(?:\bID|\bSPRAW[AY]|\bWIERZYTELNO(?:S|Ś)C[IY]?|\bCLAIM)\s*(?:NR\.?)?\s*[:.#]?\s*(\d{1,18})\b"
#: a seller_ref is read from a title as a whole token of these characters holding a digit
TOKEN = r"[0-9A-Za-z][0-9A-Za-z/_.\-]*[0-9A-Za-z]"

RESULT_SCHEMA = {
    "position": pl.Int64(),
    "status": pl.String(),  # posted | open
    "matched_by": pl.String(),
    "debtor_id": pl.Int64(),
    "split_rule": pl.String(),
    "reason": pl.String(),
    "candidate_claim_id": pl.Int64(),
}


@dataclass(frozen=True)
class Matched:
    """What became of a statement's new credits: ``lines`` (RESULT_SCHEMA, one a credit) and the
    ``parts`` (position, claim_id, amount) of those posted."""

    lines: pl.DataFrame
    parts: pl.DataFrame


def title_tokens(credits: pl.DataFrame) -> pl.DataFrame:
    """(position, token): the words of each title that could be a seller_ref (as written, and upper case)."""
    words = (
        credits.select("position", token=col("title").fill_null("").str.extract_all(TOKEN))
        .explode("token")
        .drop_nulls("token")
        .filter(col("token").str.contains(r"\d") & (col("token").str.len_chars() >= 3))
    )
    return pl.concat([words, words.with_columns(col("token").str.to_uppercase())]).unique()


def title_claim_ids(credits: pl.DataFrame) -> pl.DataFrame:
    """(position, claim_id): the numbers a title gives after a claim marker."""
    found = credits.select("position", raw=col("title").fill_null("").str.extract_all(CLAIM_ID_MARKER)).explode("raw")
    found = found.drop_nulls("raw").with_columns(
        claim_id=col("raw").str.extract(r"(\d{1,18})\s*$").cast(pl.Int64, strict=False)
    )
    return found.drop_nulls("claim_id").select("position", "claim_id").unique()


def title_national_ids(credits: pl.DataFrame) -> pl.DataFrame:
    """(position, national_id): the valid PESEL (11 digits) and NIP (10 digits, dashes allowed) in a title."""
    squeezed = col("title").fill_null("").str.replace_all(r"(\d)[ \-](\d)", "${1}${2}")
    numbers = credits.select("position", national_id=squeezed.str.replace_all(r"(\d)[ \-](\d)", "${1}${2}"))
    numbers = numbers.with_columns(col("national_id").str.extract_all(r"\d+")).explode("national_id").drop_nulls()
    numbers = numbers.filter(col("national_id").str.len_chars().is_in([10, 11]))
    valid = (
        pl.when(col("national_id").str.len_chars() == 11)
        .then(pesel_problem(col("national_id")))
        .otherwise(nip_problem(col("national_id")))
        .is_null()
    )
    return numbers.filter(valid).unique()


def _one_debtor(found: pl.DataFrame, what: str) -> pl.DataFrame:
    """(position, debtor_id) pairs -> per position: its one debtor, or a reason naming several."""
    grouped = found.group_by("position").agg(debtors=col("debtor_id").unique().sort())
    return grouped.select(
        "position",
        debtor_id=pl.when(col("debtors").list.len() == 1).then(col("debtors").list.first()),
        several=pl.when(col("debtors").list.len() > 1).then(
            pl.lit(f"{what} of several debtors (") + col("debtors").cast(pl.List(pl.String)).list.join(", ") + ")"
        ),
    )


def match_credits(
    conn: sa.Connection, credits: pl.DataFrame, rule: SplitRule, step: Callable[[str], None] = lambda _: None
) -> Matched:
    """Match ``credits`` (LINE_SCHEMA rows, each a credit) against the store; see the module.
    ``step`` is told when each step is done (for the log)."""
    lines = credits.select("position", "amount", "booking_date", "virtual_account", "counterparty_name")
    # 1. the virtual account credited
    by_account = _by_virtual_account(conn, lines.drop_nulls("virtual_account"))
    step("virtual accounts looked up")
    # 2. claims the title names (seller_ref, or an id after a marker)
    named = pl.concat(
        [
            repository.claims_by_seller_ref(conn, title_tokens(credits)).with_columns(
                how=pl.lit(MatchedBy.SELLER_REF.value)
            ),
            repository.claims_by_id(conn, title_claim_ids(credits)).with_columns(how=pl.lit(MatchedBy.CLAIM_ID.value)),
        ]
    ).unique(["position", "claim_id"], keep="first")
    step("claims named in titles looked up")
    # 3. PESEL / NIP in the title
    national = repository.debtors_by_national_id(conn, title_national_ids(credits))
    step("PESEL/NIP looked up")

    f = lines.join(by_account, on="position", how="left")
    named_debtor = _one_debtor(named, "the title names claims").rename(
        {"debtor_id": "named_debtor", "several": "named_several"}
    )
    how_named = named.group_by("position").agg(col("how").min())  # claim_id < seller_ref: either is the title
    national_debtor = _one_debtor(national, "the PESEL/NIP in the title is").rename(
        {"debtor_id": "id_debtor", "several": "id_several"}
    )
    f = f.join(named_debtor, on="position", how="left").join(how_named, on="position", how="left")
    f = f.join(national_debtor, on="position", how="left")
    f = f.with_columns(
        debtor_id=pl.coalesce("va_debtor", "named_debtor", "id_debtor"),
        matched_by=pl.when(col("va_debtor").is_not_null())
        .then(pl.lit(MatchedBy.VIRTUAL_ACCOUNT.value))
        .when(col("named_debtor").is_not_null())
        .then(col("how"))
        .when(col("id_debtor").is_not_null())
        .then(pl.lit(MatchedBy.NATIONAL_ID.value)),
    )
    # the claims a line pays: those its title names (of its debtor), else the debtor's open claims
    balances = repository.open_balances(conn, f.get_column("debtor_id"))
    step("open balances read")
    own_named = named.join(f.select("position", "debtor_id"), on=["position", "debtor_id"]).select(
        "position", "claim_id"
    )
    named_lines = own_named.get_column("position").unique()
    open_claims = balances.filter(col("balance") > 0)
    by_debtor = f.filter(col("debtor_id").is_not_null() & ~col("position").is_in(named_lines.implode()))
    no_open = by_debtor.join(open_claims.select("debtor_id").unique(), on="debtor_id", how="anti").get_column(
        "position"
    )
    payers = f.filter(col("debtor_id").is_not_null() & ~col("position").is_in(no_open.implode()))
    groups = payers.select(
        "position",
        "amount",
        "booking_date",
        group=pl.when(col("position").is_in(named_lines.implode())).then(-col("position")).otherwise(col("debtor_id")),
    )
    claims = pl.concat(
        [
            open_claims.select(col("debtor_id").alias("group"), "claim_id", "due_date", "balance"),
            own_named.join(balances, on="claim_id").select(
                (-col("position")).alias("group"), "claim_id", "due_date", "balance"
            ),
        ]
    )
    parts = split(groups, claims, rule) if groups.height else pl.DataFrame(schema=PART_SCHEMA)
    posted = payers.get_column("position")

    # 4. the rest: a candidate by name and amount, or nobody's
    rest = f.filter(~col("position").is_in(posted.implode()))
    candidates = _candidates(conn, rest.filter(col("debtor_id").is_null()))
    step("candidates by name and amount looked up")
    rest = rest.join(candidates, on="position", how="left")
    reason = (
        pl.when(col("position").is_in(no_open.implode()))
        .then(pl.lit("debtor ") + col("debtor_id").cast(pl.String) + pl.lit(" has no open claim (an overpayment?)"))
        .when(col("named_several").is_not_null())
        .then(col("named_several"))
        .when(col("id_several").is_not_null())
        .then(col("id_several"))
        .when(col("candidate_claim_id").is_not_null())
        .then(
            pl.lit("a candidate: the payer's name and the amount fit claim ")
            + col("candidate_claim_id").cast(pl.String)
            + pl.lit(" (a person confirms: cession suspense assign)")
        )
        .when(col("virtual_account").is_not_null())
        .then(
            pl.lit("virtual account ") + col("virtual_account") + pl.lit(" is nobody's, and the title names no claim")
        )
        .otherwise(pl.lit("no virtual account, claim reference, PESEL or NIP in the title, nor a debtor of this name"))
    )
    result = pl.concat(
        [
            payers.select(
                "position",
                status=pl.lit("posted"),
                matched_by="matched_by",
                debtor_id="debtor_id",
                split_rule=pl.when(col("position").is_in(named_lines.implode()))
                .then(None)
                .otherwise(pl.lit(rule.value)),
                reason=pl.lit(None, pl.String),
                candidate_claim_id=pl.lit(None, pl.Int64),
            ),
            rest.select(
                "position",
                status=pl.lit("open"),
                matched_by=pl.lit(None, pl.String),
                debtor_id=pl.coalesce("debtor_id", "candidate_debtor"),
                split_rule=pl.lit(None, pl.String),
                reason=reason,
                candidate_claim_id="candidate_claim_id",
            ),
        ]
    ).select(pl.col(c).cast(t) for c, t in RESULT_SCHEMA.items())
    # split lines over several named claims by the rule too: record it
    several_named = own_named.group_by("position").len().filter(col("len") > 1).get_column("position")
    result = result.with_columns(
        split_rule=pl.when(col("position").is_in(several_named.implode()))
        .then(pl.lit(rule.value))
        .otherwise(col("split_rule"))
    )
    return Matched(result.sort("position"), parts)


def _by_virtual_account(conn: sa.Connection, accounts: pl.DataFrame) -> pl.DataFrame:
    """(position, va_debtor): the debtor whose virtual account each line credited."""
    if accounts.height == 0:
        return pl.DataFrame(schema={"position": pl.Int64(), "va_debtor": pl.Int64()})
    from engine.store import virtual_accounts

    owners = virtual_accounts.debtors_of(conn, accounts.get_column("virtual_account").unique())
    return (
        owners.rename({"nrb": "virtual_account"})
        .join(accounts.select("position", "virtual_account"), on="virtual_account")
        .select("position", col("debtor_id").cast(pl.Int64).alias("va_debtor"))
    )


def _candidates(conn: sa.Connection, rest: pl.DataFrame) -> pl.DataFrame:
    """(position, candidate_claim_id, candidate_debtor) of the lines whose payer's name is a debtor's
    with exactly one open claim whose balance is at least the amount."""
    schema = {"position": pl.Int64(), "candidate_claim_id": pl.Int64(), "candidate_debtor": pl.Int64()}
    named = rest.drop_nulls("counterparty_name").select(
        "position", "amount", name_key=name_key(col("counterparty_name"))
    )
    named = named.filter(col("name_key").str.len_chars() > 0)
    if named.height == 0:
        return pl.DataFrame(schema=schema)
    debtors = repository.debtors_by_name_key(conn, named.select("position", "name_key"))
    balances = repository.open_balances(conn, debtors.get_column("debtor_id"))
    fits = (
        debtors.join(balances, on="debtor_id")
        .join(named.select("position", "amount"), on="position")
        .filter((col("balance") > 0) & (col("balance") >= col("amount")))
    )
    unique = fits.group_by("position").agg(col("claim_id"), col("debtor_id")).filter(col("claim_id").list.len() == 1)
    return unique.select(
        "position",
        candidate_claim_id=col("claim_id").list.first(),
        candidate_debtor=col("debtor_id").list.first(),
    ).select(pl.col(c).cast(t) for c, t in schema.items())
