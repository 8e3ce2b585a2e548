"""Fixtures against the real MariaDB and Redis of this machine.

Each run gets its own database (redflask_test_<random>) and its own Redis key prefix,
and removes both afterwards. If either service is down the run fails loudly: a skipped
database test would hide exactly the bugs these tests exist for.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pymysql
import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, delete

from redflask import create_app
from redflask.app import RedFlask
from redflask.models import StoredFile, User
from redflask.services.users import create_user
from redflask.utils.background import executor_for
from redflask.utils.db import db

TEST_MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]

ADMIN_PASSWORD = "admin-Passw0rd-for-tests"
USER_PASSWORD = "user-Passw0rd-for-tests"


def _server_connection() -> pymysql.Connection:
    parts = urlsplit(TEST_MYSQL_URL)
    try:
        return pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            connect_timeout=5,
        )
    except pymysql.err.OperationalError as exc:
        pytest.fail(
            f"MariaDB/MySQL is not reachable at {parts.hostname}:{parts.port} ({exc}). "
            "Start it (see app/README.md) or point TEST_MYSQL_URL at a server.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"redflask_test_{RUN_ID}"
    connection = _server_connection()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    parts = urlsplit(TEST_MYSQL_URL)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "charset=utf8mb4", ""))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    connection.close()


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TEST_REDIS_URL, decode_responses=True, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {TEST_REDIS_URL} ({exc}). "
            "Start it (see app/README.md) or set TEST_REDIS_URL.",
            pytrace=False,
        )
    yield client
    _delete_prefixed(client, redis_prefix_for_run())
    client.close()


def redis_prefix_for_run() -> str:
    return f"redflask-test-{RUN_ID}:"


def _delete_prefixed(client: redis.Redis, prefix: str) -> None:
    # SCAN, never KEYS: the same code path the production ACL allows.
    batch = list(client.scan_iter(match=f"{prefix}*", count=500))
    if batch:
        client.delete(*batch)


@pytest.fixture(scope="session")
def app_env(database_url: str, redis_client: redis.Redis, tmp_path_factory) -> dict[str, str]:
    return {
        "APP_ENV": "testing",
        "APP_DATABASE_URL": database_url,
        "APP_REDIS_URL": TEST_REDIS_URL,
        "APP_REDIS_PREFIX": redis_prefix_for_run(),
        "APP_UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads-unused")),
    }


@pytest.fixture(scope="session")
def migrated(app_env: dict[str, str]) -> None:
    """Build the schema with the shipped Alembic migration, exactly as a deploy does."""
    app = create_app(app_env)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def fresh_database(app_env) -> Iterator[str]:
    """An empty database of its own, for migration tests."""
    name = f"redflask_mig_{uuid.uuid4().hex[:10]}"
    connection = _server_connection()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    base = app_env["APP_DATABASE_URL"].rsplit("/", 1)[0]
    yield f"{base}/{name}?charset=utf8mb4"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    connection.close()


# Cheap argon2 parameters: the suite hashes hundreds of passwords.
FAST_HASH = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


def build_app(app_env: dict[str, str], upload_dir, **overrides) -> RedFlask:
    return create_app({**app_env, "APP_UPLOAD_DIR": str(upload_dir), **FAST_HASH, **overrides})


@pytest.fixture(scope="session")
def test_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_app(app_env, migrated, redis_client, test_engine, tmp_path):
    """Factory for apps with setting overrides; data written by any of them is wiped after."""
    built: list[RedFlask] = []

    def factory(**overrides) -> RedFlask:
        app = build_app(app_env, tmp_path / "uploads", **overrides)
        built.append(app)
        return app

    yield factory
    for app in built:
        executor_for(app).shutdown(wait=True)
        with app.app_context():
            db.engine.dispose()
    with test_engine.begin() as connection:
        connection.execute(delete(StoredFile))
        connection.execute(delete(User))
    _delete_prefixed(redis_client, redis_prefix_for_run())


@pytest.fixture(scope="session")
def shared_apps(app_env, migrated, tmp_path_factory) -> Iterator[Callable[[str], RedFlask]]:
    """One default app per upload backend for the whole run, built on first use: building
    an app and its pool costs ~0.2 s."""
    apps: dict[str, RedFlask] = {}

    def get(backend: str) -> RedFlask:
        if backend not in apps:
            upload_dir = tmp_path_factory.mktemp(f"shared-{backend}") / "uploads"
            apps[backend] = build_app(app_env, upload_dir, APP_UPLOAD_BACKEND=backend)
        return apps[backend]

    yield get
    for app in apps.values():
        executor_for(app).shutdown(wait=True)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def upload_backend() -> str:
    """The default app's upload backend; the file tests parametrize it over every backend."""
    return "filesystem"


@pytest.fixture
def app(shared_apps, upload_backend: str, make_app) -> Iterator[RedFlask]:
    """The default app; every test starts with no users, no Redis keys and no uploads."""
    shared_app = shared_apps(upload_backend)
    yield shared_app
    # Runs before make_app's data wipe (users, stored files), so no background write races
    # the DELETE.
    executor_for(shared_app).shutdown(wait=True)
    shutil.rmtree(shared_app.extensions["redflask.settings"].upload_dir, ignore_errors=True)


@pytest.fixture
def client(app: RedFlask) -> FlaskClient:
    return app.test_client()


def add_user(app: RedFlask, username: str, password: str, role: str = "user") -> int:
    with app.test_request_context():
        return create_user(username, password, nickname=username.title(), role=role).id


def login(client: FlaskClient, username: str, password: str) -> str:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_as(app: RedFlask, username: str, password: str) -> FlaskClient:
    """A test client that sends username's bearer token with every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + login(client, username, password)
    return client


@pytest.fixture
def admin_id(app: RedFlask) -> int:
    return add_user(app, "admin", ADMIN_PASSWORD, role="admin")


@pytest.fixture
def user_id(app: RedFlask) -> int:
    return add_user(app, "alice", USER_PASSWORD)


@pytest.fixture
def admin_token(client: FlaskClient, admin_id: int) -> str:
    return login(client, "admin", ADMIN_PASSWORD)


@pytest.fixture
def user_token(client: FlaskClient, user_id: int) -> str:
    return login(client, "alice", USER_PASSWORD)


@pytest.fixture
def admin_client(app: RedFlask, admin_token: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_token}"
    return client


@pytest.fixture
def user_client(app: RedFlask, user_token: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {user_token}"
    return client


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def app_logs() -> Iterator[list[logging.LogRecord]]:
    """Records reaching the 'redflask' logger (it does not propagate, so caplog misses them)."""
    handler = _ListHandler()
    logger = logging.getLogger("redflask")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def assert_error(response, status: int, code: str | None = None) -> dict:
    """Every error has the same JSON shape and carries the request id."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    error = body["error"]
    assert set(body) == {"error"}
    assert error["status"] == status
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "SELECT" not in text
    return error
