"""The rollout's receipt and the history table
(roles/flask_app_rollout/filter_plugins/receipt.py)."""

from __future__ import annotations

import json

import plugin_loader
import pytest

receipt_plugin = plugin_loader.load("roles/flask_app_rollout/filter_plugins/receipt.py")
receipt = receipt_plugin.receipt

HOSTS = ["app1", "app2"]
OLD, NEW = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
LOCK = """# generated
flask==3.1.3 --hash=sha256:f4bc
cffi==2.1.1 --hash=sha256:194c --hash=sha256:34e2
bare==1.0
"""


def state(host_batch, started, ok=True, done=True, **more):
    # A fine host's walk; one that failed its switch went back instead of being ready.
    walk = ("standby_up", "drain", "switch", "ready" if ok else "revert", "undrain", "done")
    steps = {s: started + n for n, s in enumerate(walk, start=1)}
    return {
        "started": started,
        "previous": f"/srv/app/releases/{OLD}",
        "ok": ok,
        "error": "" if ok else "3. Switch: readiness failed",
        "reverted": not ok,
        "serving": True,
        "drains": {"8000": "drained 120ms"},
        "done": done,
        "seconds": 7.0,
        "batch": host_batch,
        "steps": steps,
        **more,
    }


def facts(**more):
    base = {
        "kind": "rolling_update",
        "release": NEW,
        "app_hosts": HOSTS,
        "states": {"app1": state(["app1"], 100.0), "app2": state(["app2"], 200.0)},
        "running": {h: f"/srv/app/releases/{NEW}" for h in HOSTS},
        "previous": {h: f"/srv/app/releases/{OLD}" for h in HOSTS},
        "source": {"type": "git", "commit": "c0ffee"},
        "lock": LOCK,
        "anaconda_installer_checksum": "sha256:" + "0" * 64,
        "started_epoch": "90",
        "failed_step": "",
        "inventory": "/x/inventories/prod",
        "check_mode": False,
    }
    base.update(more)
    return base


ARGV = ["/v/bin/ansible-playbook", "playbooks/rolling_update.yml", "-i", "inventories/prod"]


def test_a_rollout_that_switched_every_host_succeeded():
    r = receipt(facts(), now=300.0, argv=ARGV)
    assert r["outcome"] == "succeeded"
    assert r["id"] == "19700101T000130Z-rolling_update-" + NEW
    assert (r["started_epoch"], r["finished_epoch"]) == (90.0, 300.0)
    assert r["started"] == "1970-01-01T00:01:30.000Z"
    assert r["hosts"]["app1"]["batch"] == 1 and r["hosts"]["app2"]["batch"] == 2
    assert r["hosts"]["app2"]["steps"] == {
        "standby_up": 201.0,
        "drain": 202.0,
        "switch": 203.0,
        "ready": 204.0,
        "undrain": 205.0,
        "done": 206.0,
    }
    assert r["hosts"]["app1"]["previous"] == OLD and r["hosts"]["app1"]["final"] == NEW
    assert r["wheels"] == {
        "flask==3.1.3": ["sha256:f4bc"],
        "cffi==2.1.1": ["sha256:194c", "sha256:34e2"],
        "bare==1.0": [],
    }
    command = "ansible-playbook playbooks/rolling_update.yml -i inventories/prod"
    assert r["operator"]["command"] == command
    assert r["operator"]["user"] and r["operator"]["host"]
    json.dumps(r)  # it is JSON as it is


def test_hosts_of_one_batch_share_its_number():
    states = {"app1": state(HOSTS, 100.0), "app2": state(HOSTS, 100.5)}
    r = receipt(facts(states=states), now=300.0, argv=ARGV)
    assert [r["hosts"][h]["batch"] for h in HOSTS] == [1, 1]


