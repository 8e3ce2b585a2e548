"""flask_app's switch_link.yml switches a symlink with no moment where it is missing.

The task file runs for real (ansible-playbook, local connection) and switches a link between
two release directories again and again, while a reader process resolves the link in a
tight loop, as gunicorn's runner and every `current/...` path do during a rollout.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import local_playbook

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "roles" / "flask_app" / "tasks" / "switch_link.yml"
SWITCHES = 20


def _watch(link: str, stop, seen: dict) -> None:
    """Resolve the link until told to stop; count every read and every miss."""
    reads = misses = 0
    while not stop.is_set():
        try:
            os.stat(os.path.join(link, "marker"))
        except FileNotFoundError:
            misses += 1
        reads += 1
    seen["reads"], seen["misses"] = reads, misses


def test_the_link_is_never_missing_while_it_switches(tmp_path) -> None:
    releases = [tmp_path / "releases" / name for name in ("one", "two")]
    for release in releases:
        release.mkdir(parents=True)
        (release / "marker").write_text(release.name)
    link = tmp_path / "current"
    link.symlink_to(releases[0])
    targets = [str(releases[(i + 1) % 2]) for i in range(SWITCHES)]
    playbook = [
        {
            "name": "Switch the link back and forth",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Switch",
                    "ansible.builtin.include_tasks": str(TASKS),
                    "vars": {
                        "__flask_app_link": str(link),
                        "__flask_app_link_target": "{{ item }}",
                    },
                    "loop": targets,
                }
            ],
        }
    ]
    with multiprocessing.Manager() as manager:
        seen, stop = manager.dict(), manager.Event()
        reader = multiprocessing.Process(target=_watch, args=(str(link), stop, seen))
        reader.start()
        try:
            result = local_playbook.run(playbook, tmp_path, "switch", timeout=300)
        finally:
            stop.set()
            reader.join(timeout=30)
        reads, misses = seen["reads"], seen["misses"]

    assert result.returncode == 0, result.stdout + result.stderr
    # Every loop item pointed the link elsewhere: each one was a real switch.
    assert f"changed={SWITCHES}" in result.stdout, result.stdout
    assert os.readlink(link) == targets[-1]
    assert reads > 1000, f"the reader only got {reads} reads in: the test proves nothing"
    assert misses == 0, f"{misses} of {reads} reads found no link"
    # No temporary link left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ansible.cfg",
        "current",
        "releases",
        "switch.yml",
    ]
