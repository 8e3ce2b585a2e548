"""flask_app's hook points (tasks/hooks_check.yml, tasks/hook.yml), run for real with the
controller's Ansible on localhost: the check refuses unknown points and missing files before
anything runs, naming them; the runner includes each file of a point in order, with
flask_app_hook describing the release, and a failing hook fails the step.
"""

from __future__ import annotations

import json
from pathlib import Path

import local_playbook
import yaml

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "roles" / "flask_app" / "tasks"
ROLE_VARS = yaml.safe_load((REPO / "roles" / "flask_app" / "vars" / "main.yml").read_text())


def _play(tmp_path: Path, hooks: dict, point: str = "") -> list:
    tasks = [
        {"name": "Check the hooks", "ansible.builtin.include_tasks": str(TASKS / "hooks_check.yml")}
    ]
    if point:
        tasks.append(
            {
                "name": "Run one point",
                "ansible.builtin.include_tasks": str(TASKS / "hook.yml"),
                "vars": {
                    "flask_app_hook_point": point,
                    "flask_app_hook_release": {
                        "release_id": "abc123def456",
                        "release_dir": "/srv/demo/releases/abc123def456",
                        "previous_dir": "/srv/demo/releases/0123456789ab",
                    },
                },
            }
        )
    return [
        {
            "name": "Hooks",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "flask_app_hooks": hooks,
                "flask_app_name": "demo",
                "flask_app_root": "/srv/demo",
                "__flask_app_shared": "/srv/demo/shared",
                "__flask_app_current": "/srv/demo/current",
                "__flask_app_hook_points": ROLE_VARS["__flask_app_hook_points"],
            },
            "tasks": tasks,
        }
    ]


def _recorder(tmp_path: Path, name: str) -> str:
    """A hook file that appends flask_app_hook as a JSON line to <tmp>/trace."""
    path = tmp_path / f"{name}.yml"
    path.write_text(
        yaml.safe_dump(
            [
                {
                    "name": f"Record {name}",
                    "ansible.builtin.shell": {
                        "cmd": f"printf '%s {name}\\n' \"$HOOK\" >>{tmp_path / 'trace'}",
                    },
                    "environment": {"HOOK": "{{ flask_app_hook | to_json }}"},
                    "changed_when": True,
                }
            ]
        )
    )
    return str(path)


def _run(tmp_path: Path, hooks: dict, point: str = ""):
    return local_playbook.run(_play(tmp_path, hooks, point), tmp_path, "hooks", timeout=120)


def test_unknown_points_and_missing_files_stop_before_any_hook_runs(tmp_path) -> None:
    good = _recorder(tmp_path, "one")
    result = _run(
        tmp_path,
        {"before_swich": good, "after_build": [good, str(tmp_path / "gone.yml")]},
        "after_build",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "flask_app_hooks" in output
    assert "before_swich" in output
    assert "gone.yml" in output
    assert not (tmp_path / "trace").exists()


def test_a_point_runs_its_files_in_order_with_the_release(tmp_path) -> None:
    hooks = {
        "after_build": [_recorder(tmp_path, "one"), _recorder(tmp_path, "two")],
        "after_switch": _recorder(tmp_path, "x"),
    }
    result = _run(tmp_path, hooks, "after_build")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (tmp_path / "trace").read_text().splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["one", "two"]
    hook = json.loads(lines[0].rsplit(" ", 1)[0])
    assert hook == {
        "point": "after_build",
        "app": "demo",
        "host": "localhost",
        "root": "/srv/demo",
        "shared": "/srv/demo/shared",
        "current": "/srv/demo/current",
        "release_id": "abc123def456",
        "release_dir": "/srv/demo/releases/abc123def456",
        "previous_dir": "/srv/demo/releases/0123456789ab",
        "rollback": False,
    }


def test_a_failing_hook_fails_the_step_and_later_files_do_not_run(tmp_path) -> None:
    failing = tmp_path / "fail.yml"
    failing.write_text(
        yaml.safe_dump([{"name": "Fail", "ansible.builtin.fail": {"msg": "hook says no"}}])
    )
    result = _run(
        tmp_path, {"before_switch": [str(failing), _recorder(tmp_path, "after")]}, "before_switch"
    )
    assert result.returncode != 0
    assert "hook says no" in result.stdout + result.stderr
    assert not (tmp_path / "trace").exists()
