"""The gunicorn config the flask_app role deploys (its configm.py.j2, rendered with the
role's defaults by the controller's Ansible): config checks, the effective settings of
each worker model, and a real gevent worker serving concurrently."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import USER_PASSWORD, add_user
from tests.gunicorn_config import render

APP_DIR = Path(__file__).resolve().parent.parent
GUNICORN = [sys.executable, "-m", "gunicorn"]
WSGI_APP = "redflask.wsgi:app"

# Role variables over the role's defaults, one rendered file each.
VARIANTS = {
    "defaults": {},
    "gthread": {"flask_app_gunicorn_worker_class": "gthread"},
    "sync": {"flask_app_gunicorn_worker_class": "sync"},
    "tuned": {
        "flask_app_name": "tuned",
        "flask_app_gunicorn_worker_class": "gthread",
        "flask_app_gunicorn_workers": 3,
        "flask_app_gunicorn_worker_connections": 321,
        "flask_app_gunicorn_threads": 7,
        "flask_app_gunicorn_port": 9911,
        "flask_app_gunicorn_backlog": 99,
        "flask_app_gunicorn_timeout": 41,
        "flask_app_gunicorn_graceful_timeout": 17,
        "flask_app_gunicorn_keepalive": 65,
        "flask_app_gunicorn_max_requests": 1234,
        "flask_app_gunicorn_max_requests_jitter": 56,
        "flask_app_gunicorn_preload_app": False,
        "flask_app_gunicorn_access_log": True,
        "flask_app_gunicorn_forwarded_allow_ips": ["10.0.0.5", "10.0.0.6"],
    },
    "gevent_access_log": {"flask_app_gunicorn_access_log": True},
}


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> dict[str, Path]:
    return render(VARIANTS, tmp_path_factory.mktemp("configm"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def production_env(app_env, migrated, tmp_path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("APP_", "GUNICORN_"))},
        **app_env,
        "APP_ENV": "production",
        "APP_SECRET_KEY": secrets.token_urlsafe(48),
        "APP_UPLOAD_DIR": str(tmp_path / "uploads"),
        "APP_RELEASE_ID": "smoke-release",
    }


def _gunicorn(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*GUNICORN, *args, "-c", str(config), WSGI_APP],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _effective(config: Path, env: dict[str, str]) -> dict[str, str]:
    """gunicorn's own view of the settings (--print-config), name -> printed value."""
    result = _gunicorn(config, env, "--print-config")
    assert result.returncode == 0, result.stderr
    return {
        name.strip(): value.strip()
        for name, sep, value in (line.partition("=") for line in result.stdout.splitlines())
        if sep
    }


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_config_passes_check_config(rendered, production_env, variant) -> None:
    # --check-config loads the file and imports the app, as the role does before a release
    # goes live.
    result = _gunicorn(rendered[variant], production_env, "--check-config")
    assert result.returncode == 0, result.stderr


def test_the_defaults_run_gevent_workers_sized_from_the_cpus(rendered, production_env) -> None:
    shown = _effective(rendered["defaults"], production_env)
    assert shown["worker_class"] == "gevent"
    assert shown["threads"] == "1"
    # Worked out when gunicorn starts: 2 x the CPUs it may run on + 1, at most 12.
    assert shown["workers"] == str(min(2 * len(os.sched_getaffinity(0)) + 1, 12))
    assert shown["worker_connections"] == "1000"
    assert shown["bind"] == "['127.0.0.1:8000']"
    assert shown["preload_app"] == "True"
    assert shown["proc_name"] == "redflask"
    assert shown["pidfile"].endswith("/shared/run/gunicorn.pid")
    assert shown["accesslog"] == "None"  # the app and nginx already log each request
    assert shown["errorlog"] == "-"
    assert shown["control_socket_disable"] == "True"
    assert shown["forwarded_allow_ips"] == "['127.0.0.1']"
    assert "worker_exit" in shown["worker_exit"]


@pytest.mark.parametrize(("variant", "threads"), [("sync", "1"), ("gthread", "4")])
def test_sync_workers_are_not_silently_threaded(rendered, production_env, variant, threads) -> None:
    # gunicorn turns a sync worker with threads > 1 into gthread; flask_app_gunicorn_threads
    # (4 by default) applies to gthread only.
    shown = _effective(rendered[variant], production_env)
    assert shown["worker_class"] == variant
    assert shown["threads"] == threads


def test_every_role_setting_reaches_gunicorn(rendered, production_env) -> None:
    shown = _effective(rendered["tuned"], production_env)
    expected = {
        "worker_class": "gthread",
        "workers": "3",
        "worker_connections": "321",
        "threads": "7",
        "bind": "['127.0.0.1:9911']",
        "backlog": "99",
        "timeout": "41",
        "graceful_timeout": "17",
        "keepalive": "65",
        "max_requests": "1234",
        "max_requests_jitter": "56",
        "preload_app": "False",
        "proc_name": "tuned",
        "accesslog": "-",
        "forwarded_allow_ips": "['10.0.0.5', '10.0.0.6']",
    }
    assert {name: shown[name] for name in expected} == expected
    assert "rid=%({x-request-id}o)s" in shown["access_log_format"]


def _get(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url)  # noqa: S310 - loopback only
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
        request.data = json.dumps(body).encode()
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, dict(response.headers), json.loads(response.read())


def _assert_background_work_runs_under_gevent(base: str) -> None:
    status, _, body = _get(
        f"{base}/api/v1/auth/login", body={"username": "smoke", "password": USER_PASSWORD}
    )
    assert status == 200
    token = body["access_token"]
    deadline = time.monotonic() + 10
    while _get(f"{base}/api/v1/auth/me", token)[2]["last_login_at"] is None:
        assert time.monotonic() < deadline, "last-login was never recorded by the executor"
        time.sleep(0.1)


def _wait_until_up(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited early:\n{log.read_text()}")
        try:
            if _get(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not come up:\n{log.read_text()}")


def test_gevent_worker_serves_waiting_requests_concurrently(
    rendered, production_env, make_app, tmp_path
) -> None:
    add_user(make_app(), "smoke", USER_PASSWORD)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    env = {**production_env, "PYTHONPATH": str(APP_DIR)}
    # The deployed gevent config (preloaded, access log on); the command line sets the port
    # and one process, so any concurrency comes from greenlets.
    command = [*GUNICORN, "-c", str(rendered["gevent_access_log"])]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "tests.smoke_wsgi:app"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=APP_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(base, process, log)
        status, _, greeting = _get(f"{base}/")
        assert status == 200 and greeting["release_id"] == "smoke-release"

        requests = 50
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=requests) as pool:
            results = list(pool.map(lambda _: _get(f"{base}/_smoke/wait"), range(requests)))
        elapsed = time.monotonic() - started

        assert [status for status, _, _ in results] == [200] * requests
        assert all(body == {"waited": True} for _, _, body in results)
        assert len({headers["X-Request-ID"] for _, headers, _ in results}) == requests
        # Serialised, 50 waits of 0.5 s take 25 s; a gevent worker overlaps them.
        assert elapsed < 6, f"{requests} requests took {elapsed:.1f}s: not concurrent"
        assert _get(f"{base}/readyz")[0] == 200
        _assert_background_work_runs_under_gevent(base)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    output = log.read_text()
    # The access log line carries the response time and the request id.
    assert "/_smoke/wait" in output and "rid=" in output and "us rid=" in output
    assert "Traceback" not in output and "MonkeyPatchWarning" not in output
