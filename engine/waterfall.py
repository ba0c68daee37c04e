"""The payment waterfall: the order in which a payment goes to costs, interest and principal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from engine.domain import Bucket, code_of
from engine.errors import InputError


@dataclass(frozen=True)
class Waterfall:
    """A permutation of the three buckets; the default is art. 451 § 1 KC's costs -> interest -> principal."""

    order: tuple[Bucket, Bucket, Bucket]

    def __post_init__(self) -> None:
        if sorted(self.order) != sorted(Bucket):
            raise InputError(f"a waterfall orders each of {', '.join(Bucket)} once; got {', '.join(self.order)}")

    @classmethod
    def parse(cls, text: str | Sequence[str] | Waterfall) -> Waterfall:
        """From "costs,interest,principal", ("costs", "interest", "principal") or a Waterfall."""
        if isinstance(text, Waterfall):
            return text
        parts = text.split(",") if isinstance(text, str) else list(text)
        names = [str(part).strip() for part in parts if str(part).strip()]
        try:
            order = tuple(Bucket(name) for name in names)
        except ValueError:
            raise InputError(f"waterfall {text!r}: each part must be one of {', '.join(Bucket)}") from None
        if len(order) != 3:
            raise InputError(f"waterfall {text!r}: name all three of {', '.join(Bucket)}, in order")
        return cls(order)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return ",".join(self.order)


DEFAULT_WATERFALL = Waterfall((Bucket.COSTS, Bucket.INTEREST, Bucket.PRINCIPAL))
ALL_WATERFALLS: tuple[Waterfall, ...] = tuple(Waterfall(p) for p in permutations(Bucket))

#: Each waterfall's bucket codes, a row per entry of ALL_WATERFALLS (the kernel's lookup table).
ORDER_CODES = np.array([[code_of(b) for b in w.order] for w in ALL_WATERFALLS], dtype=np.int8)

WaterfallSetting = Waterfall | str | Sequence[str] | Mapping[str, "Waterfall | str | Sequence[str]"]


def resolve(setting: WaterfallSetting) -> tuple[Waterfall, dict[str, Waterfall]]:
    """(default, per-portfolio overrides) from one waterfall or a mapping portfolio_id -> waterfall
    (key ``"*"``, if present, replaces the default)."""
    if isinstance(setting, Mapping):
        per = {str(k): Waterfall.parse(v) for k, v in setting.items()}
        return per.pop("*", DEFAULT_WATERFALL), per
    return Waterfall.parse(setting), {}
