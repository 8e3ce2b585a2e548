"""Owned files on every upload backend: who may read, overwrite, delete and list what,
per-owner namespaces, quotas, and migration 0003 that gives existing files an owner."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from redflask.config import UPLOAD_BACKENDS
from redflask.models import Base, User
from redflask.utils.db import db
from tests.conftest import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    add_user,
    assert_error,
    build_app,
    client_as,
)
from tests.test_files import _Directory, _raw_upload, _Table, _upload

FILES = "/api/v1/files"


@pytest.fixture(params=UPLOAD_BACKENDS)
def upload_backend(request) -> str:
    return request.param


def _store(app, engine) -> _Directory | _Table:
    """What app's backend holds, read directly rather than through the API."""
    settings = app.extensions["redflask.settings"]
    if settings.upload_backend == "filesystem":
        return _Directory(settings.upload_dir)
    return _Table(engine)


@pytest.fixture
def storage(app, test_engine):
    return _store(app, test_engine)


@pytest.fixture
def people(app, admin_id, user_id):
    """alice (user_id), bob and an admin, each with a logged-in client."""
    bob_id = add_user(app, "bob", USER_PASSWORD)
    return {
        "alice": (user_id, client_as(app, "alice", USER_PASSWORD)),
        "bob": (bob_id, client_as(app, "bob", USER_PASSWORD)),
        "admin": (admin_id, client_as(app, "admin", ADMIN_PASSWORD)),
    }


def _names(response) -> list[tuple[int, str]]:
    assert response.status_code == 200, response.get_json()
    return [(item["owner_id"], item["name"]) for item in response.get_json()["items"]]


def _download(client, path: str) -> tuple[int, bytes]:
    with client.get(path) as response:
        return response.status_code, response.get_data()


def test_bob_can_neither_read_nor_overwrite_nor_delete_alices_file(people, storage) -> None:
    alice_id, alice = people["alice"]
    bob_id, bob = people["bob"]
    assert _upload(alice, "report.txt", b"alice's numbers").status_code == 201

    # Read: by name (bob's own namespace has no report.txt) and naming alice as owner.
    # Both are the 404 of a file that does not exist, word for word.
    missing = assert_error(bob.get(f"{FILES}/nothing.txt"), 404, "not_found")
    for path in (f"{FILES}/report.txt", f"{FILES}/report.txt?owner={alice_id}"):
        with bob.get(path) as response:
            error = assert_error(response, 404, "not_found")
            assert b"alice's numbers" not in response.get_data()
        assert error["message"] == missing["message"].replace("nothing.txt", "report.txt")

    # Overwrite: naming alice's namespace is refused the same way ...
    response = _upload(
        bob, "report.txt", b"bob was here", query=f"?owner={alice_id}&overwrite=true"
    )
    assert_error(response, 404, "not_found")
    # ... and without the owner the upload lands in bob's own namespace.
    assert _upload(bob, "report.txt", b"bob's own", query="?overwrite=true").status_code == 201

    # Delete.
    assert_error(bob.delete(f"{FILES}/report.txt?owner={alice_id}"), 404, "not_found")

    assert storage.content("report.txt", owner=alice_id) == b"alice's numbers"
    assert storage.content("report.txt", owner=bob_id) == b"bob's own"
    assert _download(alice, f"{FILES}/report.txt") == (200, b"alice's numbers")
    assert _download(bob, f"{FILES}/report.txt") == (200, b"bob's own")


def test_listing_shows_the_callers_files_and_admins_everyones(people) -> None:
    alice_id, alice = people["alice"]
    bob_id, bob = people["bob"]
    admin_id, admin = people["admin"]
    _upload(alice, "a.txt")
    _upload(alice, "shared-name.txt")
    _upload(bob, "shared-name.txt")
    _upload(admin, "z.txt")

    assert _names(alice.get(FILES)) == [(alice_id, "a.txt"), (alice_id, "shared-name.txt")]
    assert _names(bob.get(FILES)) == [(bob_id, "shared-name.txt")]
    assert _names(bob.get(f"{FILES}?owner={bob_id}")) == [(bob_id, "shared-name.txt")]
    assert_error(bob.get(f"{FILES}?owner={alice_id}"), 403, "forbidden")

    # Admins: everything by default (sorted by name, then owner), or one owner's.
    assert _names(admin.get(FILES)) == sorted(
        [
            (alice_id, "a.txt"),
            (alice_id, "shared-name.txt"),
            (bob_id, "shared-name.txt"),
            (admin_id, "z.txt"),
        ],
        key=lambda item: (item[1], item[0]),
    )
    assert _names(admin.get(f"{FILES}?owner={bob_id}")) == [(bob_id, "shared-name.txt")]
    assert _names(admin.get(f"{FILES}?owner=999999")) == []


