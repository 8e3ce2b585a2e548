"""Login, tokens, logout, rate limiting and the background last-login write."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from redflask.models import User
from redflask.services import tokens
from redflask.utils.background import executor_for
from redflask.utils.db import db
from redflask.utils.redis_store import redis_store
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, add_user, assert_error, bearer, login

LOGIN = "/api/v1/auth/login"


def test_login_returns_an_opaque_expiring_token(client, user_id) -> None:
    response = client.post(LOGIN, json={"username": "alice", "password": USER_PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["user"]["username"] == "alice"
    assert "password_hash" not in body["user"]
    token = body["access_token"]
    assert len(token) >= 40 and "." not in token  # opaque, not a JWT


def test_token_is_stored_hashed_with_a_ttl(app, client, user_id) -> None:
    token = login(client, "alice", USER_PASSWORD)
    with app.app_context():
        keys = list(redis_store.r.scan_iter(match=redis_store.key("token", "*")))
        assert len(keys) == 1
        assert token not in keys[0]
        assert 0 < redis_store.r.ttl(keys[0]) <= 3600


def test_me_returns_the_caller(client, user_token) -> None:
    response = client.get("/api/v1/auth/me", headers=bearer(user_token))
    assert response.status_code == 200
    assert response.get_json()["username"] == "alice"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6cGFzcw==",
        "Bearer not-a-real-token",
        "Bearer " + "x" * 300,
    ],
)
def test_me_rejects_missing_or_bad_tokens(client, user_id, header) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/auth/me", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_logout_revokes_the_token(client, user_token) -> None:
    assert client.post("/api/v1/auth/logout", headers=bearer(user_token)).status_code == 204
    assert_error(client.get("/api/v1/auth/me", headers=bearer(user_token)), 401)
    assert_error(client.post("/api/v1/auth/logout", headers=bearer(user_token)), 401)


def test_logout_leaves_other_sessions_alone(client, user_id) -> None:
    first = login(client, "alice", USER_PASSWORD)
    second = login(client, "alice", USER_PASSWORD)
    client.post("/api/v1/auth/logout", headers=bearer(first))
    assert client.get("/api/v1/auth/me", headers=bearer(second)).status_code == 200


def test_expired_token_is_rejected(app, client, user_token) -> None:
    with app.app_context():
        (key,) = redis_store.r.scan_iter(match=redis_store.key("token", "*"))
        redis_store.r.pexpire(key, 1)
    time.sleep(0.05)
    assert_error(client.get("/api/v1/auth/me", headers=bearer(user_token)), 401)


def test_token_of_a_deleted_user_is_rejected(app, client, user_id, user_token) -> None:
    with app.app_context():
        db.session.delete(db.session.get(User, user_id))
        db.session.commit()
    assert_error(client.get("/api/v1/auth/me", headers=bearer(user_token)), 401)


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong-password"), ("nobody", USER_PASSWORD), ("ALICE_", USER_PASSWORD)],
)
def test_bad_credentials_are_401_without_saying_which(client, user_id, username, password):
    error = assert_error(client.post(LOGIN, json={"username": username, "password": password}), 401)
    assert error["message"] == "invalid username or password"


def test_banned_user_cannot_log_in(app, client, user_id) -> None:
    with app.app_context():
        db.session.get(User, user_id).banned = True
        db.session.commit()
    response = client.post(LOGIN, json={"username": "alice", "password": USER_PASSWORD})
    assert_error(response, 403, "user_banned")


def test_malformed_json_is_400(client) -> None:
    response = client.post(LOGIN, data='{"username": "a",', content_type="application/json")
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "username"),
        ({"username": "alice"}, "password"),
        ({"password": "x"}, "username"),
        ({"username": 5, "password": "x"}, "username"),
        ({"username": "alice", "password": ["x"]}, "password"),
        ({"username": "", "password": "x"}, "username"),
        ({"username": "alice", "password": "x", "extra": 1}, "extra"),
        ([], ""),
        ("just a string", ""),
    ],
)
def test_login_validation(client, payload, field) -> None:
    error = assert_error(client.post(LOGIN, json=payload), 422, "validation_error")
    assert any(field in ".".join(d["loc"]) for d in error["details"])
    assert "input" not in error["details"][0]  # the submitted password is never echoed


def test_login_without_a_json_body_is_422(client) -> None:
    assert_error(client.post(LOGIN, data="username=alice"), 422, "validation_error")


def test_failed_logins_per_username_are_limited(make_app) -> None:
    app = make_app(login_rate_limit_user=3)
    client = app.test_client()
    add_user(app, "alice", USER_PASSWORD)
    for _ in range(3):
        assert_error(client.post(LOGIN, json={"username": "alice", "password": "nope"}), 401)
    # Even the right password is refused while the account is throttled.
    response = client.post(LOGIN, json={"username": "alice", "password": USER_PASSWORD})
    assert_error(response, 429, "too_many_requests")
    assert 0 < int(response.headers["Retry-After"]) <= 300


def test_successful_login_resets_the_username_counter(make_app) -> None:
    app = make_app(login_rate_limit_user=3)
    client = app.test_client()
    add_user(app, "alice", USER_PASSWORD)
    for _ in range(5):
        client.post(LOGIN, json={"username": "alice", "password": "nope"})
        client.post(LOGIN, json={"username": "alice", "password": "nope"})
        login(client, "alice", USER_PASSWORD)


def test_attempts_per_client_ip_are_limited(make_app) -> None:
    app = make_app(login_rate_limit_ip=4, login_rate_window=60)
    client = app.test_client()
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    for n in range(4):
        payload = {"username": f"user{n}", "password": "guess"}
        assert_error(client.post(LOGIN, json=payload, headers=attacker), 401)
    response = client.post(LOGIN, json={"username": "x", "password": "y"}, headers=attacker)
    assert_error(response, 429)
    assert 0 < int(response.headers["Retry-After"]) <= 60
    # ProxyFix (one hop) made X-Forwarded-For the client address: others are not affected.
    other = {"X-Forwarded-For": "198.51.100.9"}
    assert_error(client.post(LOGIN, json={"username": "x", "password": "y"}, headers=other), 401)


def test_last_login_is_recorded_in_the_background(app, client, user_id) -> None:
    login(client, "alice", USER_PASSWORD)
    executor_for(app).shutdown(wait=True)  # drain the background work
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user.last_login_at is not None
        assert user.updated_at <= user.last_login_at


def test_outdated_password_hash_is_upgraded_on_login(make_app) -> None:
    weak = make_app()
    add_user(weak, "alice", USER_PASSWORD)
    stronger = make_app(argon2_time_cost=2)
    login(stronger.test_client(), "alice", USER_PASSWORD)
    with stronger.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.username == "alice"))
    assert "t=2" in stored


def test_password_change_by_admin_revokes_sessions(app, client, admin_id, user_id) -> None:
    admin = login(client, "admin", ADMIN_PASSWORD)
    user = login(client, "alice", USER_PASSWORD)
    response = client.put(
        f"/api/v1/users/{user_id}/password",
        json={"new_password": "a-fresh-Passw0rd"},
        headers=bearer(admin),
    )
    assert response.status_code == 204
    assert_error(client.get("/api/v1/auth/me", headers=bearer(user)), 401)
    with app.app_context():
        assert tokens.resolve(admin) == admin_id
