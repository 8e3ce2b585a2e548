#!/usr/bin/env python3
"""Render one rollout under load as a PNG and a self-contained HTML report.

    scripts/rollout_report.py --loadgen LOADGEN.json [--receipt RECEIPT.json] \\
        --output PREFIX [--title TEXT]

LOADGEN.json is the result of scripts/loadgen.py (its totals and its per-second
``series``); RECEIPT.json, optional, is the rollout receipt the playbooks write (schema 1:
kind, release, outcome, operator and, per host, the batch, previous and final release
and the wall-clock time of each step). Writes PREFIX.png and PREFIX.html and prints their
paths, one a line. The HTML embeds the PNG as a data: URI and refers to nothing else, so
it opens offline.

The figure's panels share one time axis, seconds since loadgen's t0 (the instant its
request 0 was due, ``started_epoch`` as wall-clock time); receipt step times (epoch
seconds) are put on it as ``epoch - started_epoch``:
  rollout   one lane per host with its steps (standby_up, drain, switch, ready or
            revert, undrain, done); a failed host's lane is red;
  requests  requests sent per second and answers per second by status class;
  failures  failed requests per second, in red (seconds with failures are shaded red in
            every panel);
  latency   p50/p95/p99 of each second's 2xx answers, ms, log scale;
  releases  each release id's share of each second's ``GET /`` answers.
Each step is also drawn as a dotted vertical line, in its colour, across all panels.

Needs matplotlib (requirements.txt); draws with the Agg backend, no display, no network.
Exit status: 0 when both files were written, 2 for a usage or input error.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import math
import os
import sys
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# Steps drawn, in rollout order: (key, label, colour, marker).
STEPS: tuple[tuple[str, str, str, str], ...] = (
    ("standby_up", "standby up", "#cc79a7", "^"),
    ("drain", "drain", "#e69f00", "v"),
    ("switch", "switch", "#0072b2", "D"),
    ("ready", "ready", "#009e73", "o"),
    ("revert", "back on previous", "#d55e00", "P"),
    ("undrain", "undrain", "#56b4e9", "s"),
)
# Also in the table and as the end of a host's lane.
DONE = "done"
TABLE_STEPS = tuple(key for key, *_ in STEPS) + (DONE,)
STATUS_COLOURS = {
    "2xx": "#1b7837",
    "3xx": "#762a83",
    "4xx": "#e08214",
    "5xx": "#d7191c",
    "error": "#c51b7d",
}
RELEASE_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22")
FAIL_RED = "#d7191c"
OK_GREEN = "#1b7837"
FAILURES_LISTED = 50  # failed requests listed in the HTML
# Steps further than this from the load run are not drawn (the table still lists them): a
# receipt of another run would otherwise squeeze the whole load into a sliver.
OUTSIDE_S = 300.0


class ReportError(Exception):
    """Bad input: exit 2."""


# --------------------------------------------------------------------------- inputs


def load_json(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ReportError(f"cannot read {what} {path}: {exc}") from None
    except ValueError as exc:
        raise ReportError(f"{what} {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{what} {path} is not a JSON object")
    return data


def number(value) -> float | None:
    """A finite number, or None for anything else (missing, null, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def check_loadgen(data: dict) -> None:
    if number(data.get("started_epoch")) is None:
        raise ReportError("the loadgen result has no started_epoch (is it scripts/loadgen.py's?)")
    series = data.get("series", [])
    if not isinstance(series, list) or not all(isinstance(row, dict) for row in series):
        raise ReportError("the loadgen result's series is not a list of rows")


def count(data: dict, key: str) -> int:
    value = number(data.get(key))
    return int(value) if value is not None else 0


def verdict(data: dict) -> tuple[str, bool]:
    """("0 failed", True) or ("N FAILED, M UNSENT", False): what was dropped, if anything."""
    failed, unsent = count(data, "failed"), count(data, "unsent")
    parts = [f"{failed} FAILED" if failed else "0 failed"]
    if unsent:
        parts.append(f"{unsent} UNSENT")
    return ", ".join(parts), not failed and not unsent


class Host:
    """One host of the receipt, with its step times on the load's time axis."""

    def __init__(self, name: str, info: dict, t0: float):
        self.name = name
        self.batch = info.get("batch")
        self.previous = info.get("previous")
        self.final = info.get("final")
        self.ok = info.get("ok") if isinstance(info.get("ok"), bool) else None
        self.reverted = info.get("reverted") if isinstance(info.get("reverted"), bool) else None
        self.error = info.get("error") or ""
        self.seconds = number(info.get("seconds"))  # how long its walk took, when recorded
        steps = info.get("steps") if isinstance(info.get("steps"), dict) else {}
        self.steps: dict[str, float] = {}
        self.drawn: dict[str, float] = {}  # the steps the figure draws (near the load run)
        for key in TABLE_STEPS:
            epoch = number(steps.get(key))
            if epoch is not None:
                self.steps[key] = epoch - t0

    @property
    def failed(self) -> bool:
        return self.ok is False

    def sort_key(self):
        batch = number(self.batch)
        return (batch if batch is not None else math.inf, self.name)


def receipt_hosts(receipt: dict | None, t0: float) -> list[Host]:
    if not receipt or not isinstance(receipt.get("hosts"), dict):
        return []
    hosts = [
        Host(str(name), info, t0)
        for name, info in receipt["hosts"].items()
        if isinstance(info, dict)
    ]
    return sorted(hosts, key=Host.sort_key)


def text(value, default: str = "?") -> str:
    return default if value is None or value == "" else str(value)


def summary_line(loadgen: dict, receipt: dict | None) -> str:
    said, _ = verdict(loadgen)
    head = f"sent {count(loadgen, 'sent')}, {said}"
    if receipt is None:
        return f"no receipt | {head}"
    return (
        f"{text(receipt.get('kind'))} of {text(receipt.get('release'))}: "
        f"{text(receipt.get('outcome'))} | {head}"
    )


def default_title(loadgen: dict, receipt: dict | None) -> str:
    what = "Rollout under load" if receipt is not None else "Load run"
    return f"{what}, {utc(number(loadgen.get('started_epoch')))}"


def utc(epoch: float | None) -> str:
    if epoch is None:
        return "?"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --------------------------------------------------------------------------- figure


def literal(value) -> str:
    """Text from the inputs as matplotlib draws it literally (a pair of $ starts math)."""
    return str(value).replace("$", r"\$")


def _values(series: list[dict], key: str, scale: float = 1.0) -> list[float]:
    out = []
    for row in series:
        value = number(row.get(key))
        out.append(math.nan if value is None else value * scale)
    return out


def _edges(series: list[dict]) -> list[float]:
    """Bucket edges: row t covers [t, t + 1)."""
    starts = [number(row.get("t")) for row in series]
    starts = [s if s is not None else float(i) for i, s in enumerate(starts)]
    return starts + [starts[-1] + 1.0] if starts else []


def _no_data(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="#555")


def _legend(ax, **kwargs) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False, **kwargs)


