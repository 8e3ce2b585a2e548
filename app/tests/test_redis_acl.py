"""The app works through a Redis user that has only the redis role's allow-list.

Production's ACL user may run only `redis_app_commands` on keys under the app's prefix
(roles/redis/defaults/main.yml). These tests create that user on the test Redis, point an
app at it and walk every Redis path the app has: tokens issued, resolved, revoked one by one
and per user, the login throttle's Lua script (loaded again after SCRIPT FLUSH), and
readiness. A command the app starts sending without the list naming it fails here with
NOPERM long before a deploy does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import yaml

from tests.conftest import (
    ADMIN_PASSWORD,
    TEST_REDIS_URL,
    USER_PASSWORD,
    add_user,
    bearer,
    login,
    redis_prefix_for_run,
)

ROLE_DEFAULTS = Path(__file__).resolve().parents[2] / "roles" / "redis" / "defaults" / "main.yml"


def role_commands() -> list[str]:
    return yaml.safe_load(ROLE_DEFAULTS.read_text())["redis_app_commands"]


@pytest.fixture
def acl_user_url(redis_client: redis.Redis) -> Iterator[str]:
    """A URL of TEST_REDIS_URL's server for a throwaway user with exactly the role's rules."""
    name = f"redflask-acl-test-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    rules = ["on", f">{password}", "resetkeys", f"~{redis_prefix_for_run()}*", "-@all"]
    redis_client.acl_setuser(name, reset=True)
    allowed = [f"+{command}" for command in role_commands()]
    redis_client.execute_command("ACL", "SETUSER", name, *rules, *allowed)
    parts = urlsplit(TEST_REDIS_URL)
    netloc = f"{name}:{password}@{parts.hostname}:{parts.port or 6379}"
    yield urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    redis_client.acl_deluser(name)


def test_the_user_is_really_restricted(acl_user_url: str) -> None:
    client = redis.Redis.from_url(acl_user_url, protocol=2, decode_responses=True)
    client.set(f"{redis_prefix_for_run()}probe", "1", ex=60)
    for refused in (
        lambda: client.keys("*"),
        lambda: client.get("outside-the-prefix"),
        lambda: client.config_get("dir"),
        lambda: client.script_flush(),
        lambda: client.execute_command("ACL", "SETUSER", "intruder", "on", "+@all"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            refused()
    client.close()


def test_every_redis_path_of_the_app_works_through_the_allow_list(
    make_app, acl_user_url: str, redis_client: redis.Redis
) -> None:
    app = make_app(APP_REDIS_URL=acl_user_url)
    client = app.test_client()
    add_user(app, "admin", ADMIN_PASSWORD, role="admin")
    user_id = add_user(app, "alice", USER_PASSWORD)

    assert client.get("/readyz").status_code == 200
    # The throttle's script, loaded by EVALSHA's fallback; then after the server forgot it.
    wrong = client.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong"})
    assert wrong.status_code == 401, wrong.get_json()
    redis_client.script_flush()
    first = login(client, "alice", USER_PASSWORD)
    second = login(client, "alice", USER_PASSWORD)
    assert client.get("/api/v1/auth/me", headers=bearer(first)).status_code == 200

    logout = client.post("/api/v1/auth/logout", headers=bearer(first))
    assert logout.status_code == 204, logout.get_json()
    assert client.get("/api/v1/auth/me", headers=bearer(first)).status_code == 401

    # Deleting the user revokes every token it holds (SMEMBERS, DEL, SREM).
    admin = login(client, "admin", ADMIN_PASSWORD)
    deleted = client.delete(f"/api/v1/users/{user_id}", headers=bearer(admin))
    assert deleted.status_code == 204, deleted.get_json()
    assert client.get("/api/v1/auth/me", headers=bearer(second)).status_code == 401
