"""Filters of the flask_app_rollout role: the receipt of a rollout, and the history table.

A receipt is one JSON document per deploy, rolling update or rollback (tasks/receipt.yml
writes it on the controller and on every app host, and may POST it to a webhook). Its keys
(schema 1):
    schema, id, kind            1; "<UTC start>-<kind>-<release>"; rolling_update, rollback
                                or deploy
    release, outcome            the release shipped; succeeded, or failed (a host failed or
                                does not run the release, or a step before any switch failed)
    failed_step, error          the step that failed before any switch ("" otherwise), why
    started, finished (+_epoch) ISO 8601 UTC and epoch seconds
    source                      what was built: {type: path|git|archive|installed, path,
                                repo, ref, subdir, commit, archive_sha256, wheel,
                                wheel_sha256} (the app's own wheel and its sha256)
    wheels                      {"name==version": ["sha256:...", ...]} from the release's
                                requirements.lock (or its bare pins, with no hashes)
    anaconda_installer_checksum the inventory's "sha256:<hex>"
    operator                    {user, host, command (extra vars' secret-looking values
                                redacted), inventory, check_mode}
    hosts                       {host: {batch, previous, final, ok, reverted, serving, error,
                                seconds, drains, steps: {standby_up, drain, switch, ready,
                                revert, undrain, done: epoch seconds}}} (revert: the app
                                answered again on its previous release after a failed switch)
The step times are the controller's clock when the step had happened (tasks/main.yml).
Tested by tests/test_rollout_receipt.py (run by `make test`).
"""

import getpass
import json
import os
import re
import shlex
import socket
import sys
import time
from datetime import UTC, datetime

SCHEMA = 1
KINDS = ("rolling_update", "rollback", "deploy")
STEPS = ("standby_up", "drain", "switch", "ready", "revert", "undrain", "done")
# Extra vars whose value is not recorded in the receipt's command line.
_SECRET = re.compile(r"pass|secret|token|key|vault|webhook|credential", re.IGNORECASE)
REDACTED = "<redacted>"


def _iso(epoch):
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _redact_extra_vars(value):
    """One -e value with the secret-looking variables' values replaced."""
    text = value.strip()
    if text.startswith("@"):
        return value  # a file: its name only
    if text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError:
            return REDACTED  # YAML or broken JSON: not parsed here, not recorded
        if isinstance(data, dict):
            data = {k: REDACTED if _SECRET.search(str(k)) else v for k, v in data.items()}
        return json.dumps(data, sort_keys=True)
    try:
        words = shlex.split(text)
    except ValueError:
        return REDACTED
    kept = []
    for word in words:
        name, sep, _ = word.partition("=")
        kept.append(f"{name}={REDACTED}" if sep and _SECRET.search(name) else word)
    return " ".join(kept)


def command_line(argv=None):
    """The ansible-playbook command line of this run (the worker processes inherit the main
    process's sys.argv), its extra vars' secret-looking values redacted."""
    argv = list(sys.argv if argv is None else argv)
    out, redact_next = [], False
    for arg in argv:
        if redact_next:
            out.append(_redact_extra_vars(arg))
            redact_next = False
        elif arg in ("-e", "--extra-vars"):
            out.append(arg)
            redact_next = True
        elif arg.startswith("--extra-vars="):
            out.append("--extra-vars=" + _redact_extra_vars(arg.partition("=")[2]))
        elif arg.startswith("-e") and len(arg) > 2:
            out.append("-e" + _redact_extra_vars(arg[2:]))
        else:
            out.append(arg)
    if out:
        out[0] = os.path.basename(out[0])
    return shlex.join(out)


def wheels(lock):
    """{"name==version": [hashes]} from a requirements.lock's text or lines (bare pins give
    an empty list)."""
    lines = lock.splitlines() if isinstance(lock, str) else list(lock or [])
    pins = {}
    for line in lines:
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        pins[words[0]] = [w.partition("=")[2] for w in words[1:] if w.startswith("--hash=")]
    return pins


def _release_of(path):
    return os.path.basename(str(path or "").rstrip("/"))


def _batches(states, hosts):
    """{host: batch number from 1}, batches ordered by when they started."""
    firsts = {}
    for host in hosts:
        state = states.get(host) or {}
        if "started" not in state:
            continue
        key = tuple(state.get("batch") or [host])
        firsts[key] = min(firsts.get(key, float("inf")), float(state["started"]))
    order = {key: n for n, key in enumerate(sorted(firsts, key=firsts.get), start=1)}
    numbers = {}
    for key, n in order.items():
        for host in key:
            numbers[host] = n
    return numbers