def build_figure(loadgen: dict, receipt: dict | None, title: str) -> Figure:
    series = loadgen.get("series") or []
    t0 = float(loadgen["started_epoch"])
    hosts = receipt_hosts(receipt, t0)
    edges = _edges(series)
    end = edges[-1] if edges else max(1.0, number(loadgen.get("duration_s")) or 0.0)
    outside = 0
    for host in hosts:
        host.drawn = {k: t for k, t in host.steps.items() if -OUTSIDE_S <= t <= end + OUTSIDE_S}
        outside += len(host.steps) - len(host.drawn)
    said, clean = verdict(loadgen)
    bad = not clean or (receipt is not None and receipt.get("outcome") == "failed")
    bad = bad or any(h.failed for h in hosts)

    lane_height = 0.55 + 0.32 * max(1, len(hosts)) if hosts else 0.0
    heights = ([lane_height] if hosts else []) + [2.4, 1.4, 1.9, 1.7]
    fig = Figure(figsize=(12.5, 1.4 + sum(heights)), dpi=100, layout="constrained")
    axes = fig.subplots(len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights})
    axes = list(axes)
    lane_ax = axes.pop(0) if hosts else None
    ax_req, ax_fail, ax_lat, ax_rel = axes
    for ax, label in zip(axes, ("requests", "failures", "latency", "releases"), strict=True):
        ax.set_label(label)
    if lane_ax is not None:
        lane_ax.set_label("rollout")

    fig.suptitle(
        literal(f"{title}\n{summary_line(loadgen, receipt)}"),
        fontsize=13,
        fontweight="bold",
        color=FAIL_RED if bad else "black",
    )

    # x range: the series, and any step outside it.
    step_times = [t for h in hosts for t in h.drawn.values()]
    lo = min([0.0, *step_times])
    hi = max([end, *step_times])
    pad = 0.01 * (hi - lo)
    ax_rel.set_xlim(lo - pad, hi + pad)

    # Seconds with failures, shaded in every panel.
    for row, start in zip(series, edges, strict=False):
        if count(row, "failed"):
            for ax in [*axes, *([lane_ax] if lane_ax else [])]:
                ax.axvspan(start, start + 1, color=FAIL_RED, alpha=0.13, lw=0, zorder=0)

    # (a) requests and answers per second
    if series:
        ax_req.stairs(
            _values(series, "sent"),
            edges,
            baseline=None,
            color="#444",
            lw=2.2,
            label="sent",
            zorder=3,
        )
        for cls, colour in STATUS_COLOURS.items():
            values = _values(series, f"answered_{cls}")
            total = int(sum(v for v in values if not math.isnan(v)))
            if cls != "2xx" and not total:
                continue
            ax_req.stairs(
                values,
                edges,
                baseline=None,
                color=colour,
                lw=1.4,
                label=f"answered {cls} ({total})",
                zorder=4,
            )
        _legend(ax_req, title="per second")
    else:
        _no_data(ax_req, "no per-second series in this loadgen result")
    ax_req.set_ylabel("requests / s")
    ax_req.set_ylim(bottom=0)
    ax_req.set_title(
        "Requests sent and answers received per second, by status class", loc="left", fontsize=10
    )

    # (b) failures per second
    failed_total = count(loadgen, "failed")
    if series:
        ax_fail.bar(
            edges[:-1],
            _values(series, "failed"),
            width=1.0,
            align="edge",
            color=FAIL_RED,
            edgecolor="#800",
            lw=0.6,
            label="failed",
            zorder=3,
        )
    peak = max([count(row, "failed") for row in series] or [0])
    ax_fail.set_ylim(0, max(1, peak) * 1.25)
    ax_fail.set_ylabel("failed / s")
    ax_fail.set_title(
        f"Failures per second: {said} of {count(loadgen, 'sent')} sent",
        loc="left",
        fontsize=11 if clean else 12,
        fontweight="bold",
        color=OK_GREEN if clean else FAIL_RED,
    )
    if clean:
        _no_data(ax_fail, "no request failed")
    elif not failed_total:
        _no_data(ax_fail, f"{count(loadgen, 'unsent')} requests never sent (no failed answer)")
    ax_fail.yaxis.get_major_locator().set_params(integer=True)

    # (c) latency
    drew = False
    for key, style in (("p50_s", "-"), ("p95_s", "--"), ("p99_s", ":")):
        values = _values(series, key, 1000.0)
        if series and any(not math.isnan(v) for v in values):
            ax_lat.stairs(
                values, edges, baseline=None, lw=1.5, ls=style, color="#333", label=key[:3]
            )
            drew = True
    if drew:
        ax_lat.set_yscale("log")
        _legend(ax_lat, title="2xx latency")
    else:
        _no_data(ax_lat, "no 2xx answer to time")
    ax_lat.set_ylabel("latency (ms, log)")
    ax_lat.set_title("Latency of each second's 2xx answers", loc="left", fontsize=10)

    # (d) release share
    releases: list[str] = []
    for row in series:
        for rid in row.get("release_share") or {}:
            if rid not in releases:
                releases.append(rid)
    rolled_out = receipt.get("release") if receipt else None
    info = loadgen.get("releases") if isinstance(loadgen.get("releases"), dict) else {}
    for i, rid in enumerate(releases):
        shares = []
        for row in series:
            share = row.get("release_share") or {}
            value = number(share.get(rid))
            shares.append(math.nan if not share else (value or 0.0))
        answers = count(info.get(rid) or {}, "count")
        label = literal(f"{rid} ({answers})" + ("  rolled out" if rid == rolled_out else ""))
        ax_rel.stairs(
            shares,
            edges,
            baseline=None,
            lw=2.0,
            color=RELEASE_COLOURS[i % len(RELEASE_COLOURS)],
            label=label,
        )
    if releases:
        _legend(ax_rel, title="release id (GET / answers)")
    else:
        _no_data(ax_rel, "no release id seen")
    ax_rel.set_ylim(-0.04, 1.04)
    ax_rel.set_ylabel("share of GET /")
    ax_rel.set_title("Share of each second's GET / answers per release id", loc="left", fontsize=10)
    ax_rel.set_xlabel(f"seconds since load start (t0 = {utc(t0)})")

    # Receipt steps: dotted lines across the panels, and one lane per host.
    for host in hosts:
        for key, _label, colour, _marker in STEPS:
            if key in host.drawn:
                for ax in axes:
                    ax.axvline(host.drawn[key], color=colour, ls=":", lw=1.3, zorder=2)
    if lane_ax is not None:
        _draw_lanes(lane_ax, hosts, outside)

    for ax in [*axes, *([lane_ax] if lane_ax else [])]:
        ax.grid(axis="x", color="#ddd", lw=0.6)
        ax.set_axisbelow(True)
    return fig


