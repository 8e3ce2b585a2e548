#!/usr/bin/env bash
# Create .venv-app with the app's runtime and test requirements (kept apart from the
# controller tooling in .venv so their pins never fight).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv-app}
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r app/requirements-dev.txt
# The app itself (editable, no dependencies: they are the lock above), so it reports the
# version of its package metadata as it does when deployed.
"$venv/bin/pip" install -qq --disable-pip-version-check --no-deps -e app
