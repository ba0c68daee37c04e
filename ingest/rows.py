"""One batch of a seller's rows: mapped onto docs/data-contract.md's columns, parsed, and checked row by row.

Each row either comes out typed (accepted so far; the whole-file rules, duplicates and what is
already stored, come after all batches) or with every rule it breaks, as failures of the form
(row, column, rule, value). Nothing here depends on other rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from engine.domain import CONTRACT_RATE_BASES, OWN_YEARS_KINDS, DebtorKind, InterestBasis, LimitationKind
from engine.validation import MAX_CONTRACTUAL_RATE_BP, is_one_of
from ingest.identifiers import compact, iban_problem, nip_problem, pesel_problem, regon_valid
from ingest.parsing import amount, blank_to_null, calendar_date, percent_as_bp, whole_number
from ingest.profiles import ENUMS, INPUT_COLUMNS, REQUIRED_COLUMNS, Profile
from ingest.sources import BROKEN, FIELDS, META, NAMES, NO_LINE_END, ROW, SourceError, header_fields

PRODUCT = "product"
FAILURE_SCHEMA = {
    "row": pl.Int64(),
    "seller_ref": pl.String(),
    "column": pl.String(),
    "rule": pl.String(),
    "value": pl.String(),
}
MONEY = ("principal", "interest_at_cutoff", "costs_at_cutoff", "purchase_price")
DATES = ("due_date", "cutoff_date", "title_date", "purchase_date", "birth_date")
#: columns stored as the seller wrote them (not parsed, not matched against a pattern)
FREE_TEXT = ("seller_ref", "name", "street", "city", "phone", "email")
MAX_LENGTH = {"seller_ref": 100, "name": 300, "street": 300, "city": 100, "phone": 32, "email": 254}
#: the rules of each kind of national id a debtor kind carries (``DebtorKind.national_id``)
NATIONAL_ID_RULES = {"PESEL": pesel_problem, "NIP": nip_problem}


@dataclass(frozen=True)
class Terms:
    """What holds for every row of one ingest: the purchase, and today (for 'not in the future')."""

    purchase_date: date | None  # None: the file's purchase_date column
    price_given: bool  # True: the portfolio price is allocated later, a purchase_price column is ignored
    today: date


def _key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def field_count(batch: pl.DataFrame, seller_ref: str | None, pad: bool) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(the rows of ``batch`` whose number of fields is the header's, failures of the others, how
    many short rows were padded). A row of fewer or more fields than the header has its values
    under the wrong columns or missing: it is rejected whole (rule under ``field_count``), its
    values not checked. With ``pad`` (a profile's ``pad_short_rows``: a seller's export that drops a
    row's trailing empty fields) a short row is kept, its missing fields empty, and counted; never
    the file's last row when it ends without a line end (a file cut short), which is rejected
    either way. ``seller_ref``: the file's column for it (named in the report). A batch without
    ``FIELDS`` (XLSX, Parquet: cells, not separators) passes whole."""
    if FIELDS not in batch.columns:
        return batch, pl.DataFrame(schema=FAILURE_SCHEMA), 0
    fewest, most = header_fields(batch.columns)
    data = [c for c in batch.columns if c not in META]
    fields, cut = pl.col(FIELDS), pl.col(BROKEN)
    short = (fields < fewest) & cut.is_null()
    wrong = cut.is_not_null() | (fields > most) | (short if not pad else pl.lit(False))
    marked = batch.with_columns(wrong.alias("_wrong"))
    padded = batch.filter(short).height if pad else 0
    bad = marked.filter(pl.col("_wrong"))
    if bad.height == 0:
        return batch, pl.DataFrame(schema=FAILURE_SCHEMA), padded
    header = f"{fewest}" if fewest == most else f"{fewest} to {most}"
    rule = (
        pl.when(cut == NO_LINE_END)
        .then(
            pl.format(
                "the file ends inside this row: {} of {} fields and no line end (a file cut short?)",
                fields,
                pl.lit(fewest),
            )
        )
        .when(cut.is_not_null())
        .then(pl.lit("the file ends inside this row: a quote opened in it is never closed (a file cut short?)"))
        .when(fields > most)
        .then(
            pl.format(
                "{} fields where the header has {} (a separator inside an unquoted value?)", fields, pl.lit(header)
            )
        )
        .otherwise(
            pl.format(
                "{} fields where the header has {} (a row cut short, or a separator missing?)", fields, pl.lit(header)
            )
        )
    )
    value = pl.concat_str([pl.col(c).fill_null("") for c in data], separator=" | ").str.strip_chars_end(" |")
    failures = bad.select(
        pl.col(ROW).alias("row"),
        (pl.col(seller_ref).str.strip_chars() if seller_ref else pl.lit(None, pl.String)).alias("seller_ref"),
        pl.lit("field_count").alias("column"),
        rule.alias("rule"),
        value.str.slice(0, 200).alias("value"),
    ).cast(FAILURE_SCHEMA)
    return marked.filter(~pl.col("_wrong")).drop("_wrong"), failures, padded


