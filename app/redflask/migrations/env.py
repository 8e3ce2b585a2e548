"""Alembic environment: runs against the connection the redflask CLI hands over."""

from __future__ import annotations

from alembic import context

from redflask.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `flask --app redflask db upgrade`")

context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
