"""Tests of scripts/rollout_report.py (a rollout under load as PNG + self-contained HTML) and
of scripts/bench_plot.py (a benchmark's figures JSON as a PNG).

The loadgen results are built with scripts/loadgen.py's own collector (``Results``), so the
per-second series has exactly the keys loadgen writes; nothing here opens a socket. Both
scripts need matplotlib, which the controller's .venv has (requirements.txt): `make test`
runs tests/ with .venv's pytest.
"""

# ruff: noqa: S101  (pytest asserts)

from __future__ import annotations

import base64
import importlib.util
import json
import re
import struct
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
T0 = 1796412300.25  # loadgen's started_epoch in these tests
OLD, NEW = "aaaa11112222", "3f2a9c1b7d0e"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


loadgen = load("loadgen")
report = load("rollout_report")
bench_plot = load("bench_plot")


# --------------------------------------------------------------------------- inputs


def loadgen_result(seconds: int = 30, fail_at: tuple[int, ...] = (), switch_at: int = 12) -> dict:
    """A loadgen result for 10 requests a second; every request in a second of ``fail_at``
    but the first gets a 502; ``GET /`` answers come from NEW from ``switch_at`` on."""
    res = loadgen.Results(["read", "write"])
    res.t0 = 1000.0
    index = 0
    for second in range(seconds):
        for i in range(10):
            start = res.t0 + second + i / 10
            kind = "read" if i % 5 else "write"
            job = loadgen.Job(index, kind, start)
            method, path = loadgen.KINDS[kind]
            res.started(0, job, method, path, start)
            status = 502 if second in fail_at and i else (200 if kind == "read" else 201)
            release = None
            if kind == "read" and status == 200:
                release = NEW if second >= switch_at else OLD
            res.finished(0, job, method, path, start, start + 0.02 + i / 1000, status,
                         None, f"rid-{index}", release)  # fmt: skip
            index += 1
    return {
        "url": "http://127.0.0.1:8080",
        "run_id": "t1",
        "started": "2026-12-04T19:25:00.250+00:00",
        "started_epoch": T0,
        "stopped_epoch": T0 + seconds,
        "duration_s": float(seconds),
        "sent": res.sent,
        "ok": res.ok,
        "failed": res.failed,
        "unsent": 0,
        "by_kind": {
            k: {"sent": s.sent, "ok": s.ok, "failed": s.failed} for k, s in res.kinds.items()
        },
        "by_status": dict(sorted(res.by_status.items())),
        "failures": res.failures,
        "latency_s": {"all": {"p50": 0.021, "p95": 0.029, "p99": 0.03, "max": 0.03}},
        "releases": res.releases,
        "series": res.series(),
    }


def host(batch: int, start: float, ok: bool = True, **extra) -> dict:
    steps = {"standby_up": 0.0, "drain": 1.4, "switch": 3.5, "ready": 5.7, "undrain": 6.6,
             "done": 10.5}  # fmt: skip
    if not ok:
        steps = {k: v for k, v in steps.items() if k not in ("ready", "undrain")}
    info = {
        "previous": OLD,
        "final": NEW if ok else OLD,
        "ok": ok,
        "reverted": not ok,
        "error": "" if ok else "readiness check timed out",
        "batch": batch,
        "steps": {k: T0 + start + v for k, v in steps.items()},
    }
    info.update(extra)
    return info


def receipt(hosts: dict, outcome: str = "succeeded", **extra) -> dict:
    data = {
        "schema": 1,
        "kind": "rolling_update",
        "release": NEW,
        "started_epoch": T0 + 4.0,
        "finished_epoch": T0 + 28.5,
        "started": "2026-12-04T19:25:04.250Z",
        "finished": "2026-12-04T19:25:28.750Z",
        "outcome": outcome,
        "operator": {"user": "root", "host": "ctl", "command": "ansible-playbook x.yml"},
        "hosts": hosts,
        "a_later_key": {"nested": [1, 2]},
    }
    data.update(extra)
    return data


def two_hosts(fail_second: bool = False) -> dict:
    return {"app1": host(1, 6.0), "app2": host(2, 16.0, ok=not fail_second)}


def write(tmp_path: Path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def run(tmp_path: Path, capsys, data: dict, rec: dict | None = None, *extra: str):
    """Run the CLI; returns (html text, png bytes, stderr)."""
    argv = ["--loadgen", write(tmp_path, "loadgen.json", data), "--output", str(tmp_path / "r")]
    if rec is not None:
        argv += ["--receipt", write(tmp_path, "receipt.json", rec)]
    assert report.main([*argv, *extra]) == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(tmp_path / "r.png"), str(tmp_path / "r.html")]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    return page, (tmp_path / "r.png").read_bytes(), err