def header_map(columns: list[str], profile: Profile, terms: Terms) -> dict[str, str]:
    """docs/data-contract.md's column -> the file's column (the profile's name for it, else docs/data-contract.md's own,
    ignoring case and spacing). Missing required columns are an error about the whole file."""
    in_file = {_key(c): c for c in columns if c not in META}
    found = {}
    for column in INPUT_COLUMNS:
        for name in (profile.columns.get(column), column):
            if name is not None and _key(name) in in_file:
                found[column] = in_file[_key(name)]
                break
    if profile.products is not None:
        if _key(profile.products.column) not in in_file:
            raise SourceError(
                f"the profile's product column {profile.products.column!r} is not in the file; the file has: "
                f"{', '.join(in_file.values())}{_garbled_hint(in_file.values())}"
            )
        found[PRODUCT] = in_file[_key(profile.products.column)]
    derived = {c for assigned in (profile.products.map.values() if profile.products else ()) for c in assigned}
    needed = list(REQUIRED_COLUMNS)
    needed += [] if terms.purchase_date else ["purchase_date"]
    needed += [] if terms.price_given else ["purchase_price"]
    missing = [c for c in needed if c not in found and c not in profile.defaults and c not in derived]
    if missing:
        hint = {"purchase_date": " (or --purchase-date)", "purchase_price": " (or --price)"}
        wanted = ", ".join(
            (f"{c} ({profile.columns[c]!r})" if c in profile.columns else c) + hint.get(c, "") for c in missing
        )
        raise SourceError(
            f"missing column(s): {wanted}; the file has: {', '.join(in_file.values())}{_garbled_hint(in_file.values())}"
        )
    return found


def _garbled_hint(columns) -> str:
    """A hint for a header whose names are UTF-8 read as a code page ('DĹ‚uĹĽnik' for 'Dłużnik'),
    or nothing: such a name is a code page's text whose bytes are valid UTF-8 with letters beyond
    ASCII, which Polish text in a code page never is."""
    for name in columns:
        for code_page in ("cp1250", "iso-8859-2"):
            try:
                meant = name.encode(code_page).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if meant != name:
                return (
                    f" (the header reads as UTF-8 read as {NAMES[code_page]}: {name!r} is {meant!r}; "
                    f"set `encoding: utf-8` in the profile)"
                )
    return ""


def canonical(batch: pl.DataFrame, found: dict[str, str], profile: Profile) -> pl.DataFrame:
    """The batch under docs/data-contract.md's names, as stripped text (empty -> null), the profile's value
    maps, product map and defaults applied."""
    columns = [pl.col(ROW)]
    for column in (*INPUT_COLUMNS, PRODUCT):
        text = blank_to_null(pl.col(found[column])) if column in found else pl.lit(None, pl.String)
        if column in profile.values:
            spellings = {_key(k): v for k, v in profile.values[column].items()}
            folded = text.str.replace_all(r"\s+", " ").str.to_lowercase()
            text = folded.replace_strict(spellings, default=text, return_dtype=pl.String)
        columns.append(text.alias(column))
    frame = batch.select(columns)
    if profile.products is not None:
        known = {_key(k): k for k in profile.products.map}
        frame = frame.with_columns(
            pl.col(PRODUCT)
            .str.replace_all(r"\s+", " ")
            .str.to_lowercase()
            .replace_strict(known, default=None)
            .alias("_product")
        )
        product = pl.col("_product")
        derived = {c for assigned in profile.products.map.values() for c in assigned}
        frame = frame.with_columns(
            pl.coalesce(
                product.replace_strict(
                    {k: v[c] for k, v in profile.products.map.items() if c in v}, default=None, return_dtype=pl.String
                ),
                pl.col(c),
            ).alias(c)
            for c in derived
        )
        frame = frame.with_columns(product.is_not_null().alias("_product_known"))
    if profile.defaults:
        frame = frame.with_columns(pl.col(c).fill_null(pl.lit(v)) for c, v in profile.defaults.items())
    return frame


def _iban_text(text: pl.Expr) -> pl.Expr:
    """A Polish account number (NRB, 26 digits) is an IBAN without its 'PL'."""
    t = (
        text.str.replace_all(" ", "", literal=True).str.replace_all(r"[\s\-]", "").str.to_uppercase()
    )  # most are grouped by spaces
    return pl.when(t.str.contains(r"^\d{26}$")).then("PL" + t).otherwise(t)


