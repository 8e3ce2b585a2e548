"""The rollout's bookkeeping (roles/flask_app_rollout/filter_plugins/rollout.py): batches,
the upstream's membership at each step, the summary and the rollback's target."""

from __future__ import annotations

import plugin_loader
import pytest

rollout = plugin_loader.load("roles/flask_app_rollout/filter_plugins/rollout.py")

HOSTS = ["app1", "app2", "app3", "app4"]


def started(ok=True, serving=True, done=False, error="", seconds=0.0, **more):
    return {
        "started": 1.0,
        "previous": "/srv/app/releases/old",
        "ok": ok,
        "error": error,
        "reverted": False,
        "serving": serving,
        "drains": {},
        "done": done,
        "seconds": seconds,
        **more,
    }


# ---- progress ---------------------------------------------------------------------------


def test_a_new_rollout_has_nothing_failed_and_goes_on():
    state = rollout.progress({}, HOSTS, ["app1"], 0)
    assert state == {
        "ok": [],
        "failed": [],
        "failed_before": [],
        "failed_all": [],
        "stopped": False,
    }


def test_the_batch_and_earlier_batches_are_told_apart():
    states = {
        "app1": started(ok=False, done=True),
        "app2": started(done=True),
        "app3": started(),
        "app4": started(ok=False),
    }
    state = rollout.progress(states, HOSTS, ["app3", "app4"], 50)
    assert state["ok"] == ["app3"]
    assert state["failed"] == ["app4"]
    assert state["failed_before"] == ["app1"]
    assert state["failed_all"] == ["app1", "app4"]
    # 2 of 4 failed: 50 % is not more than 50 %.
    assert state["stopped"] is False
    assert rollout.progress(states, HOSTS, ["app3", "app4"], 49)["stopped"] is True


def test_zero_percent_stops_at_the_first_failure():
    states = {"app1": started(ok=False, done=True)}
    assert rollout.progress(states, HOSTS, ["app2"], 0)["stopped"] is True
    assert rollout.progress(states, HOSTS, ["app2"], 25)["stopped"] is False


def test_no_app_hosts_is_an_error():
    with pytest.raises(ValueError):
        rollout.progress({}, [], [], 0)


# ---- route ------------------------------------------------------------------------------


def test_the_batch_goes_to_its_standbys_then_back():
    states = {"app1": started(done=True), "app2": started()}
    standby = rollout.route(states, HOSTS, ["app2"], "standby")
    assert standby == {"down": ["app2"], "standby": ["app2"], "kept_in": []}
    back = rollout.route(states, HOSTS, ["app2"], "back")
    assert back == {"down": [], "standby": [], "kept_in": []}


def test_failed_hosts_stay_out_of_the_upstream():
    states = {"app1": started(ok=False, done=True), "app2": started(), "app3": started(ok=False)}
    standby = rollout.route(states, HOSTS, ["app2", "app3"], "standby")
    assert standby == {"down": ["app1", "app2", "app3"], "standby": ["app2"], "kept_in": []}
    back = rollout.route(states, HOSTS, ["app2", "app3"], "back")
    assert back == {"down": ["app1", "app3"], "standby": [], "kept_in": []}


def test_a_lone_failed_host_that_still_serves_is_kept_in():
    # All-in-one: the only app host failed and went back to its previous release.
    states = {"aio": started(ok=False, serving=True)}
    assert rollout.route(states, ["aio"], ["aio"], "back") == {
        "down": [],
        "standby": [],
        "kept_in": ["aio"],
    }


def test_a_lone_host_that_no_longer_serves_is_down():
    states = {"aio": started(ok=False, serving=False)}
    assert rollout.route(states, ["aio"], ["aio"], "back") == {
        "down": ["aio"],
        "standby": [],
        "kept_in": [],
    }


def test_when_every_host_failed_those_that_serve_are_kept_in():
    states = {
        "app1": started(ok=False, done=True),
        "app2": started(ok=False, serving=False, done=True),
    }
    assert rollout.route(states, ["app1", "app2"], [], "back") == {
        "down": ["app2"],
        "standby": [],
        "kept_in": ["app1"],
    }


def test_the_lone_standby_counts_as_live():
    states = {"aio": started()}
    assert rollout.route(states, ["aio"], ["aio"], "standby") == {
        "down": ["aio"],
        "standby": ["aio"],
        "kept_in": [],
    }


def test_an_unknown_phase_is_an_error():
    with pytest.raises(ValueError, match="sideways"):
        rollout.route({}, HOSTS, [], "sideways")


# ---- summary ----------------------------------------------------------------------------


def test_one_line_per_host_in_order():
    states = {
        "app1": started(done=True, seconds=12.3, drains={"8000": "drained 5ms"}),
        "app2": started(ok=False, done=True, error="Check the standby's readiness: 503"),
        "app3": started(),
    }
    running = {"app1": "new", "app2": "old", "app3": "old"}
    assert rollout.summary(states, HOSTS, running, [], "new") == [
        'app1: runs new - switched to new in 12.3 s, drains {"8000": "drained 5ms"}',
        "app2: runs old - FAILED, left out of the upstream: Check the standby's readiness: 503",
        "app3: runs old - FAILED, its batch did not finish (see the failed task above)",
        "app4: runs ? - not reached (the rollout stopped before its batch)",
    ]


def test_a_kept_in_host_says_so():
    states = {"aio": started(ok=False, done=True, error="Wait until the app is ready: timeout")}
    assert rollout.summary(states, ["aio"], {"aio": "old"}, ["aio"], "new") == [
        "aio: runs old - FAILED, kept in the upstream on its previous release (no other server "
        "left): Wait until the app is ready: timeout"
    ]


# ---- rollback_target --------------------------------------------------------------------

RELEASES = {
    "current": "ccc",
    "releases": [
        ["ccc", 30.0, "2026-12-02T10:00:00Z"],
        ["half", 25.0, ""],
        ["bbb", 20.0, "2026-12-01T10:00:00Z"],
        ["aaa", 10.0, "2026-11-30T10:00:00Z"],
    ],
    "activations": ["aaa", "bbb", "gone", "ccc"],
}


def test_the_previous_release_is_the_last_activated_one_still_installed():
    target = rollout.rollback_target(RELEASES)
    assert target["target"] == "bbb"
    assert target["error"] == ""
    assert target["installed"] == ["ccc", "bbb", "aaa"]
    assert target["listing"] == [
        "ccc (installed 2026-12-02T10:00:00Z)  <- current",
        "bbb (installed 2026-12-01T10:00:00Z)",
        "aaa (installed 2026-11-30T10:00:00Z)",
    ]


def test_a_named_release_wins():
    assert rollout.rollback_target(RELEASES, "aaa")["target"] == "aaa"


@pytest.mark.parametrize(
    ("requested", "error"),
    [("ccc", "is the current release"), ("half", "is not installed"), ("zzz", "is not installed")],
)
def test_a_release_that_cannot_be_used_is_refused(requested, error):
    assert error in rollout.rollback_target(RELEASES, requested)["error"]


def test_nothing_to_go_back_to():
    only = {"current": "ccc", "releases": [["ccc", 1.0, "t"]], "activations": ["ccc"]}
    assert rollout.rollback_target(only)["error"] == "no earlier release is installed"