class Links(HTMLParser):
    """Every attribute of the page that can make a browser fetch something."""

    FETCHING = {"src", "href", "srcset", "poster", "data", "action", "background", "style"}

    def __init__(self, page: str):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.tags: set[str] = set()
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.found += [(tag, k, v or "") for k, v in attrs if k in self.FETCHING]


class Tables(HTMLParser):
    """Every table of a page as rows of (cell text, row class)."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: list[list[tuple[list[str], str]]] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.row, self.row_class = [], dict(attrs).get("class") or ""
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr":
            self.tables[-1].append((self.row, self.row_class))

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def find(self, first_header: str) -> list[dict]:
        """The rows of the table whose first header cell is ``first_header``, as dicts."""
        for rows in self.tables:
            if rows and rows[0][0] and rows[0][0][0] == first_header:
                head = rows[0][0]
                return [dict(zip(head, cells, strict=True), _class=cls) for cells, cls in rows[1:]]
        raise AssertionError(f"no table headed {first_header!r}")

    def pairs(self) -> dict[str, str]:
        """Every two-cell row of every table, as {first cell: second}."""
        return {cells[0]: cells[1] for rows in self.tables for cells, _ in rows if len(cells) == 2}


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\0")) \
        + chunk(b"IEND", b"")  # fmt: skip


@pytest.fixture
def fast_png(monkeypatch):
    """For tests of the HTML's tables only: skip drawing the PNG (about a second each)."""
    monkeypatch.setattr(report, "render_png", lambda *args: tiny_png())


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------- rollout report


def test_html_is_self_contained_with_the_png_inline(tmp_path, capsys):
    page, png, _ = run(tmp_path, capsys, loadgen_result(), receipt(two_hosts()))
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 1
    inline = base64.b64decode(uris[0], validate=True)
    assert inline == png  # the same picture as the .png file
    width, height = png_size(inline)
    assert width >= 1000 and height >= 700
    assert len(png) > 30_000  # a drawn figure, not a blank canvas
    # Nothing to fetch: one src (the data: URI), no link of any kind, no script.
    links = Links(page)
    assert [(tag, k) for tag, k, _ in links.found] == [("img", "src")]
    assert links.found[0][2].startswith("data:image/png;base64,")
    assert not links.tags & {"link", "script", "iframe", "object", "embed", "base"}
    for needle in ("http://", "https://", "href=", "@import", "url(", "//"):
        assert needle not in page.replace(uris[0], ""), needle


def test_step_times_are_seconds_since_load_start(tmp_path, capsys, fast_png):
    rec = receipt(two_hosts())
    page, _, _ = run(tmp_path, capsys, loadgen_result(), rec)
    rows = {row["host"]: row for row in Tables(page).find("host")}
    assert list(rows) == ["app1", "app2"]  # by batch
    for name, info in rec["hosts"].items():
        for step, epoch in info["steps"].items():
            assert rows[name][step] == f"{epoch - T0:.1f}", (name, step)
    assert rows["app1"]["switch"] == "9.5"  # 6.0 + 3.5: the same, worked out by hand
    assert rows["app2"]["undrain"] == "22.6"
    assert rows["app1"]["previous → final"] == f"{OLD} → {NEW}"
    assert rows["app1"]["batch"] == "1" and rows["app1"]["ok"] == "yes"
    pairs = Tables(page).pairs()
    assert pairs["started"] == "2026-12-04T19:25:04.250Z (4.0 s)"
    assert pairs["took (s)"] == "24.5"
    assert pairs["operator"] == "root@ctl"


def test_step_marks_line_up_with_the_receipt(tmp_path):
    rec = receipt(two_hosts())
    fig = report.build_figure(loadgen_result(), rec, "t")
    lanes = next(ax for ax in fig.axes if ax.get_label() == "rollout")
    assert [t.get_text() for t in lanes.get_yticklabels()] == ["app1 (batch 1)", "app2 (batch 2)"]
    expected = sorted(
        round(epoch - T0, 6)
        for info in rec["hosts"].values()
        for step, epoch in info["steps"].items()
        if step != "done"
    )
    for label in ("requests", "failures", "latency", "releases"):
        ax = next(a for a in fig.axes if a.get_label() == label)
        xs = sorted(
            round(line.get_xdata()[0], 6) for line in ax.get_lines() if line.get_linestyle() == ":"
        )
        assert xs == expected, label
    assert lanes.get_xlim()[0] <= 0 and lanes.get_xlim()[1] >= 30  # the whole load is shown


