"""Uploads: limits, names, overwrite rules and every path-traversal spelling, on every
upload backend; then what only the database backend promises: several app hosts share
one store, and its migration is additive and reversible."""

from __future__ import annotations

import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from redflask.config import UPLOAD_BACKENDS, ConfigError, load_settings
from redflask.models import StoredFile, User
from redflask.services.files import DatabaseBackend, backend_for
from redflask.utils.db import db
from tests.conftest import ADMIN_PASSWORD, assert_error, build_app, login

FILES = "/api/v1/files"


@pytest.fixture(params=UPLOAD_BACKENDS)
def upload_backend(request) -> str:
    """Every test in this module that uses the default app runs once per backend."""
    return request.param


def _upload(client, name: str, data: bytes = b"hello", query: str = ""):
    return client.post(
        f"{FILES}{query}",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _raw_upload(client, name: str, data: bytes, query: str = ""):
    # Built by hand: werkzeug's test client spools big multipart bodies to a temporary file
    # it never closes, which filterwarnings=error would report as a leak of ours.
    boundary = "redflask-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        f"{FILES}{query}", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def _admin_client(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + login(client, "admin", ADMIN_PASSWORD)
    return client


class _Directory:
    """What the filesystem backend holds: every entry of every owner's directory (hidden
    ones included), and anything else in the upload directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _owner_dirs(self) -> list[Path]:
        return [e for e in self.directory.iterdir() if e.name.isdecimal() and e.is_dir()]

    def names(self) -> list[str]:
        if not self.directory.exists():
            return []
        owned = [entry.name for owner in self._owner_dirs() for entry in owner.iterdir()]
        other = [e.name for e in self.directory.iterdir() if e not in self._owner_dirs()]
        return sorted(owned + other)

    def owned(self) -> list[tuple[int, str]]:
        if not self.directory.exists():
            return []
        return sorted((int(d.name), e.name) for d in self._owner_dirs() for e in d.iterdir())

    def content(self, name: str, owner: int | None = None) -> bytes:
        (path,) = [
            d / name
            for d in self._owner_dirs()
            if (d / name).exists() and owner in (None, int(d.name))
        ]
        return path.read_bytes()


class _Table:
    """What the database backend holds: every row of stored_file."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def names(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.scalars(select(StoredFile.name).order_by(StoredFile.name)))

    def owned(self) -> list[tuple[int, str]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(StoredFile.owner_id, StoredFile.name)).all()
        return sorted((row.owner_id, row.name) for row in rows)

    def content(self, name: str, owner: int | None = None) -> bytes:
        query = select(StoredFile.content).where(StoredFile.name == name)
        if owner is not None:
            query = query.where(StoredFile.owner_id == owner)
        with self.engine.connect() as connection:
            (content,) = connection.scalars(query).all()
        return content


@pytest.fixture
def storage(app, upload_backend, test_engine) -> _Directory | _Table:
    """The default app's store, read directly rather than through the API under test."""
    if upload_backend == "filesystem":
        return _Directory(app.extensions["redflask.settings"].upload_dir)
    return _Table(test_engine)


@pytest.fixture
def upload_dir(app) -> Path:
    directory = app.extensions["redflask.settings"].upload_dir
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_upload_list_download_delete(admin_client, admin_id, storage) -> None:
    created = _upload(admin_client, "report.txt", b"quarterly numbers")
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "report.txt" and body["size"] == 17
    assert body["owner_id"] == admin_id
    assert body["modified_at"].endswith("Z")
    # The owner is part of the address: it names this file for every caller.
    assert created.headers["Location"].endswith(f"/api/v1/files/report.txt?owner={admin_id}")
    assert storage.owned() == [(admin_id, "report.txt")]
    assert storage.content("report.txt") == b"quarterly numbers"
    with admin_client.get(created.headers["Location"]) as download:
        assert download.get_data() == b"quarterly numbers"

    listed = admin_client.get(FILES).get_json()["items"]
    assert listed == [body]

    with admin_client.get(f"{FILES}/report.txt") as download:
        assert download.status_code == 200
        assert download.get_data() == b"quarterly numbers"
        assert download.mimetype == "application/octet-stream"
        assert download.headers["Content-Disposition"] == "attachment; filename=report.txt"
        assert download.headers["Content-Length"] == "17"

    assert admin_client.delete(f"{FILES}/report.txt").status_code == 204
    assert storage.names() == []
    assert_error(admin_client.get(f"{FILES}/report.txt"), 404, "not_found")
    assert_error(admin_client.delete(f"{FILES}/report.txt"), 404, "not_found")


def test_download_answers_conditional_requests(admin_client) -> None:
    assert _upload(admin_client, "cached.txt", b"same bytes").status_code == 201
    with admin_client.get(f"{FILES}/cached.txt") as first:
        last_modified = first.headers["Last-Modified"]
    headers = {"If-Modified-Since": last_modified}
    with admin_client.get(f"{FILES}/cached.txt", headers=headers) as again:
        assert again.status_code == 304
        assert again.get_data() == b""


def test_regular_users_upload_download_and_delete_their_own(user_client, user_id, storage):
    assert _upload(user_client, "notes.csv").status_code == 201
    assert storage.owned() == [(user_id, "notes.csv")]
    with user_client.get(f"{FILES}/notes.csv") as download:
        assert download.status_code == 200
    with user_client.get(f"{FILES}/notes.csv?owner={user_id}") as download:
        assert download.status_code == 200
    assert user_client.delete(f"{FILES}/notes.csv").status_code == 204
    assert storage.names() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", FILES),
        ("post", FILES),
        ("get", f"{FILES}/a.txt"),
        ("delete", f"{FILES}/a.txt"),
    ],
)
def test_files_need_a_token(client, method, path) -> None:
    assert_error(getattr(client, method)(path), 401)


