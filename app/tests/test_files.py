"""Uploads: limits, names, overwrite rules and every path-traversal spelling."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.conftest import assert_error

FILES = "/api/v1/files"


def _upload(client, name: str, data: bytes = b"hello", query: str = ""):
    return client.post(
        f"{FILES}{query}",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


@pytest.fixture
def upload_dir(app) -> Path:
    directory = app.extensions["redflask.settings"].upload_dir
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_upload_list_download_delete(admin_client, upload_dir) -> None:
    created = _upload(admin_client, "report.txt", b"quarterly numbers")
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "report.txt" and body["size"] == 17
    assert body["modified_at"].endswith("Z")
    assert created.headers["Location"].endswith("/api/v1/files/report.txt")
    assert (upload_dir / "report.txt").read_bytes() == b"quarterly numbers"

    listed = admin_client.get(FILES).get_json()["items"]
    assert [item["name"] for item in listed] == ["report.txt"]

    with admin_client.get(f"{FILES}/report.txt") as download:
        assert download.status_code == 200
        assert download.get_data() == b"quarterly numbers"
        assert download.mimetype == "application/octet-stream"
        assert download.headers["Content-Disposition"] == "attachment; filename=report.txt"

    assert admin_client.delete(f"{FILES}/report.txt").status_code == 204
    assert not (upload_dir / "report.txt").exists()
    assert_error(admin_client.get(f"{FILES}/report.txt"), 404, "not_found")


def test_regular_users_upload_and_download_but_cannot_delete(user_client) -> None:
    assert _upload(user_client, "notes.csv").status_code == 201
    with user_client.get(f"{FILES}/notes.csv") as download:
        assert download.status_code == 200
    assert_error(user_client.delete(f"{FILES}/notes.csv"), 403, "forbidden")


@pytest.mark.parametrize(
    ("method", "path"), [("get", FILES), ("post", FILES), ("get", f"{FILES}/a.txt")]
)
def test_files_need_a_token(client, method, path) -> None:
    assert_error(getattr(client, method)(path), 401)


def test_existing_file_is_not_overwritten_unless_asked(admin_client, upload_dir) -> None:
    assert _upload(admin_client, "data.json", b"{}").status_code == 201
    assert_error(_upload(admin_client, "data.json", b"[1]"), 409, "file_exists")
    assert (upload_dir / "data.json").read_bytes() == b"{}"
    replaced = _upload(admin_client, "data.json", b"[1]", query="?overwrite=true")
    assert replaced.status_code == 201
    assert (upload_dir / "data.json").read_bytes() == b"[1]"
    # No temporary files are left behind by either path.
    assert sorted(p.name for p in upload_dir.iterdir()) == ["data.json"]


@pytest.mark.parametrize("name", ["run.sh", "page.html", "noextension", "archive.tar.gz.exe"])
def test_disallowed_extensions_are_415(admin_client, upload_dir, name) -> None:
    assert_error(_upload(admin_client, name), 415, "extension_not_allowed")
    assert list(upload_dir.iterdir()) == []


def test_oversized_upload_is_413_in_the_error_shape(make_app, admin_id) -> None:
    from tests.conftest import ADMIN_PASSWORD, login

    app = make_app(max_upload_mb=1)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + login(client, "admin", ADMIN_PASSWORD)
    # Built by hand: werkzeug's test client spools big multipart bodies to a temporary file
    # it never closes, which filterwarnings=error would report as a leak of ours.
    boundary = "redflask-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + b"x" * (1024 * 1024 + 10)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post(
        FILES, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
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
def test_uploaded_names_are_made_safe(admin_client, upload_dir, client_name, stored_as):
    response = _upload(admin_client, client_name)
    assert response.status_code == 201
    assert response.get_json()["name"] == stored_as
    assert [p.name for p in upload_dir.iterdir()] == [stored_as]


@pytest.mark.parametrize("client_name", ["..", "../", "\x00.txt", "...", "/"])
def test_unusable_upload_names_are_rejected(admin_client, upload_dir, client_name) -> None:
    response = _upload(admin_client, client_name)
    assert response.status_code in (400, 415)
    assert_error(response, response.status_code)
    assert list(upload_dir.iterdir()) == []


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
def test_traversal_is_refused(admin_client, upload_dir, tmp_path, name, method) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    with getattr(admin_client, method)(f"{FILES}/{name}") as response:
        assert response.status_code in (400, 404), name
        assert_error(response, response.status_code)
        assert b"top secret" not in response.get_data()
    assert secret.read_text() == "top secret"


def test_symlink_out_of_the_upload_dir_is_refused(admin_client, upload_dir, tmp_path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("top secret")
    os.symlink(secret, upload_dir / "link.txt")
    with admin_client.get(f"{FILES}/link.txt") as response:
        assert_error(response, 400, "invalid_filename")
    assert_error(admin_client.delete(f"{FILES}/link.txt"), 400)
    assert secret.exists()


def test_listing_skips_directories_hidden_files_and_symlinks(
    admin_client, upload_dir, tmp_path
) -> None:
    (upload_dir / "sub").mkdir()
    (upload_dir / ".upload-partial").write_text("x")
    (tmp_path / "outside.txt").write_text("x")
    os.symlink(tmp_path / "outside.txt", upload_dir / "link.txt")
    _upload(admin_client, "b.txt")
    _upload(admin_client, "a.txt")
    names = [item["name"] for item in admin_client.get(FILES).get_json()["items"]]
    assert names == ["a.txt", "b.txt"]
