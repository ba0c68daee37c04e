"""A letter's data as contacts.letters.data_of makes it, for the template tests."""

from __future__ import annotations

from contacts import letters

PURCHASER = letters.purchaser()
ACCOUNT = "61109010140000071219812874"
SHOWN_ACCOUNT = "61 1090 1014 0000 0712 1981 2874"


def data(
    template: str = "demand", *, safe: bool = False, name: str = "Jan Kowalski", title: str = "T", **amounts
) -> dict:
    figures = {"principal": 123_456, "interest": 7_890, "costs": 1_500, "interest_time_barred": 0} | amounts
    figures["total"] = figures["principal"] + figures["interest"] + figures["costs"]
    return {
        "template": template,
        "title": title,
        "letter": {"letter_id": 17, "date": "2026-12-07", "pay_within_days": 7, "pay_by": "2026-12-14"},
        "purchaser": PURCHASER.model_dump(),
        "debtor": {
            "debtor_id": 4,
            "debtor_kind": "consumer",
            "name": name,
            "street": "ul. Długa 5/7 m. 3",
            "postal_code": "00-950",
            "city": "Łódź",
        },
        "claim": {
            "claim_id": 123,
            "portfolio_id": "BANK-2024-06",
            "seller_ref": "UM/2020/77",
            "seller": "Bank Przykładowy S.A.",
            "purchase_date": "2024-06-28",
            "due_date": "2019-03-01",
            "limitation_date": "2025-12-31",
        },
        "amounts": {
            "as_of": "2026-12-07",
            "basis": "statutory_late",
            "basis_pl": letters.basis_words()["statutory_late"],
            "rate_bp": 925,
        }
        | figures,
        "account": ACCOUNT,
        "time_barred": safe,
        "limitation_safe": safe,
    }