def test_admins_read_overwrite_and_delete_anyones_files(people, storage) -> None:
    alice_id, alice = people["alice"]
    _, admin = people["admin"]
    _upload(alice, "report.txt", b"v1")

    assert _download(admin, f"{FILES}/report.txt?owner={alice_id}") == (200, b"v1")
    # Without the owner an admin addresses their own namespace, where there is none.
    assert_error(admin.get(f"{FILES}/report.txt"), 404, "not_found")

    query = f"?owner={alice_id}"
    assert_error(_upload(admin, "report.txt", b"v2", query=query), 409, "file_exists")
    replaced = _upload(admin, "report.txt", b"v2", query=f"{query}&overwrite=true")
    assert replaced.status_code == 201
    assert replaced.get_json()["owner_id"] == alice_id
    assert replaced.headers["Location"].endswith(f"/api/v1/files/report.txt?owner={alice_id}")
    assert _download(alice, f"{FILES}/report.txt") == (200, b"v2")

    assert admin.delete(f"{FILES}/report.txt?owner={alice_id}").status_code == 204
    assert storage.owned() == []
    assert_error(_upload(admin, "x.txt", query="?owner=999999"), 404, "not_found")


def test_shared_reading_lets_everyone_read_but_not_change(make_app, upload_backend) -> None:
    app = make_app(upload_backend=upload_backend, upload_shared_read=True)
    alice_id = add_user(app, "alice", USER_PASSWORD)
    bob_id = add_user(app, "bob", USER_PASSWORD)
    alice = client_as(app, "alice", USER_PASSWORD)
    bob = client_as(app, "bob", USER_PASSWORD)
    _upload(alice, "report.txt", b"for everyone to read")
    _upload(bob, "mine.txt")

    assert _names(bob.get(FILES)) == [(bob_id, "mine.txt"), (alice_id, "report.txt")]
    assert _names(bob.get(f"{FILES}?owner={alice_id}")) == [(alice_id, "report.txt")]
    assert _download(bob, f"{FILES}/report.txt?owner={alice_id}") == (200, b"for everyone to read")
    query = f"?owner={alice_id}&overwrite=true"
    assert_error(_upload(bob, "report.txt", b"no", query=query), 404, "not_found")
    assert_error(bob.delete(f"{FILES}/report.txt?owner={alice_id}"), 404, "not_found")
    assert _download(alice, f"{FILES}/report.txt") == (200, b"for everyone to read")


def test_deleting_a_user_deletes_their_files(people, storage) -> None:
    alice_id, alice = people["alice"]
    bob_id, bob = people["bob"]
    _, admin = people["admin"]
    _upload(alice, "a.txt")
    _upload(alice, "b.txt")
    _upload(bob, "a.txt")
    assert admin.delete(f"/api/v1/users/{alice_id}").status_code == 204
    assert storage.owned() == [(bob_id, "a.txt")]
    assert storage.names() == ["a.txt"]  # nothing left of alice's directory either


@pytest.mark.parametrize("query", ["?owner=0", "?owner=-1", "?owner=abc", "?owner=2147483648"])
def test_bad_owner_is_422(people, query) -> None:
    _, alice = people["alice"]
    assert_error(alice.get(f"{FILES}{query}"), 422, "validation_error")
    assert_error(alice.get(f"{FILES}/a.txt{query}"), 422, "validation_error")
    assert_error(_upload(alice, "a.txt", query=query), 422, "validation_error")


# ---- quotas ------------------------------------------------------------------------


def _quota_app(make_app, upload_backend, **quota):
    app = make_app(upload_backend=upload_backend, **quota)
    user_id = add_user(app, "alice", USER_PASSWORD)
    return app, user_id, client_as(app, "alice", USER_PASSWORD)


def test_file_count_quota_is_409(make_app, upload_backend, test_engine) -> None:
    app, user_id, client = _quota_app(make_app, upload_backend, upload_quota_files=2)
    add_user(app, "bob", USER_PASSWORD)
    bob = client_as(app, "bob", USER_PASSWORD)
    assert _upload(client, "1.txt").status_code == 201
    assert _upload(client, "2.txt").status_code == 201
    error = assert_error(_upload(client, "3.txt"), 409, "quota_files_exceeded")
    assert error["details"] == {"limit_files": 2, "files": 2}
    # Replacing a file does not add one; another user has a quota of their own.
    assert _upload(client, "2.txt", b"new", query="?overwrite=true").status_code == 201
    assert _upload(bob, "3.txt").status_code == 201
    # Deleting makes room again.
    assert client.delete(f"{FILES}/1.txt").status_code == 204
    assert _upload(client, "3.txt").status_code == 201
    owned = _store(app, test_engine).owned()
    assert sorted(name for owner, name in owned if owner == user_id) == ["2.txt", "3.txt"]


