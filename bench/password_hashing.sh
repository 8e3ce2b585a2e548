#!/usr/bin/env bash
# Benchmark (not a test): p99 of GET / on one gunicorn gevent worker while 16 clients send
# wrong-password changes, for the app before and after hashing moved off the event loop,
# alternated in one run (method: bench/password_hashing.py). Runs on the controller
# against the local MariaDB (root, no password) and Redis; no container.
#
#   bench/password_hashing.sh                          3 rounds of 20 s per variant
#   BENCH_ROUNDS=5 BENCH_SECONDS=30 bench/password_hashing.sh
#   BENCH_BEFORE_REF=<commit> bench/password_hashing.sh   another "before"
#
# "before" defaults to the commit before the thread pool arrived (the parent of the first
# commit whose passwords.py has HashRunner). Output: a report on stdout and in
# bench/results/password-hashing-<UTC time>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=bench/results/password-hashing-$stamp.txt
log=.cache/logs/bench-password-hashing.log
mkdir -p bench/results .cache/logs
: >"$log"
if [ -z "${BENCH_BEFORE_REF:-}" ]; then
  first=$(git log --reverse --format=%H -S HashRunner -- app/redflask/utils/passwords.py | head -n 1)
  if [ -z "$first" ]; then
    echo "no commit has HashRunner in app/redflask/utils/passwords.py: set BENCH_BEFORE_REF" >&2
    exit 2
  fi
  BENCH_BEFORE_REF=$(git rev-parse --short "$first^")
fi
VENV=.venv-app scripts/app-venv.sh
before=$(mktemp -d) uploads=$(mktemp -d)
trap 'rm -rf "$before" "$uploads"' EXIT
git archive "$BENCH_BEFORE_REF" app | tar -x -C "$before"
{
  echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r)"
  echo "command: bench/password_hashing.sh (BENCH_ROUNDS=${BENCH_ROUNDS:-3} BENCH_SECONDS=${BENCH_SECONDS:-20})"
  .venv-app/bin/python bench/password_hashing.py --venv "$PWD/.venv-app" \
    --before "$before/app" --after "$PWD/app" --before-ref "$BENCH_BEFORE_REF" \
    --rounds "${BENCH_ROUNDS:-3}" --seconds "${BENCH_SECONDS:-20}" --log "$PWD/$log" --uploads "$uploads"
} | tee "$report"
echo "report: $report; servers' log: $log"
