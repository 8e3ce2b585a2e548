"""Render the gunicorn config the flask_app role deploys (its configm.py.j2), with the
role's defaults and the controller's own Ansible, so the tests check the file that goes
live and not a copy of it.

The controller's virtualenv is the repository's .venv (`make venv`); without it the tests
that need a rendered config fail and say so.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "flask_app"
TEMPLATE = ROLE / "templates" / "srv" / "app" / "shared" / "configm.py.j2"
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"


def render(variants: dict[str, dict], out_dir: Path) -> dict[str, Path]:
    """Render the template once per variant (role variables over the role's defaults) in
    one ansible-playbook run; returns each variant's file."""
    if not ANSIBLE_PLAYBOOK.exists():
        raise RuntimeError(f"{ANSIBLE_PLAYBOOK} is missing: run `make venv` first")
    shared = out_dir / "shared"
    (shared / "run").mkdir(parents=True, exist_ok=True)
    # What the role's vars/main.yml works out from the inventory on a real host.
    host_vars = {
        "__flask_app_shared": str(shared),
        "__flask_app_web_addresses": ["127.0.0.1"],
        "flask_app_gunicorn_address": "127.0.0.1",
    }
    playbook = [
        {
            "name": "Render the role's gunicorn config for each variant",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars_files": [str(ROLE / "defaults" / "main.yml")],
            # vars_files outrank play vars: the host's values go in with each variant's.
            "vars": {"host_vars": host_vars, "variants": variants, "out": str(out_dir)},
            "tasks": [
                {
                    "name": "Render configm.py.j2",
                    "ansible.builtin.copy": {
                        "content": (
                            "{{ lookup('ansible.builtin.template', '" + str(TEMPLATE) + "',"
                            " template_vars=host_vars | combine(item.value)) }}"
                        ),
                        "dest": "{{ out }}/{{ item.key }}.py",
                        "mode": "0644",
                    },
                    "loop": "{{ variants | dict2items }}",
                }
            ],
        }
    ]
    (out_dir / "render.yml").write_text(json.dumps(playbook))
    # No ansible.cfg of the repository (its strategy, callbacks and caches are for nodes).
    (out_dir / "ansible.cfg").write_text("[defaults]\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
        "ANSIBLE_CONFIG": str(out_dir / "ansible.cfg"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), str(out_dir / "render.yml")],
        cwd=out_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"rendering configm.py.j2 failed:\n{result.stdout}\n{result.stderr}")
    return {name: out_dir / f"{name}.py" for name in variants}