def test_byte_quota_is_413(make_app, upload_backend) -> None:
    _, _, client = _quota_app(make_app, upload_backend, upload_quota_mb=1)
    half = 512 * 1024
    assert _raw_upload(client, "a.txt", b"a" * half).status_code == 201
    assert _raw_upload(client, "b.txt", b"b" * (half - 10)).status_code == 201
    error = assert_error(_raw_upload(client, "c.txt", b"c" * 11), 413, "quota_bytes_exceeded")
    assert error["details"] == {
        "limit_bytes": 1024 * 1024,
        "used_bytes": 2 * half - 10,
        "file_bytes": 11,
    }
    # Replacing counts the difference: b.txt may grow by its 10 missing bytes, not 11.
    assert_error(_raw_upload(client, "b.txt", b"b" * (half + 1), query="?overwrite=true"), 413)
    assert _raw_upload(client, "b.txt", b"b" * half, query="?overwrite=true").status_code == 201
    assert _raw_upload(client, "c.txt", b"").status_code == 201
    assert [item["size"] for item in client.get(FILES).get_json()["items"]] == [half, half, 0]


def test_parallel_uploads_cannot_exceed_the_quota(make_app, upload_backend, test_engine) -> None:
    app, user_id, _ = _quota_app(make_app, upload_backend, upload_quota_files=3)
    clients = [client_as(app, "alice", USER_PASSWORD) for _ in range(8)]
    barrier = threading.Barrier(len(clients))

    def upload(index: int):
        barrier.wait()
        return _upload(clients[index], f"file-{index}.txt", b"x" * 100)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        results = list(pool.map(upload, range(len(clients))))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] * 3 + [409] * 5, statuses
    for response in results:
        if response.status_code == 409:
            assert_error(response, 409, "quota_files_exceeded")
    assert len([owner for owner, _ in _store(app, test_engine).owned() if owner == user_id]) == 3


# ---- migration 0003 ----------------------------------------------------------------


def _insert_user(connection, username: str, role: str = "user") -> int:
    return connection.execute(
        text(
            "INSERT INTO sys_user (username, nickname, password_hash, role, banned,"
            " created_at, updated_at) VALUES (:u, '', 'x', :r, 0, NOW(), NOW())"
        ),
        {"u": username, "r": role},
    ).lastrowid


def _insert_file(connection, name: str, content: bytes = b"old") -> None:
    connection.execute(
        text(
            "INSERT INTO stored_file (name, size, content, modified_at) VALUES (:n, :s, :c, NOW())"
        ),
        {"n": name, "s": len(content), "c": content},
    )


class _Migrating:
    def __init__(self, app_env, database_url, upload_dir) -> None:
        self.upload_dir = upload_dir
        self.app = build_app(app_env, upload_dir, database_url=database_url)
        self.runner = self.app.test_cli_runner()
        self.engine = create_engine(database_url)

    def db(self, *args: str):
        return self.runner.invoke(args=["db", *args])

    def ok(self, *args: str) -> None:
        result = self.db(*args)
        assert result.exit_code == 0, result.output

    def revision(self) -> str:
        with self.engine.connect() as connection:
            return connection.scalar(text("SELECT version_num FROM alembic_version"))

    def close(self) -> None:
        self.engine.dispose()
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture
def migrating(app_env, fresh_database, tmp_path):
    upload_dir = tmp_path / "uploads"
    upload_dir.mkdir()
    state = _Migrating(app_env, fresh_database, upload_dir)
    yield state
    state.close()


