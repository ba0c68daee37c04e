"""Seeded messy seller files: what a bank's collections department exports with a sale.

Windows-1250, ';'-separated, Polish headers (the shipped profile ``bank_przykladowy``), amounts
with decimal commas and no-break-space thousands ("12 345,67"), dates dd.mm.yyyy, products the
profile maps onto interest_basis and limitation_kind, ~10 % of debtors with more than one claim
(the same PESEL/NIP), a few without a national id, and a share of bad rows of known kinds. Used by
the demo, the tests and the ingest benchmarks (10 million rows), so it is vectorised numpy and
polars; nothing loops per row.

``seller_file`` returns the file's text columns and, for every bad row, the column and a fragment
of the rule ingest must reject it by: the expected reject report.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

PROFILE = "bank_przykladowy"
PURCHASE_DATE = date(2024, 6, 28)
CUTOFF_DATE = date(2024, 5, 31)

FIRST = [
    "Jan",
    "Anna",
    "Piotr",
    "Małgorzata",
    "Krzysztof",
    "Agnieszka",
    "Andrzej",
    "Krystyna",
    "Tomasz",
    "Barbara",
    "Paweł",
    "Ewa",
    "Michał",
    "Elżbieta",
    "Łukasz",
    "Zofia",
    "Grzegorz",
    "Jadwiga",
    "Józef",
    "Teresa",
]
LAST = [
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Wójcik",
    "Kowalczyk",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
    "Kozłowski",
    "Jankowski",
    "Mazur",
    "Kwiatkowski",
    "Krawczyk",
    "Piotrowski",
    "Grabowski",
    "Nowakowski",
    "Pawłowski",
    "Michalski",
    "Król",
    "Wieczorek",
    "Jabłoński",
    "Wróbel",
    "Majewski",
    "Ożóg",
    "Żak",
]
FIRMS = ["Usługi Budowlane", "Handel Hurtowy", "Transport Ciężarowy", "Piekarnia", "Zakład Ślusarski", "Kwiaciarnia"]
CITIES = [
    ("Warszawa", "00"),
    ("Kraków", "30"),
    ("Łódź", "90"),
    ("Wrocław", "50"),
    ("Poznań", "60"),
    ("Gdańsk", "80"),
    ("Szczecin", "70"),
    ("Bydgoszcz", "85"),
    ("Lublin", "20"),
    ("Białystok", "15"),
    ("Żyrardów", "96"),
]
STREETS = [
    "Mickiewicza",
    "Słowackiego",
    "Kościuszki",
    "Piłsudskiego",
    "Długa",
    "Polna",
    "Leśna",
    "Źródlana",
    "Żeromskiego",
]
PRODUCTS = [
    "Kredyt gotówkowy",
    "Karta kredytowa",
    "Abonament GSM",
    "Faktura handlowa",
    "Pożyczka gotówkowa",
    "Faktura SP ZOZ",
]

HEADERS = {
    "ref": "Nr umowy",
    "kind": "Typ dłużnika",
    "name": "Dłużnik",
    "national_id": "PESEL/NIP",
    "street": "Ulica",
    "postal_code": "Kod pocztowy",
    "city": "Miejscowość",
    "phone": "Telefon",
    "email": "E-mail",
    "product": "Produkt",
    "principal": "Kapitał",
    "interest": "Odsetki",
    "costs": "Koszty",
    "due": "Data wymagalności",
    "cutoff": "Data odcięcia",
    "rate": "Oprocentowanie %",
    "title": "Data tytułu",
    "iban": "Rachunek spłaty",
}

#: the bad rows: (what is wrong, the profile's column name as ingest reports it, a fragment of the rule)
DEFECTS = (
    ("bad PESEL check digit", "national_id", "check digit"),
    ("negative principal", "principal", ">= 0"),
    ("three decimals", "interest_at_cutoff", "at most 2 decimals"),
    ("cut-off in the future", "cutoff_date", "in the future"),
    ("no such day", "due_date", "no such day"),
    ("duplicate seller_ref", "seller_ref", "more than once"),
    ("unknown product", "product", "not in the seller profile"),
    ("no name", "name", "required"),
    ("bad IBAN", "iban", "IBAN check digits"),
    ("due after cut-off", "due_date", "due_date after cutoff_date"),
    ("amount in scientific notation", "principal", "scientific notation"),
    ("bad NIP check digit", "national_id", "check digit"),
)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) decimal digits of non-negative ints."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


def pesels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid PESELs (born 1940..2003) as int64."""
    year = rng.integers(1940, 2004, n)
    month = rng.integers(1, 13, n) + np.where(year >= 2000, 20, 0)
    day = rng.integers(1, 29, n)
    serial = rng.integers(0, 10_000, n)
    body = (year % 100) * 10**8 + month * 10**6 + day * 10**4 + serial
    weights = np.array([1, 3, 7, 9, 1, 3, 7, 9, 1, 3])
    check = (10 - (_digits(body, 10) * weights).sum(axis=1) % 10) % 10
    return body * 10 + check


