"""Strategies over HTTP (``/v1/strategies``): an admin uploads a strategy (its YAML files: the
strategy, the segments and the challenger it names), validated as `cession allocate --strategy`
validates one (errors naming the file, line and field); an allocation started over HTTP may then
name it by its sha256 (``POST /v1/allocations {"strategy": ...}``)."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from api.http.auth import Admin, Purchaser
from api.http.problems import Problem
from engine.errors import InputError, NotFound

router = APIRouter(prefix="/v1/strategies", tags=["allocation"])
ERRORS = {code: {"model": Problem} for code in (400, 401, 403, 404, 422)}
FILE_MAX = 1 << 20


def folder() -> FilePath:
    """Where uploaded strategies are kept: one folder per strategy's sha256, under the uploads."""
    from platformdirs import user_data_path

    from engine.settings import UPLOADS, read

    return FilePath(read(UPLOADS).uploads_dir or user_data_path("cession", appauthor=False) / "uploads") / "strategies"


def stored_path(sha256: str) -> FilePath:
    """The strategy file of an uploaded strategy (``NotFound`` for one never uploaded)."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise NotFound(f"strategy {sha256!r}: not found (a strategy is named by its sha256)")
    marker = folder() / sha256 / "STRATEGY"
    if not marker.exists():
        raise NotFound(f"strategy {sha256!r}: not found (POST /v1/strategies uploads one)")
    return marker.parent / marker.read_text().strip()


def _summary(strategy) -> dict[str, Any]:
    return {
        "sha256": strategy.sha256,
        "name": strategy.name,
        "file": strategy.path.name,
        "rules": [r.name for r in strategy.rules],
        "segments": [s.name for s in strategy.segments],
        "challenger": None if strategy.challenger is None else strategy.challenger.name,
        "warnings": list(strategy.warnings),
    }


@router.post("", status_code=201, responses=ERRORS)
def upload(
    _caller: Admin,
    files: Annotated[
        list[UploadFile], File(description="The strategy's YAML files (the strategy and the files it names).")
    ],
    strategy: Annotated[str, Form(description="Which of the files is the strategy.")],
) -> dict[str, Any]:
    """Upload and validate a strategy; answers its sha256 (what an allocation names), its rules,
    segments and warnings (a rule a hold overrides is a warning, and the hold wins)."""
    import shutil
    import tempfile

    from allocation.strategy import load_strategy

    names = [FilePath(f.filename or "").name for f in files]
    if strategy not in names:
        raise InputError(f"strategy: {strategy!r} is not among the files sent ({', '.join(names)})")
    root = folder()
    root.mkdir(parents=True, exist_ok=True)
    staging = FilePath(tempfile.mkdtemp(dir=root, prefix=".upload-"))
    try:
        for name, upload in zip(names, files, strict=True):
            data = upload.file.read(FILE_MAX + 1)
            if len(data) > FILE_MAX or not name.endswith((".yaml", ".yml")):
                raise InputError(f"{name}: a strategy's files are YAML files of at most 1 MB")
            (staging / name).write_bytes(data)
        loaded = load_strategy(staging / strategy)
        (staging / "STRATEGY").write_text(strategy)
        final = root / loaded.sha256
        if final.exists():
            shutil.rmtree(staging)
        else:
            staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _summary(load_strategy(final / strategy))


@router.get("", responses=ERRORS)
def listed(_caller: Purchaser) -> list[dict[str, Any]]:
    """The strategies uploaded, each with its sha256, name, rules and segments."""
    from allocation.strategy import load_strategy

    root = folder()
    if not root.exists():
        return []
    return [_summary(load_strategy(stored_path(d.name))) for d in sorted(root.iterdir()) if (d / "STRATEGY").exists()]
