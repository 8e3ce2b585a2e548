"""roles/backup/files/backup.py, the node's backup command, run for real.

The command runs as a subprocess against this machine's MariaDB (a throwaway database per
test, dropped afterwards) and Redis, and an upload directory under tmp_path: a backup is
one owner-only file per part, compressed or encrypted, that its manifest describes; verify
catches a changed byte; restore brings back every row and file (owner, mode, bytes) and
removes what was added after, and refuses before changing anything when the passphrase is
wrong; take refuses bad ids and tags. Retention (to_prune) is tested by importing the script.
Redis restore stops and starts the service with systemctl: it is not run here.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import importlib.util
import io
import json
import os
import random
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "roles" / "backup" / "files" / "backup.py"
ID = "20240615T120000Z-manual"
GZIP_MAGIC = b"\x1f\x8b"
OPENSSL_MAGIC = b"Salted__"

needs_mariadb = pytest.mark.skipif(
    not (shutil.which("mariadb") and shutil.which("mariadb-dump")), reason="no MariaDB client"
)
needs_redis = pytest.mark.skipif(not shutil.which("redis-cli"), reason="no redis-cli")


def load_script():
    spec = importlib.util.spec_from_file_location("backup_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


backup = load_script()


# ---- helpers ----------------------------------------------------------------------------


def run(config: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


def ok(config: Path, *args: str) -> dict:
    result = run(config, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fails(config: Path, *args: str) -> str:
    """The one-line error of a command that must fail (exit 1, nothing on stdout)."""
    result = run(config, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


def write_config(
    tmp_path: Path,
    parts: dict,
    passphrase: str | None = None,
    keep_count: int = 10,
    keep_days: float = 3650,
    name: str = "config.json",
) -> Path:
    key = None
    if passphrase is not None:
        key = tmp_path / f"{name}.key"
        key.write_text(passphrase + "\n")
    config = {
        "dir": str(tmp_path / "backups"),
        "host": "node1",
        "keep_count": keep_count,
        "keep_days": keep_days,
        "passphrase_file": str(key) if key else None,
        "parts": parts,
    }
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def mysql_part(database: str) -> dict:
    return {"databases": [database], "dump": "mariadb-dump", "client": "mariadb"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def tree(root: Path) -> dict[str, tuple]:
    """Every entry under root (root itself as "."): kind, owner, mode, and content."""
    paths = [root]
    for directory, dirnames, filenames in os.walk(root):
        paths += [Path(directory) / name for name in dirnames + filenames]
    found = {}
    for path in paths:
        info = path.lstat()
        key, owner = path.relative_to(root).as_posix(), (info.st_uid, info.st_gid)
        if path.is_symlink():
            found[key] = ("link", owner, os.readlink(path))
        elif path.is_dir():
            found[key] = ("dir", owner, mode(path))
        else:
            found[key] = ("file", owner, mode(path), sha256(path))
    return found


def sql(query: str, database: str | None = None) -> str:
    command = ["mariadb", "--default-character-set=utf8mb4", "--batch", "--skip-column-names"]
    command += ["-e", query]
    command += [database] if database else []
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    return result.stdout


def rows(database: str) -> str:
    return sql("SELECT id, label, HEX(data) FROM items ORDER BY id", database)


def tables(database: str) -> list[str]:
    return sql("SHOW TABLES", database).split()


def database_exists(database: str) -> bool:
    query = f"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{database}'"  # noqa: S608
    return sql(query).strip() == "1"


# ---- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def database():
    name = "bktest_" + secrets.token_hex(6)
    sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        sql(
            "CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(100), data BLOB)"  # noqa: S608
            " CHARACTER SET utf8mb4;"
            f" INSERT INTO items VALUES (1, 'plain', UNHEX('{secrets.token_hex(64)}')),"
            f" (2, 'ünïcødé ✓ 🎉', UNHEX('{bytes(range(256)).hex()}')), (3, NULL, '');",
            name,
        )
        yield name
    finally:
        sql(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def uploads(tmp_path) -> Path:
    """An upload directory: random binary files, a nested and an empty directory, several
    modes, a symlink and (as root) files owned by another user, as the app's uploads are."""
    root = tmp_path / "data" / "uploads"
    (root / "avatars" / "2024").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "blob.bin").write_bytes(os.urandom(300_000))
    (root / "avatars" / "2024" / "a.png").write_bytes(os.urandom(4096))
    (root / "avatars" / "readme.txt").write_text("ünïcødé\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "latest.bin").symlink_to("blob.bin")
    for path, bits in [
        ("run.sh", 0o755),
        ("avatars/2024/a.png", 0o640),
        ("avatars/readme.txt", 0o604),
        ("avatars", 0o2751),
        ("empty", 0o700),
        (".", 0o750),
    ]:
        (root / path).chmod(bits)
    if os.geteuid() == 0:
        for path in ("avatars", "avatars/2024", "avatars/2024/a.png", "blob.bin"):
            os.chown(root / path, 12345, 23456)
    return root


@pytest.fixture
def redis_key():
    """A key in the local Redis, deleted afterwards (short: stored as is in the RDB; the value
    starts with a letter, since Redis stores an all-digit one as an integer)."""
    key, value = "bktest:" + secrets.token_hex(4), "v" + secrets.token_hex(4)
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", "6379"]
    answer = subprocess.run([*cli, "SET", key, value], capture_output=True, text=True, check=False)  # noqa: S603
    assert answer.stdout.strip() == "OK", answer.stderr
    yield key, value
    subprocess.run([*cli, "DEL", key], capture_output=True, check=False)  # noqa: S603


# ---- take ---------------------------------------------------------------------------------


@needs_mariadb
@pytest.mark.parametrize("passphrase", [None, "correct horse"], ids=["compressed", "encrypted"])
def test_take_writes_one_owner_only_file_per_part_that_the_manifest_describes(
    tmp_path, database, uploads, passphrase
):
    parts = {"mysql": mysql_part(database), "uploads": {"path": str(uploads)}}
    config = write_config(tmp_path, parts, passphrase)
    manifest = ok(config, "take", "--id", ID, "--tag", "manual")

    backups = tmp_path / "backups"
    directory = backups / ID
    suffix = ".gz.enc" if passphrase else ".gz"
    assert manifest["id"] == ID
    assert manifest["tag"] == "manual"
    assert manifest["host"] == "node1"
    assert manifest["encrypted"] is bool(passphrase)
    assert manifest["pruned"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created"])
    assert {part: entry["file"] for part, entry in manifest["parts"].items()} == {
        "mysql": "mysql.sql" + suffix,
        "uploads": "uploads.tar" + suffix,
    }
    for entry in manifest["parts"].values():
        path = directory / entry["file"]
        assert entry["bytes"] == path.stat().st_size > 0
        assert entry["sha256"] == sha256(path)
        magic = OPENSSL_MAGIC if passphrase else GZIP_MAGIC
        assert path.read_bytes().startswith(magic), path.read_bytes()[:8]
    # Nothing else: no half-written .partial-<id> left beside it.
    assert os.listdir(backups) == [ID]
    assert sorted(os.listdir(directory)) == sorted(
        ["manifest.json", "mysql.sql" + suffix, "uploads.tar" + suffix]
    )
    assert mode(backups) == mode(directory) == 0o700
    assert {name: mode(directory / name) for name in os.listdir(directory)} == dict.fromkeys(
        os.listdir(directory), 0o600
    )
    on_disk = json.loads((directory / "manifest.json").read_text())
    assert manifest["path"] == str(directory)
    assert on_disk == {
        key: value for key, value in manifest.items() if key not in ("pruned", "path")
    }
    assert ok(config, "list") == {"parts": ["mysql", "uploads"], "backups": [on_disk]}
    assert ok(config, "verify", "--id", ID) == on_disk


@needs_mariadb
def test_the_compressed_parts_hold_the_dump_and_the_tar(tmp_path, database, uploads):
    parts = {"mysql": mysql_part(database), "uploads": {"path": str(uploads)}}
    ok(write_config(tmp_path, parts), "take", "--id", ID)
    directory = tmp_path / "backups" / ID
    dump = gzip.decompress((directory / "mysql.sql.gz").read_bytes()).decode()
    assert f"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `{database}`" in dump
    assert "INSERT INTO `items`" in dump
    archive = gzip.decompress((directory / "uploads.tar.gz").read_bytes())
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = set(tar.getnames())
    assert {"./blob.bin", "./avatars/2024/a.png", "./empty", "./latest.bin"} <= names


@needs_redis
def test_take_of_redis_snapshots_the_dataset_over_replication(tmp_path, redis_key):
    key, value = redis_key
    password = tmp_path / "redis.password"
    password.write_text("anything\n")
    redis = {
        "host": "127.0.0.1",
        "port": 6379,
        "user": "default",
        "password_file": str(password),
        "service": "redis-server",
        "dir": "/var/lib/redis",
        "dbfilename": "dump.rdb",
        "appendonly": False,
    }
    config = write_config(tmp_path, {"redis": redis})
    manifest = ok(config, "take", "--id", ID)

    directory = tmp_path / "backups" / ID
    assert manifest["parts"]["redis"]["file"] == "redis.rdb.gz"
    # The raw snapshot redis-cli wrote is gone: only the compressed part is left.
    assert sorted(os.listdir(directory)) == ["manifest.json", "redis.rdb.gz"]
    assert mode(directory / "redis.rdb.gz") == 0o600
    assert manifest["parts"]["redis"]["sha256"] == sha256(directory / "redis.rdb.gz")
    snapshot = gzip.decompress((directory / "redis.rdb.gz").read_bytes())
    assert snapshot.startswith(b"REDIS")
    assert key.encode() in snapshot and value.encode() in snapshot
    assert ok(config, "verify", "--id", ID)["id"] == ID


def test_take_without_an_id_names_the_backup_by_the_minute(tmp_path, uploads):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    before = time.time()
    manifest = ok(config, "take", "--tag", "scheduled")
    after = time.time()
    minutes = {time.strftime("%Y%m%dT%H%M00Z", time.gmtime(moment)) for moment in (before, after)}
    assert manifest["id"] in {minute + "-scheduled" for minute in minutes}, manifest["id"]
    assert manifest["tag"] == "scheduled"
    assert os.listdir(tmp_path / "backups") == [manifest["id"]]


def test_the_default_tag_is_manual(tmp_path, uploads):
    manifest = ok(write_config(tmp_path, {"uploads": {"path": str(uploads)}}), "take")
    assert manifest["tag"] == "manual"
    assert re.fullmatch(r"\d{8}T\d{4}00Z-manual", manifest["id"]), manifest["id"]


def test_take_refuses_an_id_that_exists_and_leaves_that_backup_alone(tmp_path, uploads):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    first = ok(config, "take", "--id", ID)
    (uploads / "blob.bin").write_bytes(b"changed")
    assert f"backup {ID} exists already" in fails(config, "take", "--id", ID)
    assert os.listdir(tmp_path / "backups") == [ID]
    assert (
        sha256(tmp_path / "backups" / ID / "uploads.tar.gz") == first["parts"]["uploads"]["sha256"]
    )


@pytest.mark.parametrize(
    "backup_id",
    [
        "latest",
        "../x",
        f"../{ID}",
        f"{ID}/../x",
        "20240615T1200Z-manual",
        "20240615T120000-manual",
        "20240615T120000Z-",
        "20240615T120000Z-a b",
        "20240615T120000Z-" + "x" * 65,
        "20240615T120000Z-manual\n",
        "20249999T999999Z",
    ],
)
def test_take_refuses_an_invalid_id_and_writes_nothing(tmp_path, uploads, backup_id):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    assert "not a backup id" in fails(config, "take", "--id", backup_id)
    assert not (tmp_path / "backups").exists()
    assert sorted(os.listdir(tmp_path)) == ["config.json", "data"]


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "a b",
        "../x",
        "a/b",
        "x" * 65,
        "manual\n",
    ],
)
def test_take_refuses_an_invalid_tag_and_writes_nothing(tmp_path, uploads, tag):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    assert "not a tag" in fails(config, "take", "--tag", tag)
    assert "not a tag" in fails(config, "take", "--id", ID, "--tag", tag)
    assert not (tmp_path / "backups").exists()


