"""Alembic environment: always handed a live connection by ``station.db``."""

from __future__ import annotations

from alembic import context

from station.models import Base, include_in_autogenerate

connection = context.config.attributes.get("connection")

if connection is None:
    raise RuntimeError(
        "Run migrations through `station db upgrade`, which supplies the connection."
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_in_autogenerate,
)
with context.begin_transaction():
    context.run_migrations()
