"""Run a playbook on the controller itself with the repository's .venv Ansible, apart from
the repository's ansible.cfg (its strategy, callbacks and inventory are for the nodes).
Used by the roles' tests here and by the app's gunicorn tests (app/tests/gunicorn_config.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"


def scrubbed_env(workdir: Path) -> dict:
    """The environment for an Ansible command in `workdir`: an empty ansible.cfg there, and
    none of the caller's ANSIBLE_* settings."""
    (workdir / "ansible.cfg").write_text("[defaults]\n")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
        "ANSIBLE_CONFIG": str(workdir / "ansible.cfg"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }


def run(playbook: list, workdir: Path, name: str, timeout: int) -> subprocess.CompletedProcess:
    """Write `playbook` to <workdir>/<name>.yml beside an empty ansible.cfg and run it there;
    the caller checks the result."""
    if not ANSIBLE_PLAYBOOK.exists():
        raise RuntimeError(f"{ANSIBLE_PLAYBOOK} is missing: run `make venv` first")
    path = workdir / f"{name}.yml"
    path.write_text(json.dumps(playbook))
    return subprocess.run(  # noqa: S603 - our own playbook
        [str(ANSIBLE_PLAYBOOK), str(path)],
        cwd=workdir,
        env=scrubbed_env(workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