@pytest.mark.parametrize("command", ["take", "list", "verify", "restore", "prune"])
def test_a_missing_config_says_to_provision_it(tmp_path, command):
    error = fails(tmp_path / "nowhere.json", command, "--id", ID)
    assert f"no backup config {tmp_path / 'nowhere.json'}" in error
    assert "provision" in error


def test_a_host_with_no_part_skips_take_and_writes_nothing(tmp_path):
    config = write_config(tmp_path, {})
    result = ok(config, "take", "--id", ID)
    assert result["id"] == ID and result["parts"] == {}
    assert "no part" in result["skipped"]
    assert not (tmp_path / "backups").exists()
    assert ok(config, "list") == {"parts": [], "backups": []}


def test_a_missing_upload_directory_fails_the_take_and_leaves_no_partial(tmp_path):
    config = write_config(tmp_path, {"uploads": {"path": str(tmp_path / "nowhere")}})
    assert "does not exist" in fails(config, "take", "--id", ID)
    assert os.listdir(tmp_path / "backups") == []


# ---- verify -------------------------------------------------------------------------------


@pytest.mark.parametrize("passphrase", [None, "correct horse"], ids=["compressed", "encrypted"])
def test_verify_fails_naming_a_part_file_changed_by_one_byte(tmp_path, uploads, passphrase):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}}, passphrase)
    manifest = ok(config, "take", "--id", ID)
    assert ok(config, "verify", "--id", ID)["id"] == ID
    name = manifest["parts"]["uploads"]["file"]
    path = tmp_path / "backups" / ID / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    error = fails(config, "verify", "--id", ID)
    assert f"{name} is missing or does not match its checksum" in error
    path.unlink()
    assert name in fails(config, "verify", "--id", ID)


