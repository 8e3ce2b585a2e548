"""flask_app's check of flask_app_metrics_sources (tasks/validate.yml), run for real with the
controller's Ansible on localhost: addresses and CIDRs pass; anything else, which would
land in nginx's `allow` and the app's APP_METRICS_ALLOW, stops the run naming the variable
and the bad entries."""

from __future__ import annotations

from pathlib import Path

import local_playbook
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VALIDATE = REPO / "roles" / "flask_app" / "tasks" / "validate.yml"
NAME = "Check flask_app_metrics_sources (addresses or CIDRs)"


def _run(tmp_path: Path, enabled: bool, sources: list):
    task = next(t for t in yaml.safe_load(VALIDATE.read_text()) if t["name"] == NAME)
    play = {
        "name": "Metrics sources",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"flask_app_metrics_enabled": enabled, "flask_app_metrics_sources": sources},
        "tasks": [task],
    }
    return local_playbook.run([play], tmp_path, "metrics_sources", timeout=120)


@pytest.mark.parametrize(
    "sources",
    [["127.0.0.1"], ["10.0.0.0/8", "192.0.2.7", "::1", "fd00::/8", "2001:db8::1/128"]],
)
def test_addresses_and_cidrs_pass(tmp_path, sources):
    result = _run(tmp_path, True, sources)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("enabled", "sources", "named"),
    [
        (True, ["localhost"], "localhost"),
        (True, ["10.0.0.0/8; allow all"], "allow all"),
        (False, ["127.0.0.1", "all"], "'all'"),
        (True, [], "at least one"),
    ],
)
def test_anything_else_stops_naming_the_variable(tmp_path, enabled, sources, named):
    result = _run(tmp_path, enabled, sources)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "flask_app_metrics_sources must list" in output
    assert named in output
