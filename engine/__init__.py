"""Cession's columnar engine: claims and events in, claim_state out (docs/engine.md)."""

from engine.kernel_cache import use_versioned_cache

use_versioned_cache()  # before the kernels are imported (their cache folder is fixed then)


from engine.rules import StaleRulesError, load_rules  # noqa: E402
from engine.state import compute_state, provenance  # noqa: E402
from engine.validation import EngineInputError  # noqa: E402
from engine.waterfall import DEFAULT_WATERFALL, Waterfall  # noqa: E402

__all__ = [
    "DEFAULT_WATERFALL",
    "EngineInputError",
    "StaleRulesError",
    "Waterfall",
    "compute_state",
    "load_rules",
    "provenance",
]
