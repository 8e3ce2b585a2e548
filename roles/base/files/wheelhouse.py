#!/usr/bin/env python3
"""Build one wheelhouse archive on the controller for one node interpreter.

    wheelhouse.py --cache DIR --archive FILE.tar [--require-hashes] \
        -- <pip download options> -- <requirement>...

The wheels pip resolves for the requirements (with the pip options that name the node's
interpreter: --python-version, --abi, --platform ...) are packed with a requirements.txt
into FILE.tar, a reproducible tar (sorted names, owner 0, mtime 0), and its sha256 is
written to FILE.tar.sha256. Downloads are kept in DIR, so a wheel is fetched from the index
once and later archives that need it are packed without any index (pip first runs with
--no-index). An archive that exists with its checksum file is left alone.

Several hosts of one run may ask for the same archive at once: a lock on DIR makes them
take turns, and the later ones find the archive built. Prints one JSON object:
{"archive": ..., "sha256": ..., "built": true|false, "replaced": [wheel file names]}.

With --require-hashes every requirement must carry `--hash=sha256:...` (a lock, see
scripts/lock-wheels.py) and pip checks every wheel against them, from the index and from
the cache alike. A cached wheel of a locked name and version whose sha256 is not in the lock
(changed on disk, or fetched from a tampered index) is deleted before pip runs and
downloaded again; it is named in "replaced" and on stderr. An existing archive is used
only when its checksum file still matches it, else it is built again.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(requirements: list[str]) -> dict[tuple[str, str], set[str]]:
    """{(name, version): allowed sha256} of hashed requirements; exits naming an unhashed one."""
    allowed = {}
    for line in requirements:
        pin = _PIN.match(line.strip())
        hashes = set(HASH.findall(line))
        if not pin or not hashes:
            raise SystemExit(
                f"requirement {line.split()[0]!r} is not pinned with --hash=sha256:... while hashes"
                " are required: lock it (scripts/lock-wheels.py) or turn the check off"
                " (base_virtualenv_require_hashes: false)"
            )
        allowed[(canonical(pin.group(1)), pin.group(2))] = hashes
    return allowed


def _drop_tampered(cache: str, allowed: dict[tuple[str, str], set[str]]) -> list[str]:
    """Delete the cached wheels of a locked name and version whose sha256 is not locked."""
    dropped = []
    for name in sorted(os.listdir(cache)):
        if not name.endswith(".whl"):
            continue
        project, version = name.split("-")[:2]
        hashes = allowed.get((canonical(project), version))
        if hashes is not None and _sha256(os.path.join(cache, name)) not in hashes:
            os.remove(os.path.join(cache, name))
            print(
                f"wheelhouse: {name} in {cache} does not match its lock; fetching it again",
                file=sys.stderr,
            )
            dropped.append(name)
    return dropped


def _pip_download(
    dest: str, cache: str, pip_options: list[str], requirements: str, offline: bool
) -> int:
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet"]
    command += ["--no-index"] if offline else []
    command += ["--find-links", cache, "-d", dest, *pip_options, "-r", requirements]
    # Our own interpreter running pip with arguments the role built: no shell, no user input.
    return subprocess.run(command, stdout=sys.stderr, check=False).returncode  # noqa: S603


def _reproducible(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build(
    cache: str, archive: str, pip_options: list[str], requirements: list[str], hashed: bool
) -> dict:
    allowed = _locked(requirements) if hashed else {}
    checksum_file = archive + ".sha256"
    if os.path.exists(archive) and os.path.exists(checksum_file):
        with open(checksum_file) as handle:
            recorded = handle.read().split()[0]
        if _sha256(archive) == recorded:
            return {"archive": archive, "sha256": recorded, "built": False, "replaced": []}
        print(
            f"wheelhouse: {archive} does not match {checksum_file}; building it again",
            file=sys.stderr,
        )
    replaced = _drop_tampered(cache, allowed) if hashed else []
    pip_options = [*pip_options, "--require-hashes"] if hashed else pip_options

    scratch = tempfile.mkdtemp(prefix=".build.", dir=cache)
    try:
        wheels = os.path.join(scratch, "wheels")
        os.mkdir(wheels)
        listed = os.path.join(scratch, "requirements.txt")
        with open(listed, "w") as handle:
            handle.write("".join(line + "\n" for line in requirements))
        # Exactly the wheels these requirements resolve to land in `wheels`: from the cache
        # alone when it has them all, else after fetching the missing ones into the cache.
        if _pip_download(wheels, cache, pip_options, listed, offline=True) != 0:
            if _pip_download(cache, cache, pip_options, listed, offline=False) != 0:
                raise SystemExit(f"pip could not resolve {requirements} for {pip_options}")
            if _pip_download(wheels, cache, pip_options, listed, offline=True) != 0:
                raise SystemExit(f"the cache in {cache} still misses wheels for {requirements}")
        shutil.copy(listed, os.path.join(wheels, "requirements.txt"))

        partial = os.path.join(scratch, "archive.tar")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(os.listdir(wheels)):
                tar.add(os.path.join(wheels, name), arcname=name, filter=_reproducible)
        checksum = _sha256(partial)
        os.replace(partial, archive)
        with open(checksum_file + ".new", "w") as handle:
            handle.write(f"{checksum}  {os.path.basename(archive)}\n")
        os.replace(checksum_file + ".new", checksum_file)
        return {"archive": archive, "sha256": checksum, "built": True, "replaced": replaced}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv.count("--") != 2:
        print(__doc__, file=sys.stderr)
        return 2
    first = argv.index("--")
    second = argv.index("--", first + 1)
    parser = argparse.ArgumentParser(description="Build one wheelhouse archive")
    parser.add_argument("--cache", required=True, help="directory keeping downloaded wheels")
    parser.add_argument("--archive", required=True, help="the .tar to write")
    parser.add_argument(
        "--require-hashes", action="store_true", help="every requirement must carry --hash"
    )
    args = parser.parse_args(argv[:first])
    requirements = argv[second + 1 :]
    if not requirements:
        parser.error("no requirements given")

    os.makedirs(args.cache, exist_ok=True)
    with open(os.path.join(args.cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = build(
            args.cache, args.archive, argv[first + 1 : second], requirements, args.require_hashes
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