def test_steps_far_from_the_load_are_listed_not_drawn():
    rec = receipt({"app1": host(1, 6.0), "app2": host(2, 3600.0)})  # another run's, say
    fig = report.build_figure(loadgen_result(), rec, "t")
    lanes = next(ax for ax in fig.axes if ax.get_label() == "rollout")
    assert "6 step(s) more than 300 s outside the load: not drawn" in lanes.get_title(loc="left")
    assert lanes.get_xlim()[1] < 40
    page = report.render_html(loadgen_result(), rec, "t", tiny_png())
    rows = {row["host"]: row for row in Tables(page).find("host")}
    assert rows["app2"]["switch"] == "3603.5"


def test_no_failure_says_0_failed(tmp_path, capsys, fast_png):
    data = loadgen_result()
    assert data["failed"] == 0
    page, _, _ = run(tmp_path, capsys, data, receipt(two_hosts()))
    assert '<p class="verdict ok">rolling_update of 3f2a9c1b7d0e: succeeded | sent 300, 0 failed' \
        "</p>" in page  # fmt: skip
    assert "FAILED" not in page
    assert Tables(page).pairs()["failed"] == "0"
    fig = report.build_figure(data, receipt(two_hosts()), "t")
    assert fig.get_suptitle().endswith("sent 300, 0 failed")
    failures = next(ax for ax in fig.axes if ax.get_label() == "failures")
    assert failures.get_title(loc="left") == "Failures per second: 0 failed of 300 sent"


def test_failures_are_impossible_to_miss(tmp_path, capsys):
    data = loadgen_result(fail_at=(20, 21))
    assert data["failed"] == 18 and sum(row["failed"] for row in data["series"]) == 18
    page, _, _ = run(tmp_path, capsys, data, receipt(two_hosts()))
    assert '<p class="verdict bad">rolling_update of 3f2a9c1b7d0e: succeeded | sent 300, ' \
        "18 FAILED</p>" in page  # fmt: skip
    tables = Tables(page)
    assert tables.pairs()["failed"] == "18" and tables.pairs()["verdict"] == "18 FAILED"
    status = {row["status"]: row for row in tables.find("status")}
    assert status["502"]["answers"] == "18" and status["502"]["_class"] == "failed"
    listed = tables.find("t (s)")
    assert len(listed) == 18 and {row["status"] for row in listed} == {"502"}
    assert all(20 <= float(row["t (s)"]) < 22 for row in listed)
    fig = report.build_figure(data, None, "t")
    assert fig.get_suptitle() == "t\nno receipt | sent 300, 18 FAILED"
    failures = next(ax for ax in fig.axes if ax.get_label() == "failures")
    assert failures.get_title(loc="left") == "Failures per second: 18 FAILED of 300 sent"
    (bars,) = failures.containers
    assert [(bar.get_x(), bar.get_height()) for bar in bars if bar.get_height()] == [
        (20, 9), (21, 9),
    ]  # fmt: skip
    shaded = [p.get_x() for p in failures.patches if p not in bars]  # axvspan of failed seconds
    assert sorted(shaded) == [20, 21]


def test_unsent_requests_count_as_dropped():
    data = loadgen_result()
    data["unsent"] = 4
    assert report.verdict(data) == ("0 failed, 4 UNSENT", False)


def test_a_failed_host_is_marked(tmp_path, capsys):
    rec = receipt(two_hosts(fail_second=True), outcome="failed")
    page, _, _ = run(tmp_path, capsys, loadgen_result(), rec)
    rows = {row["host"]: row for row in Tables(page).find("host")}
    assert rows["app2"]["ok"] == "FAILED" and rows["app2"]["_class"] == "failed"
    assert rows["app2"]["reverted"] == "yes"
    assert rows["app2"]["error"] == "readiness check timed out"
    assert rows["app2"]["ready"] == "" and rows["app2"]["undrain"] == ""  # never got there
    assert rows["app2"]["switch"] == "19.5"
    assert rows["app1"]["ok"] == "yes" and rows["app1"]["_class"] == ""
    assert '<span class="bad">failed</span>' in page  # the outcome
    fig = report.build_figure(loadgen_result(), rec, "t")
    lanes = next(ax for ax in fig.axes if ax.get_label() == "rollout")
    assert "FAILED: app2" in lanes.get_title(loc="left")
    ticks = {t.get_text(): t.get_color() for t in lanes.get_yticklabels()}
    assert ticks["app2 (batch 2)"] == report.FAIL_RED and ticks["app1 (batch 1)"] != report.FAIL_RED
    notes = [t.get_text() for t in lanes.texts]
    assert any("FAILED, reverted: readiness check timed out" in n for n in notes)
    (cross,) = [line for line in lanes.get_lines() if line.get_marker() == "X"]
    assert list(cross.get_xdata()) == [pytest.approx(19.5)] and list(cross.get_ydata()) == [1]