def test_migration_0003_gives_files_to_the_first_admin(migrating) -> None:
    m = migrating
    m.ok("upgrade", "0002")
    with m.engine.begin() as connection:
        alice = _insert_user(connection, "Alice")
        first_admin = _insert_user(
            connection, "Root", role="admin"
        )  # the first admin, though banned
        _insert_user(connection, "second-admin", role="admin")
        _insert_file(connection, "report.txt", b"db content")
        _insert_file(connection, "Report.txt", b"other case")
        connection.execute(
            text("UPDATE sys_user SET banned = 1 WHERE id = :id"), {"id": first_admin}
        )
    (m.upload_dir / "flat.txt").write_text("filesystem content")
    (m.upload_dir / ".upload-partial").write_text("x")

    m.ok("upgrade")
    assert m.revision() == "0003"
    with m.engine.connect() as connection:
        files = connection.execute(text("SELECT owner_id, name FROM stored_file ORDER BY name"))
        assert [tuple(row) for row in files] == [
            (first_admin, "Report.txt"),
            (first_admin, "report.txt"),
        ]
        names = connection.execute(text("SELECT id, username FROM sys_user ORDER BY id")).all()
        assert [row.username for row in names] == ["alice", "root", "second-admin"]
        collation = connection.scalar(
            text(
                "SELECT collation_name FROM information_schema.columns WHERE table_schema ="
                " DATABASE() AND table_name = 'sys_user' AND column_name = 'username'"
            )
        )
        assert collation == "utf8mb4_bin"
        # The migrated schema is exactly what the models describe.
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert (m.upload_dir / str(first_admin) / "flat.txt").read_text() == "filesystem content"
    assert not (m.upload_dir / "flat.txt").exists()
    assert (m.upload_dir / ".upload-partial").exists()  # hidden entries are not files

    # The database now refuses what the old release could write: an unnormalised name,
    # a file without owner, an owner that does not exist.
    with pytest.raises(OperationalError), m.engine.begin() as connection:
        _insert_user(connection, "Bob")
    with pytest.raises(Exception, match="owner_id"), m.engine.begin() as connection:
        _insert_file(connection, "new.txt")
    with m.engine.begin() as connection:
        foreign = connection.execute(
            text(
                "SELECT delete_rule FROM information_schema.referential_constraints"
                " WHERE constraint_schema = DATABASE() AND table_name = 'stored_file'"
            )
        ).scalar()
        assert foreign == "CASCADE"
        connection.execute(text("DELETE FROM sys_user WHERE id = :id"), {"id": first_admin})
        assert connection.scalar(text("SELECT COUNT(*) FROM stored_file")) == 0
        assert connection.scalar(
            text("SELECT username FROM sys_user WHERE id = :id"), {"id": alice}
        )


def test_migration_0003_refuses_ownerless_files_without_an_admin(migrating) -> None:
    m = migrating
    m.ok("upgrade", "0002")
    with m.engine.begin() as connection:
        _insert_user(connection, "Alice")
        _insert_file(connection, "report.txt")
    result = m.db("upgrade")
    assert result.exit_code != 0
    assert "no admin" in str(result.exception)
    # Nothing changed: the previous release still runs on it, and the upgrade can be
    # repeated once an admin exists.
    assert m.revision() == "0002"
    assert "owner_id" not in {c["name"] for c in inspect(m.engine).get_columns("stored_file")}
    with m.engine.begin() as connection:
        assert connection.scalar(text("SELECT username FROM sys_user")) == "Alice"
        _insert_user(connection, "admin", role="admin")
    m.ok("upgrade")
    assert m.revision() == "0003"


def test_migration_0003_refuses_usernames_that_collide_once_normalised(migrating) -> None:
    m = migrating
    m.ok("upgrade", "0002")
    with m.engine.begin() as connection:
        # Distinct under the old collation (leading space), the same once trimmed.
        _insert_user(connection, "bob")
        _insert_user(connection, " bob")
    result = m.db("upgrade")
    assert result.exit_code != 0 and "same once" in str(result.exception)
    assert m.revision() == "0002"


def test_migration_0003_without_files_needs_no_admin(migrating) -> None:
    m = migrating
    m.ok("upgrade", "0002")
    m.ok("upgrade")
    assert m.revision() == "0003"


def test_migration_0003_downgrades_unless_names_would_collide(migrating) -> None:
    m = migrating
    m.ok("upgrade")
    with m.engine.begin() as connection:
        admin = _insert_user(connection, "admin", role="admin")
        alice = _insert_user(connection, "alice")
        for owner in (admin, alice):
            connection.execute(
                text(
                    "INSERT INTO stored_file (owner_id, name, size, content, modified_at)"
                    " VALUES (:o, 'same.txt', 1, 'x', NOW())"
                ),
                {"o": owner},
            )
    (m.upload_dir / str(admin)).mkdir()
    (m.upload_dir / str(admin) / "a.txt").write_text("admin's")
    result = m.db("downgrade", "0002")
    assert result.exit_code != 0 and "same.txt" in str(result.exception)
    assert m.revision() == "0003"

    with m.engine.begin() as connection:
        connection.execute(text("DELETE FROM stored_file WHERE owner_id = :o"), {"o": alice})
    m.ok("downgrade", "0002")
    assert m.revision() == "0002"
    columns = {c["name"] for c in inspect(m.engine).get_columns("stored_file")}
    assert "owner_id" not in columns
    unique = [u["column_names"] for u in inspect(m.engine).get_unique_constraints("stored_file")]
    assert unique == [["name"]]
    assert (m.upload_dir / "a.txt").read_text() == "admin's"
    assert not (m.upload_dir / str(admin)).exists()
    m.ok("upgrade")
    assert (m.upload_dir / str(admin) / "a.txt").read_text() == "admin's"


def test_created_usernames_are_stored_normalised(app) -> None:
    add_user(app, " Carol", USER_PASSWORD)
    with app.app_context():
        assert [u.username for u in db.session.query(User).all()] == ["carol"]
