"""`flask db ...` migrations and the idempotent `flask create-admin`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select

from redflask.models import User
from redflask.utils.db import db
from redflask.utils.passwords import verify_password
from tests.conftest import build_app

GOOD_PASSWORD = "Adm1n-cli-password"


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _admin(app, username: str) -> User | None:
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == username))


def test_create_admin_reads_the_password_from_the_environment(app, runner, monkeypatch) -> None:
    monkeypatch.setenv("APP_ADMIN_PASSWORD", GOOD_PASSWORD)
    result = runner.invoke(args=["create-admin", "--username", "root"])
    assert result.exit_code == 0, result.output
    assert "admin 'root' created" in result.output
    user = _admin(app, "root")
    assert user is not None and user.role == "admin" and not user.banned
    with app.app_context():
        assert verify_password(user.password_hash, GOOD_PASSWORD)


def test_create_admin_prompts_with_confirmation(app, runner, monkeypatch) -> None:
    monkeypatch.delenv("APP_ADMIN_PASSWORD", raising=False)
    result = runner.invoke(
        args=["create-admin", "--username", "root"], input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert GOOD_PASSWORD not in result.output  # hidden input is not echoed
    assert _admin(app, "root") is not None


def test_create_admin_is_idempotent(app, runner, monkeypatch) -> None:
    monkeypatch.setenv("APP_ADMIN_PASSWORD", GOOD_PASSWORD)
    runner.invoke(args=["create-admin", "--username", "root"])
    before = _admin(app, "root")
    monkeypatch.setenv("APP_ADMIN_PASSWORD", "A-different-passw0rd")
    result = runner.invoke(args=["create-admin", "--username", "root"])
    assert result.exit_code == 0
    assert "already exists; left unchanged" in result.output
    after = _admin(app, "root")
    assert after.password_hash == before.password_hash and after.updated_at == before.updated_at


def test_create_admin_stores_the_name_normalised(app, runner, monkeypatch) -> None:
    monkeypatch.setenv("APP_ADMIN_PASSWORD", GOOD_PASSWORD)
    result = runner.invoke(args=["create-admin", "--username", " Root "])
    assert result.exit_code == 0, result.output
    assert "admin 'root' created" in result.output
    assert _admin(app, "root") is not None
    again = runner.invoke(args=["create-admin", "--username", "ROOT"])
    assert again.exit_code == 0 and "'root' already exists" in again.output


def test_password_is_never_a_command_line_option(runner) -> None:
    result = runner.invoke(args=["create-admin", "--username", "root", "--password", "x"])
    assert result.exit_code == 2
    assert "No such option" in result.output


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("root", "short", "password"),
        ("bad name", GOOD_PASSWORD, "username"),
        ("root", "password123", "too common"),
    ],
)
def test_create_admin_validates_input(app, runner, monkeypatch, username, password, message):
    monkeypatch.setenv("APP_ADMIN_PASSWORD", password)
    result = runner.invoke(args=["create-admin", "--username", username])
    assert result.exit_code == 1
    assert message in result.output
    assert _admin(app, username) is None


def test_migrations_upgrade_downgrade_and_match_the_models(app_env, fresh_database, tmp_path):
    app = build_app(app_env, tmp_path, database_url=fresh_database)
    runner = app.test_cli_runner()
    engine = create_engine(fresh_database)
    try:
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        columns = {c["name"] for c in inspect(engine).get_columns("sys_user")}
        assert columns == set(User.__table__.columns.keys())
        current = runner.invoke(args=["db", "current"])
        assert current.exit_code == 0, current.output

        assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
        assert not inspect(engine).has_table("sys_user")
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        assert inspect(engine).has_table("sys_user")
    finally:
        engine.dispose()
        with app.app_context():
            db.engine.dispose()


def test_flask_cli_entry_point_finds_the_factory(app_env, tmp_path) -> None:
    env = {**app_env, "APP_UPLOAD_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "redflask", "db", "current"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "(head)" in result.stdout + result.stderr