def check(frame: pl.DataFrame, terms: Terms, profile: Profile) -> tuple[pl.DataFrame, pl.DataFrame, tuple[int, int]]:
    """(typed rows that break no rule, failures, (sum of principal of the rows whose principal
    parses, number of rows whose principal does not)) of one canonical batch."""
    col = pl.col
    problems: dict[str, list[pl.Expr]] = {c: [] for c in (*INPUT_COLUMNS, PRODUCT)}
    parsers = [(c, amount) for c in MONEY] + [(c, lambda s: calendar_date(s, terms.today)) for c in DATES]
    parsers += [
        ("contractual_rate_bp", whole_number),
        ("contractual_rate_percent", percent_as_bp),
        ("limitation_years", whole_number),
    ]
    parsed = []
    for column, parser in parsers:
        text = frame.get_column(column)
        if text.null_count() == len(text):  # not in the file (or empty throughout): nothing to parse
            out = pl.DataFrame(
                {
                    "value": pl.Series(dtype=parser(text.head(0)).schema["value"]).extend_constant(None, len(text)),
                    "problem": pl.Series(dtype=pl.String).extend_constant(None, len(text)),
                }
            )
        else:
            out = parser(text)
        if column == "principal":  # for the control totals: every row's principal, accepted or not
            principal = out.select(
                pl.col("value").sum().alias("sum"), pl.col("value").is_null().sum().alias("bad")
            ).row(0)
        parsed += [out.get_column("value").alias(f"_{column}"), out.get_column("problem").alias(f"?{column}")]
        problems[column].append(col(f"?{column}"))
    frame = frame.with_columns(parsed).with_columns(
        national=compact(col("national_id")),
        postal=col("postal_code").str.replace_all(r"\s", "").str.replace(r"^(\d{2})(\d{3})$", "$1-$2"),
        iban=_iban_text(col("iban")),
    )
    frame = frame.with_columns(iban_problem(frame.get_column("iban")).alias("?iban"))
    problems["iban"].append(col("?iban"))

    def t(column: str) -> pl.Expr:
        return col(f"_{column}")

    purchase = pl.lit(terms.purchase_date) if terms.purchase_date else t("purchase_date")
    rate = pl.coalesce(t("contractual_rate_bp"), t("contractual_rate_percent"))
    required = list(REQUIRED_COLUMNS)
    required += [] if terms.purchase_date else ["purchase_date"]
    required += [] if terms.price_given else ["purchase_price"]
    for column in required:
        problems[column].insert(0, pl.when(col(column).is_null()).then(pl.lit("required")))
    for column, allowed in ENUMS.items():
        problems[column].append(
            pl.when(col(column).is_not_null() & ~col(column).is_in(allowed)).then(
                pl.lit(f"unknown value; allowed: {', '.join(allowed)}")
            )
        )
    for column in (*INPUT_COLUMNS, PRODUCT):
        problems[column].insert(
            0,
            pl.when(col(column).str.contains("\ufffd", literal=True)).then(
                pl.lit("bytes that are no character in the file's encoding")
            ),
        )
    for column in FREE_TEXT:  # the other columns' values are parsed or matched whole, which a control character fails
        problems[column].insert(
            0,
            pl.when(col(column).str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")).then(
                pl.lit("a control character (binary data?)")
            ),
        )
        # a quoted value may hold line breaks and tabs: in a name or an address they would break
        # every letter and export made from it, so the row waits for a corrected value
        problems[column].insert(
            0,
            pl.when(col(column).str.contains(r"[\t\n\r]")).then(
                pl.lit("a line break or tab inside the value (one line expected)")
            ),
        )
    for column, length in MAX_LENGTH.items():
        problems[column].append(
            pl.when(col(column).str.len_chars() > length).then(pl.lit(f"longer than {length} characters"))
        )
    if PRODUCT in frame.columns and "_product_known" in frame.columns:
        problems[PRODUCT].append(
            pl.when(~col("_product_known")).then(pl.lit("product type not in the seller profile (products.map)"))
        )
    national_id = pl.when(col("national").is_null()).then(None)
    for kind in DebtorKind:  # each kind's national id by its own rules
        national_id = national_id.when(col("debtor_kind") == kind).then(
            NATIONAL_ID_RULES[kind.national_id](col("national"))
        )
    problems["national_id"].append(national_id)
    problems["postal_code"].append(
        pl.when(col("postal").is_not_null() & ~col("postal").str.contains(r"^\d{2}-\d{3}$")).then(
            pl.lit("postal code must be NN-NNN")
        )
    )
    problems["email"].append(
        pl.when(col("email").is_not_null() & ~col("email").str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")).then(
            pl.lit("not an e-mail address")
        )
    )
    problems["flags"].append(
        pl.when(
            col("flags").is_not_null()
            & ~col("flags").str.to_lowercase().str.contains(r"^[a-z_]+(\s*[,;|]\s*[a-z_]+)*$")
        ).then(pl.lit("flags: words like deceased, bankrupt separated by commas"))
    )
    future = "purchase_date" if terms.purchase_date is None else "cutoff_date"
    problems[future].append(
        pl.when(pl.max_horizontal(purchase, t("cutoff_date")) > terms.today).then(pl.lit("in the future"))
    )
    problems["due_date"].append(pl.when(t("due_date") > t("cutoff_date")).then(pl.lit("due_date after cutoff_date")))
    problems["cutoff_date"].append(pl.when(t("cutoff_date") > purchase).then(pl.lit("cutoff_date after purchase_date")))
    problems["title_date"].append(
        pl.when((t("title_date") < t("due_date")) | (t("title_date") > purchase)).then(
            pl.lit("title_date must lie between due_date and purchase_date")
        )
    )
    problems["birth_date"].append(pl.when(t("birth_date") > terms.today).then(pl.lit("in the future")))
    contractual = is_one_of("interest_basis", CONTRACT_RATE_BASES)
    problems["contractual_rate_percent"].append(
        pl.when(contractual & (rate.is_null() | (rate > MAX_CONTRACTUAL_RATE_BP))).then(
            pl.lit(
                f"a contractual rate of 0..{MAX_CONTRACTUAL_RATE_BP // 100} % is required for interest_basis "
                f"{InterestBasis.spelled(CONTRACT_RATE_BASES)}"
            )
        )
    )
    problems["limitation_years"].append(
        pl.when(
            is_one_of("limitation_kind", OWN_YEARS_KINDS)
            & (t("limitation_years").is_null() | ~t("limitation_years").is_between(1, 100))
        ).then(pl.lit(f"1..100 years required for limitation_kind {LimitationKind.spelled(OWN_YEARS_KINDS)}"))
    )
    checked = frame.with_columns(pl.coalesce(*exprs).alias(f"!{column}") for column, exprs in problems.items() if exprs)
    regon = checked.get_column("regon")
    if regon.null_count() < len(regon):
        verdict = regon_valid(regon)
        checked = checked.with_columns(
            pl.when(verdict.not_()).then(pl.lit("REGON check digit does not match")).alias("!regon")
        )
    flagged = [c for c in checked.columns if c.startswith("!")]
    long = checked.select(ROW, "seller_ref", *flagged, *(col(c[1:]).alias(f"={c[1:]}") for c in flagged))
    failures = pl.concat(
        [
            long.filter(col(f).is_not_null()).select(
                col(ROW).alias("row"),
                "seller_ref",
                pl.lit(f[1:]).alias("column"),
                col(f).alias("rule"),
                col(f"={f[1:]}").alias("value"),
            )
            for f in flagged
        ],
        how="vertical",
    ).sort("row", maintain_order=True)
    good = checked.filter(~pl.any_horizontal(col(f).is_not_null() for f in flagged))
    return _typed(good, terms, rate), failures, (int(principal[0] or 0), int(principal[1]))


def _typed(good: pl.DataFrame, terms: Terms, rate: pl.Expr) -> pl.DataFrame:
    col = pl.col
    flags = col("flags").str.to_lowercase().str.replace_all(r"\s*[,;|]\s*", ",").str.split(",")
    return good.select(
        col(ROW).alias("row"),
        "seller_ref",
        "debtor_kind",
        *(
            col(f"_{m}").cast(pl.Int64).alias(m)
            for m in ("principal", "interest_at_cutoff", "costs_at_cutoff", "purchase_price")
        ),
        col("_due_date").alias("due_date"),
        col("_cutoff_date").alias("cutoff_date"),
        "interest_basis",
        rate.cast(pl.Int32).alias("contractual_rate_bp"),
        "limitation_kind",
        col("_limitation_years").cast(pl.Int8).alias("limitation_years"),
        col("_title_date").alias("title_date"),
        (pl.lit(terms.purchase_date) if terms.purchase_date else col("_purchase_date")).alias("purchase_date"),
        col("national").alias("national_id"),
        "name",
        "street",
        col("postal").alias("postal_code"),
        "city",
        "phone",
        "email",
        flags.fill_null([]).cast(pl.List(pl.String)).alias("flags"),
        col("_birth_date").alias("birth_date"),
    )
