"""A statement imported again posts nothing new and refuses what it refused then, for the same
reason, whatever was imported in between; a return naming a line that is no credit is refused,
never matched to another credit of the same payer and amount."""

from datetime import date

import polars as pl

from payments.importing import import_statement
from payments.statements import read_statement
from synthetic.statements import credits, write_mt940
from tests.payments.conftest import CLAIMS, direct_events, lines_of

CLAIMS_FRAME = pl.DataFrame(
    [{"claim_id": c, "seller_ref": ref, "debtor_id": d} for c, d, ref, _, _ in CLAIMS],
    schema={"claim_id": pl.Int64, "seller_ref": pl.String, "debtor_id": pl.Int64},
)


def _lines(rows: list[tuple]) -> pl.DataFrame:
    """(kind, claim_id, amount, ref, returns) rows as synthetic.statements' frame."""
    frame = pl.DataFrame(
        rows,
        schema={"kind": pl.String, "claim_id": pl.Int64, "amount": pl.Int64, "ref": pl.String, "returns": pl.Int64},
        orient="row",
    )
    return frame.join(CLAIMS_FRAME, on="claim_id", how="left", maintain_order="left").with_columns(
        virtual_account=pl.lit(None, pl.String)
    )


def _judged(report) -> list[tuple]:
    """Each line's outcome and match, and a refused line's reason (a line stored before says so instead)."""
    refused = pl.col("outcome") == "refused"
    frame = report.outcomes.select("position", "outcome", "matched_by", reason=pl.when(refused).then("reason"))
    return frame.sort("position").rows()


def test_a_return_of_a_return_is_refused_and_a_reimport_posts_nothing(book, tmp_path):
    # A: a credit to claim 21, its return, a return of that return (it gives back 150.00, the
    # amount synthetic.statements writes for it), and a second return of the credit
    a = tmp_path / "a.sta"
    write_mt940(
        _lines(
            [
                ("ref", 21, 20_000, "A1", None),
                ("return", 21, 15_000, "A2", 0),
                ("return", 21, 20_000, "A3", 1),
                ("return", 21, 20_000, "A4", 0),
            ]
        ),
        a,
        date(2025, 12, 1),
    )
    # B, the same day: a credit of 150.00 to claim 41 from the same payer account (every synthetic line's)
    b = tmp_path / "b.sta"
    write_mt940(_lines([("ref", 41, 15_000, "B1", None)]), b, date(2025, 12, 1))

    first = import_statement(book, read_statement(a))
    reasons = dict(first.outcomes.select("position", "reason").iter_rows())
    assert first.outcomes.get_column("outcome").to_list() == ["posted", "posted", "refused", "refused"]
    assert "a return of A2, which is not a credit" in reasons[3]
    assert "a second return of the credit A1 in this file" in reasons[4]
    import_statement(book, read_statement(b))
    events = direct_events(book)
    stored = len(lines_of(book))

    again = import_statement(book, read_statement(a))
    assert direct_events(book) == events  # B's credit is not taken back by A's return of a return
    assert again.parts.height == 0 and len(lines_of(book)) == stored
    assert _judged(again) == _judged(first)  # refused again, for the reason given then
    assert again.already == again.lines_read == 4
    s, t = first.summary(), again.summary()
    assert [s[k] for k in ("posted", "suspense", "refused")] == [t[k] for k in ("posted", "suspense", "refused")]


def test_a_synthetic_statement_twice_posts_nothing_new(book, tmp_path):
    # a few amounts only: a return's payer and amount fit many credits (all lines have one payer account)
    def statement(refs: str, seed: int):
        frame = credits(CLAIMS_FRAME, 2_000, seed=seed, refs=refs)
        frame = frame.with_columns(amount=(pl.col("amount") % 5 + 1) * 1_000)
        path = tmp_path / f"{refs}.sta"
        write_mt940(frame, path, date(2025, 12, 1))
        return read_statement(path)

    a, b = statement("A", 1), statement("B", 2)
    assert a.lines.filter(pl.col("is_return")).height > 50
    first = import_statement(book, a)
    import_statement(book, b)
    events = direct_events(book)
    stored = len(lines_of(book))

    again = import_statement(book, a)
    assert again.parts.height == 0
    assert direct_events(book) == events and len(lines_of(book)) == stored
    assert again.already == again.lines_read == 2_000
    assert _judged(again) == _judged(first)
    s, t = first.summary(), again.summary()
    counts = ("lines_read", "posted", "suspense", "refused", "posted_amount", "suspense_amount", "refused_amount")
    assert [s[k] for k in counts] == [t[k] for k in counts]
    assert s["refused"] > 0 and s["posted"] > 0 and s["suspense"] > 0
