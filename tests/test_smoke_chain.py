"""The request chain (playbooks/tasks/smoke_chain.yml) says why a login failed, and only that.

The login tasks run with no_log (they carry the password), so without the assert after
them a failed login showed only "output has been hidden". Here the chain runs with the
controller's Ansible against a small HTTP server on 127.0.0.1 that is ready but refuses
the admin's login (the app's answers, not a stand-in for a daemon: the chain's own
reporting is what is tested); the run must stop at the login and say why, without the
password.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import local_playbook
import pytest

CHAIN = local_playbook.REPO / "playbooks" / "tasks" / "smoke_chain.yml"
PASSWORD = "Sm0ke-secret-never-printed"  # noqa: S105 - the test's own value


def serve(login_status: int, login_headers: dict[str, str], login_code: str):
    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, payload: dict, headers: dict[str, str]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path == "/readyz":
                return self.answer(200, {"status": "ready"}, {})
            return self.answer(200, {"name": "redflask", "version": "1", "release_id": "x"}, {})

        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            error = {
                "status": login_status,
                "code": login_code,
                "message": "no",
                "request_id": "r1",
            }
            return self.answer(login_status, {"error": error}, login_headers)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_chain(tmp_path, server) -> str:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    playbook = [
        {
            "name": "An app host for the chain's inputs",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "ansible.builtin.add_host": {
                        "name": "app-for-the-chain",
                        "groups": "app",
                        "flask_app_admin_username": "admin",
                        "vault_admin_password": PASSWORD,
                    }
                }
            ],
        },
        {
            "name": "The chain",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"smoke_url": url},
            "tasks": [{"ansible.builtin.include_tasks": str(CHAIN)}],
        },
    ]
    result = local_playbook.run(playbook, tmp_path, "smoke_chain", timeout=120)
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    ("status", "headers", "code", "expected"),
    [
        (429, {"Retry-After": "17"}, "too_many_requests", "rate-limited, retry after 17 s"),
        (401, {}, "unauthorized", "login refused: HTTP 401 unauthorized"),
    ],
)
def test_a_failed_login_says_why_without_the_password(tmp_path, status, headers, code, expected):
    server = serve(status, headers, code)
    try:
        output = run_chain(tmp_path, server)
    finally:
        server.shutdown()
    assert "Assert the login as the admin succeeded" in output
    assert expected in output
    assert PASSWORD not in output
    assert "Create a user as the admin" not in output
