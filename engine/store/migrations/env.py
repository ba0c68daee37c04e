"""Alembic environment: migrations run on the engine `engine.store.database` hands over, in one
transaction that holds the database's migration lock (see ``upgrade_schema``)."""

from alembic import context

from engine.store.database import MIGRATION_LOCK_KEY
from engine.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.begin() as connection:  # SQLite: BEGIN IMMEDIATE, its write lock (database.engine_at)
        if connection.dialect.name == "postgresql":
            # held to the commit; the schema's revision is read after it, so a waiter finds it current
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        context.run_migrations()


run_migrations_online()