def _host(host, state, running, previous, release, batch, walked):
    """One host's entry; walked: whether the run walks the hosts in batches (a rollout,
    where a host its batch never reached is not fine), else a deploy, judged by the release
    the host runs."""
    final = running.get(host) or ""
    entry = {
        "batch": batch,
        "previous": _release_of(state.get("previous")) or previous.get(host) or "",
        "final": final,
    }
    if "started" in state:
        entry.update(
            ok=bool(state.get("ok")) and bool(state.get("done")),
            reverted=bool(state.get("reverted")),
            serving=bool(state.get("serving")),
            error=state.get("error") or ("" if state.get("done") else "its batch did not finish"),
            seconds=state.get("seconds"),
            drains=state.get("drains") or {},
            steps={
                step: round(float(state["steps"][step]), 3)
                for step in STEPS
                if step in (state.get("steps") or {})
            },
        )
    else:
        if walked:
            ok, error = False, "not reached (the rollout stopped before its batch)"
        else:
            ok = bool(release) and final == release
            error = "" if final == release else f"runs {final or 'no release'}, not {release}"
        entry.update(
            ok=ok,
            reverted=False,
            serving=bool(final),
            error=error,
            seconds=None,
            drains={},
            steps={},
        )
    return entry


def receipt(facts, now=None, argv=None):
    """The receipt of a run from what tasks/receipt.yml gathered (facts: kind, release,
    app_hosts, states, running, previous, source, lock,
    anaconda_installer_checksum, started_epoch, failed_step, error, inventory,
    check_mode)."""
    kind = facts.get("kind") or ""
    if kind not in KINDS:
        raise ValueError(f"unknown receipt kind {kind!r}: one of {', '.join(KINDS)}")
    hosts = list(facts.get("app_hosts") or [])
    states = facts.get("states") or {}
    running = {h: _release_of(r) for h, r in (facts.get("running") or {}).items()}
    previous = {h: _release_of(r) for h, r in (facts.get("previous") or {}).items()}
    release = facts.get("release") or ""
    finished = time.time() if now is None else float(now)
    starts = [float(s["started"]) for s in states.values() if s and "started" in s]
    started = float(facts.get("started_epoch") or (min(starts) if starts else finished))
    batches = _batches(states, hosts)
    walked = kind != "deploy"
    entries = {
        h: _host(h, states.get(h) or {}, running, previous, release, batches.get(h), walked)
        for h in hosts
    }
    failed_step = facts.get("failed_step") or ""
    ok = (
        bool(release)
        and not failed_step
        and all(e["ok"] and e["final"] == release for e in entries.values())
    )
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%SZ")
    return {
        "schema": SCHEMA,
        "id": f"{stamp}-{kind}-{release or 'none'}",
        "kind": kind,
        "release": release,
        "outcome": "succeeded" if ok else "failed",
        "failed_step": failed_step,
        "error": facts.get("error") or "",
        "started": _iso(started),
        "started_epoch": round(started, 3),
        "finished": _iso(finished),
        "finished_epoch": round(finished, 3),
        "source": facts.get("source") or {},
        "wheels": wheels(facts.get("lock") or ""),
        "anaconda_installer_checksum": facts.get("anaconda_installer_checksum") or "",
        "operator": {
            "user": getpass.getuser(),
            "host": socket.gethostname(),
            "command": command_line(argv),
            "inventory": facts.get("inventory") or "",
            "check_mode": bool(facts.get("check_mode")),
        },
        "hosts": entries,
    }


def _load(item):
    """A receipt, or its file's path (a file that cannot be read gives a row that says so)."""
    if isinstance(item, dict):
        return item
    try:
        with open(item, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        data = {"outcome": f"unreadable ({exc.__class__.__name__})"}
    if not isinstance(data, dict):
        data = {"outcome": "unreadable (not a JSON object)"}
    data.setdefault("id", os.path.basename(str(item)))
    return data


def history(receipts, count=10):
    """The last `count` receipts (receipts or their files' paths; oldest first, by id) as
    lines of a text table."""
    rows = sorted((_load(r) for r in receipts), key=lambda r: str(r["id"]))
    rows = rows[-int(count) :] if int(count) > 0 else rows
    table = [("started (UTC)", "kind", "release", "outcome", "hosts ok", "seconds", "by")]
    for r in rows:
        hosts = r.get("hosts") or {}
        good = sum(1 for h in hosts.values() if h.get("ok"))
        seconds = float(r.get("finished_epoch", 0)) - float(r.get("started_epoch", 0))
        who = r.get("operator") or {}
        table.append(
            (
                str(r.get("started", ""))[:19].replace("T", " "),
                str(r.get("kind", "")),
                str(r.get("release", "")) or "-",
                str(r.get("outcome", ""))
                + (f" ({r['failed_step']})" if r.get("failed_step") else ""),
                f"{good}/{len(hosts)}",
                f"{seconds:.0f}",
                f"{who.get('user', '?')}@{who.get('host', '?')}",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


class FilterModule:
    def filters(self):
        return {
            "flask_app_rollout_receipt": receipt,
            "flask_app_rollout_history": history,
        }
