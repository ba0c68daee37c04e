"""One ``Settings`` for every ``CESSION_*`` variable users set: the store, the executor, the
partitions, Ray's address and retries, and the rules folder."""

from __future__ import annotations

import shutil

import pytest
from pydantic import ValidationError

from engine.executors import LocalExecutor, RayExecutor, make_executor
from engine.rules import load_rules
from engine.rules.loader import RULES_DIR_ENV, SHIPPED_DIR
from engine.settings import Settings, env_name


def test_every_variable_users_set_is_read(monkeypatch, tmp_path):
    env = {
        "CESSION_DATABASE_URL": "postgresql+psycopg://u@h:5432/db",
        "CESSION_EXECUTOR": "ray",
        "CESSION_RAY_ADDRESS": "ray://head:10001",
        "CESSION_PARTITIONS": "8",
        "CESSION_RAY_MAX_RETRIES": "5",
        "CESSION_RULES_DIR": str(tmp_path),
        "CESSION_STRATEGY": str(tmp_path / "strategy.yaml"),
        "CESSION_UPLOADS_DIR": str(tmp_path / "uploads"),
        "CESSION_WEBHOOKS_PRIVATE": "true",
        "CESSION_VIRTUAL_ACCOUNT_PREFIX": "1090101400",
        "CESSION_API_KEY_CACHE_SECONDS": "2.5",
        "CESSION_COLUMN_COPIES": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.database_url, settings.executor, settings.ray_address, settings.partitions) == (
        "postgresql+psycopg://u@h:5432/db",
        "ray",
        "ray://head:10001",
        8,
    )
    assert (settings.ray_max_retries, settings.rules_dir) == (5, str(tmp_path))
    assert settings.strategy == str(tmp_path / "strategy.yaml")
    assert settings.virtual_account_prefix == "1090101400"
    assert settings.api_key_cache_seconds == 2.5
    assert settings.column_copies is False
    assert sorted(env_name(name) for name in Settings.model_fields) == sorted(env)
    assert env_name("rules_dir") == RULES_DIR_ENV
    executor = make_executor(settings=settings)
    assert isinstance(executor, RayExecutor) and (executor.address, executor.max_retries) == ("ray://head:10001", 5)


def test_defaults_and_an_explicit_choice_over_the_environment(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)
    settings = Settings()
    assert settings.executor == "local" and settings.partitions is None and settings.rules_dir is None
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("cession.db")
    monkeypatch.setenv("CESSION_EXECUTOR", "ray")
    assert isinstance(make_executor("local"), LocalExecutor)


def test_the_rules_folder_comes_from_the_settings(monkeypatch, tmp_path):
    shutil.copy(SHIPPED_DIR / "holidays.csv", tmp_path / "holidays.csv")
    monkeypatch.setenv("CESSION_RULES_DIR", str(tmp_path))
    assert load_rules().holidays.path == tmp_path.resolve() / "holidays.csv"
    monkeypatch.setenv("CESSION_RULES_DIR", "")  # empty: the shipped tables
    assert load_rules().holidays.path == SHIPPED_DIR / "holidays.csv"
    monkeypatch.setenv("CESSION_RULES_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="CESSION_RULES_DIR=.*is not a folder"):
        load_rules()


def test_a_variable_that_cannot_be_used_is_bad_input_only_where_its_setting_is_used(monkeypatch):
    from engine.errors import InputError
    from engine.settings import EXECUTOR, STORE, read

    monkeypatch.setenv("CESSION_PARTITIONS", "many")
    monkeypatch.setenv("CESSION_DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(InputError, match="^CESSION_PARTITIONS: Input should be a valid integer"):
        read(EXECUTOR)
    with pytest.raises(InputError, match="CESSION_PARTITIONS"):
        read()
    settings = read(STORE)  # the store's command does not use the partitions: left at their default
    assert settings.database_url == "sqlite:///x.db" and settings.partitions is None


def test_settings_are_read_once_per_state_of_the_environment(monkeypatch):
    from engine.settings import STORE, read

    monkeypatch.setenv("CESSION_DATABASE_URL", "sqlite:///one.db")
    first = read(STORE)
    assert read(STORE) is first and first.database_url == "sqlite:///one.db"
    monkeypatch.setenv("CESSION_DATABASE_URL", "sqlite:///two.db")
    assert read(STORE).database_url == "sqlite:///two.db"  # a changed variable is read anew
    with pytest.raises(ValidationError):
        first.database_url = "x"  # frozen: the shared read cannot be changed by one user of it