def test_existing_file_is_not_overwritten_unless_asked(admin_client, storage) -> None:
    assert _upload(admin_client, "data.json", b"{}").status_code == 201
    assert_error(_upload(admin_client, "data.json", b"[1]"), 409, "file_exists")
    assert storage.content("data.json") == b"{}"
    replaced = _upload(admin_client, "data.json", b"[1, 2]", query="?overwrite=true")
    assert replaced.status_code == 201
    assert replaced.get_json()["size"] == 6
    assert storage.content("data.json") == b"[1, 2]"
    with admin_client.get(f"{FILES}/data.json") as download:
        assert download.get_data() == b"[1, 2]"
    assert [item["size"] for item in admin_client.get(FILES).get_json()["items"]] == [6]
    # No temporary files or extra rows are left behind by either path.
    assert storage.names() == ["data.json"]


def test_overwrite_of_a_new_name_creates_it(admin_client, storage) -> None:
    assert _upload(admin_client, "fresh.txt", b"new", query="?overwrite=true").status_code == 201
    assert storage.content("fresh.txt") == b"new"


def test_names_are_case_sensitive(admin_client, storage) -> None:
    assert _upload(admin_client, "Report.txt", b"upper").status_code == 201
    assert _upload(admin_client, "report.txt", b"lower").status_code == 201
    assert storage.names() == ["Report.txt", "report.txt"]
    names = [item["name"] for item in admin_client.get(FILES).get_json()["items"]]
    assert names == ["Report.txt", "report.txt"]
    with admin_client.get(f"{FILES}/Report.txt") as download:
        assert download.get_data() == b"upper"
    assert_error(admin_client.get(f"{FILES}/REPORT.txt"), 404, "not_found")


def test_listing_is_sorted_and_matches_what_uploads_answered(admin_client) -> None:
    answered = [_upload(admin_client, name).get_json() for name in ("b.txt", "c.txt", "a.txt")]
    listed = admin_client.get(FILES).get_json()["items"]
    assert listed == sorted(answered, key=lambda item: item["name"])


