#!/usr/bin/python3
"""Backups of one app's data on this host: take, list, verify, restore, prune.

    backup.py CONFIG take [--id ID] [--tag TAG]
    backup.py CONFIG list
    backup.py CONFIG verify --id ID
    backup.py CONFIG restore --id ID
    backup.py CONFIG prune

CONFIG is the JSON file the backup role writes (owner-only): where backups live, how many
to keep, the passphrase file when they are encrypted, and the parts this host holds:
"mysql" (a --single-transaction dump of the app's databases), "redis" (an RDB snapshot
taken over the replication protocol with redis-cli --rdb) and "uploads" (a tar of the
upload directory). A backup is a directory <dir>/<id>/ with one file per part and
manifest.json (each part's size and SHA-256). It is written under <dir>/.partial-<id>/ and
renamed into place once complete, so a listed backup is always whole. Every command prints
one JSON document on stdout; errors go to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

ID_PATTERN = re.compile(r"^[0-9]{8}T[0-9]{6}Z(-[A-Za-z0-9._-]{1,64})?$")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The extension of each part's file before compression.
PART_EXTENSIONS = {"mysql": "sql", "redis": "rdb", "uploads": "tar"}
PARTIAL_PREFIX = ".partial-"


class BackupError(Exception):
    """A failure to report in one line, without a traceback."""


def id_time(backup_id: str) -> datetime.datetime:
    """The UTC time an id names (ids start with %Y%m%dT%H%M%SZ)."""
    return datetime.datetime.strptime(backup_id[:16], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc
    )


def check_id(backup_id: str) -> str:
    try:
        if ID_PATTERN.fullmatch(backup_id):
            id_time(backup_id)  # a real date and time
            return backup_id
    except ValueError:
        pass
    raise BackupError(f"not a backup id: {backup_id!r} (expected YYYYMMDDTHHMMSSZ[-tag])")


def to_prune(
    ids: list[str], keep_count: int, keep_days: float, now: datetime.datetime
) -> list[str]:
    """The ids retention removes: all but the newest keep_count, and any older than
    keep_days; the newest backup is always kept."""
    newest_first = sorted(ids, reverse=True)
    cutoff = now - datetime.timedelta(days=keep_days)
    return [
        backup_id
        for index, backup_id in enumerate(newest_first)
        if index > 0 and (index >= keep_count or id_time(backup_id) < cutoff)
    ]


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_pipeline(commands: list[list[str]], stdin=None, stdout=None, env=None) -> None:
    """Run commands as a shell pipeline would; fail naming the first command that failed."""
    processes = []
    previous = stdin
    for index, argv in enumerate(commands):
        last = index == len(commands) - 1
        process = subprocess.Popen(
            argv,
            stdin=previous,
            stdout=stdout if last else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        if processes and processes[-1].stdout:
            processes[-1].stdout.close()  # the next process holds the pipe now
        processes.append(process)
        previous = process.stdout
    errors = [process.stderr.read().decode(errors="replace").strip() for process in processes]
    for argv, process, error in zip(commands, processes, errors, strict=True):
        if process.wait() != 0:
            raise BackupError(f"{argv[0]} failed (exit {process.returncode}): {error[-2000:]}")


class Backups:
    def __init__(self, config: dict):
        self.config = config
        self.dir = config["dir"]
        self.parts = config.get("parts", {})
        self.passphrase_file = config.get("passphrase_file") or None

    # ---- encoding of a part's bytes: gzip, then optionally openssl ------------------------
    def _encoders(self) -> list[list[str]]:
        encoders = [["gzip", "-c", "-6"]]
        if self.passphrase_file:
            encoders.append(self._openssl())
        return encoders

    def _decoders(self, encrypted: bool) -> list[list[str]]:
        decoders = [self._openssl() + ["-d"]] if encrypted else []
        return decoders + [["gzip", "-d", "-c"]]

    def _openssl(self) -> list[str]:
        return [
            "openssl",
            "enc",
            "-aes-256-cbc",
            "-pbkdf2",
            "-iter",
            "200000",
            "-salt",
            "-pass",
            f"file:{self.passphrase_file}",
        ]

    def _suffix(self) -> str:
        return ".gz.enc" if self.passphrase_file else ".gz"

    # ---- listing --------------------------------------------------------------------------
    def manifests(self) -> list[dict]:
        if not os.path.isdir(self.dir):
            return []
        found = []
        for name in sorted(os.listdir(self.dir)):
            path = os.path.join(self.dir, name, "manifest.json")
            if ID_PATTERN.fullmatch(name) and os.path.isfile(path):
                with open(path) as stream:
                    found.append(json.load(stream))
        return found

    def manifest(self, backup_id: str) -> dict:
        path = os.path.join(self.dir, check_id(backup_id), "manifest.json")
        if not os.path.isfile(path):
            known = ", ".join(m["id"] for m in self.manifests()) or "none"
            raise BackupError(f"no backup {backup_id} on this host (backups here: {known})")
        with open(path) as stream:
            return json.load(stream)

    # ---- take -----------------------------------------------------------------------------
    def take(self, backup_id: str, tag: str) -> dict:
        check_id(backup_id)
        if not self.parts:
            return {
                "id": backup_id,
                "parts": {},
                "skipped": "no part of the app's data on this host",
            }
        final = os.path.join(self.dir, backup_id)
        if os.path.exists(final):
            raise BackupError(f"backup {backup_id} exists already")
        partial = os.path.join(self.dir, PARTIAL_PREFIX + backup_id)
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
        os.mkdir(partial, 0o700)
        try:
            manifest = {
                "id": backup_id,
                "tag": tag,
                "host": self.config.get("host", os.uname().nodename),
                "created": datetime.datetime.now(datetime.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "encrypted": bool(self.passphrase_file),
                "parts": {},
            }
            for part in sorted(self.parts):
                name = part + "." + PART_EXTENSIONS[part] + self._suffix()
                path = os.path.join(partial, name)
                started = time.monotonic()
                getattr(self, "_take_" + part)(self.parts[part], path, partial)
                manifest["parts"][part] = {
                    "file": name,
                    "bytes": os.path.getsize(path),
                    "sha256": sha256(path),
                    "seconds": round(time.monotonic() - started, 2),
                }
            with open(os.path.join(partial, "manifest.json"), "w") as stream:
                json.dump(manifest, stream, indent=2, sort_keys=True)
            os.rename(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        manifest["pruned"] = self.prune()
        manifest["path"] = final
        return manifest

    def _write_encoded(self, source: list[str] | None, path: str, stdin=None, env=None) -> None:
        with open(path, "xb") as out:
            os.fchmod(out.fileno(), 0o600)
            run_pipeline(
                ([source] if source else []) + self._encoders(), stdin=stdin, stdout=out, env=env
            )

    def _take_mysql(self, part: dict, path: str, _work: str) -> None:
        dump = [
            part["dump"],
            "--single-transaction",
            "--quick",
            "--routines",
            "--triggers",
            "--events",
            "--hex-blob",
            "--default-character-set=utf8mb4",
            "--databases",
            *part["databases"],
        ]
        self._write_encoded(dump, path)

    def _redis_env(self, part: dict) -> dict:
        env = dict(os.environ)
        with open(part["password_file"]) as stream:
            env["REDISCLI_AUTH"] = stream.read().strip()
        return env

    def _redis_cli(self, part: dict) -> list[str]:
        return [
            "redis-cli",
            "-h",
            part["host"],
            "-p",
            str(part["port"]),
            "--user",
            part["user"],
            "--no-auth-warning",
        ]

    def _take_redis(self, part: dict, path: str, work: str) -> None:
        raw = os.path.join(work, "redis.rdb")
        # A snapshot of the whole dataset from a fork of the server (as a replica gets it):
        # consistent, and the server's own dump.rdb is left alone.
        result = subprocess.run(
            self._redis_cli(part) + ["--rdb", raw],
            env=self._redis_env(part),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not os.path.isfile(raw):
            raise BackupError(
                f"redis-cli --rdb failed: {(result.stderr or result.stdout).strip()[-2000:]}"
            )
        try:
            with open(raw, "rb") as stream:
                self._write_encoded(None, path, stdin=stream)
        finally:
            os.unlink(raw)

    def _take_uploads(self, part: dict, path: str, _work: str) -> None:
        if not os.path.isdir(part["path"]):
            raise BackupError(f"the upload directory {part['path']} does not exist")
        self._write_encoded(["tar", "-C", part["path"], "--numeric-owner", "-cf", "-", "."], path)

    # ---- verify ---------------------------------------------------------------------------
    def verify(self, backup_id: str) -> dict:
        """Check each part against the manifest (size, SHA-256) and that it decodes."""
        manifest = self.manifest(backup_id)
        if self.parts.get("redis", {}).get("appendonly"):
            # Checked here, before a restore changes any part.
            raise BackupError(
                "Redis runs with appendonly yes: it would load its AOF, not a restored RDB"
            )
        missing = sorted(set(self.parts) - set(manifest["parts"]))
        if missing:
            raise BackupError(
                f"backup {backup_id} has no {', '.join(missing)} part, which this host holds"
            )
        if manifest.get("encrypted") and not self.passphrase_file:
            raise BackupError(
                f"backup {backup_id} is encrypted and this host has no passphrase set"
            )
        for part, entry in sorted(manifest["parts"].items()):
            path = os.path.join(self.dir, backup_id, entry["file"])
            if not os.path.isfile(path) or sha256(path) != entry["sha256"]:
                raise BackupError(
                    f"backup {backup_id}: {entry['file']} is missing or does not match its checksum"
                )
            with open(path, "rb") as stream:
                self._decode(manifest, stream, subprocess.DEVNULL, part)
        return manifest

    def _decode(
        self, manifest: dict, stream, stdout, part: str, consumer: list[list[str]] | None = None
    ) -> None:
        decoders = self._decoders(bool(manifest.get("encrypted")))
        try:
            run_pipeline(decoders + (consumer or []), stdin=stream, stdout=stdout)
        except BackupError as error:
            raise BackupError(
                f"backup {manifest['id']}: the {part} part does not decode: {error}"
            ) from None

    # ---- restore --------------------------------------------------------------------------
    def restore(self, backup_id: str) -> dict:
        manifest = self.verify(backup_id)
        restored = []
        for part in sorted(self.parts):
            path = os.path.join(self.dir, backup_id, manifest["parts"][part]["file"])
            getattr(self, "_restore_" + part)(self.parts[part], manifest, path)
            restored.append(part)
        return {"id": backup_id, "restored": restored}

    def _restore_mysql(self, part: dict, manifest: dict, path: str) -> None:
        # The dump recreates each database (--databases); dropping first removes tables
        # created after the backup. The grants live in the mysql schema and stay.
        drops = " ".join(f"DROP DATABASE IF EXISTS `{name}`;" for name in part["databases"])
        subprocess.run([part["client"], "-e", drops], check=True, capture_output=True)
        with open(path, "rb") as stream:
            self._decode(manifest, stream, subprocess.DEVNULL, "mysql", consumer=[[part["client"]]])

    def _restore_redis(self, part: dict, manifest: dict, path: str) -> None:
        target = os.path.join(part["dir"], part["dbfilename"])
        staged = target + ".restore"
        subprocess.run(["systemctl", "stop", part["service"]], check=True, capture_output=True)
        with open(path, "rb") as stream, open(staged, "wb") as out:
            self._decode(manifest, stream, out, "redis")
        stat = os.stat(part["dir"])
        os.chown(staged, stat.st_uid, stat.st_gid)
        os.chmod(staged, 0o660)
        os.replace(staged, target)
        subprocess.run(["systemctl", "start", part["service"]], check=True, capture_output=True)
        for _ in range(300):  # the server answers LOADING until the dataset is in memory
            answer = subprocess.run(
                self._redis_cli(part) + ["ping"],
                env=self._redis_env(part),
                capture_output=True,
                text=True,
            )
            if answer.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise BackupError(f"Redis did not answer PONG after the restore: {answer.stdout.strip()}")

    def _restore_uploads(self, part: dict, manifest: dict, path: str) -> None:
        target = part["path"].rstrip("/")
        staged, previous = target + ".restore", target + ".before-restore"
        for leftover in (staged, previous):
            shutil.rmtree(leftover, ignore_errors=True)
        os.mkdir(staged, 0o700)
        with open(path, "rb") as stream:
            self._decode(
                manifest,
                stream,
                subprocess.DEVNULL,
                "uploads",
                consumer=[["tar", "-C", staged, "--numeric-owner", "--same-owner", "-xpf", "-"]],
            )
        # Two renames: the directory is never half restored.
        if os.path.exists(target):
            os.rename(target, previous)
        os.rename(staged, target)
        shutil.rmtree(previous, ignore_errors=True)

    # ---- prune ----------------------------------------------------------------------------
    def prune(self) -> list[str]:
        """Apply retention to this host's backups (or, with self.dir set to it, to the
        copies a backup host keeps of another host's)."""
        ids = [manifest["id"] for manifest in self.manifests()]
        now = datetime.datetime.now(datetime.timezone.utc)
        removed = to_prune(
            ids, int(self.config["keep_count"]), float(self.config["keep_days"]), now
        )
        for backup_id in removed:
            shutil.rmtree(os.path.join(self.dir, backup_id))
        # What a killed run left half written.
        for name in os.listdir(self.dir) if os.path.isdir(self.dir) else []:
            path = os.path.join(self.dir, name)
            if name.startswith(PARTIAL_PREFIX) and time.time() - os.path.getmtime(path) > 86400:
                shutil.rmtree(path, ignore_errors=True)
        return removed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("command", choices=["take", "list", "verify", "restore", "prune"])
    parser.add_argument("--id", dest="backup_id")
    parser.add_argument("--tag", default="manual")
    # prune: another directory of backups under the config's dir (a backup host's copies
    # of another host's backups).
    parser.add_argument("--dir", dest="subdir")
    args = parser.parse_args(argv)
    os.umask(0o077)
    try:
        if not os.path.isfile(args.config):
            raise BackupError(
                f"no backup config {args.config} on this host: "
                "provision it (playbooks/provision.yml --tags backup)"
            )
        with open(args.config) as stream:
            backups = Backups(json.load(stream))
        if args.subdir:
            path = os.path.realpath(os.path.join(backups.dir, args.subdir))
            if os.path.commonpath([path, os.path.realpath(backups.dir)]) != os.path.realpath(
                backups.dir
            ):
                raise BackupError(f"--dir {args.subdir!r} is outside {backups.dir}")
            backups.dir = path
        if args.command == "take" and not args.backup_id:
            # The timer's run: named by the minute, so the hosts of one inventory, whose
            # timers fire in the same minute, give their parts one id.
            args.backup_id = time.strftime("%Y%m%dT%H%M00Z", time.gmtime()) + "-" + args.tag
        if args.command in ("verify", "restore") and not args.backup_id:
            raise BackupError(f"{args.command} needs --id")
        if args.command == "take":
            if not TAG_PATTERN.fullmatch(args.tag):
                raise BackupError(f"not a tag: {args.tag!r} (letters, digits, '.', '_', '-')")
            result = backups.take(args.backup_id, args.tag)
        elif args.command == "list":
            result = {"parts": sorted(backups.parts), "backups": backups.manifests()}
        elif args.command == "prune":
            result = {"pruned": backups.prune()}
        else:
            result = getattr(backups, args.command)(args.backup_id)
    except (BackupError, OSError, ValueError, KeyError, subprocess.CalledProcessError) as error:
        detail = (
            error.stderr.decode(errors="replace").strip()
            if isinstance(error, subprocess.CalledProcessError)
            else ""
        )
        print(f"backup {args.command}: {error} {detail}".strip(), file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
