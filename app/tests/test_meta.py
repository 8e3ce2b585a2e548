"""Greeting, liveness, readiness, request ids, CORS and the API document."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from redflask import __version__
from tests.conftest import assert_error

# The version the package's metadata carries (the app is installed, as in a release).
VERSION = re.search(
    r'^version = "([^"]+)"$', (Path(__file__).parents[1] / "pyproject.toml").read_text(), re.M
).group(1)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_greeting_reports_version_and_release(make_app) -> None:
    body = make_app(release_id="20261125-0100").test_client().get("/").get_json()
    assert body["version"] == __version__ == VERSION
    assert body["release_id"] == "20261125-0100"
    assert body["name"] == "redflask"


def test_greeting_without_release_id(client) -> None:
    assert client.get("/").get_json()["release_id"] is None


def test_liveness(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readiness_ok(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_readiness_names_redis_when_it_is_down(make_app) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    error = assert_error(app.test_client().get("/readyz"), 503, "not_ready")
    assert error["details"]["checks"] == {"database": "ok", "redis": "unavailable"}
    assert "redis" in error["message"]


def test_readiness_names_the_database_when_it_is_down(make_app) -> None:
    app = make_app(database_url=f"mysql+pymysql://root@127.0.0.1:{_closed_port()}/x")
    error = assert_error(app.test_client().get("/readyz"), 503, "not_ready")
    assert error["details"]["checks"] == {"database": "unavailable", "redis": "ok"}


def test_liveness_does_not_touch_dependencies(make_app) -> None:
    port = _closed_port()
    app = make_app(
        redis_url=f"redis://127.0.0.1:{port}/0",
        database_url=f"mysql+pymysql://root@127.0.0.1:{port}/x",
    )
    assert app.test_client().get("/healthz").status_code == 200


def test_sane_incoming_request_id_is_echoed(client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "nginx-7f3a9c2e-1"})
    assert response.headers["X-Request-ID"] == "nginx-7f3a9c2e-1"


@pytest.mark.parametrize(
    "incoming", ["short", "x" * 200, "bad id with spaces", "inject\\nline", "<script>xx</script>"]
)
def test_insane_request_id_is_replaced(client, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    generated = response.headers["X-Request-ID"]
    assert generated != incoming
    assert len(generated) == 32 and generated.isalnum()


def test_request_ids_differ_per_request(client) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    assert client.get("/healthz").headers["X-Request-ID"] != first


def test_unknown_route_uses_the_error_shape(client) -> None:
    assert_error(client.get("/no/such/thing"), 404, "not_found")


def test_wrong_method_keeps_allow_header(client) -> None:
    response = client.delete("/healthz")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_cors_is_closed_by_default(client) -> None:
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_configured_origin_with_credentials(make_app) -> None:
    client = make_app(cors_origins=("https://ui.example",)).test_client()
    allowed = client.options(
        "/api/v1/auth/me",
        headers={
            "Origin": "https://ui.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_openapi_document_describes_the_api(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["version"] == VERSION
    for path in (
        "/",
        "/healthz",
        "/readyz",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/users/{user_id}/password",
        "/api/v1/files",
        "/api/v1/files/{name}",
    ):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_interactive_docs_are_served_without_a_cdn(client) -> None:
    page = client.get("/api/v1/swagger")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "swagger-ui-bundle.js" in html
    assert "https://" not in html.split("<script>")[0]
    with client.get("/api/v1/swagger/js/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200
        assert len(asset.get_data()) > 100_000
