#!/usr/bin/env bash
# Create .venv with the pinned controller tooling (requirements.txt) and make sure the
# collections in requirements.yml are present. Re-running is cheap: pip only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
python=${PYTHON:-python3}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "[venv] the controller needs Python 3.11 or newer for ansible-core 2.19; '$python' is $("$python" -V 2>&1)." >&2
  echo "[venv] set PYTHON=/path/to/python3.11 and run again." >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "[venv] creating $venv with $("$python" -V)"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
echo "[venv] installing requirements.txt into $venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt
VENV=$venv scripts/install-collections.sh
