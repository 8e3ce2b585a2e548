"""Probe for the base role's virtualenv entry point, run by the target interpreter.

    <python> -c "<this file>" <virtualenv path> [<seed virtualenv path> ...]

Prints one JSON object: the interpreter's version, machine and C library (the wheel tags
the controller resolves for), its directory, what a virtualenv at the path was made from
(pyvenv.cfg's version and home; [] when there is none) and the sha256 of the wheelhouse
archive it was filled from; under "seeds", the same two facts for each seed path that
holds a virtualenv. Runs on Python 2.7 and 3 alike, and changes nothing.
"""

import json
import os
import platform
import sys


def read(venv, name):
    try:
        with open(os.path.join(venv, name)) as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def made_from(venv):
    """pyvenv.cfg's [version, home] ([] when there is no virtualenv at venv)."""
    lines = [line for line in read(venv, "pyvenv.cfg").splitlines() if "=" in line]
    pairs = (line.split("=", 1) for line in lines)
    cfg = dict((key.strip(), value.strip()) for key, value in pairs)
    version = cfg.get("version") or cfg.get("version_info") or ""
    return [".".join(version.split(".")[:3]), cfg.get("home", "")] if cfg else []


def stamp(venv):
    return read(venv, ".wheelhouse.sha256").strip()


venv = sys.argv[1]
others = [path for path in sys.argv[2:] if path != venv]
seeds = [{"path": path, "venv": made_from(path), "stamp": stamp(path)} for path in others]
print(
    json.dumps(
        {
            "version": "%d.%d.%d" % sys.version_info[:3],
            "machine": platform.machine(),
            "glibc": platform.libc_ver()[1] or "0.0",
            "home": os.path.dirname(sys.executable),
            "venv": made_from(venv),
            "stamp": stamp(venv),
            "seeds": [seed for seed in seeds if seed["venv"]],
        }
    )
)
