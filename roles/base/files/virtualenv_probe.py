"""Probe for the base role's virtualenv entry point, run by the target interpreter.

    <python> -c "<this file>" <virtualenv path>

Prints one JSON object: the interpreter's version, machine and C library (the wheel tags
the controller resolves for), its directory, what a virtualenv at the path was made from
(pyvenv.cfg's version and home; [] when there is none) and the sha256 of the wheelhouse
archive it was filled from. Runs on Python 2.7 and 3 alike, and changes nothing.
"""

import json
import os
import platform
import sys

venv = sys.argv[1]


def read(name):
    try:
        with open(os.path.join(venv, name)) as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


lines = [line for line in read("pyvenv.cfg").splitlines() if "=" in line]
cfg = dict((key.strip(), value.strip()) for key, value in (line.split("=", 1) for line in lines))
made_from = cfg.get("version") or cfg.get("version_info") or ""
print(
    json.dumps(
        {
            "version": "%d.%d.%d" % sys.version_info[:3],
            "machine": platform.machine(),
            "glibc": platform.libc_ver()[1] or "0.0",
            "home": os.path.dirname(sys.executable),
            "venv": [".".join(made_from.split(".")[:3]), cfg.get("home", "")] if cfg else [],
            "stamp": read(".wheelhouse.sha256").strip(),
        }
    )
)
