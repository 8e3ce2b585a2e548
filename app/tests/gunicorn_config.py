"""Render the gunicorn config the flask_app role deploys (its configm.py.j2), with the
role's defaults and the controller's own Ansible, so the tests check the file that goes
live and not a copy of it.

The controller's virtualenv is the repository's .venv (`make venv`); without it the tests
that need a rendered config fail and say so.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "flask_app"
TEMPLATE = ROLE / "templates" / "srv" / "app" / "shared" / "configm.py.j2"


def _local_playbook():
    """The repository's tests/local_playbook.py (loaded by path: app/tests is a package of
    the same name)."""
    spec = importlib.util.spec_from_file_location(
        "local_playbook", REPO / "tests" / "local_playbook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(variants: dict[str, dict], out_dir: Path) -> dict[str, Path]:
    """Render the template once per variant (role variables over the role's defaults) in
    one ansible-playbook run; returns each variant's file."""
    shared = out_dir / "shared"
    (shared / "run").mkdir(parents=True, exist_ok=True)
    # What the role's vars/main.yml works out from the inventory on a real host.
    host_vars = {
        "__flask_app_shared": str(shared),
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
    result = _local_playbook().run(playbook, out_dir, "render", timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"rendering configm.py.j2 failed:\n{result.stdout}\n{result.stderr}")
    return {name: out_dir / f"{name}.py" for name in variants}