def test_a_part_that_does_not_decode_fails_verify(tmp_path, uploads):
    # The manifest agrees with the file, but the file is no gzip stream.
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    ok(config, "take", "--id", ID)
    directory = tmp_path / "backups" / ID
    (directory / "uploads.tar.gz").write_bytes(b"not gzip at all")
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["parts"]["uploads"]["sha256"] = sha256(directory / "uploads.tar.gz")
    (directory / "manifest.json").write_text(json.dumps(manifest))
    assert "the uploads part does not decode" in fails(config, "verify", "--id", ID)


def test_verify_of_an_encrypted_backup_without_a_passphrase_fails(tmp_path, uploads):
    parts = {"uploads": {"path": str(uploads)}}
    ok(write_config(tmp_path, parts, "secret"), "take", "--id", ID)
    plain = write_config(tmp_path, parts, name="plain.json")
    assert "encrypted and this host has no passphrase" in fails(plain, "verify", "--id", ID)


@pytest.mark.parametrize("command", ["verify", "restore"])
def test_an_unknown_id_fails_listing_the_ids_present(tmp_path, uploads, command):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    ok(config, "take", "--id", "20240614T120000Z-scheduled")
    ok(config, "take", "--id", ID)
    before = tree(uploads)
    error = fails(config, command, "--id", "20240101T000000Z-manual")
    assert "no backup 20240101T000000Z-manual on this host" in error
    assert f"(backups here: 20240614T120000Z-scheduled, {ID})" in error
    assert tree(uploads) == before