def render_png(loadgen: dict, receipt: dict | None, title: str) -> bytes:
    out = io.BytesIO()
    build_figure(loadgen, receipt, title).savefig(out, format="png")
    return out.getvalue()


def _draw_lanes(ax, hosts: list[Host], outside: int) -> None:
    for y, host in enumerate(hosts):
        times = list(host.drawn.values())
        if times:
            ax.plot(
                [min(times), max(times)],
                [y, y],
                lw=7,
                solid_capstyle="butt",
                color="#f4a6a6" if host.failed else "#d9d9d9",
                zorder=2,
            )
        for key, _label, colour, marker in STEPS:
            if key in host.drawn:
                ax.plot(
                    host.drawn[key],
                    y,
                    marker=marker,
                    ms=8,
                    color=colour,
                    mec="black",
                    mew=0.6,
                    ls="none",
                    zorder=4,
                )
        if DONE in host.drawn:
            ax.plot(host.drawn[DONE], y, marker="|", ms=14, mew=2.2, color="black", zorder=4)
        for key, _label, colour, _marker in STEPS:
            if key in host.drawn:
                ax.axvline(host.drawn[key], color=colour, ls=":", lw=1.0, zorder=1)
    ax.set_yticks(range(len(hosts)))
    ax.set_yticklabels(
        [literal(f"{h.name} (batch {h.batch})" if h.batch is not None else h.name) for h in hosts],
        fontsize=9,
    )
    lo, hi = ax.get_xlim()
    for y, host in enumerate(hosts):
        if not host.failed:
            continue
        times = list(host.drawn.values()) or [lo]
        # Where it stopped: a red cross behind its last step before done.
        last = [host.drawn[key] for key, *_ in STEPS if key in host.drawn]
        if last:
            ax.plot(
                last[-1],
                y,
                marker="X",
                ms=17,
                color=FAIL_RED,
                mec="white",
                mew=0.8,
                ls="none",
                zorder=3,
            )
        # The note beside the lane, on the side with more room, cut to fit that room
        # (about 100 bold characters across the whole axis at this size, less a margin).
        after, before = hi - max(times), min(times) - lo
        room = int(100 * max(after, before) / (hi - lo)) - 6
        note = "FAILED" + (", reverted" if host.reverted else "")
        if host.error:
            note += ": " + " ".join(str(host.error).split())
        if room < len("FAILED"):
            continue  # no room either side: the red lane, cross and label say it
        if len(note) > room:
            note = note[: room - 3] + "..."
        if after >= before:
            x, align, note = max(times) + 0.005 * (hi - lo), "left", "  " + note
        else:
            x, align, note = min(times) - 0.005 * (hi - lo), "right", note + "  "
        box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1}
        ax.text(
            x,
            y,
            literal(note),
            ha=align,
            va="center",
            fontsize=8.5,
            fontweight="bold",
            color=FAIL_RED,
            clip_on=True,
            zorder=5,
            bbox=box,
        )
    for tick, host in zip(ax.get_yticklabels(), hosts, strict=True):
        if host.failed:
            tick.set_color(FAIL_RED)
            tick.set_fontweight("bold")
    ax.set_ylim(len(hosts) - 0.4, -0.6)
    failed = [h.name for h in hosts if h.failed]
    away = f" ({outside} step(s) more than {OUTSIDE_S:.0f} s outside the load: not drawn)"
    ax.set_title(
        "Rollout steps per host (receipt)"
        + (f": {len(failed)} host(s) FAILED: {literal(', '.join(failed))}" if failed else "")
        + (away if outside else ""),
        loc="left",
        fontsize=10,
        fontweight="bold" if failed else "normal",
        color=FAIL_RED if failed else "black",
    )
    handles = [
        Line2D([], [], marker=marker, ms=7, color=colour, mec="black", mew=0.6, ls=":", label=label)
        for _key, label, colour, marker in STEPS
    ]
    handles.append(Line2D([], [], marker="|", ms=10, mew=2, color="black", ls="none", label="done"))
    if failed:
        handles.append(Patch(color="#f4a6a6", label="failed host"))
        handles.append(
            Line2D(
                [],
                [],
                marker="X",
                ms=9,
                color=FAIL_RED,
                mec="white",
                ls="none",
                label="its last step",
            )
        )
    _legend(ax, handles=handles, title="step", ncols=2)


