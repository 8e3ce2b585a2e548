"""playbooks/group_vars/all/stack.yml wires an inventory into the roles' variables.

Read with ad-hoc `ansible ... --playbook-dir playbooks -m debug` (the playbook-level
group_vars and filter plugins, no connection to any host) on a copy of the example
inventory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import local_playbook

REPO = local_playbook.REPO
ANSIBLE = REPO / ".venv" / "bin" / "ansible"


def wired(inventory: Path, hosts: str, expression: str) -> dict:
    """{host: value of the Jinja expression} for the inventory's hosts."""
    result = subprocess.run(  # noqa: S603 - our own command
        [
            str(ANSIBLE),
            "-i",
            str(inventory),
            "--playbook-dir",
            str(REPO / "playbooks"),
            hosts,
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ " + expression + " | to_json }}",
            "-o",
        ],
        cwd=inventory.parent,
        env=local_playbook.scrubbed_env(inventory.parent),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = {}
    for line in result.stdout.splitlines():
        host, _, rest = line.partition(" | SUCCESS => ")
        values[host] = json.loads(json.loads(rest)["msg"])
    return values


def example(tmp_path: Path, app_name: str) -> Path:
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "example", inventory)
    main = inventory / "group_vars" / "all" / "main.yml"
    text = main.read_text()
    assert "\napp_name: redflask\n" in text
    main.write_text(text.replace("\napp_name: redflask\n", f"\napp_name: {app_name}\n"))
    return inventory


def test_the_inventorys_app_name_names_the_app_its_database_and_users(tmp_path):
    inventory = example(tmp_path, "shop")
    names = wired(
        inventory,
        "app1:db1:cache1",
        "[flask_app_name, mysql_databases[0].name, mysql_users | map(attribute='name') | list,"
        " mysql_users | map(attribute='priv') | list, flask_app_db_migrate_user,"
        " redis_app_user, flask_app_redis_user, redis_app_key_patterns]",
    )
    assert set(names) == {"app1", "db1", "cache1"}
    for values in names.values():
        assert values == [
            "shop",
            "shop",
            # The app's account changes rows only; the migrations' account owns the schema.
            ["shop", "shop_migrate"],
            ["shop.*:SELECT,INSERT,UPDATE,DELETE", "shop.*:ALL"],
            "shop_migrate",
            "shop",
            "shop",
            ["shop:*"],
        ]


def test_every_app_host_is_a_parameter_of_the_roles(tmp_path):
    inventory = example(tmp_path, "redflask")
    peers = wired(
        inventory,
        "web1",
        "[flask_app_app_addresses.keys() | list, flask_app_rollout_app_hosts,"
        " flask_app_rollout_web_hosts]",
    )
    # Read through hostvars from the web host: each app host's own gunicorn address.
    assert peers["web1"] == [["app1", "app2"], ["app1", "app2"], ["web1"]]
