"""gunicorn with configm.py: config checks, and a real gevent worker serving concurrently."""

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

APP_DIR = Path(__file__).resolve().parent.parent
GUNICORN = [sys.executable, "-m", "gunicorn"]


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


@pytest.mark.parametrize("worker_class", ["gevent", "gthread", "sync"])
def test_check_config_passes(production_env, worker_class) -> None:
    env = {**production_env, "GUNICORN_WORKER_CLASS": worker_class}
    result = subprocess.run(
        [*GUNICORN, "--check-config", "-c", "configm.py", "redflask.wsgi:app"],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GUNICORN_WORKERS", "many"),
        ("GUNICORN_WORKER_CLASS", "meinheld"),
        ("GUNICORN_PRELOAD_APP", "perhaps"),
    ],
)
def test_bad_gunicorn_variables_are_named(production_env, variable, value) -> None:
    result = subprocess.run(
        [*GUNICORN, "--check-config", "-c", "configm.py", "redflask.wsgi:app"],
        cwd=APP_DIR,
        env={**production_env, variable: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert variable in result.stdout + result.stderr


def test_every_setting_is_overridable_from_the_environment(production_env) -> None:
    overrides = {
        "GUNICORN_BIND": "127.0.0.1:9911",
        "GUNICORN_WORKERS": "3",
        "GUNICORN_WORKER_CLASS": "gthread",
        "GUNICORN_WORKER_CONNECTIONS": "321",
        "GUNICORN_THREADS": "7",
        "GUNICORN_BACKLOG": "99",
        "GUNICORN_TIMEOUT": "41",
        "GUNICORN_GRACEFUL_TIMEOUT": "17",
        "GUNICORN_KEEPALIVE": "65",
        "GUNICORN_MAX_REQUESTS": "1234",
        "GUNICORN_MAX_REQUESTS_JITTER": "56",
        "GUNICORN_PRELOAD_APP": "false",
        "GUNICORN_PROC_NAME": "redflask-test",
        "GUNICORN_PIDFILE": "/tmp/redflask-test.pid",
        "GUNICORN_LOGLEVEL": "warning",
        "GUNICORN_ACCESSLOG": "/tmp/redflask-access.log",
        "GUNICORN_ERRORLOG": "/tmp/redflask-error.log",
        "GUNICORN_ACCESS_LOG_FORMAT": "%(h)s %(D)s",
        "GUNICORN_FORWARDED_ALLOW_IPS": "10.0.0.5",
    }
    result = subprocess.run(
        [*GUNICORN, "--print-config", "-c", "configm.py", "redflask.wsgi:app"],
        cwd=APP_DIR,
        env={**production_env, **overrides},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            printed[name.strip()] = value.strip()
    for variable, value in overrides.items():
        setting = variable.removeprefix("GUNICORN_").lower()
        shown = printed[setting]
        if setting == "preload_app":
            assert shown == "False"
        elif setting == "bind":
            assert shown == "['127.0.0.1:9911']"
        elif setting == "forwarded_allow_ips":
            assert shown == "['10.0.0.5']"
        else:
            assert shown == value, setting


@pytest.mark.parametrize(("worker_class", "threads"), [("sync", "1"), ("gthread", "4")])
def test_sync_workers_are_not_silently_threaded(production_env, worker_class, threads) -> None:
    # gunicorn turns sync into gthread when threads > 1; the default keeps sync really sync.
    result = subprocess.run(
        [*GUNICORN, "--print-config", "-c", "configm.py", "redflask.wsgi:app"],
        cwd=APP_DIR,
        env={**production_env, "GUNICORN_WORKER_CLASS": worker_class},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    shown = {
        name.strip(): value.strip()
        for name, sep, value in (line.partition("=") for line in result.stdout.splitlines())
        if sep
    }
    assert shown["threads"] == threads
    assert shown["worker_class"] == worker_class


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
    production_env, make_app, tmp_path
) -> None:
    add_user(make_app(), "smoke", USER_PASSWORD)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    env = {
        **production_env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",  # one process: any concurrency comes from greenlets
        "GUNICORN_WORKER_CLASS": "gevent",
        "GUNICORN_PRELOAD_APP": "true",
        "PYTHONPATH": str(APP_DIR),
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [*GUNICORN, "-c", "configm.py", "tests.smoke_wsgi:app"],
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
