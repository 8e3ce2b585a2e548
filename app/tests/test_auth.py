"""Login, tokens, logout, rate limiting and the background last-login write."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from redflask.models import User
from redflask.services import auth, rate_limit, tokens
from redflask.utils.background import executor_for
from redflask.utils.db import db
from redflask.utils.logging import JsonFormatter
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


def _pair(app, account: str, address: str) -> dict[str, str]:
    """The throttle state of (account, address), straight from Redis."""
    with app.test_request_context():
        return redis_store.r.hgetall(rate_limit.pair_key(account, address))


def _let_time_pass(app, account: str, address: str) -> None:
    """As if the pair's current delay had run out (its counters stay)."""
    with app.test_request_context():
        redis_store.r.hset(rate_limit.pair_key(account, address), "next", 0)


def _attempt(client, username: str, password: str, address: str):
    return client.post(
        LOGIN,
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
    )


def test_failures_slow_down_the_pair_progressively(make_app) -> None:
    app = make_app(login_free_failures=3, login_delay_base=1, login_delay_max=4)
    client = app.test_client()
    add_user(app, "alice", USER_PASSWORD)
    here = "192.0.2.10"
    for _ in range(3):
        assert_error(_attempt(client, "alice", "nope", here), 401)
    # Three failures are free; from then on each attempt waits, even with the right
    # password, and the wait doubles per failure up to the maximum.
    waits = []
    for _ in range(4):
        response = _attempt(client, "alice", USER_PASSWORD, here)
        assert_error(response, 429, "too_many_requests")
        waits.append(int(response.headers["Retry-After"]))
        _let_time_pass(app, "alice", here)
        assert_error(_attempt(client, "alice", "nope", here), 401)
    assert waits == [1, 2, 4, 4]
    # Refused attempts are not password checks: they do not make the wait longer.
    state = _pair(app, "alice", here)
    assert state["fails"] == "7" and state["refused"] == "4"


def test_the_wait_really_passes(make_app) -> None:
    app = make_app(login_free_failures=1, login_delay_base=1)
    client = app.test_client()
    add_user(app, "alice", USER_PASSWORD)
    assert_error(_attempt(client, "alice", "nope", "192.0.2.11"), 401)
    response = _attempt(client, "alice", USER_PASSWORD, "192.0.2.11")
    assert_error(response, 429)
    assert response.headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert _attempt(client, "alice", USER_PASSWORD, "192.0.2.11").status_code == 200