def test_without_receipt(tmp_path, capsys):
    page, png, _ = run(tmp_path, capsys, loadgen_result())
    assert "Rollout (receipt)" not in page and "Hosts (" not in page
    assert "<title>Load run, 2026-12-04 19:25:00 UTC</title>" in page
    releases = {row["release id"]: row for row in Tables(page).find("release id")}
    assert releases[OLD]["first seen (s)"] == "0.1" and releases[NEW]["first seen (s)"] == "12.1"
    fig = report.build_figure(loadgen_result(), None, "t")
    assert sorted(ax.get_label() for ax in fig.axes) == [
        "failures", "latency", "releases", "requests",
    ]  # fmt: skip
    assert png_size(png)[0] >= 1000


def test_hostile_text_is_escaped(tmp_path, capsys):
    evil = '<script>alert("x")</script> $x^{$'  # and a pair of $: not matplotlib's math
    rec = receipt(
        {evil: host(1, 6.0, error="<b>boom</b> & more", previous='"><img src=x onerror=1>')},
        release="<i>rel</i>",
        operator={"user": "<u>", "host": "h", "command": "a && b > c"},
    )
    data = loadgen_result()
    data["releases"]["<svg onload=1>"] = {"count": 1, "first_seen": 1.0, "last_seen": 1.0}
    page, _, _ = run(tmp_path, capsys, data, rec, "--title", "<h1>t</h1>")
    for raw in (evil, "<b>boom", "<img src=x", "<i>rel", "<svg", "<u>", "&& b", "<h1>t</h1>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; $x^{$" in page
    assert "&lt;b&gt;boom&lt;/b&gt; &amp; more" in page
    assert "<title>&lt;h1&gt;t&lt;/h1&gt;</title>" in page
    links = Links(page)
    assert [(tag, k) for tag, k, _ in links.found] == [("img", "src")]
    assert links.tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p",
                          "img", "table", "tr", "th", "td", "span", "b", "code"}  # fmt: skip
    assert {row["host"] for row in Tables(page).find("host")} == {evil}


def test_unknown_keys_and_odd_steps_are_ignored(tmp_path, capsys, fast_png):
    odd = host(1, 6.0)
    odd["steps"]["switch"] = "soon"  # not a number: absent
    odd["steps"]["warm_cache"] = T0 + 7  # a step this report does not know
    del odd["steps"]["drain"]
    odd["colour"] = "blue"
    rec = receipt({"app1": odd, "app9": "not an object"}, schema=2)
    page, _, err = run(tmp_path, capsys, loadgen_result(), rec)
    assert "receipt schema 2, this report knows 1" in err
    rows = Tables(page).find("host")
    assert [row["host"] for row in rows] == ["app1"]
    assert rows[0]["switch"] == "" and rows[0]["drain"] == "" and rows[0]["ready"] == "11.7"
    assert "warm_cache" not in page
    assert "this report knows 1" in page


def test_the_playbooks_receipt_keys(tmp_path, capsys, fast_png):
    """Keys the role's receipt filter writes besides the brief's: id, failed_step, error and
    each host's seconds."""
    hosts = {"app1": host(1, 6.0, seconds=10.5, serving=True, drains={"8000": "drained 9ms"})}
    rec = receipt(hosts, outcome="failed", id="20261204T192504Z-rolling_update-3f2a9c1b7d0e",
                  failed_step="build", error="the wheel did not build")  # fmt: skip
    page, _, _ = run(tmp_path, capsys, loadgen_result(), rec)
    pairs = Tables(page).pairs()
    assert pairs["id"] == "20261204T192504Z-rolling_update-3f2a9c1b7d0e"
    assert pairs["failed step"] == "build" and pairs["error"] == "the wheel did not build"
    assert pairs["outcome"] == "failed"
    (row,) = Tables(page).find("host")
    assert row["took (s)"] == "10.5"


