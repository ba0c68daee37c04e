"""Where the store lives: one database URL (env ``CESSION_DATABASE_URL``).

The default is an embedded SQLite file in the user's data folder, so `cession demo` works on a
fresh machine; production sets ``postgresql+psycopg://user@host:5432/db``.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    folder: Path = user_data_path("cession", appauthor=False, ensure_exists=True)
    return f"sqlite:///{folder / 'cession.db'}"


class StoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CESSION_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