def test_wrong_guesses_from_elsewhere_do_not_lock_the_admin_out(client, admin_id) -> None:
    # The attack of the issue, with the default limits: 50 wrong passwords for "admin"
    # from one address ...
    attacker, admin_address = "203.0.113.7", "198.51.100.20"
    statuses = [_attempt(client, "admin", f"guess-{n}", attacker).status_code for n in range(50)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    # ... do not stop the admin logging in from their own address, at once.
    response = _attempt(client, "admin", ADMIN_PASSWORD, admin_address)
    assert response.status_code == 200, response.get_json()
    # The attacker's own address stays throttled.
    assert_error(_attempt(client, "admin", ADMIN_PASSWORD, attacker), 429)


def test_one_attempt_a_minute_does_not_keep_the_account_locked(make_app) -> None:
    app = make_app(login_free_failures=2)
    client = app.test_client()
    add_user(app, "alice", USER_PASSWORD)
    for n in range(10):
        _attempt(client, "alice", "nope", f"203.0.113.{n}")
        _attempt(client, "alice", "nope", f"203.0.113.{n}")
    assert _attempt(client, "alice", USER_PASSWORD, "198.51.100.1").status_code == 200


@pytest.mark.parametrize(
    "variant",
    [
        "admin ",
        " ADMIN",
        "\u00e1dmin",  # á, precomposed
        "a\u0301dmin",  # a + combining acute
        "\uff21\uff44\uff4d\uff49\uff4e",  # full-width
        "adm\u0130n",  # dotted capital I
    ],
)
def test_name_variants_share_one_counter(make_app, variant) -> None:
    app = make_app(login_free_failures=3)
    client = app.test_client()
    add_user(app, "admin", ADMIN_PASSWORD, role="admin")
    here = "192.0.2.30"
    for name in (variant, variant, "admin"):
        assert_error(_attempt(client, name, "nope", here), 401)
    # Three failures under one name: the variants did not get buckets of their own.
    assert _pair(app, "admin", here)["fails"] == "3"
    for name in (variant, "admin"):
        assert_error(_attempt(client, name, ADMIN_PASSWORD, here), 429)


def test_accent_variant_does_not_reach_the_account(client, admin_id) -> None:
    # The old collation matched ádmin to admin; the normalised binary lookup does not.
    assert_error(_attempt(client, "\u00e1dmin", ADMIN_PASSWORD, "192.0.2.31"), 401)
    assert _attempt(client, "admin ", ADMIN_PASSWORD, "192.0.2.31").status_code == 200
    assert _attempt(client, "ADMIN", ADMIN_PASSWORD, "192.0.2.31").status_code == 200


def test_parallel_wrong_guesses_are_all_counted(make_app) -> None:
    app = make_app(login_free_failures=5)
    add_user(app, "alice", USER_PASSWORD)
    guesses = 20
    clients = [app.test_client() for _ in range(guesses)]
    barrier = threading.Barrier(guesses)
    here = "192.0.2.40"

    def guess(index: int) -> int:
        barrier.wait()
        return _attempt(clients[index], "alice", f"guess-{index}", here).status_code

    with ThreadPoolExecutor(max_workers=guesses) as pool:
        statuses = list(pool.map(guess, range(guesses)))
    # Counted before any password is checked: exactly the free five are checked, the
    # rest are refused, and every one of the twenty is in a counter.
    assert sorted(statuses) == [401] * 5 + [429] * 15
    state = _pair(app, "alice", here)
    assert (state["fails"], state["refused"]) == ("5", "15")
    with app.test_request_context():
        assert redis_store.r.get(rate_limit.address_key(here)) == "20"


def test_attempts_are_counted_before_the_password_is_checked(make_app, monkeypatch) -> None:
    app = make_app(login_free_failures=5)
    add_user(app, "alice", USER_PASSWORD)
    seen: list[dict[str, str]] = []
    real_verify = auth.verify_password

    def verify(password_hash, password):
        seen.append(_pair(app, "alice", "192.0.2.41"))
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", verify)
    assert_error(_attempt(app.test_client(), "alice", "nope", "192.0.2.41"), 401)
    assert seen[0]["fails"] == "1"


def test_successful_login_resets_the_pair(make_app) -> None:
    app = make_app(login_free_failures=3)
    client = app.test_client()
    add_user(app, "alice", USER_PASSWORD)
    for _ in range(5):
        assert_error(_attempt(client, "alice", "nope", "192.0.2.50"), 401)
        assert_error(_attempt(client, "alice", "nope", "192.0.2.50"), 401)
        assert _attempt(client, "alice", USER_PASSWORD, "192.0.2.50").status_code == 200
    assert _pair(app, "alice", "192.0.2.50") == {}


def test_failures_are_forgotten_after_the_window(make_app) -> None:
    app = make_app(login_free_failures=5, login_rate_window=1)
    client = app.test_client()
    add_user(app, "alice", USER_PASSWORD)
    assert_error(_attempt(client, "alice", "nope", "192.0.2.60"), 401)
    with app.test_request_context():
        ttl = redis_store.r.pttl(rate_limit.pair_key("alice", "192.0.2.60"))
        assert 0 < ttl <= 1000
        assert 0 < redis_store.r.pttl(rate_limit.address_key("192.0.2.60")) <= 1000


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
    ],
)
def test_addresses_are_counted_per_host(address, bucket) -> None:
    assert rate_limit.address_bucket(address) == bucket


def test_unparseable_addresses_get_buckets_of_their_own() -> None:
    first, second = rate_limit.address_bucket("x"), rate_limit.address_bucket("y")
    assert first != second and first.startswith("other-") and "x" not in first[6:]


def test_invalid_names_are_refused_before_any_lookup(make_app, monkeypatch) -> None:
    app = make_app()
    client = app.test_client()
    lookups: list[str] = []
    monkeypatch.setattr(auth, "verify_password", lambda *a: lookups.append("verify"))
    for name in ("a", "bad name", "\u00e1dmin", "x" * 49 + "\u00e9", "admin\u200b"):
        assert_error(_attempt(client, name, "pw", "192.0.2.70"), 401)
    assert lookups == []


def test_failed_logins_log_a_hash_of_the_name_never_the_name(client, admin_id, app_logs):
    typed = "my-secret-Passw0rd"  # a password typed into the username field
    _attempt(client, typed, "x", "192.0.2.80")
    _attempt(client, "admin", "wrong-password", "192.0.2.80")
    failures = [r for r in app_logs if r.name == "redflask.auth"]
    assert len(failures) == 2
    for record in failures:
        line = JsonFormatter().format(record)
        assert typed.lower() not in line.lower() and '"admin"' not in line
    expected = hashlib.sha256(typed.lower().encode()).hexdigest()[:12]
    assert failures[0].fields["account"] == expected
    assert expected in failures[0].getMessage()
    assert failures[1].fields["user_id"] == admin_id


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