@pytest.mark.parametrize("command", ["verify", "restore"])
def test_verify_and_restore_need_an_id(tmp_path, command):
    assert f"{command} needs --id" in fails(write_config(tmp_path, {}), command)


# ---- restore ------------------------------------------------------------------------------


@needs_mariadb
@pytest.mark.parametrize("passphrase", [None, "correct horse"], ids=["compressed", "encrypted"])
def test_restore_brings_back_every_row_and_file_and_removes_later_ones(
    tmp_path, database, uploads, passphrase
):
    config = write_config(
        tmp_path, {"mysql": mysql_part(database), "uploads": {"path": str(uploads)}}, passphrase
    )
    saved_rows, saved_files = rows(database), tree(uploads)
    assert saved_rows.count("\n") == 3
    ok(config, "take", "--id", ID)

    # Lose everything, and add what came after the backup.
    sql(f"DROP DATABASE `{database}`")
    sql(f"CREATE DATABASE `{database}`")
    sql("CREATE TABLE later (id INT); INSERT INTO later VALUES (1)", database)
    for child in uploads.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    (uploads / "later.txt").write_text("after the backup")
    (uploads / "empty").mkdir()

    assert ok(config, "restore", "--id", ID) == {"id": ID, "restored": ["mysql", "uploads"]}
    assert rows(database) == saved_rows
    assert tables(database) == ["items"]
    assert tree(uploads) == saved_files
    # Swapped in by renames, with nothing left beside it.
    assert os.listdir(uploads.parent) == ["uploads"]
    assert os.listdir(tmp_path / "backups") == [ID]