def test_concurrent_uploads_of_one_name_create_it_once(app, admin_id, storage) -> None:
    clients = [_admin_client(app), _admin_client(app)]
    barrier = threading.Barrier(2)

    def upload(client, data: bytes):
        barrier.wait()
        return _upload(client, "race.txt", data)

    payloads = [b"from the first host", b"from the second host"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(upload, clients, payloads))
    assert sorted(r.status_code for r in results) == [201, 409]
    winner = next(i for i, r in enumerate(results) if r.status_code == 201)
    assert_error(results[1 - winner], 409, "file_exists")
    assert storage.names() == ["race.txt"]
    assert storage.content("race.txt") == payloads[winner]


@pytest.mark.parametrize("name", ["run.sh", "page.html", "noextension", "archive.tar.gz.exe"])
def test_disallowed_extensions_are_415(admin_client, storage, name) -> None:
    assert_error(_upload(admin_client, name), 415, "extension_not_allowed")
    assert storage.names() == []


def test_oversized_upload_is_413_in_the_error_shape(make_app, upload_backend, admin_id) -> None:
    client = _admin_client(make_app(max_upload_mb=1, upload_backend=upload_backend))
    # The request limit, not the quota: the default quota is far above 1 MiB.
    response = _raw_upload(client, "big.txt", b"x" * (1024 * 1024 + 10))
    assert_error(response, 413, "payload_too_large")
    assert _upload(client, "small.txt", b"x" * 1000).status_code == 201


def test_missing_file_field_is_422(admin_client) -> None:
    response = admin_client.post(FILES, data={"other": "x"}, content_type="multipart/form-data")
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("client_name", "stored_as"),
    [
        ("../../etc/evil.txt", "etc_evil.txt"),
        ("..\\..\\windows\\evil.txt", "windowsevil.txt"),
        ("/etc/evil.txt", "etc_evil.txt"),
        ("my report (final).pdf", "my_report_final.pdf"),
        (".hidden.txt", "hidden.txt"),
    ],
)
def test_uploaded_names_are_made_safe(admin_client, storage, client_name, stored_as):
    response = _upload(admin_client, client_name)
    assert response.status_code == 201
    assert response.get_json()["name"] == stored_as
    assert storage.names() == [stored_as]


@pytest.mark.parametrize("client_name", ["..", "../", "\x00.txt", "...", "/", "a" * 197 + ".txt"])
def test_unusable_upload_names_are_rejected(admin_client, storage, client_name) -> None:
    response = _upload(admin_client, client_name)
    assert response.status_code in (400, 415)
    assert_error(response, response.status_code)
    assert storage.names() == []


def test_longest_name_is_accepted(admin_client, storage) -> None:
    name = "a" * 196 + ".txt"
    assert _upload(admin_client, name).status_code == 201
    assert storage.names() == [name]
    with admin_client.get(f"{FILES}/{name}") as download:
        assert download.status_code == 200


TRAVERSALS = [
    "../secret.txt",
    "..%2Fsecret.txt",
    "..%2fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "%2E%2E/secret.txt",
    "..%5Csecret.txt",
    "..\\secret.txt",
    "%2Fetc%2Fpasswd",
    "%2Ftmp%2Fsecret.txt",
    "secret.txt%00.png",
    "%00",
    "..",
    "%2e%2e",
    ".",
    "....%2F%2Fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "sub%2Fsecret.txt",
    ".upload-x",
]


@pytest.mark.parametrize("name", TRAVERSALS)
@pytest.mark.parametrize("method", ["get", "delete"])
def test_traversal_is_refused(admin_client, tmp_path, name, method) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    with getattr(admin_client, method)(f"{FILES}/{name}") as response:
        assert response.status_code in (400, 404), name
        assert_error(response, response.status_code)
        assert b"top secret" not in response.get_data()
    assert secret.read_text() == "top secret"


# Planted symlinks and stray entries only exist in a directory.
@pytest.mark.parametrize("upload_backend", ["filesystem"])
def test_symlink_out_of_the_upload_dir_is_refused(
    admin_client, admin_id, upload_dir, tmp_path
) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("top secret")
    (upload_dir / str(admin_id)).mkdir()
    os.symlink(secret, upload_dir / str(admin_id) / "link.txt")
    with admin_client.get(f"{FILES}/link.txt") as response:
        assert_error(response, 400, "invalid_filename")
    assert_error(admin_client.delete(f"{FILES}/link.txt"), 400)
    assert_error(_upload(admin_client, "link.txt", query="?overwrite=true"), 400)
    assert secret.read_text() == "top secret"