def test_old_loadgen_result_without_series(tmp_path, capsys):
    data = loadgen_result()
    del data["series"]
    page, png, _ = run(tmp_path, capsys, data, receipt(two_hosts()))
    assert png_size(png)[0] >= 1000 and "0 failed" in page


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "is not JSON"),
        ('{"series": []}', "no started_epoch"),
        ('{"started_epoch": 1, "series": 5}', "series is not a list"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_bad_loadgen_result_exits_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    assert report.main(["--loadgen", str(path), "--output", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.png").exists() and not (tmp_path / "r.html").exists()


def test_missing_receipt_file_exits_2(tmp_path, capsys):
    argv = ["--loadgen", write(tmp_path, "l.json", loadgen_result()), "--receipt",
            str(tmp_path / "none.json"), "--output", str(tmp_path / "r")]  # fmt: skip
    assert report.main(argv) == 2
    assert "cannot read receipt" in capsys.readouterr().err


# --------------------------------------------------------------------------- bench plots

BENCH = {
    "site_first_run": {
        "floor_s": 37.2,
        "packages": 20,
        "strategies": {
            "mitogen_linear": {"first_s": 75.6, "first_changed": 60, "idempotent_s": [9.1, 10.8]},
            "linear": {"first_s": 111.4, "first_changed": 56, "idempotent_s": [36.3, 39.2]},
        },
    },
    "idempotent": {"strategies": {"linear": [48.5, 48.0, 48.4], "mitogen_linear": [16.5, 16.8]}},
    "scale": {
        "sizes": [
            {"app_hosts": n, "converge_s": 70 + n,
             "runs": {s: [{"wall_s": w * n, "controller_s": w * n * 0.9, "nodes_s": 2.0}]
                      for s, w in (("linear", 15.0), ("mitogen_linear", 6.0))}}
            for n in (1, 4, 8)
        ]
    },
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(BENCH))
def test_bench_plot_writes_a_png_beside_the_json(tmp_path, capsys, kind):
    figures = {"schema": 1, "bench": kind, "title": f"{kind} (test)", "machine": "m",
               "command": "c", **BENCH[kind]}  # fmt: skip
    path = write(tmp_path, f"{kind}-20261204T000000Z.json", figures)
    assert bench_plot.main([path]) == 0
    png = tmp_path / f"{kind}-20261204T000000Z.png"
    assert capsys.readouterr().out.strip() == str(png)
    width, height = png_size(png.read_bytes())
    assert width >= 900 and height >= 450 and png.stat().st_size > 20_000


def test_bench_plot_draws_the_figures():
    fig = bench_plot.plot_idempotent({"bench": "idempotent", **BENCH["idempotent"]})
    (ax,) = fig.axes
    assert sorted(round(p.get_height(), 1) for p in ax.patches) == [16.5, 16.8, 48.0, 48.4, 48.5]
    assert "speed-up 2.9x" in ax.get_title(loc="left")  # 48.4 / 16.65
    assert ax.get_ylabel() == "wall time (s)"
    fig = bench_plot.plot_scale({"bench": "scale", **BENCH["scale"]})
    (ax,) = fig.axes
    walls = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert walls["mitogen_linear: wall (median)"] == [6.0, 24.0, 48.0]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 4, 8]
    fig = bench_plot.plot_site_first_run({"bench": "site_first_run", **BENCH["site_first_run"]})
    (ax,) = fig.axes
    assert [line.get_ydata()[0] for line in ax.get_lines()] == [37.2]  # the apt floor
    labels = [t.get_text() for t in ax.texts]
    assert "75.6 s\n2.03x floor" in labels and "111.4 s\n2.99x floor" in labels


@pytest.mark.parametrize(
    "figures, message",
    [
        ({"bench": "nope"}, "unknown bench"),
        ({"bench": "idempotent", "strategies": {"linear": ["x"]}}, "is not a number"),
        ({"bench": "scale", "sizes": []}, "no sizes"),
        ({"bench": "site_first_run", "strategies": {}}, "no strategies"),
    ],
)
def test_bench_plot_bad_input_exits_2(tmp_path, capsys, figures, message):
    path = write(tmp_path, "f.json", figures)
    assert bench_plot.main([path, "--output", str(tmp_path / "f.png")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "f.png").exists()
