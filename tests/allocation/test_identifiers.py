"""The debtors' PESEL/NIP validity allocation computes on whole numbers says exactly what
ingest.identifiers' text checks (held equal to stdnum in tests/ingest) say."""

from __future__ import annotations

import numpy as np
import polars as pl

from allocation.features import debtors_checked
from ingest.identifiers import PESEL_WEIGHTS, nip_problem, pesel_problem


def _with_pesel_check(body: str) -> str:
    return body + str((10 - sum(int(c) * w for c, w in zip(body, PESEL_WEIGHTS, strict=True)) % 10) % 10)


def test_pesel_and_nip_validity_equal_the_text_checks():
    rng = np.random.default_rng(17)
    # random digits of every length around 10 and 11; bodies with the right check digit and every
    # coded month (00..99) and day (00..39), so that the birth date decides (leap years, 30-day months)
    values = ["".join(map(str, rng.integers(0, 10, n))) for n in rng.integers(9, 13, 20_000)]
    values += [
        _with_pesel_check(f"{y:02d}{m:02d}{d:02d}{rng.integers(0, 10_000):04d}")
        for y in (0, 4, 23, 96, 99)
        for m in range(100)
        for d in range(40)
    ]
    values += ["00022900000", "+1234567890", "-123456789", " 123456789", "１２３４５６７８９０", "", None]
    debtors = pl.DataFrame(
        {"debtor_id": range(len(values)), "national_id": values, "postal_code": None, "flags": None},
        schema={"debtor_id": pl.Int64, "national_id": pl.String, "postal_code": pl.String, "flags": pl.List(pl.String)},
    )
    checked = debtors_checked(debtors)
    expected = debtors.select(
        pesel_ok=pesel_problem(pl.col("national_id")).is_null() & pl.col("national_id").is_not_null(),
        nip_ok=nip_problem(pl.col("national_id")).is_null() & pl.col("national_id").is_not_null(),
    )
    assert checked.select("pesel_ok", "nip_ok").equals(expected)
    assert 0 < checked["pesel_ok"].sum() < len(values) and 0 < checked["nip_ok"].sum() < len(values)
