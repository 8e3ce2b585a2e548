"""Filters of the flask_app_rollout role: the rollout's bookkeeping as data.

Every app host carries one state dict, __flask_app_rollout (tasks/main.yml starts and
updates it):
    started   the time its batch began (absent: the rollout has not reached it)
    previous  the release directory `current` pointed to before (where a failure goes back)
    ok        whether it is still fine (false once any step failed)
    error     the first failure, "<task>: <message>"
    reverted  whether it went back to `previous` after the app failed on the new release
    serving   whether its app answers (false when the way back failed too)
    drains    {port: "drained <ms>ms" | "timeout <open connections>"}
    seconds   how long its batch took (set when the batch finished: done)
    done      whether its batch ran to the end
The filters below read these dicts ({host: state}) and return what the tasks act on.
Tested by tests/test_rollout_filters.py (run by `make test`).
"""

import json


def _started(state):
    return bool(state) and "started" in state


def _in_order(hosts, chosen):
    chosen = set(chosen)
    return [host for host in hosts if host in chosen]


def progress(states, app_hosts, batch, max_fail_percentage=0):
    """Where the rollout stands for the play batch `batch`.

    ok / failed: the batch's hosts that are still fine / that failed; failed_before: the
    hosts that failed in earlier batches; failed_all: both; stopped: whether the failures
    exceed max_fail_percentage of the app hosts (the next batches are left alone).
    """
    if not app_hosts:
        raise ValueError("no app hosts to roll out to")
    batch = set(batch)
    done = {host: states.get(host) or {} for host in app_hosts}
    ok = [h for h in app_hosts if h in batch and _started(done[h]) and done[h]["ok"]]
    failed = [h for h in app_hosts if h in batch and _started(done[h]) and not done[h]["ok"]]
    failed_before = [
        h for h in app_hosts if h not in batch and _started(done[h]) and not done[h]["ok"]
    ]
    failed_all = _in_order(app_hosts, failed + failed_before)
    share = len(failed_all) * 100 / len(app_hosts)
    return {
        "ok": ok,
        "failed": failed,
        "failed_before": failed_before,
        "failed_all": failed_all,
        "stopped": share > float(max_fail_percentage),
    }


def route(states, app_hosts, batch, phase):
    """The app upstream's membership for one step of a batch.

    phase "standby": the batch's fine hosts serve from their standby only (their app's own
    port is drained); "back": every fine host's app serves again and the standbys leave.
    Failed hosts stay down, unless that would leave no server at all (one app host, or
    every host failed): an upstream with every server down answers 502 to every request,
    so the failed hosts whose previous release still serves stay in (kept_in).
    Returns {down, standby, kept_in}, each a list of app hosts.
    """
    if phase not in ("standby", "back"):
        raise ValueError(f"unknown phase {phase!r}: standby or back")
    state = progress(states, app_hosts, batch)
    standby = state["ok"] if phase == "standby" else []
    down = state["failed_before"] + state["failed"] + standby
    live = [h for h in app_hosts if h not in down] + standby
    kept_in = []
    if not live:
        kept_in = [
            h
            for h in down
            if (states.get(h) or {}).get("serving") and not (states.get(h) or {}).get("ok")
        ]
    return {
        "down": _in_order(app_hosts, set(down) - set(kept_in)),
        "standby": standby,
        "kept_in": _in_order(app_hosts, kept_in),
    }


def summary(states, app_hosts, running, kept_in=(), release=""):
    """One line per app host: the release it runs now (running: {host: release id}) and
    what happened to it in the rollout."""
    lines = []
    for host in app_hosts:
        state = states.get(host) or {}
        head = f"{host}: runs {running.get(host) or '?'} - "
        if not _started(state):
            lines.append(head + "not reached (the rollout stopped before its batch)")
        elif not state.get("done"):
            lines.append(head + "FAILED, its batch did not finish (see the failed task above)")
        elif state["ok"]:
            drains = json.dumps(state.get("drains") or {})
            lines.append(f"{head}switched to {release} in {state['seconds']} s, drains {drains}")
        elif host in kept_in:
            lines.append(
                head + "FAILED, kept in the upstream on its previous release (no other "
                "server left): " + state["error"]
            )
        else:
            lines.append(head + "FAILED, left out of the upstream: " + state["error"])
    return lines


def rollback_target(releases, requested=""):
    """The release a rollback goes back to, from one host's flask_app_releases (the
    flask_app role's `releases` entry point): `requested` when given, else the last release
    activated before the current one that is still installed.

    Returns {target, current, installed, listing, error}: installed lists the complete
    releases newest first, listing one line per installed release (the current one marked),
    and error says why the target cannot be used ("" when it can).
    """
    current = releases.get("current") or ""
    complete = [entry for entry in releases.get("releases") or [] if len(entry) > 2 and entry[2]]
    installed = [entry[0] for entry in complete]
    history = [
        release
        for release in releases.get("activations") or []
        if release != current and release in installed
    ]
    target = requested or (history[-1] if history else "")
    if not target:
        error = "no earlier release is installed"
    elif target not in installed:
        error = f"{target!r} is not installed"
    elif target == current:
        error = f"{target!r} is the current release"
    else:
        error = ""
    listing = [
        f"{name} (installed {when})" + ("  <- current" if name == current else "")
        for name, _mtime, when in complete
    ]
    return {
        "target": target,
        "current": current,
        "installed": installed,
        "listing": listing,
        "error": error,
    }


class FilterModule:
    def filters(self):
        return {
            "flask_app_rollout_progress": progress,
            "flask_app_rollout_route": route,
            "flask_app_rollout_summary": summary,
            "flask_app_rollback_target": rollback_target,
        }
