"""`flask --app redflask ...` commands: schema migrations and the first admin."""

from __future__ import annotations

import os

import click
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from pydantic import ValidationError
from sqlalchemy import select

from redflask.controllers.schemas.users import UserCreate
from redflask.models import User
from redflask.services import usernames
from redflask.services.users import ensure_admin
from redflask.utils.db import db
from redflask.utils.errors import ApiError

db_cli = AppGroup("db", help="Database schema migrations (Alembic).")

ADMIN_PASSWORD_ENV = "APP_ADMIN_PASSWORD"  # noqa: S105 - a variable name, not a secret


def _run_alembic(action, *args: str) -> None:
    config = Config()
    # Migrations ship inside the package, so they are in every release's virtualenv.
    config.set_main_option("script_location", "redflask:migrations")
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, *args)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema up to REVISION (default: head)."""
    _run_alembic(command.upgrade, revision)
    click.echo(f"database upgraded to {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION (e.g. base)."""
    _run_alembic(command.downgrade, revision)
    click.echo(f"database downgraded to {revision}")


@db_cli.command("current")
def db_current() -> None:
    """Show the schema revision the database is at."""
    _run_alembic(command.current)


def _admin_password() -> str:
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if password:
        return password
    # Never an option: command lines end up in shell history and in `ps`.
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-admin")
@click.option("--username", required=True, help="login name of the admin to create")
@with_appcontext
def create_admin(username: str) -> None:
    """Create an admin user (idempotent). Password from $APP_ADMIN_PASSWORD or a prompt.

    The name is stored normalised (NFKC, lower case, trimmed), as every username is."""
    name = usernames.normalize(username)
    existing = db.session.scalar(select(User).where(User.username == name))
    if existing is not None:
        click.echo(f"user {name!r} already exists; left unchanged")
        return
    password = _admin_password()
    try:
        body = UserCreate(username=username, password=password, role="admin")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(problems) from None
    username = body.username
    try:
        _, created = ensure_admin(username, password)
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"admin {username!r} {'created' if created else 'already exists; left unchanged'}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(create_admin)