# --------------------------------------------------------------------------- HTML

CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: left; white-space: nowrap; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; min-width: 16em; }
tr.failed td { background: #fde0e0; }
.ok { color: #1b7837; font-weight: bold; }
.bad { color: #d7191c; font-weight: bold; }
.verdict { font-size: 1.3em; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
"""


class Cell:
    """A table cell: HTML (already escaped) and its class."""

    def __init__(self, markup: str, cls: str = ""):
        self.markup, self.cls = markup, cls


def e(value) -> str:
    """Any value as escaped HTML text (None as nothing)."""
    return html.escape("" if value is None else str(value), quote=True)


def n(value) -> Cell:
    """A right-aligned number (None as nothing)."""
    return Cell(e(value), "num")


def seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}"


def ms(value) -> str:
    value = number(value)
    return "-" if value is None else f"{value * 1000:.1f}"


def verdict_span(said: str, clean: bool) -> str:
    return f'<span class="{"ok" if clean else "bad"}">{e(said)}</span>'


def table(head: list[str] | None, rows: list[list], failed_rows: list[bool] | None = None) -> str:
    """A table; head cells are text, row cells text (escaped here) or Cell (markup as is)."""
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>")
    for i, row in enumerate(rows):
        cells = []
        for cell in row:
            if not isinstance(cell, Cell):
                cell = Cell(e(cell))
            cls = f' class="{cell.cls}"' if cell.cls else ""
            cells.append(f"<td{cls}>{cell.markup}</td>")
        tr = '<tr class="failed">' if failed_rows and failed_rows[i] else "<tr>"
        out.append(tr + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _dict(data: dict, key: str) -> dict:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def render_html(loadgen: dict, receipt: dict | None, title: str, png: bytes) -> str:
    said, clean = verdict(loadgen)
    t0 = float(loadgen["started_epoch"])
    image = base64.b64encode(png).decode("ascii")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{CSS}</style>",
        "</head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="verdict {"ok" if clean else "bad"}">{e(summary_line(loadgen, receipt))}</p>',
        f'<img alt="requests, failures, latency and release share per second" '
        f'src="data:image/png;base64,{image}">',
        "<h2>Load</h2>",
    ]
    target = loadgen.get("url")
    if isinstance(target, str):
        target = target.split("://", 1)[-1]  # text, not a link
    latency = _dict(_dict(loadgen, "latency_s"), "all")
    totals = [
        ["verdict", Cell(verdict_span(said, clean))],
        ["sent", n(count(loadgen, "sent"))],
        ["answered 2xx (ok)", n(count(loadgen, "ok"))],
        ["failed", n(count(loadgen, "failed"))],
        ["unsent", n(count(loadgen, "unsent"))],
        ["in flight at exit", n(count(loadgen, "in_flight_at_exit"))],
        ["target", target],
        ["started", loadgen.get("started")],
        ["ended", loadgen.get("ended")],
        ["duration (s)", n(loadgen.get("duration_s"))],
        [
            "offered / achieved rate (req/s)",
            n(f"{text(loadgen.get('offered_rate'))} / {text(loadgen.get('achieved_rate'))}"),
        ],
        [
            "2xx latency p50 / p95 / p99 / max (ms)",
            n(" / ".join(ms(latency.get(k)) for k in ("p50", "p95", "p99", "max"))),
        ],
        ["stale keep-alive retries", n(count(loadgen, "stale_keepalive_retries"))],
        ["max lateness (s)", n(loadgen.get("max_lateness_s"))],
        ["stop reason", loadgen.get("stop_reason")],
    ]
    parts.append(table(["total", "value"], totals))

    if receipt is not None:
        parts.extend(_receipt_html(receipt, t0))

    by_kind = _dict(loadgen, "by_kind")
    if by_kind:
        rows = []
        for kind, stats in by_kind.items():
            stats = stats if isinstance(stats, dict) else {}
            rows.append([kind, *(n(count(stats, k)) for k in ("sent", "ok", "failed"))])
        failed_rows = [count(_dict(by_kind, kind), "failed") > 0 for kind in by_kind]
        parts += ["<h2>By kind</h2>", table(["kind", "sent", "ok", "failed"], rows, failed_rows)]

    by_status = _dict(loadgen, "by_status")
    if by_status:
        rows = [[status, n(count(by_status, status))] for status in by_status]
        failed_rows = [not str(status).startswith("2") for status in by_status]
        parts += ["<h2>By status</h2>", table(["status", "answers"], rows, failed_rows)]

    releases = _dict(loadgen, "releases")
    rolled_out = receipt.get("release") if receipt else None
    parts.append("<h2>Releases seen</h2>")
    if releases:
        rows = []
        for rid, info in releases.items():
            info = info if isinstance(info, dict) else {}
            rows.append(
                [
                    Cell(e(rid) + (" <b>(rolled out)</b>" if rid == rolled_out else "")),
                    n(count(info, "count")),
                    n(seconds(number(info.get("first_seen")))),
                    n(seconds(number(info.get("last_seen")))),
                ]
            )
        parts.append(
            table(["release id", "GET / answers", "first seen (s)", "last seen (s)"], rows)
        )
    else:
        parts.append("<p>No release id in any answer.</p>")

    failures = loadgen.get("failures") if isinstance(loadgen.get("failures"), list) else []
    if failures:
        rows = []
        for item in failures[:FAILURES_LISTED]:
            item = item if isinstance(item, dict) else {}
            rows.append(
                [
                    n(seconds(number(item.get("t")))),
                    item.get("kind"),
                    f"{text(item.get('method'), '')} {text(item.get('path'), '')}",
                    item.get("status"),
                    Cell(e(item.get("error")), "wrap"),
                    item.get("request_id"),
                ]
            )
        parts += [
            f'<h2 class="bad">Failed requests ({e(said)})</h2>',
            table(
                ["t (s)", "kind", "request", "status", "error", "X-Request-ID"],
                rows,
                [True] * len(rows),
            ),
        ]
        more = count(loadgen, "failed") - len(rows)
        if more > 0:
            parts.append(f"<p>{more} more failed requests not listed.</p>")

    parts.append(
        f"<p>Times in seconds since load start: t0 = {e(utc(t0))} "
        f"(loadgen's started_epoch {e(t0)}).</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _receipt_html(receipt: dict, t0: float) -> list[str]:
    outcome = receipt.get("outcome")
    operator = _dict(receipt, "operator")
    started, finished = number(receipt.get("started_epoch")), number(receipt.get("finished_epoch"))

    def at(label, epoch):
        return f"{text(receipt.get(label))}" + (
            f" ({seconds(epoch - t0)} s)" if epoch is not None else ""
        )

    took = finished - started if started is not None and finished is not None else None
    rows = [
        ["id", receipt.get("id")],
        ["kind", receipt.get("kind")],
        ["release", receipt.get("release")],
        ["outcome", Cell(verdict_span(text(outcome), outcome == "succeeded"))],
        ["started", at("started", started)],
        ["finished", at("finished", finished)],
        ["took (s)", n(seconds(took))],
        ["operator", f"{text(operator.get('user'))}@{text(operator.get('host'))}"],
        ["command", Cell(f"<code>{e(operator.get('command'))}</code>", "wrap")],
    ]
    if receipt.get("failed_step") or receipt.get("error"):
        rows.append(
            ["failed step", Cell(f'<span class="bad">{e(receipt.get("failed_step"))}</span>')]
        )
        rows.append(["error", Cell(e(receipt.get("error")), "wrap")])
    rows = [row for row in rows if row[1] is not None]
    if receipt.get("schema") != 1:
        rows.append(["schema", f"{text(receipt.get('schema'))} (this report knows 1)"])
    parts = ["<h2>Rollout (receipt)</h2>", table(None, rows)]

    hosts = receipt_hosts(receipt, t0)
    parts.append("<h2>Hosts (step times in seconds since load start)</h2>")
    if not hosts:
        return [*parts, "<p>The receipt lists no host.</p>"]
    head = ["host", "batch", "previous \u2192 final", "ok", "reverted", "error", *TABLE_STEPS]
    took = any(host.seconds is not None for host in hosts)
    if took:
        head.append("took (s)")
    rows = []
    for host in hosts:
        ok = "?" if host.ok is None else ("yes" if host.ok else "FAILED")
        reverted = "" if host.reverted is None else ("yes" if host.reverted else "no")
        rows.append(
            [
                host.name,
                n(host.batch),
                f"{text(host.previous)} \u2192 {text(host.final)}",
                Cell(f'<span class="bad">{ok}</span>') if host.failed else ok,
                reverted,
                Cell(e(host.error), "wrap"),
                *(n(seconds(host.steps.get(key))) for key in TABLE_STEPS),
                *([n(seconds(host.seconds))] if took else []),
            ]
        )
    parts.append(table(head, rows, [host.failed for host in hosts]))
    return parts


# --------------------------------------------------------------------------- CLI


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Render a rollout under load (loadgen result, optional receipt) as "
        "PREFIX.png and a self-contained PREFIX.html.",
        epilog="Exit status: 0 both files written, 2 usage or input error.",
    )
    parser.add_argument("--loadgen", required=True, help="scripts/loadgen.py's JSON result")
    parser.add_argument("--receipt", help="the rollout receipt (JSON), for the step marks")
    parser.add_argument("--output", required=True, help="write PREFIX.png and PREFIX.html")
    parser.add_argument("--title", help="the report's title (default: kind and release)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        loadgen = load_json(args.loadgen, "loadgen result")
        check_loadgen(loadgen)
        receipt = load_json(args.receipt, "receipt") if args.receipt else None
    except ReportError as exc:
        print(f"rollout_report: error: {exc}", file=sys.stderr)
        return 2
    if receipt is not None and receipt.get("schema") != 1:
        print(
            f"rollout_report: warning: receipt schema {receipt.get('schema')!r}, "
            "this report knows 1; drawing what it recognises",
            file=sys.stderr,
        )
    title = args.title or default_title(loadgen, receipt)
    png = render_png(loadgen, receipt, title)
    page = render_html(loadgen, receipt, title, png)
    png_path, html_path = f"{args.output}.png", f"{args.output}.html"
    parent = os.path.dirname(args.output)
    try:
        if parent:
            os.makedirs(parent, exist_ok=True)
        write_atomic(png_path, png)
        write_atomic(html_path, page.encode("utf-8"))
    except OSError as exc:
        print(f"rollout_report: error: cannot write {args.output}.*: {exc}", file=sys.stderr)
        return 2
    print(png_path)
    print(html_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