def test_a_failed_host_or_one_not_reached_fails_the_rollout():
    states = {"app1": state(["app1"], 100.0, ok=False), "app2": {}}
    running = {"app1": f"/r/{OLD}", "app2": f"/r/{OLD}"}
    r = receipt(facts(states=states, running=running), now=300.0, argv=ARGV)
    assert r["outcome"] == "failed"
    assert r["hosts"]["app1"]["ok"] is False and r["hosts"]["app1"]["reverted"] is True
    assert r["hosts"]["app1"]["error"].startswith("3. Switch")
    assert r["hosts"]["app1"]["steps"]["revert"] == 104.0
    assert "ready" not in r["hosts"]["app1"]["steps"]
    assert r["hosts"]["app2"]["ok"] is False
    assert r["hosts"]["app2"]["error"].startswith("not reached")
    assert r["hosts"]["app2"]["steps"] == {}


def test_a_batch_that_did_not_finish_is_not_ok():
    states = {"app1": state(["app1"], 100.0), "app2": state(["app2"], 200.0, done=False)}
    r = receipt(facts(states=states), now=300.0, argv=ARGV)
    assert r["outcome"] == "failed"
    assert r["hosts"]["app2"]["error"] == "its batch did not finish"


def test_a_failed_preparation_is_named():
    r = receipt(
        facts(states={}, release="", failed_step="preparation", error="no wheel"),
        now=300.0,
        argv=ARGV,
    )
    assert r["outcome"] == "failed" and r["failed_step"] == "preparation"
    assert r["error"] == "no wheel"
    assert r["id"].endswith("-rolling_update-none")


def test_a_deploy_has_no_walk_and_judges_by_the_running_release():
    f = facts(kind="deploy", states={})
    assert receipt(f, now=300.0, argv=ARGV)["outcome"] == "succeeded"
    f["running"] = {"app1": f"/r/{NEW}", "app2": f"/r/{OLD}"}
    r = receipt(f, now=300.0, argv=ARGV)
    assert r["outcome"] == "failed"
    assert r["hosts"]["app2"]["error"] == f"runs {OLD}, not {NEW}"
    assert r["hosts"]["app1"]["steps"] == {} and r["hosts"]["app1"]["batch"] is None


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown receipt kind"):
        receipt(facts(kind="update"), now=1.0, argv=ARGV)


@pytest.mark.parametrize(
    ("extra", "recorded"),
    [
        (
            "vault_db_password=hunter2 flask_app_rollout_serial=2",
            f"vault_db_password={receipt_plugin.REDACTED} flask_app_rollout_serial=2",
        ),
        (
            '{"flask_app_rollout_webhook_url": "https://x/?t=1", "n": 1}',
            json.dumps({"flask_app_rollout_webhook_url": receipt_plugin.REDACTED, "n": 1}),
        ),
        ("@vars.yml", "@vars.yml"),
        ("{not json", receipt_plugin.REDACTED),
    ],
)
def test_secret_looking_extra_vars_are_redacted(extra, recorded):
    for argv in (ARGV + ["-e", extra], ARGV + ["--extra-vars=" + extra]):
        command = receipt(facts(), now=1.0, argv=argv)["operator"]["command"]
        assert "hunter2" not in command and "t=1" not in command
        assert recorded in command.replace("'", "")


def test_history_is_the_last_rows_oldest_first(tmp_path):
    paths = []
    for n, outcome in enumerate(["succeeded", "failed", "succeeded"]):
        r = receipt(facts(started_epoch=str(1000 + n * 86400)), now=1100.0 + n * 86400, argv=ARGV)
        r["outcome"] = outcome
        path = tmp_path / f"{r['id']}.json"
        path.write_text(json.dumps(r))
        paths.append(str(path))
    (tmp_path / "broken.json").write_text("{")
    lines = receipt_plugin.history(list(reversed(paths)), 2)
    assert lines[0].split()[:4] == ["started", "(UTC)", "kind", "release"]
    assert len(lines) == 3
    assert "1970-01-02 00:16:40" in lines[1] and "failed" in lines[1]
    assert "1970-01-03" in lines[2] and "2/2" in lines[2] and "100" in lines[2]
    everything = receipt_plugin.history(paths + [str(tmp_path / "broken.json")], 0)
    assert len(everything) == 5
    assert any("unreadable (JSONDecodeError)" in line for line in everything)
