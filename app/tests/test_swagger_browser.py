"""Swagger UI still works under the app's Content-Security-Policy, in a real browser.

The policy of the documentation pages allows exactly the hashes of their inline code
(redflask.utils.security_headers); test_meta checks those hashes against the page. This
test asks the browser: headless Chromium (installed by scripts/ensure-chromium.sh, which
`make test` runs) loads /api/v1/swagger from the app served over real HTTP, runs its
scripts, fetches the OpenAPI document and renders it. The rendered page must list the
API's operations, and Chromium must report no Content-Security-Policy violation.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from redflask.app import RedFlask

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def serve() -> Iterator:
    """serve(wsgi_app) -> its base URL over real HTTP on 127.0.0.1."""
    servers = []

    def start(wsgi_app) -> str:
        server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def render(url: str, tmp_path) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.fail("no chromium on PATH: run scripts/ensure-chromium.sh (make test does)")
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # root in a container; the page is our own
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_swagger_ui_renders_the_api_under_its_policy(serve, app: RedFlask, tmp_path) -> None:
    result = render(serve(app) + "/api/v1/swagger", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    # Rendered by Swagger UI's scripts from the fetched document, not in the served HTML.
    assert 'class="opblock-summary-path"' in dom, dom[-2000:]
    for path in ("/api/v1/auth/login", "/api/v1/files", "/api/v1/users/{user_id}/password"):
        assert f'data-path="{path}"' in dom, path
    assert "Content Security Policy" not in result.stderr, result.stderr[-4000:]


def test_the_check_sees_a_blocked_script(serve, app: RedFlask, tmp_path) -> None:
    """The same browser run flags a violation when the policy does not allow the page's
    inline code (the app's pages behind a stricter policy): the check above can fail."""

    def stricter(environ, start_response):
        def replace(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != "content-security-policy"]
            headers.append(("Content-Security-Policy", "default-src 'self'"))
            return start_response(status, headers, exc_info)

        return app(environ, replace)

    result = render(serve(stricter) + "/api/v1/swagger", tmp_path)
    assert "Content Security Policy" in result.stderr
    assert 'class="opblock-summary-path"' not in result.stdout
