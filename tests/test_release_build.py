"""The flask_app role's controller-side build (roles/flask_app/tasks/build.yml), run here on a
copy of a small Python project with an empty artifacts directory, as on a fresh clone: the
release archive and the app's wheel are made, the source is described for the receipt,
and the source directory is left as it was (a shell variable of the build once named the
source and the wheel's scratch directory alike, and its clean-up removed the source)."""

from __future__ import annotations

import hashlib
import json
import subprocess

import local_playbook

ROLE = local_playbook.REPO / "roles" / "flask_app"


def make_project(path):
    (path / "demoapp").mkdir(parents=True)
    (path / "demoapp" / "__init__.py").write_text("VERSION = '1.0'\n")
    (path / "requirements.txt").write_text("flask==3.1.3\n")
    (path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "demoapp"\nversion = "1.0"\n'
        '[tool.setuptools]\npackages = ["demoapp"]\n'
    )


def git_commit(path) -> str:
    """Make `path` a git repository with one commit of everything; its id."""

    def git(*args):
        return subprocess.run(  # noqa: S603 - git on the test's own directory
            ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@localhost", *args],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "one")
    return git("rev-parse", "HEAD")


def tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_build_makes_the_release_and_keeps_the_source(tmp_path):
    source = tmp_path / "src"
    make_project(source)
    commit = git_commit(source)
    before = tree(source)
    artifacts = tmp_path / "artifacts"
    out = tmp_path / "out.json"
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "flask_app_name": "demoapp",
                "flask_app_source_dir": str(source),
                "flask_app_artifacts_dir": str(artifacts),
                "flask_app_root": str(tmp_path / "root"),
            },
            "tasks": [
                {"ansible.builtin.include_role": {"name": "flask_app", "tasks_from": "build"}},
                {
                    "ansible.builtin.copy": {
                        "content": "{{ {'id': __flask_app_release_id, 'source': __flask_app_source,"
                        " 'archive': __flask_app_archive, 'wheel': __flask_app_wheel} | to_json }}",
                        "dest": str(out),
                        "mode": "0600",
                    }
                },
            ],
        }
    ]
    path = tmp_path / "build.yml"
    path.write_text(json.dumps(play))
    env = local_playbook.scrubbed_env(tmp_path)
    env["ANSIBLE_ROLES_PATH"] = str(ROLE.parent)
    result = subprocess.run(  # noqa: S603 - our own playbook
        [str(local_playbook.ANSIBLE_PLAYBOOK), str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert tree(source) == before, "the build changed or removed the source directory"
    got = json.loads(out.read_text())
    archive = artifacts / "releases" / f"demoapp-{got['id']}.tar.gz"
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert got["archive"] == str(archive) and got["id"] == sha[:12]
    wheel = got["wheel"]
    assert wheel.endswith(".whl")
    assert got["source"]["type"] == "path"
    assert got["source"]["commit"] == commit
    assert got["source"]["archive_sha256"] == sha
    with open(wheel, "rb") as fh:
        assert got["source"]["wheel_sha256"] == hashlib.sha256(fh.read()).hexdigest()
