"""The engine's public names (README "The engine from Python") are what they say, whatever was
imported before them: a submodule named like an export would shadow it once imported."""

from __future__ import annotations

import importlib
import pkgutil
import types

import engine


def test_every_export_is_the_object_not_a_module_of_the_same_name():
    for module in pkgutil.iter_modules(engine.__path__):
        if module.name != "kernels":
            importlib.import_module(f"engine.{module.name}")
    for name in engine.__all__:
        value = getattr(engine, name)
        assert not isinstance(value, types.ModuleType), name
    from engine import compute, compute_state, prepare_inputs, provenance, state_table, stream_state

    assert all(callable(f) for f in (compute, compute_state, prepare_inputs, provenance, state_table, stream_state))
