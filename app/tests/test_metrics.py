"""Prometheus metrics (redflask.utils.metrics): off by default; counters by route template,
status and method, latency, in-flight requests, dependency errors and the release; and,
under real gunicorn with two workers, the same sums whichever worker answers the scrape."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import USER_PASSWORD, add_user
from tests.test_gunicorn import (  # noqa: F401 (the fixtures rendered, production_env)
    APP_DIR,
    GUNICORN,
    _free_port,
    _wait_until_up,
    production_env,
    rendered,
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(autouse=True)
def _single_process(monkeypatch):
    # These tests' own process is no gunicorn worker: its values are its own.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


def test_metrics_are_off_unless_enabled(client):
    assert client.get("/metrics").status_code == 404


def test_requests_are_counted_by_route_template_status_and_method(make_app):
    app = make_app(APP_METRICS_ENABLED="true", APP_RELEASE_ID="r-metrics")
    add_user(app, "metrics", USER_PASSWORD)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/").status_code == 200
    login = client.post(
        "/api/v1/auth/login", json={"username": "metrics", "password": USER_PASSWORD}
    )
    token = login.get_json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    user_id = me.get_json()["id"]
    auth = {"Authorization": f"Bearer {token}"}
    # Not an admin: other accounts are forbidden; without a token the auth hook refuses.
    assert client.get(f"/api/v1/users/{user_id + 1000}", headers=auth).status_code == 403
    assert client.get(f"/api/v1/users/{user_id}").status_code == 401
    assert client.get("/no/such/path").status_code == 404

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    scrape = samples(response.get_data(as_text=True))
    total = "redflask_http_requests_total"
    assert value(scrape, total, method="GET", route="/", status="200") == 3
    assert value(scrape, total, method="POST", route="/api/v1/auth/login", status="200") == 1
    users = "/api/v1/users/<int:user_id>"
    assert value(scrape, total, method="GET", route=users, status="403") == 1
    assert value(scrape, total, method="GET", route=users, status="401") == 1
    assert value(scrape, total, method="GET", route="/api/v1/auth/me", status="200") == 1
    assert value(scrape, total, method="GET", route="<unmatched>", status="404") == 1
    # No series per id, and the scrape does not count itself.
    labels = [dict(key[1]) for key in scrape if key[0] == total]
    assert not any(re.search(r"/\d+(/|$)", label["route"]) for label in labels), labels
    assert not any(label["route"] == "/metrics" for label in labels)
    duration = "redflask_http_request_duration_seconds"
    assert value(scrape, f"{duration}_count", method="GET", route="/") == 3
    assert value(scrape, f"{duration}_bucket", method="GET", route="/", le="+Inf") == 3
    assert value(scrape, f"{duration}_sum", method="GET", route="/") > 0
    assert value(scrape, "redflask_http_requests_in_flight") == 0
    from redflask import __version__

    info = "redflask_release_info"
    assert value(scrape, info, release="r-metrics", version=__version__) == 1

    # Counters move with more requests.
    client.get("/")
    again = samples(client.get("/metrics").get_data(as_text=True))
    assert value(again, total, method="GET", route="/", status="200") == 4


def test_only_the_allowed_networks_read_the_metrics(make_app):
    app = make_app(APP_METRICS_ENABLED="true", APP_METRICS_ALLOW="10.9.0.0/16, 192.0.2.7")
    client = app.test_client()
    # The test client's own address (127.0.0.1) is no longer in the list.
    refused = client.get("/metrics")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert "redflask_" not in refused.get_data(as_text=True)
    for address, status in (("10.9.3.4", 200), ("192.0.2.7", 200), ("192.0.2.8", 403)):
        # nginx's X-Forwarded-For names the client (one proxy hop is trusted).
        response = client.get("/metrics", headers={"X-Forwarded-For": address})
        assert response.status_code == status, address
    # A spoofed hop in front of the real client does not help.
    spoofed = client.get("/metrics", headers={"X-Forwarded-For": "10.9.3.4, 192.0.2.8"})
    assert spoofed.status_code == 403


def test_a_bad_allow_list_is_refused_naming_the_variable(make_app):
    from redflask.config import ConfigError

    with pytest.raises(ConfigError, match="APP_METRICS_ALLOW"):
        make_app(APP_METRICS_ENABLED="true", APP_METRICS_ALLOW="10.0.0.0/33")


def test_dependency_errors_are_counted(make_app):
    # Nothing listens on port 1: the readiness check's Redis ping fails.
    app = make_app(APP_METRICS_ENABLED="true", APP_REDIS_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    assert client.get("/readyz").status_code == 503
    scrape = samples(client.get("/metrics").get_data(as_text=True))
    assert value(scrape, "redflask_dependency_errors_total", dependency="redis") == 2
    assert value(scrape, "redflask_dependency_errors_total", dependency="mysql") == 0
    total = "redflask_http_requests_total"
    assert value(scrape, total, method="GET", route="/readyz", status="503") == 2


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def test_gunicorn_workers_add_up(rendered, production_env, tmp_path):  # noqa: F811 (fixtures)
    """Two gevent workers (the deployed config, the app preloaded in the master): every
    scrape, whichever worker answers it, reports all the requests; a worker that exits
    leaves its counts in the sums. (The role's bin/run-gunicorn makes and empties the
    directory before gunicorn starts, as here.)"""
    directory = tmp_path / "metrics"
    directory.mkdir()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **production_env,
        "PYTHONPATH": str(APP_DIR),
        "APP_METRICS_ENABLED": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    log = tmp_path / "gunicorn.log"
    command = [*GUNICORN, "-c", str(rendered["defaults"])]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "2", "redflask.wsgi:app"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=APP_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    total = "redflask_http_requests_total"
    try:
        _wait_until_up(base, process, log)
        # Batches of 20 at once, each on a new connection, until both workers have
        # answered some (each worker writes its own files, named by its pid).
        sent, writers = 0, set()
        with ThreadPoolExecutor(max_workers=20) as pool:
            while len(writers) < 2:
                assert sent < 400, f"one worker answered all {sent} requests: {writers}"
                statuses = list(pool.map(lambda _: _get(f"{base}/")[0], range(20)))
                assert statuses == [200] * 20
                sent += 20
                writers = {name.rsplit("_", 1)[1] for name in os.listdir(directory)}
        for _ in range(6):
            status, text = _get(f"{base}/metrics")
            assert status == 200
            scrape = samples(text)
            assert value(scrape, total, method="GET", route="/", status="200") == sent
            assert value(scrape, "redflask_http_requests_in_flight") == 0
            assert value(scrape, "redflask_release_info", release="smoke-release",
                         version=_version()) == 1  # fmt: skip
        # A worker that exits: gunicorn starts another; its counts stay in the sums.
        before = _worker_pids(process.pid)
        os.kill(sorted(before)[0], signal.SIGTERM)
        deadline = time.monotonic() + 20
        while len(_worker_pids(process.pid) - before) < 1 or len(_worker_pids(process.pid)) < 2:
            assert time.monotonic() < deadline, "gunicorn did not replace the worker"
            time.sleep(0.2)
        _wait_until_up(base, process, log)
        for _ in range(4):
            scrape = samples(_get(f"{base}/metrics")[1])
            assert value(scrape, total, method="GET", route="/", status="200") == sent
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert "Traceback" not in log.read_text()


def _version() -> str:
    from redflask import __version__

    return __version__
