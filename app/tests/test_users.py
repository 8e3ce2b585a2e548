"""User administration, password changes and the last-admin rule."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from redflask.models import User
from redflask.utils.db import db
from tests.conftest import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    add_user,
    assert_error,
    bearer,
    login,
)

USERS = "/api/v1/users"


def _create(admin_client, username: str, role: str = "user", password="Str0ng-enough-pw"):
    return admin_client.post(USERS, json={"username": username, "password": password, "role": role})


def test_create_read_update_delete(admin_client) -> None:
    created = admin_client.post(
        USERS, json={"username": "bob", "password": "Str0ng-enough-pw", "nickname": "Bobby"}
    )
    assert created.status_code == 201
    user = created.get_json()
    assert user["username"] == "bob" and user["nickname"] == "Bobby"
    assert user["role"] == "user" and user["banned"] is False
    assert user["created_at"].endswith("Z") and user["last_login_at"] is None
    assert created.headers["Location"].endswith(f"/api/v1/users/{user['id']}")

    fetched = admin_client.get(f"{USERS}/{user['id']}")
    assert fetched.status_code == 200 and fetched.get_json()["username"] == "bob"

    updated = admin_client.patch(f"{USERS}/{user['id']}", json={"nickname": "Rob", "role": "admin"})
    assert updated.status_code == 200
    assert updated.get_json()["nickname"] == "Rob" and updated.get_json()["role"] == "admin"

    assert admin_client.delete(f"{USERS}/{user['id']}").status_code == 204
    assert_error(admin_client.get(f"{USERS}/{user['id']}"), 404, "not_found")


def test_list_is_paginated(admin_client) -> None:
    for n in range(5):
        assert _create(admin_client, f"user{n}").status_code == 201
    first = admin_client.get(f"{USERS}?page=1&per_page=4").get_json()
    second = admin_client.get(f"{USERS}?page=2&per_page=4").get_json()
    assert first["total"] == second["total"] == 6  # five plus the admin
    assert len(first["items"]) == 4 and len(second["items"]) == 2
    assert first["page"] == 1 and second["per_page"] == 4
    names = [u["username"] for u in first["items"] + second["items"]]
    assert names == ["admin", "user0", "user1", "user2", "user3", "user4"]


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-1", "per_page=0", "per_page=101", "page=abc", "per_page=1.5", "pgae=2"],
)
def test_bad_pagination_is_422(admin_client, query) -> None:
    assert_error(admin_client.get(f"{USERS}?{query}"), 422, "validation_error")


def test_duplicate_username_is_409(admin_client) -> None:
    assert _create(admin_client, "bob").status_code == 201
    assert_error(_create(admin_client, "bob"), 409, "username_taken")


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "bob"},
        {"password": "Str0ng-enough-pw"},
        {"username": "bo", "password": "Str0ng-enough-pw"},
        {"username": "b" * 51, "password": "Str0ng-enough-pw"},
        {"username": "bob smith", "password": "Str0ng-enough-pw"},
        {"username": "../bob", "password": "Str0ng-enough-pw"},
        {"username": "bob", "password": "short"},
        {"username": "bob", "password": "x" * 129},
        {"username": "bob", "password": "Str0ng-enough-pw", "role": "root"},
        {"username": "bob", "password": "Str0ng-enough-pw", "nickname": 7},
        {"username": "bob", "password": 12345678},
        {"username": "bob", "password": "Str0ng-enough-pw", "is_admin": True},
    ],
)
def test_create_validation(admin_client, payload) -> None:
    assert_error(admin_client.post(USERS, json=payload), 422, "validation_error")


@pytest.mark.parametrize("password", ["password123", "QWERTYUIOP", "bobby-tables"])
def test_weak_passwords_are_refused(admin_client, password) -> None:
    response = admin_client.post(USERS, json={"username": "bobby-tables", "password": password})
    assert_error(response, 422, "weak_password")


@pytest.mark.parametrize(
    "payload",
    [{"banned": "yes"}, {"banned": 1}, {"role": "superuser"}, {"nickname": "n" * 51}, {"x": 1}],
)
def test_update_validation(admin_client, user_id, payload) -> None:
    assert_error(admin_client.patch(f"{USERS}/{user_id}", json=payload), 422)


def test_update_and_delete_unknown_user_is_404(admin_client) -> None:
    assert_error(admin_client.patch(f"{USERS}/999999", json={"nickname": "x"}), 404)
    assert_error(admin_client.delete(f"{USERS}/999999"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", USERS),
        ("post", USERS),
        ("get", f"{USERS}/1"),
        ("patch", f"{USERS}/1"),
        ("delete", f"{USERS}/1"),
    ],
)
def test_non_admins_are_forbidden(user_client, method, path) -> None:
    response = getattr(user_client, method)(path, json={"nickname": "x"})
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize(("method", "path"), [("get", USERS), ("delete", f"{USERS}/1")])
def test_anonymous_is_unauthorized(client, method, path) -> None:
    assert_error(getattr(client, method)(path), 401, "unauthorized")


def test_banning_revokes_sessions_and_blocks_login(admin_client, client, user_id, user_token):
    response = admin_client.patch(f"{USERS}/{user_id}", json={"banned": True})
    assert response.status_code == 200 and response.get_json()["banned"] is True
    assert_error(client.get("/api/v1/auth/me", headers=bearer(user_token)), 401)
    response = client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": USER_PASSWORD}
    )
    assert_error(response, 403, "user_banned")
    admin_client.patch(f"{USERS}/{user_id}", json={"banned": False})
    login(client, "alice", USER_PASSWORD)


@pytest.mark.parametrize(
    ("method", "payload"),
    [("delete", None), ("patch", {"role": "user"}), ("patch", {"banned": True})],
)
def test_last_admin_is_protected(admin_client, admin_id, method, payload) -> None:
    response = getattr(admin_client, method)(f"{USERS}/{admin_id}", json=payload)
    assert_error(response, 409, "last_admin")
    me = admin_client.get("/api/v1/auth/me").get_json()
    assert me["role"] == "admin" and me["banned"] is False


def test_banned_admin_does_not_count_as_the_other_admin(app, admin_client, admin_id) -> None:
    other = add_user(app, "root2", ADMIN_PASSWORD, role="admin")
    assert admin_client.patch(f"{USERS}/{other}", json={"banned": True}).status_code == 200
    assert_error(admin_client.patch(f"{USERS}/{admin_id}", json={"role": "user"}), 409)


def test_an_admin_can_step_down_when_another_remains(app, admin_client, admin_id) -> None:
    add_user(app, "root2", ADMIN_PASSWORD, role="admin")
    response = admin_client.patch(f"{USERS}/{admin_id}", json={"role": "user"})
    assert response.status_code == 200 and response.get_json()["role"] == "user"
    assert_error(admin_client.get(USERS), 403)


def test_deleting_a_non_admin_needs_no_other_admin(admin_client, user_id) -> None:
    assert admin_client.delete(f"{USERS}/{user_id}").status_code == 204


def test_user_changes_own_password(client, user_id) -> None:
    first = login(client, "alice", USER_PASSWORD)
    second = login(client, "alice", USER_PASSWORD)
    response = client.put(
        f"{USERS}/{user_id}/password",
        json={"current_password": USER_PASSWORD, "new_password": "brand-New-passw0rd"},
        headers=bearer(first),
    )
    assert response.status_code == 204
    # The session that made the change stays; every other one ends.
    assert client.get("/api/v1/auth/me", headers=bearer(first)).status_code == 200
    assert_error(client.get("/api/v1/auth/me", headers=bearer(second)), 401)
    login(client, "alice", "brand-New-passw0rd")
    bad = client.post("/api/v1/auth/login", json={"username": "alice", "password": USER_PASSWORD})
    assert_error(bad, 401)


@pytest.mark.parametrize("current", [None, "not-my-password"])
def test_own_password_change_needs_the_current_one(user_client, user_id, current) -> None:
    payload = {"new_password": "brand-New-passw0rd"}
    if current is not None:
        payload["current_password"] = current
    response = user_client.put(f"{USERS}/{user_id}/password", json=payload)
    assert_error(response, 401, "wrong_password")


def test_admin_changing_own_password_also_needs_the_current_one(admin_client, admin_id):
    response = admin_client.put(
        f"{USERS}/{admin_id}/password", json={"new_password": "brand-New-passw0rd"}
    )
    assert_error(response, 401, "wrong_password")


def test_user_cannot_change_someone_elses_password(app, user_client) -> None:
    other = add_user(app, "carol", USER_PASSWORD)
    response = user_client.put(
        f"{USERS}/{other}/password", json={"new_password": "brand-New-passw0rd"}
    )
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize(
    "payload",
    [{}, {"new_password": "short"}, {"new_password": 12345678}, {"new_password": None}],
)
def test_password_change_validation(user_client, user_id, payload) -> None:
    assert_error(user_client.put(f"{USERS}/{user_id}/password", json=payload), 422)


def test_new_password_must_not_be_common(user_client, user_id) -> None:
    response = user_client.put(
        f"{USERS}/{user_id}/password",
        json={"current_password": USER_PASSWORD, "new_password": "iloveyou1"},
    )
    assert_error(response, 422, "weak_password")


def test_admin_changes_password_of_unknown_user_is_404(admin_client) -> None:
    response = admin_client.put(
        f"{USERS}/424242/password", json={"new_password": "brand-New-passw0rd"}
    )
    assert_error(response, 404)


def test_concurrent_demotions_cannot_remove_both_admins(app, admin_id) -> None:
    other_id = add_user(app, "root2", ADMIN_PASSWORD, role="admin")
    first, second = app.test_client(), app.test_client()
    first.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + login(first, "admin", ADMIN_PASSWORD)
    second.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + login(second, "root2", ADMIN_PASSWORD)
    barrier = threading.Barrier(2)

    def demote(client, target: int):
        barrier.wait()
        return client.patch(f"{USERS}/{target}", json={"role": "user"})

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(demote, (first, second), (other_id, admin_id)))
    # One wins. The other is refused: as the last admin (409) if it got the lock second,
    # or as no longer an admin (403) if it arrived after the commit. Never both, never 500.
    winner, loser = sorted(results, key=lambda r: r.status_code)
    assert winner.status_code == 200
    assert_error(loser, loser.status_code)
    assert loser.get_json()["error"]["code"] in ("last_admin", "forbidden")
    with app.app_context():
        admins = db.session.scalars(select(User).where(User.role == "admin")).all()
    assert len(admins) == 1 and not admins[0].banned


@pytest.mark.parametrize(
    ("submitted", "stored"),
    [("Bob", "bob"), ("  BOB.smith ", "bob.smith"), ("\uff42\uff4f\uff42", "bob")],
)
def test_usernames_are_stored_normalised(admin_client, submitted, stored) -> None:
    created = _create(admin_client, submitted)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["username"] == stored
    # Any spelling of the same name is the same account.
    assert_error(_create(admin_client, stored.upper()), 409, "username_taken")


@pytest.mark.parametrize("username", ["\u00e1dmin", "bob\u200b", "b\u00f8b", "  b "])
def test_names_outside_the_rule_are_refused_after_normalisation(admin_client, username) -> None:
    error = assert_error(_create(admin_client, username), 422, "validation_error")
    assert error["details"][0]["loc"] == ["username"]


def _change(client, user_id: int, current: str, address: str):
    return client.put(
        f"{USERS}/{user_id}/password",
        json={"current_password": current, "new_password": "brand-New-passw0rd"},
        headers={"X-Forwarded-For": address},
    )


def test_wrong_current_passwords_are_throttled_like_logins(make_app) -> None:
    app = make_app(login_free_failures=2)
    user_id = add_user(app, "alice", USER_PASSWORD)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + login(client, "alice", USER_PASSWORD)
    here, elsewhere = "192.0.2.90", "198.51.100.90"
    assert_error(_change(client, user_id, "guess-1", here), 401, "wrong_password")
    assert_error(_change(client, user_id, "guess-2", here), 401, "wrong_password")
    refused = _change(client, user_id, USER_PASSWORD, here)
    assert_error(refused, 429, "too_many_requests")
    assert int(refused.headers["Retry-After"]) >= 1
    # The same counter as logins: a stolen token buys no extra guesses ...
    login_attempt = client.post(
        "/api/v1/auth/login",
        json={"username": "alice", "password": USER_PASSWORD},
        headers={"X-Forwarded-For": here},
    )
    assert_error(login_attempt, 429)
    # ... and the owner, from another address, is not held up.
    assert _change(client, user_id, USER_PASSWORD, elsewhere).status_code == 204


def test_admin_resetting_a_password_is_not_a_guess(make_app) -> None:
    app = make_app(login_free_failures=1)
    add_user(app, "admin", ADMIN_PASSWORD, role="admin")
    user_id = add_user(app, "alice", USER_PASSWORD)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + login(client, "admin", ADMIN_PASSWORD)
    for _ in range(3):
        response = client.put(
            f"{USERS}/{user_id}/password", json={"new_password": "brand-New-passw0rd"}
        )
        assert response.status_code == 204