@needs_mariadb
def test_restore_with_a_wrong_passphrase_fails_before_changing_anything(
    tmp_path, database, uploads
):
    parts = {"mysql": mysql_part(database), "uploads": {"path": str(uploads)}}
    ok(write_config(tmp_path, parts, "correct horse"), "take", "--id", ID)
    sql("INSERT INTO items VALUES (4, 'after the backup', NULL)", database)
    (uploads / "later.txt").write_text("after the backup")
    saved_rows, saved_files = rows(database), tree(uploads)

    wrong = write_config(tmp_path, parts, "battery staple", name="wrong.json")
    error = fails(wrong, "restore", "--id", ID)
    assert "does not decode" in error
    assert database_exists(database)
    assert rows(database) == saved_rows
    assert tree(uploads) == saved_files
    assert sorted(os.listdir(uploads.parent)) == ["uploads"]


# ---- retention ----------------------------------------------------------------------------

NOW = datetime.datetime(2024, 6, 15, 12, 0, tzinfo=datetime.UTC)


def ago(*days: float, tag: str = "scheduled") -> list[str]:
    """Ids of backups taken so many days before NOW, in that order."""
    return [
        (NOW - datetime.timedelta(days=count)).strftime("%Y%m%dT%H%M%SZ") + "-" + tag
        for count in days
    ]


def test_id_time_reads_the_time_an_id_names():
    assert backup.id_time("20240615T120000Z-before-migrate-1.2.3") == NOW
    assert backup.id_time("20240615T120000Z") == NOW


def test_keep_count_removes_all_but_the_newest():
    ids = ago(0, 1, 2, 3, 4, 5, 6)
    assert backup.to_prune(ids, 3, 365, NOW) == ago(3, 4, 5, 6)


def test_keep_days_removes_the_ones_older_than_the_cutoff():
    ids = ago(0, 1, 2.9, 3, 3.1, 10)
    assert backup.to_prune(ids, 100, 3, NOW) == ago(3.1, 10)


