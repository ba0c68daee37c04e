"""The kernels' house rules, checked from their source (stumpy's fastmath --check idea)."""

import ast
from pathlib import Path

import engine.kernels as kernels_pkg
from engine.domain import Bucket, EventKind, LimitationKind, code_of
from engine.kernels import codes

KERNEL_FILES = sorted(Path(kernels_pkg.__file__).parent.glob("*.py"))


def _njit_decorators():
    for path in KERNEL_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "njit":
                        yield path.name, node.name, {k.arg: k.value for k in deco.keywords}
                    elif getattr(deco, "id", "") == "njit":
                        yield path.name, node.name, {}


def test_every_kernel_states_cache_nogil_and_no_fastmath():
    found = list(_njit_decorators())
    assert len(found) >= 15
    for file, name, kw in found:
        where = f"{file}:{name}"
        assert isinstance(kw.get("fastmath"), ast.Constant) and kw["fastmath"].value is False, where
        assert isinstance(kw.get("cache"), ast.Constant) and kw["cache"].value is True, where
        assert isinstance(kw.get("nogil"), ast.Constant) and kw["nogil"].value is True, where


def test_kernels_import_nothing_of_ours_but_kernels():
    for path in KERNEL_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
                assert top in ("numba", "numpy") or node.module.startswith("engine.kernels"), (path.name, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in ("numba", "numpy"), (path.name, alias.name)


def test_kernel_codes_follow_the_domain_enums():
    for kind in EventKind:
        assert getattr(codes, kind.name) == code_of(kind)
    for bucket in Bucket:
        assert getattr(codes, bucket.name) == code_of(bucket)
    assert code_of(LimitationKind.TITLE) == codes.LIMITATION_TITLE
    assert code_of(LimitationKind.PERIODIC) == codes.LIMITATION_PERIODIC


def test_no_legal_dates_or_rates_in_engine_code():
    """Rules are data: no ISO date literal in engine/*.py (the tables hold them)."""
    import re

    engine_dir = Path(kernels_pkg.__file__).parent.parent
    for path in engine_dir.rglob("*.py"):
        text = path.read_text().replace("date(1970, 1, 1)", "")  # the day-number epoch, not law
        assert not re.search(r"['\"](19|20)\d\d-\d\d-\d\d['\"]", text), path
        assert "date(20" not in text and "date(19" not in text, path


def test_compiled_kernels_are_cached_per_version_of_every_kernel_source(monkeypatch, tmp_path):
    """numba's cache checks the stamp of a function's own file only: an edit of a file it inlines
    from must still recompile, so the cache folder is keyed by every kernel source."""
    import os

    import numba

    from engine import kernel_cache

    if not os.environ.get("NUMBA_CACHE_DIR"):
        assert Path(numba.config.CACHE_DIR).name == kernel_cache.sources_digest()
    copy = tmp_path / "kernels"
    copy.mkdir()
    for path in KERNEL_FILES:
        (copy / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(kernel_cache, "KERNELS", copy)
    before = kernel_cache.sources_digest()
    (copy / "interest.py").write_text((copy / "interest.py").read_text() + "\n# an edit\n")
    assert kernel_cache.sources_digest() != before
