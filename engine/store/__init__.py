"""The system of record: SQLAlchemy models, Alembic migrations, bulk Arrow <-> SQL, engine runs."""