@pytest.mark.parametrize("upload_backend", ["filesystem"])
def test_symlinked_owner_directory_is_refused(admin_client, admin_id, upload_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("top secret")
    os.symlink(elsewhere, upload_dir / str(admin_id))
    with admin_client.get(f"{FILES}/secret.txt") as response:
        assert_error(response, 400, "invalid_filename")
    assert_error(_upload(admin_client, "new.txt"), 400, "invalid_filename")
    assert admin_client.get(FILES).get_json()["items"] == []
    assert sorted(p.name for p in elsewhere.iterdir()) == ["secret.txt"]


@pytest.mark.parametrize("upload_backend", ["filesystem"])
def test_listing_skips_directories_hidden_files_and_symlinks(
    admin_client, admin_id, upload_dir, tmp_path
) -> None:
    own = upload_dir / str(admin_id)
    own.mkdir()
    (own / "sub").mkdir()
    (own / ".upload-partial").write_text("x")
    (tmp_path / "outside.txt").write_text("x")
    os.symlink(tmp_path / "outside.txt", own / "link.txt")
    # Outside every owner's directory: files of the old flat layout, junk, a symlink
    # posing as an owner.
    (upload_dir / "legacy.txt").write_text("x")
    (upload_dir / "notanowner").mkdir()
    (upload_dir / "notanowner" / "x.txt").write_text("x")
    os.symlink(tmp_path, upload_dir / "999999")
    _upload(admin_client, "b.txt")
    _upload(admin_client, "a.txt")
    names = [item["name"] for item in admin_client.get(FILES).get_json()["items"]]
    assert names == ["a.txt", "b.txt"]


# ---- database backend only ----------------------------------------------------------

# Pins the default app (behind admin_id) to the database backend for these tests.
DATABASE_ONLY = pytest.mark.parametrize("upload_backend", ["database"])


@DATABASE_ONLY
def test_app_hosts_share_uploads_through_the_database(make_app, admin_id, tmp_path) -> None:
    # Two apps with their own upload directories stand for two hosts behind one balancer.
    hosts = [
        make_app(APP_UPLOAD_BACKEND="database", APP_UPLOAD_DIR=str(tmp_path / f"host-{i}"))
        for i in (1, 2)
    ]
    first, second = (_admin_client(host) for host in hosts)

    assert _upload(first, "shared.txt", b"written on host 1").status_code == 201
    assert [item["name"] for item in second.get(FILES).get_json()["items"]] == ["shared.txt"]
    with second.get(f"{FILES}/shared.txt") as download:
        assert download.get_data() == b"written on host 1"

    assert_error(_upload(second, "shared.txt", b"again"), 409, "file_exists")
    replaced = _upload(second, "shared.txt", b"replaced on host 2", query="?overwrite=true")
    assert replaced.status_code == 201
    with first.get(f"{FILES}/shared.txt") as download:
        assert download.get_data() == b"replaced on host 2"

    assert second.delete(f"{FILES}/shared.txt").status_code == 204
    assert_error(first.get(f"{FILES}/shared.txt"), 404, "not_found")
    # Nothing went to either host's disk.
    assert not any((tmp_path / f"host-{i}").exists() for i in (1, 2))


@DATABASE_ONLY
def test_file_above_max_allowed_packet_is_413_not_an_outage(
    make_app, admin_id, test_engine, app_logs
) -> None:
    with test_engine.connect() as connection:
        packet = int(connection.scalar(text("SELECT @@max_allowed_packet")))
    # The request limit is not what stops these: the database's packet limit is.
    app = make_app(upload_backend="database", max_upload_mb=packet // (1024 * 1024) + 2)
    client = _admin_client(app)

    # The content travels hex-encoded: half the packet is already too much, although such a
    # file would fit in a row.
    too_big = b"x" * (packet // 2)
    assert_error(_raw_upload(client, "too-big.txt", too_big), 413, "payload_too_large")
    assert any("max_allowed_packet" in record.getMessage() for record in app_logs)

    # Just inside the estimate the server really takes it: the estimate is an upper bound.
    fits = b"\0\n'\\" * ((packet - DatabaseBackend.STATEMENT_OVERHEAD) // 8)
    assert DatabaseBackend.statement_size(fits) <= packet
    assert _raw_upload(client, "fits.txt", fits).status_code == 201
    with client.get(f"{FILES}/fits.txt") as download:
        assert download.get_data() == fits
    assert [item["name"] for item in client.get(FILES).get_json()["items"]] == ["fits.txt"]


def test_database_backend_does_not_need_an_upload_dir(app_env) -> None:
    env = {**app_env, "APP_UPLOAD_BACKEND": "database"}
    del env["APP_UPLOAD_DIR"]
    settings = load_settings(env)
    assert settings.upload_dir is None
    assert isinstance(backend_for(settings), DatabaseBackend)
    # Settings built in code cannot pick the filesystem without a directory either.
    with pytest.raises(ConfigError, match="APP_UPLOAD_DIR is required"):
        backend_for(settings.with_overrides(upload_backend="filesystem"))


def test_migration_0002_is_additive_and_reversible(app_env, fresh_database, tmp_path) -> None:
    app = build_app(app_env, tmp_path, database_url=fresh_database)
    runner = app.test_cli_runner()
    engine = create_engine(fresh_database)

    def db_command(*args: str) -> None:
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == 0, result.output

    def revision() -> str:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT version_num FROM alembic_version"))

    def sys_user_schema() -> str:
        with engine.connect() as connection:
            return connection.execute(text("SHOW CREATE TABLE sys_user")).one()[1]

    try:
        db_command("upgrade", "0001")
        with engine.begin() as connection:  # a row the previous release wrote
            connection.execute(
                User.__table__.insert().values(
                    username="old", nickname="", password_hash="x", role="user", banned=False,
                    created_at="2026-01-01", updated_at="2026-01-01",
                )
            )  # fmt: skip
        before = sys_user_schema()

        db_command("upgrade", "0002")
        assert revision() == "0002"
        assert sys_user_schema() == before  # untouched: the previous release still works
        inspector = inspect(engine)
        assert {c["name"] for c in inspector.get_columns("stored_file")} == {
            "id",
            "name",
            "size",
            "content",
            "modified_at",
        }
        assert [u["column_names"] for u in inspector.get_unique_constraints("stored_file")] == [
            ["name"]
        ]
        with engine.connect() as connection:
            options = connection.execute(
                text(
                    "SELECT engine, table_collation FROM information_schema.tables"
                    " WHERE table_schema = DATABASE() AND table_name = 'stored_file'"
                )
            ).one()
            content_type = connection.scalar(
                text(
                    "SELECT data_type FROM information_schema.columns WHERE table_schema ="
                    " DATABASE() AND table_name = 'stored_file' AND column_name = 'content'"
                )
            )
        assert options.engine == "InnoDB" and options.table_collation.startswith("utf8mb4")
        assert content_type == "longblob"

        db_command("downgrade", "0001")
        assert revision() == "0001"
        assert not inspect(engine).has_table("stored_file")
        assert sys_user_schema() == before
        with engine.connect() as connection:
            assert connection.scalar(select(User.username)) == "old"

        db_command("upgrade")
        assert inspect(engine).has_table("stored_file")
    finally:
        engine.dispose()
        with app.app_context():
            db.engine.dispose()


class _SeeksWithoutSeekable:
    """What werkzeug hands over on Python 3.10: a SpooledTemporaryFile that seeks but has
    no seekable() (added in 3.11)."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._buffer.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


def test_stream_size_needs_no_seekable_method() -> None:
    from redflask.services.files import _stream_size

    stream = _SeeksWithoutSeekable(b"twelve bytes")
    same, size = _stream_size(stream)
    assert same is stream
    assert size == 12
    assert same.read() == b"twelve bytes"