def nips(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid NIPs as int64 (a body whose check would be 10 is moved on until it is not)."""
    body = rng.integers(100_000_000, 999_999_999, n)
    weights = np.array([6, 5, 7, 2, 3, 4, 5, 6, 7])
    while True:
        check = (_digits(body, 9) * weights).sum(axis=1) % 11
        if not (check == 10).any():
            return body * 10 + check
        body = np.where(check == 10, body + 1, body)


def ibans(rng: np.random.Generator, n: int) -> pl.Series:
    """Valid Polish account numbers (NRB, 26 digits: IBAN without 'PL'), written in groups."""
    bank = rng.integers(10**7, 10**8, n)  # 8-digit bank/branch number
    account = rng.integers(10**15, 10**16, n)  # 16-digit account
    # IBAN check: 98 - (bank account 'P' 'L' '00' as a number) mod 97, computed in pieces
    remainder = (bank % 97 * (10**16 % 97) + account % 97) % 97
    remainder = (remainder * (10**6 % 97) + 252100) % 97  # 'PL00' -> 25 21 00
    check = 98 - remainder
    text = pl.format(
        "{}{}{}",
        pl.lit(pl.Series(check)).cast(pl.String).str.zfill(2),
        pl.lit(pl.Series(bank)),
        pl.lit(pl.Series(account)),
    )
    nrb = pl.select(text).to_series()
    return pl.select(
        pl.concat_str([nrb.str.slice(i, 4 if i else 2) for i in (0, 2, 6, 10, 14, 18, 22)], separator=" ")
    ).to_series()


def _pln(grosz: pl.Expr) -> pl.Expr:
    """grosz -> '12 345,67' with no-break spaces between thousands."""
    whole, cents = grosz // 100, (grosz % 100).cast(pl.String).str.zfill(2)
    units = (whole % 1000).cast(pl.String)
    thousands = (whole // 1000 % 1000).cast(pl.String)
    millions = (whole // 1_000_000).cast(pl.String)
    text = (
        pl.when(whole >= 1_000_000)
        .then(pl.format("{}\u00a0{}\u00a0{}", millions, thousands.str.zfill(3), units.str.zfill(3)))
        .when(whole >= 1000)
        .then(pl.format("{}\u00a0{}", thousands, units.str.zfill(3)))
        .otherwise(units)
    )
    return pl.format("{},{}", text, cents)


def _day(days: pl.Expr) -> pl.Expr:
    return days.cast(pl.Date).dt.strftime("%d.%m.%Y")


def seller_file(n: int, seed: int = 7, bad_share: float = 0.02, offset: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the file's columns under their Polish headers, expected rejects: row, column, rule fragment, defect).

    ``offset``: the number of rows before these (a part of a larger file: refs go on from there)."""
    rng = np.random.default_rng([seed, offset])
    business = rng.random(n) < 0.12
    # ~10 % of rows belong to a debtor of an earlier row
    owner = np.arange(n)
    shared = rng.random(n) < 0.10
    shared[0] = False
    owner[shared] = (rng.random(shared.sum()) * np.flatnonzero(shared)).astype(np.int64)
    while True:  # follow to the first owner
        deeper = owner[owner] != owner
        if not deeper.any():
            break
        owner = np.where(owner[owner] != owner, owner[owner], owner)
    business = business[owner]
    national = np.where(business, nips(rng, n), pesels(rng, n))[owner]
    first, last = rng.integers(0, len(FIRST), n)[owner], rng.integers(0, len(LAST), n)[owner]
    firm = rng.integers(0, len(FIRMS), n)[owner]
    city = rng.integers(0, len(CITIES), n)[owner]
    street, house = rng.integers(0, len(STREETS), n)[owner], rng.integers(1, 200, n)[owner]
    postal_tail = rng.integers(0, 1000, n)[owner]
    no_id = (rng.random(n) < 0.02) & ~business
    principal = np.round(np.exp(rng.normal(11.5, 1.3, n))).astype(np.int64) + 1000
    interest = (principal * rng.uniform(0, 0.4, n)).astype(np.int64)
    costs = np.where(rng.random(n) < 0.6, rng.integers(0, 50_000, n), 0)
    cutoff = (CUTOFF_DATE - date(1970, 1, 1)).days
    due = cutoff - rng.integers(30, 365 * 9, n)
    product = np.where(business, 3, rng.choice([0, 1, 2, 4], n, p=[0.45, 0.2, 0.25, 0.1]))
    contractual = (product == 0) | (product == 1)
    rate = rng.integers(700, 2400, n)
    title = np.where(rng.random(n) < 0.08, due + rng.integers(60, 700, n), -1)
    title = np.where(title > cutoff, -1, title)
    product = np.where(business & (rng.random(n) < 0.05), 5, product)  # invoices of public hospitals (SP ZOZ)
    kinds = np.array(["Osoba fizyczna", "Firma"])[business.astype(np.int8)]
    cities = pl.Series([c for c, _ in CITIES])
    postal_head = pl.Series([p for _, p in CITIES])
    frame = pl.DataFrame(
        {
            "i": np.arange(offset, offset + n),
            "business": business,
            "national": national,
            "no_id": no_id,
            "first": first,
            "last": last,
            "firm": firm,
            "city": city,
            "street": street,
            "house": house,
            "postal_tail": postal_tail,
            "principal": principal,
            "interest": interest,
            "costs": costs,
            "due": due,
            "product": product,
            "contractual": contractual,
            "rate": rate,
            "title": title,
            "kind": kinds,
        }
    )
    col = pl.col
    out = frame.select(
        ref=pl.format("UM/{}/{}", col("product") + 1, (col("i") + 100_000_001).cast(pl.String)),
        kind=col("kind"),
        name=pl.when(col("business"))
        .then(
            pl.format(
                "{} {} Sp. j.",
                pl.lit(pl.Series(FIRMS)).gather(col("firm")),
                pl.lit(pl.Series(LAST)).gather(col("last")),
            )
        )
        .otherwise(
            pl.format(
                "{} {}", pl.lit(pl.Series(FIRST)).gather(col("first")), pl.lit(pl.Series(LAST)).gather(col("last"))
            )
        ),
        national_id=pl.when(col("no_id"))
        .then(None)
        .when(col("business"))
        .then(col("national").cast(pl.String))
        .otherwise(col("national").cast(pl.String).str.zfill(11)),
        street=pl.format("ul. {} {}", pl.lit(pl.Series(STREETS)).gather(col("street")), col("house")),
        postal_code=pl.format(
            "{}-{}", pl.lit(postal_head).gather(col("city")), col("postal_tail").cast(pl.String).str.zfill(3)
        ),
        city=pl.lit(cities).gather(col("city")),
        phone=pl.format("+48 {}", (col("i") * 7919 % 900_000_000 + 500_000_000).cast(pl.String)),
        email=pl.when(col("i") % 3 == 0).then(pl.format("klient{}@example.pl", col("i"))),
        product=pl.lit(pl.Series(PRODUCTS)).gather(col("product")),
        principal=_pln(col("principal")),
        interest=_pln(col("interest")),
        costs=_pln(col("costs")),
        due=_day(col("due")),
        cutoff=pl.lit(CUTOFF_DATE.strftime("%d.%m.%Y")),
        rate=pl.when(col("contractual")).then(
            pl.format("{},{}", col("rate") // 100, (col("rate") % 100).cast(pl.String).str.zfill(2))
        ),
        title=pl.when(col("title") >= 0).then(_day(col("title"))),
    )
    out = out.with_columns(iban=ibans(rng, n))
    out, expected = _spoil(out, rng, bad_share)
    return out.rename(HEADERS), expected.with_columns(pl.col("row") + offset)


def _spoil(out: pl.DataFrame, rng: np.random.Generator, bad_share: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Break ``bad_share`` of the rows, each in one known way (a duplicated ref breaks two rows)."""
    n = out.height
    n_bad = int(n * bad_share) if n >= 2 * len(DEFECTS) else 0
    picked = rng.choice(n, size=min(n_bad, n), replace=False) if n_bad else np.array([], dtype=np.int64)
    picked = picked[: (len(picked) // len(DEFECTS)) * len(DEFECTS)].reshape(len(DEFECTS), -1) if n_bad else []
    consumer = out.get_column("kind") == "Osoba fizyczna"
    has_id = out.get_column("national_id").is_not_null()
    edits, expected = {}, []
    used: set[int] = set(int(i) for group in picked for i in group)
    free = np.setdiff1d(np.arange(n), np.fromiter(used, dtype=np.int64, count=len(used)))
    for (defect, column, rule), rows in zip(DEFECTS, picked, strict=False):
        for i in map(int, rows):
            cell = None
            if defect == "bad PESEL check digit" or defect == "bad NIP check digit":
                want_consumer = defect.startswith("bad PESEL")
                if not has_id[i] or bool(consumer[i]) != want_consumer:
                    # give this row an id of the right kind first (its own debtor)
                    out_kind = "Osoba fizyczna" if want_consumer else "Firma"
                    edits.setdefault("kind", {})[i] = out_kind
                    good = str(pesels(rng, 1)[0]).zfill(11) if want_consumer else str(nips(rng, 1)[0])
                else:
                    good = out["national_id"][i]
                cell = ("national_id", good[:-1] + str((int(good[-1]) + 1) % 10))
                edits.setdefault("name", {})[i] = f"Błędny Identyfikator {i}"
            elif defect == "negative principal":
                cell = ("principal", "-" + out["principal"][i])
            elif defect == "three decimals":
                cell = ("interest", out["interest"][i] + "7")
            elif defect == "cut-off in the future":
                cell = ("cutoff", "15.01.2099")
            elif defect == "no such day":
                cell = ("due", "31.02.2019")
            elif defect == "duplicate seller_ref":
                other = int(free[rng.integers(0, len(free))])
                free = free[free != other]
                cell = ("ref", out["ref"][other])
                expected.append((other + 2, column, rule, defect))
            elif defect == "unknown product":
                cell = ("product", "Leasing operacyjny")
            elif defect == "no name":
                cell = ("name", "")
            elif defect == "bad IBAN":
                good = out["iban"][i]
                cell = ("iban", good[:-1] + str((int(good[-1]) + 1) % 10))
            elif defect == "due after cut-off":
                cell = ("due", "03.06.2024")
            elif defect == "amount in scientific notation":
                cell = ("principal", "1,23457E+5")
            edits.setdefault(cell[0], {})[i] = cell[1]
            expected.append((i + 2, column, rule, defect))
    if edits:
        out = out.with_columns(
            out.get_column(name).scatter(list(values), pl.Series(list(values.values()), dtype=pl.String))
            for name, values in edits.items()
        )
    return out, pl.DataFrame(
        expected, schema={"row": pl.Int64, "column": pl.String, "rule": pl.String, "defect": pl.String}, orient="row"
    ).sort("row")


def write_large_seller_csv(n: int, path: Path, seed: int = 7, part: int = 1_000_000) -> pl.DataFrame:
    """A seller CSV of ``n`` rows written ``part`` rows at a time (bounded memory); the expected rejects."""
    expected = []
    path.unlink(missing_ok=True)
    for offset in range(0, n, part):
        frame, bad = seller_file(min(part, n - offset), seed, offset=offset)
        with path.open("ab") as f:
            text = frame.write_csv(separator=";", include_header=offset == 0, line_terminator="\r\n")
            f.write(text.encode("cp1250"))
        expected.append(bad)
    return pl.concat(expected)


def write_seller_csv(frame: pl.DataFrame, path: Path, encoding: str = "cp1250", separator: str = ";") -> Path:
    """The file as the seller sends it: CRLF lines in ``encoding``, written in slices."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for i, part in enumerate(frame.iter_slices(500_000)):
            text = part.write_csv(separator=separator, include_header=i == 0, line_terminator="\r\n")
            f.write(text.encode(encoding))
    return path
