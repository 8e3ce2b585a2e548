"""Self-test of scripts/loadgen.py against a small in-process HTTP/1.1 stub of redflask.

The stub (http.server.ThreadingHTTPServer, keep-alive) implements the endpoints the
load generator uses; loadgen itself runs as a subprocess, exactly as it is used for
the rolling-update proof.  Run with:

    .venv-app/bin/pytest scripts/tests -q -p no:cacheprovider --no-cov -o addopts=""
"""

# ruff: noqa: S101  (pytest asserts)

from __future__ import annotations

import csv
import email.parser
import email.policy
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

LOADGEN = Path(__file__).resolve().parents[1] / "loadgen.py"
ADMIN_PASSWORD = "stub-admin-pw"  # noqa: S105  (test stub credential)
OLD_RELEASE = "c7de68a7bd18"
NEW_RELEASE = "0123456789ab"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,50}$")
PASSWORD_RE = re.compile(r"^[A-Za-z0-9]{20}$")
FILENAME_RE = re.compile(r"^load-(\d+)\.txt$")


def load_module():
    spec = importlib.util.spec_from_file_location("loadgen", LOADGEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadgen"] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


loadgen = load_module()


# --------------------------------------------------------------------------- stub server


class Stub:
    """Shared state of the stub server; the test flips its switches mid-run."""

    def __init__(self, expires_in: int = 3600):
        self.lock = threading.Lock()
        self.expires_in = expires_in
        self.release = OLD_RELEASE
        self.fail_503 = False  # every endpoint but login answers 503
        self.silent_close = False  # close after each answer without saying so
        self.drop_posts = False  # read each POST (but the login) and close without answering
        self.delays: dict[str, float] = {}  # path -> seconds to sleep before answering
        self.tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.logins = 0
        self.seq = 0
        self.sent_503 = 0
        self.arrivals: list[tuple[float, str, str]] = []  # (monotonic, method, path)
        self.users: list[dict] = []
        self.uploads: list[dict] = []
        self.problems: list[str] = []  # malformed requests seen by the stub

    def next_id(self) -> str:
        with self.lock:
            self.seq += 1
            return f"stub-{self.seq}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: StubServer

    def log_message(self, format, *args):  # noqa: A002 - keep the test output quiet
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def answer(self, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", self.server.stub.next_id())
        self.end_headers()
        self.wfile.write(body)
        if self.server.stub.silent_close:
            self.close_connection = True  # no "Connection: close" header: a stale keep-alive

    def authorized(self) -> bool:
        stub = self.server.stub
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        with stub.lock:
            expiry = stub.tokens.get(token)
        return header.startswith("Bearer ") and expiry is not None and expiry > time.monotonic()

    def dispatch(self, method: str) -> None:
        stub = self.server.stub
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        with stub.lock:
            stub.arrivals.append((time.monotonic(), method, path))
            delay = stub.delays.get(path, stub.delays.get("*", 0.0))
        if delay:
            time.sleep(delay)
        if (method, path) == ("POST", "/api/v1/auth/login"):
            return self.login(body)
        if method == "POST" and stub.drop_posts:
            self.close_connection = True
            return None
        if stub.fail_503:
            with stub.lock:
                stub.sent_503 += 1
            return self.answer(503, {"error": {"code": "unavailable"}})
        if (method, path) == ("GET", "/"):
            return self.answer(
                200, {"message": "hi", "version": "1.0.0", "release_id": stub.release}
            )
        if (method, path) == ("GET", "/readyz"):
            return self.answer(200, {"status": "ready"})
        if not self.authorized():
            return self.answer(401, {"error": {"code": "unauthorized"}})
        if (method, path) == ("GET", "/api/v1/auth/me"):
            return self.answer(200, {"username": "admin", "role": "admin"})
        if (method, path) == ("GET", "/api/v1/users"):
            return self.answer(200, {"items": []})
        if (method, path) == ("POST", "/api/v1/users"):
            return self.create_user(body)
        if (method, path) == ("POST", "/api/v1/files"):
            return self.upload(body, query)
        return self.answer(404, {"error": {"code": "not_found"}})

    def login(self, body: bytes) -> None:
        stub = self.server.stub
        creds = json.loads(body or b"{}")
        if creds != {"username": "admin", "password": ADMIN_PASSWORD}:
            return self.answer(401, {"error": {"code": "bad_credentials"}})
        token = os.urandom(12).hex()
        with stub.lock:
            stub.logins += 1
            stub.tokens[token] = time.monotonic() + stub.expires_in
        self.answer(200, {"access_token": token, "expires_in": stub.expires_in, "user": {}})

    def create_user(self, body: bytes) -> None:
        stub = self.server.stub
        data = json.loads(body)
        ok = (
            set(data) == {"username", "password", "nickname", "role"}
            and USERNAME_RE.match(data["username"])
            and PASSWORD_RE.match(data["password"])
            and data["nickname"] == "load"
            and data["role"] == "user"
        )
        with stub.lock:
            if not ok or any(u["username"] == data.get("username") for u in stub.users):
                stub.problems.append(f"bad user body {data!r}")
                ok = False
            else:
                stub.users.append(data)
        if not ok:
            return self.answer(400, {"error": {"code": "validation"}})
        self.answer(201, {"id": len(stub.users), "username": data["username"]})

    def upload(self, body: bytes, query: str) -> None:
        stub = self.server.stub
        ctype = self.headers.get("Content-Type", "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
        )
        parts = list(message.iter_parts()) if message.is_multipart() else []
        if not ctype.startswith("multipart/form-data; boundary=") or len(parts) != 1:
            with stub.lock:
                stub.problems.append(f"bad multipart {ctype!r}")
            return self.answer(400, {"error": {"code": "validation"}})
        part = parts[0]
        record = {
            "field": part.get_param("name", header="content-disposition"),
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "content": part.get_payload(decode=True),
            "query": query,
        }
        with stub.lock:
            stub.uploads.append(record)
        self.answer(201, {"name": record["filename"]})


class StubServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # loadgen's workers all connect at once at the start

    def __init__(self, stub: Stub):
        super().__init__(("127.0.0.1", 0), Handler)
        self.stub = stub

    def handle_error(self, request, client_address):
        # A client that exits with an answer unread resets the connection; expected
        # when loadgen abandons in-flight requests, so not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def server(request):
    stub = Stub(**getattr(request, "param", {}))
    httpd = StubServer(stub)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    stub.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield stub
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


# --------------------------------------------------------------------------- helpers


def loadgen_cmd(stub: Stub, tmp_path: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(LOADGEN),
        "--url",
        stub.url,
        "--admin-user",
        "admin",
        "--output",
        str(tmp_path / "result.json"),
        *extra,
    ]


def env_with_password(password: str = ADMIN_PASSWORD) -> dict[str, str]:
    return {**os.environ, "LOADGEN_ADMIN_PASSWORD": password}


def run_loadgen(stub: Stub, tmp_path: Path, *extra: str, password: str = ADMIN_PASSWORD):
    proc = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        loadgen_cmd(stub, tmp_path, *extra),
        env=env_with_password(password),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc, read_result(tmp_path)


def start_loadgen(stub: Stub, tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        loadgen_cmd(stub, tmp_path, *extra),
        env=env_with_password(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_result(tmp_path: Path) -> dict | None:
    path = tmp_path / "result.json"
    return json.loads(path.read_text()) if path.exists() else None


def wait_for_file(path: Path, proc: subprocess.Popen, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert proc.poll() is None, f"loadgen exited early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.01)


def load_arrivals(stub: Stub) -> list[float]:
    with stub.lock:
        return [t for t, _m, path in stub.arrivals if path != "/api/v1/auth/login"]


# --------------------------------------------------------------------------- unit tests


def test_mix_cycle_is_exact_per_cycle_and_evenly_spread():
    mix = loadgen.parse_mix("read=70,me=10,write=10,upload=10")
    cycle = loadgen.mix_cycle(mix)
    assert len(cycle) == 10  # weights reduced by their gcd
    assert {k: cycle.count(k) for k in mix} == {"read": 7, "me": 1, "write": 1, "upload": 1}
    odd = loadgen.parse_mix("read=5,me=3,list=2,ready=1,write=0")
    assert "write" not in odd
    total = sum(odd.values())
    # Any prefix of the schedule stays within 1 request of the exact proportion.
    seq = [loadgen.mix_cycle(odd)[i % total] for i in range(1000)]
    for n in range(1, 1000):
        for kind, weight in odd.items():
            assert abs(seq[:n].count(kind) - n * weight / total) < 1.0 + 1e-9, (n, kind)
    assert loadgen.expected_counts(odd, 1000) == {k: seq.count(k) for k in odd}


@pytest.mark.parametrize("bad", ["", "read", "read=x", "nope=1", "read=1,read=2", "read=-1"])
def test_parse_mix_rejects_bad_input(bad):
    with pytest.raises(loadgen.UsageError):
        loadgen.parse_mix(bad)


def test_multipart_body_round_trips_through_a_mime_parser():
    content = loadgen.upload_content("abc123", 7)
    body, ctype = loadgen.multipart_body("file", loadgen.upload_name(39), content, "text/plain")
    other_body, other_ctype = loadgen.multipart_body("file", "x.txt", content, "text/plain")
    assert ctype != other_ctype  # random boundary
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + body
    )
    (part,) = message.iter_parts()
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "load-7.txt"
    assert part.get_payload(decode=True) == content


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("server", [{"expires_in": 2}], indirect=True)
def test_healthy_run_paces_mixes_uploads_and_sees_the_release_flip(server, tmp_path):
    """50 req/s for 3 s: exact count, exact mix, steady pacing, no failure, flip seen.

    In --duration mode the scheduler emits exactly ceil(rate * duration) requests, so
    sent must equal 150 with no tolerance.  The tolerances are on time only: the server
    must see the requests spread over ~3 s (first to last arrival 2.7-3.3 s, i.e. +-10 %
    for thread wake-up jitter on a busy 2-core box) and not in a burst, each whole second
    getting 50 +- 10.  Tokens expire after 2 s here, so the run only passes if loadgen
    renews its admin token in time.
    """
    ready = tmp_path / "ready.json"
    pw_file = tmp_path / "pw"
    pw_file.write_text(ADMIN_PASSWORD + "\n")
    proc = start_loadgen(
        server, tmp_path,
        "--rate", "50", "--duration", "3", "--workers", "8",
        "--ready-file", str(ready), "--admin-password-file", str(pw_file),
        "--series-csv", str(tmp_path / "series.csv"),
    )  # fmt: skip
    wait_for_file(ready, proc)
    assert json.loads(ready.read_text())["pid"] == proc.pid
    assert server.logins == 1
    time.sleep(1.5)
    server.release = NEW_RELEASE
    flip_epoch = time.time()
    out, err = proc.communicate(timeout=20)
    result = read_result(tmp_path)

    assert proc.returncode == 0, (out, err)
    assert out.startswith("loadgen: sent=150 ok=150 failed=0")
    assert result["scheduled"] == result["sent"] == result["ok"] == 150
    assert result["failed"] == 0 and result["failures"] == [] and result["unsent"] == 0
    assert {k: v["sent"] for k, v in result["by_kind"].items()} == {
        "read": 105,
        "me": 15,
        "write": 15,
        "upload": 15,
    }
    assert result["by_status"] == {"200": 120, "201": 30}
    assert 2.9 <= result["duration_s"] <= 3.4
    assert result["max_lateness_s"] < 0.5
    assert result["latency_s"]["read"]["count"] == 105
    assert result["latency_s"]["all"]["p99"] < 1.0
    assert result["stale_keepalive_retries"] == 0
    assert result["token_refreshes"] >= 1
    assert server.logins == 1 + result["token_refreshes"]

    arrivals = load_arrivals(server)
    assert len(arrivals) == 150
    first = arrivals[0]
    assert 2.7 <= arrivals[-1] - first <= 3.3
    for second in range(3):
        in_window = sum(1 for t in arrivals if second <= t - first < second + 1)
        assert 40 <= in_window <= 60, (second, in_window)

    # Release switch: both ids seen, the timeline goes old -> new once.
    flip_offset = flip_epoch - result["started_epoch"]
    releases = result["releases"]
    assert set(releases) == {OLD_RELEASE, NEW_RELEASE}
    assert releases[OLD_RELEASE]["count"] + releases[NEW_RELEASE]["count"] == 105
    assert releases[OLD_RELEASE]["first_seen"] < 0.2
    assert releases[NEW_RELEASE]["first_seen"] >= flip_offset - 0.1
    assert releases[OLD_RELEASE]["last_seen"] <= releases[NEW_RELEASE]["first_seen"]
    assert [rid for _t, rid in result["release_timeline"]] == [OLD_RELEASE, NEW_RELEASE]
    assert result["release_timeline"][1][0] == releases[NEW_RELEASE]["first_seen"]

    # Per-second series: the rows add up to the totals, each whole second sent 50 +- 10,
    # and the release share crosses over from the old id to the new one.
    series = result["series"]
    assert [row["t"] for row in series] == list(range(len(series)))
    assert 3 <= len(series) <= 4
    assert sum(row["sent"] for row in series) == 150
    assert sum(row["answered_2xx"] for row in series) == 150
    assert sum(row["failed"] + row["answered_error"] + row["answered_5xx"] for row in series) == 0
    for row in series[:3]:
        assert 40 <= row["sent"] <= 60, row
        assert 0 < row["p50_s"] <= row["p95_s"] <= row["p99_s"] < 1.0, row
    assert series[0]["release_share"] == {OLD_RELEASE: 1.0, NEW_RELEASE: 0.0}
    last = next(row for row in reversed(series) if row["release_share"])
    assert last["release_share"] == {OLD_RELEASE: 0.0, NEW_RELEASE: 1.0}
    for row in series:
        if row["release_share"]:
            assert abs(sum(row["release_share"].values()) - 1.0) < 0.01, row
    with (tmp_path / "series.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(series)
    assert sum(int(row["sent"]) for row in rows) == 150
    assert float(rows[0][f"share_{OLD_RELEASE}"]) == 1.0

    # Server side: valid users and well-formed multipart uploads.
    assert server.problems == []
    assert len(server.users) == 15
    assert len(server.uploads) == 15
    for upload in server.uploads:
        assert upload["field"] == "file"
        assert upload["content_type"] == "text/plain"
        assert upload["query"] == "overwrite=true"
        match = FILENAME_RE.match(upload["filename"])
        assert match, upload["filename"]
        assert int(match.group(1)) < loadgen.UPLOAD_SLOTS
        assert upload["content"] == loadgen.upload_content(result["run_id"], int(match.group(1)))


def test_503_window_is_counted_as_failures_with_status_and_request_id(server, tmp_path):
    ready = tmp_path / "ready.json"
    proc = start_loadgen(
        server, tmp_path, "--rate", "50", "--duration", "3", "--ready-file", str(ready)
    )
    wait_for_file(ready, proc)
    time.sleep(1.0)
    server.fail_503 = True
    time.sleep(1.0)
    server.fail_503 = False
    out, err = proc.communicate(timeout=20)
    result = read_result(tmp_path)

    assert proc.returncode == 1, (out, err)
    assert 30 <= server.sent_503 <= 70  # ~1 s of a 50 req/s run
    assert result["failed"] == server.sent_503
    assert result["by_status"]["503"] == result["failed"]
    assert result["sent"] == result["ok"] + result["failed"] == 150
    assert len(result["failures"]) == result["failed"]
    for failure in result["failures"]:
        assert failure["status"] == 503
        assert failure["error"] is None
        assert failure["request_id"].startswith("stub-")
        assert failure["kind"] in ("read", "me", "write", "upload")
        assert failure["method"] == loadgen.KINDS[failure["kind"]][0]
        assert 0.8 <= failure["t"] <= 2.6
    assert sum(v["failed"] for v in result["by_kind"].values()) == result["failed"]
    # The failures land in the seconds the 503 window covered, as 5xx answers.
    series = result["series"]
    assert sum(row["failed"] for row in series) == result["failed"]
    assert sum(row["answered_5xx"] for row in series) == result["failed"]
    assert series[0]["failed"] == 0
    assert sum(row["failed"] for row in series[1:3]) == result["failed"]


def test_stale_keepalive_is_retried_once_whatever_the_method(server, tmp_path):
    """The stub closes every connection after answering without announcing it.

    Each reused connection is then dead before the request reaches the server (as when
    nginx reloads and closes idle client connections): every request, GET or POST, is
    retried once on a fresh connection and succeeds; the retries are counted.
    """
    server.silent_close = True
    proc, result = run_loadgen(
        server, tmp_path,
        "--rate", "40", "--duration", "2", "--workers", "4",
        "--mix", "read=5,me=2,write=2,upload=1",
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert result["failed"] == 0
    assert result["by_kind"]["write"] == {"sent": 16, "ok": 16, "failed": 0}
    assert result["by_kind"]["upload"] == {"sent": 8, "ok": 8, "failed": 0}
    assert result["stale_keepalive_retries"] >= 20
    stale_names = ("RemoteDisconnected", "ConnectionResetError", "BrokenPipeError")
    kinds = {sample["kind"] for sample in result["stale_keepalive_retry_samples"]}
    assert {"write", "upload"} & kinds, kinds
    for sample in result["stale_keepalive_retry_samples"]:
        assert sample["error"].startswith(stale_names)
    # Each retried request reached the server once: no POST was processed twice.
    assert len(server.users) == 16
    assert len(server.uploads) == 8


def test_a_request_dropped_on_a_fresh_connection_is_a_failure(server, tmp_path):
    """The stub reads each POST and closes the connection without answering.

    That is a real drop (the server had the request), not a stale keep-alive: the
    retry on a fresh connection is dropped too, and the request counts as failed.
    """
    server.drop_posts = True
    proc, result = run_loadgen(
        server, tmp_path,
        "--rate", "40", "--duration", "1", "--workers", "4",
        "--mix", "read=3,write=1",
    )  # fmt: skip
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert result["by_kind"]["read"]["failed"] == 0
    assert result["by_kind"]["write"]["failed"] == result["by_kind"]["write"]["sent"] == 10
    for failure in result["failures"]:
        assert failure["method"] == "POST"
        assert failure["status"] is None
        assert failure["error"].startswith("RemoteDisconnected"), failure


def test_open_loop_keeps_offering_when_the_server_is_slow(server, tmp_path):
    """2 workers, 0.2 s per answer = 10 req/s capacity for 20 req/s offered.

    A closed-loop client would send ~15 requests in 1.5 s; an open-loop one queues
    them, sends all 30 and reports how late they were.
    """
    server.delays["*"] = 0.2
    proc, result = run_loadgen(
        server, tmp_path,
        "--rate", "20", "--duration", "1.5", "--workers", "2", "--timeout", "5",
        "--mix", "read=1",
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert result["sent"] == result["ok"] == 30
    assert result["unsent"] == 0
    assert 1.0 <= result["max_lateness_s"] <= 2.5  # last one due 1.45 s, sent ~2.9 s
    assert result["late_over_100ms"] >= 15
    assert result["latency_s"]["read"]["p50"] >= 0.2


def test_backlog_left_after_drain_is_reported_as_unsent(server, tmp_path):
    server.delays["*"] = 0.4
    proc, result = run_loadgen(
        server, tmp_path,
        "--rate", "20", "--duration", "1", "--workers", "1", "--timeout", "1",
        "--mix", "ready=1",
    )  # fmt: skip
    assert proc.returncode == 1
    assert "never sent" in proc.stderr
    assert result["scheduled"] == 20
    assert result["unsent"] > 10
    assert result["sent"] + result["unsent"] == 20
    assert result["ok"] + result["failed"] == result["sent"]


@pytest.mark.parametrize("how", ["sigterm", "stop-file"])
def test_stop_by_signal_or_stop_file_drains_and_writes_output(server, tmp_path, how):
    """No --duration: stopped from outside after ~1 s while slow requests are in flight.

    Open loop means sent == ceil(rate * running time) (+-1 for the request being
    scheduled at the instant of the stop), whatever the running time turns out to be.
    """
    server.delays["/api/v1/auth/me"] = 0.6  # in flight when the stop comes
    ready = tmp_path / "ready.json"
    stop_file = tmp_path / "stop"
    proc = start_loadgen(
        server, tmp_path,
        "--rate", "50", "--mix", "read=1,me=1", "--ready-file", str(ready),
        "--stop-file", str(stop_file),
    )  # fmt: skip
    wait_for_file(ready, proc)
    time.sleep(1.0)
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        stop_file.write_text("")
    out, err = proc.communicate(timeout=20)
    result = read_result(tmp_path)

    assert proc.returncode == 0, (out, err)
    assert result is not None
    assert result["stop_reason"] == ("signal" if how == "sigterm" else "stop-file")
    assert 0.9 <= result["duration_s"] <= 1.6
    assert abs(result["sent"] - 50 * result["duration_s"]) <= 2
    assert result["sent"] == result["ok"] == result["scheduled"]
    assert result["unsent"] == result["in_flight_at_exit"] == 0
    assert result["by_kind"]["me"]["ok"] == result["by_kind"]["me"]["sent"] > 20
    assert result["drain_s"] >= 0.3  # it waited for the slow in-flight requests


def test_login_failure_and_usage_errors_exit_2(server, tmp_path):
    proc, result = run_loadgen(server, tmp_path, "--duration", "1", password="wrong")  # noqa: S106
    assert proc.returncode == 2
    assert "admin login failed" in proc.stderr and "401" in proc.stderr
    assert result is None

    proc, _ = run_loadgen(server, tmp_path, "--duration", "1", password="")
    assert proc.returncode == 2 and "no admin password" in proc.stderr

    proc, _ = run_loadgen(server, tmp_path, "--mix", "read=1,bogus=2")
    assert proc.returncode == 2 and "bogus" in proc.stderr

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server.url = f"http://127.0.0.1:{port}"
    proc, _ = run_loadgen(server, tmp_path, "--duration", "1")
    assert proc.returncode == 2
    assert "cannot reach" in proc.stderr and "ConnectionRefused" in proc.stderr
