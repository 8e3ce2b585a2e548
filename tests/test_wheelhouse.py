"""roles/base/files/wheelhouse.py trusts only wheels whose sha256 the lock names.

The script runs for real: pip downloads pip's own wheel (pinned with the hash the base
role's defaults carry) from the configured index into a cache, packs the archive; then the
tests tamper with the cached wheel and with the archive, and check each is detected and
replaced by a good copy, and that unhashed or wrongly hashed requirements stop the build.
Also: every lock of the repository pins exactly what its source pins, with hashes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WHEELHOUSE = REPO / "roles" / "base" / "files" / "wheelhouse.py"
# pip's wheel is pure Python: any interpreter, any platform.
PIP_OPTIONS = ["--only-binary=:all:", "--python-version", "3.12", "--platform", "any"]


def locked_pip() -> str:
    defaults = yaml.safe_load((REPO / "roles" / "base" / "defaults" / "main.yml").read_text())
    return defaults["base_wheelhouse_pip"]["3"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(cache: Path, archive: Path, *requirements: str, hashed: bool = True):
    command = [sys.executable, str(WHEELHOUSE), "--cache", str(cache), "--archive", str(archive)]
    command += ["--require-hashes"] if hashed else []
    command += ["--", *PIP_OPTIONS, "--", *requirements]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603


def archived_wheels(archive: Path) -> dict[str, str]:
    with tarfile.open(archive) as tar:
        return {
            member.name: hashlib.sha256(tar.extractfile(member).read()).hexdigest()
            for member in tar.getmembers()
            if member.name.endswith(".whl")
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, str]:
    cache = tmp_path_factory.mktemp("cache")
    archive = cache.parent / "pip.tar"
    result = build(cache, archive, locked_pip())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["built"]
    return cache, archive, locked_pip().split("--hash=sha256:")[1]


def test_the_archive_holds_the_locked_wheel(built) -> None:
    _, archive, digest = built
    assert list(archived_wheels(archive).values()) == [digest]


def test_a_tampered_cached_wheel_is_replaced(built, tmp_path: Path) -> None:
    cache, _, digest = built
    (wheel,) = cache.glob("pip-*.whl")
    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    assert sha256(wheel) != digest

    archive = tmp_path / "again.tar"
    result = build(cache, archive, locked_pip())

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["built"]
    assert report["replaced"] == [wheel.name]
    assert "does not match its lock" in result.stderr
    assert sha256(wheel) == digest
    assert list(archived_wheels(archive).values()) == [digest]


def test_a_tampered_archive_is_built_again(built, tmp_path: Path) -> None:
    cache, archive, digest = built
    copy = tmp_path / "copy.tar"
    copy.write_bytes(archive.read_bytes())
    (tmp_path / "copy.tar.sha256").write_text(f"{sha256(copy)}  copy.tar\n")
    with copy.open("ab") as handle:
        handle.write(b"\0" * 1024)

    result = build(cache, copy, locked_pip())

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["built"]
    assert "building it again" in result.stderr
    assert list(archived_wheels(copy).values()) == [digest]


def test_an_unhashed_requirement_stops_the_build(built, tmp_path: Path) -> None:
    cache, _, _ = built
    result = build(cache, tmp_path / "bare.tar", locked_pip().split()[0])
    assert result.returncode != 0
    assert "'pip==" in result.stderr
    assert "--hash" in result.stderr
    assert not (tmp_path / "bare.tar").exists()


def test_a_wrong_hash_stops_the_build(built, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(built[0], cache)
    wrong = locked_pip().split()[0] + " --hash=sha256:" + "0" * 64
    result = build(cache, tmp_path / "wrong.tar", wrong)
    assert result.returncode != 0
    assert not (tmp_path / "wrong.tar").exists()
    # The good cached wheel does not match the wrong lock: it was dropped, not trusted.
    assert not list(cache.glob("pip-*.whl"))


def test_every_lock_matches_its_pins() -> None:
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(REPO / "scripts" / "lock-wheels.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
