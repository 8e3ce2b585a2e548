#!/usr/bin/env bash
# Install the collections in requirements.yml, asking Galaxy only for those that no
# collection path already provides at a version inside the required range. With the pinned
# `ansible` pip package every one is already there, so this works with no Galaxy access.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}

missing=$("$venv/bin/python" - <<'PY'
import json
import os
import subprocess
import sys

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

wanted = yaml.safe_load(open("requirements.yml"))["collections"]
listing = json.loads(subprocess.run(
    [os.path.join(os.path.dirname(sys.executable), "ansible-galaxy"), "collection", "list", "--format", "json"],
    check=True, capture_output=True, text=True).stdout)
installed = {}
for collections in listing.values():
    for name, info in collections.items():
        installed.setdefault(name, []).append(Version(info["version"]))
for item in wanted:
    spec = SpecifierSet(item.get("version", ""))
    if not any(v in spec for v in installed.get(item["name"], [])):
        print(f"{item['name']}:{item.get('version', '*')}")
PY
)

if [ -z "$missing" ]; then
  echo "[collections] all of requirements.yml present in the installed ansible package"
  exit 0
fi
echo "[collections] fetching from Galaxy: $missing"
# shellcheck disable=SC2086
PATH="$PWD/$venv/bin:$PATH" ansible-galaxy collection install $missing