def test_the_newest_is_kept_even_when_older_than_keep_days_or_keep_count_is_zero():
    assert backup.to_prune(ago(40, 50, 60), 7, 14, NOW) == ago(50, 60)
    assert backup.to_prune(ago(1, 2), 0, 14, NOW) == ago(2)
    assert backup.to_prune(ago(40), 0, 14, NOW) == []
    assert backup.to_prune([], 3, 14, NOW) == []


def test_to_prune_does_not_depend_on_the_order_of_its_input():
    ids = ago(0, 0.5, 1, 2, 3, 8, 9, 20) + ago(1, tag="manual")
    expected = backup.to_prune(sorted(ids), 4, 7, NOW)
    assert expected == ago(2, 3, 8, 9, 20)
    for seed in range(5):
        shuffled = list(ids)
        random.Random(seed).shuffle(shuffled)  # noqa: S311 - a reproducible order, no secret
        assert backup.to_prune(shuffled, 4, 7, NOW) == expected
    assert backup.to_prune(list(reversed(sorted(ids))), 4, 7, NOW) == expected


def recent(*hours: int) -> list[str]:
    now = datetime.datetime.now(datetime.UTC)
    return [(now - datetime.timedelta(hours=h)).strftime("%Y%m%dT%H%M%SZ") + "-t" for h in hours]


def test_take_applies_keep_count(tmp_path, uploads):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}}, keep_count=2)
    oldest, middle, newest = recent(3, 2, 1)
    assert ok(config, "take", "--id", oldest)["pruned"] == []
    assert ok(config, "take", "--id", middle)["pruned"] == []
    assert ok(config, "take", "--id", newest)["pruned"] == [oldest]
    assert sorted(os.listdir(tmp_path / "backups")) == [middle, newest]


def test_prune_applies_the_config_and_keeps_the_newest(tmp_path, uploads):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    ids = recent(30 * 24, 10 * 24, 24, 1)
    for backup_id in ids:
        ok(config, "take", "--id", backup_id)
    write_config(tmp_path, {"uploads": {"path": str(uploads)}}, keep_count=3, keep_days=5)
    assert ok(config, "prune") == {"pruned": [ids[1], ids[0]]}
    assert sorted(os.listdir(tmp_path / "backups")) == ids[2:]
    write_config(tmp_path, {"uploads": {"path": str(uploads)}}, keep_count=1, keep_days=0)
    assert ok(config, "prune") == {"pruned": [ids[2]]}
    assert [m["id"] for m in ok(config, "list")["backups"]] == [ids[3]]


def test_prune_removes_partial_backups_older_than_a_day(tmp_path, uploads):
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    ok(config, "take", "--id", ID)
    backups = tmp_path / "backups"
    stale, fresh = (
        backups / ".partial-20240101T000000Z-manual",
        backups / f".partial-{recent(0)[0]}",
    )
    for partial, age in ((stale, 86400 + 3600), (fresh, 3600)):
        partial.mkdir()
        (partial / "mysql.sql.gz").write_bytes(b"half")
        os.utime(partial, (time.time() - age, time.time() - age))
    assert ok(config, "prune") == {"pruned": []}
    assert sorted(os.listdir(backups)) == sorted([fresh.name, ID])


def test_verify_refuses_an_aof_redis_before_restoring_any_part(tmp_path, uploads):
    """A host whose Redis runs with appendonly yes would load its AOF, not the snapshot: the
    refusal comes from verify, before the restore touches the uploads."""
    config = write_config(tmp_path, {"uploads": {"path": str(uploads)}})
    run(config, "take", "--id", ID)
    settings = json.loads(config.read_text())
    settings["parts"]["redis"] = {"appendonly": True}
    config.write_text(json.dumps(settings))
    marker = uploads / "written-after-the-backup.txt"
    marker.write_text("still here")
    assert "appendonly" in fails(config, "verify", "--id", ID)
    assert "appendonly" in fails(config, "restore", "--id", ID)
    assert marker.read_text() == "still here"
