"""Alembic environment shipped in the package (script_location redflask:migrations)."""
