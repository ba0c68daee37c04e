"""Cession's columnar engine: claims and events in, claim_state out (ENGINE.md)."""

from engine.rules import StaleRulesError, load_rules
from engine.state import compute_state, provenance
from engine.validation import EngineInputError
from engine.waterfall import DEFAULT_WATERFALL, Waterfall

__all__ = [
    "DEFAULT_WATERFALL",
    "EngineInputError",
    "StaleRulesError",
    "Waterfall",
    "compute_state",
    "load_rules",
    "provenance",
]
