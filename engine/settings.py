"""Cession's settings, from the environment (``CESSION_*``), in one class the command line, the
engine, the store and the HTTP API share.

| variable | setting | default |
|---|---|---|
| ``CESSION_DATABASE_URL`` | the store | SQLite in the user data folder (``cession/cession.db``) |
| ``CESSION_EXECUTOR`` | ``local`` or ``ray`` | ``local`` |
| ``CESSION_RAY_ADDRESS`` | an existing Ray cluster (``auto``, ``host:6379``, ``ray://head:10001``) | a local Ray on demand |
| ``CESSION_PARTITIONS`` | claim partitions | 1 locally, 2 per CPU of the Ray cluster |
| ``CESSION_RAY_MAX_RETRIES`` | runs of a Ray task whose worker died | 3 |
| ``CESSION_RULES_DIR`` | a folder of updated rule tables (replacing the shipped files of the same name) | the shipped tables |
| ``CESSION_UPLOADS_DIR`` | where the HTTP API keeps uploaded seller files and their reports | ``uploads`` in the user data folder |
| ``CESSION_WEBHOOKS_PRIVATE`` | let webhooks go to loopback and private addresses (a purchaser's own network, tests) | ``false``: refused |
| ``CESSION_VIRTUAL_ACCOUNT_PREFIX`` | the fund's bank sort code and client number that debtors' virtual accounts start with (engine/store/virtual_accounts.py) | ``9990000900``, a made-up bank for demos: set your own |
| ``CESSION_API_KEY_CACHE_SECONDS`` | how long a server process trusts a key it has checked (0: every request is checked against the store); a revoked key is refused by every process at most this long after `cession keys revoke` | ``5`` |
| ``CESSION_STRATEGY`` | the allocation strategy (YAML) `cession allocate` uses without ``--strategy`` | allocation/examples/strategy.yaml |
| ``CESSION_COLUMN_COPIES`` | keep and read column copies of claim_state, claims and debtors (engine/store/copies.py); ``false``: runs keep none and allocation reads the tables | ``true`` |

Options given on the command line (``--database-url``, ``--executor``, ``--partitions``) or in
Python (``rules_dir=``) win over these.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.domain import ExecutorName

ENV_PREFIX = "CESSION_"


def default_database_url() -> str:
    """An embedded SQLite file in the user's data folder (made when the store is first opened)."""
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path('cession', appauthor=False) / 'cession.db'}"


class Settings(BaseSettings):
    """Every setting of Cession; ``Settings()`` reads the environment afresh."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    #: The store: ``postgresql+psycopg://user@host:5432/db`` in production; SQLite by default.
    database_url: str = Field(default_factory=default_database_url)
    #: Where the engine runs (chosen explicitly, never by what happens to be importable).
    executor: ExecutorName = "local"
    #: An existing cluster: "auto", "10.0.0.5:6379" or "ray://head:10001". None: a local Ray on demand.
    ray_address: str | None = None
    #: Claim partitions; None: 1 for the local executor, 2 per CPU of the Ray cluster.
    partitions: int | None = None
    #: Times a Ray task is run again when its worker dies (a node lost, a process killed).
    ray_max_retries: int = 3
    #: A folder whose rule tables replace the shipped ones of the same name (empty: none).
    rules_dir: str | None = None
    #: The allocation strategy file used without --strategy (empty: the shipped example).
    strategy: str | None = None
    #: Where the HTTP API keeps uploaded seller files and their ingest reports (empty: the user data folder's).
    uploads_dir: str | None = None
    #: Webhook URLs may point at loopback, private, link-local or reserved addresses (else refused:
    #: an agency could otherwise make the server post into the purchaser's own network).
    webhooks_private: bool = False
    #: The fund's bank sort code (8 digits) and client number that every debtor's virtual account
    #: starts with; the default is a made-up bank (999) for demos and tests.
    virtual_account_prefix: str = "9990000900"
    #: Seconds a server process (a uvicorn worker) keeps a key it found valid before asking the
    #: store again: the bound on how long a revoked key still works (0: no cache, every request
    #: reads the key from the store).
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    #: Runs keep their state, and allocation the claims and debtors, also as column copies
    #: (engine/store/copies.py), which allocation then reads instead of the tables.
    column_copies: bool = True


def env_name(setting: str) -> str:
    """The environment variable of a setting (``rules_dir`` -> ``CESSION_RULES_DIR``)."""
    if setting not in Settings.model_fields:
        raise KeyError(setting)
    return f"{ENV_PREFIX}{setting.upper()}"


#: The settings of each part, as ``read`` takes them.
STORE = ("database_url",)
EXECUTOR = ("executor", "ray_address", "partitions", "ray_max_retries")
RULES = ("rules_dir",)
STRATEGY = ("strategy",)
UPLOADS = ("uploads_dir",)
WEBHOOKS = ("webhooks_private",)
VIRTUAL_ACCOUNTS = ("virtual_account_prefix",)
API_KEYS = ("api_key_cache_seconds",)
COPIES = ("column_copies",)


def read(used: tuple[str, ...] = ()) -> Settings:
    """``Settings()`` from the environment now. A variable that cannot be used is bad input naming
    it (``InputError``, exit code 2, not a bug) when the caller uses its setting (``used``; empty:
    every one); a bad one the caller does not use is left at its default, as if it were unset.

    Read once per state of the environment (the CESSION_* variables, and HOME and XDG_DATA_HOME,
    which place the default store): building a Settings costs ~1 ms, which an HTTP request for one
    claim's balance paid twice over. Settings are frozen, so the one read is shared safely."""
    return _read(_environment(), used)


def _environment() -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (name, value)
            for name, value in os.environ.items()
            if name.upper().startswith(ENV_PREFIX) or name in ("HOME", "XDG_DATA_HOME")
        )
    )


@lru_cache(maxsize=64)
def _read(_environment: tuple[tuple[str, str], ...], used: tuple[str, ...]) -> Settings:
    from pydantic import ValidationError

    from engine.errors import InputError

    try:
        return Settings()
    except ValidationError as e:
        errors = e.errors()
    refused = [error for error in errors if not used or error["loc"][0] in used]
    if refused:
        raise InputError(
            "; ".join(
                f"{ENV_PREFIX}{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}" for error in refused
            )
        ) from None
    unused = {str(error["loc"][0]) for error in errors}
    return Settings(**{name: Settings.model_fields[name].get_default(call_default_factory=True) for name in unused})
