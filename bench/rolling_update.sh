#!/usr/bin/env bash
# Benchmark (not a test): a rolling update and a rollback of the demo cluster (one web, two
# app hosts, one db+cache host) under a constant request rate through nginx, reporting the
# requests sent, the failed ones, and how long each app host took.
#
#   bench/rolling_update.sh                 20 requests/s, serial 1
#   BENCH_RATE=50 BENCH_SERIAL=2 bench/rolling_update.sh
#
# It starts the demo (scripts/demo.sh up: idempotent) if needed, ships a variant of app/
# (this repository's app with one file added, so a new release id) from a throwaway git
# repository with playbooks/rolling_update.yml while scripts/loadgen.py runs (reads, user
# creations, uploads), then rolls back with playbooks/rollback.yml under the same load.
# Output: a report on stdout and in bench/results/rolling-update-<UTC time>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEPLOYER_ARTIFACTS="$PWD/.artifacts" NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
rate=${BENCH_RATE:-20} serial=${BENCH_SERIAL:-1} port=${DEMO_HTTP_PORT:-8080}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=.cache/bench-rolling
report=bench/results/rolling-update-$stamp.txt
mkdir -p bench/results "$work"

say() { printf '[bench] %s\n' "$*"; }

if ! curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; then
  say "starting the demo cluster (scripts/demo.sh up; log: $work/demo.log)"
  scripts/demo.sh up >"$work/demo.log" 2>&1
fi

say "making a variant of app/ in a throwaway git repository"
rm -rf "$work/variant"
mkdir -p "$work/variant"
cp -a app "$work/variant/app"
echo "variant shipped by bench/rolling_update.sh at $stamp" >"$work/variant/app/VARIANT"
git -C "$work/variant" init -q -b bench
git -C "$work/variant" add -A
git -C "$work/variant" -c user.name=bench -c user.email=bench@localhost commit -q -m "bench $stamp"

# under_load <name> <playbook> [args...]: run the playbook while loadgen runs; leaves
# $work/<name>.json (loadgen) and $work/<name>.log (playbook output).
under_load() {
  local name=$1 playbook=$2
  shift 2
  rm -f "$work/$name.stop" "$work/$name.ready"
  python scripts/loadgen.py --url "http://127.0.0.1:$port" --rate "$rate" \
    --admin-password-file .credentials/demo/admin_password \
    --stop-file "$work/$name.stop" --ready-file "$work/$name.ready" \
    --output "$work/$name.json" >"$work/$name.loadgen.log" 2>&1 &
  local loadgen=$!
  for _ in $(seq 1 60); do [ -f "$work/$name.ready" ] && break; sleep 1; done
  say "$name: $playbook under $rate requests/s"
  local started=$SECONDS rc=0
  ansible-playbook -i inventory/demo "$playbook" -e "rolling_serial=$serial" "$@" >"$work/$name.log" 2>&1 || rc=$?
  eval "${name}_seconds=$((SECONDS - started)) ${name}_rc=$rc"
  sleep 5
  touch "$work/$name.stop"
  wait "$loadgen" || true
}

under_load update playbooks/rolling_update.yml \
  -e "flask_app_source_git_repo=$PWD/$work/variant" -e flask_app_source_git_ref=bench \
  -e flask_app_source_git_subdir=app
under_load rollback playbooks/rollback.yml

summary() {  # summary <name>: loadgen figures and the per-host lines of the playbook
  python - "$work/$1.json" "$work/$1.log" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
kinds = ", ".join(f"{k} {v['sent']}/{v['failed']}" for k, v in d["by_kind"].items())
print(f"  requests: sent {d['sent']}, failed {d['failed']} (by kind sent/failed: {kinds})")
print(f"  stale keep-alive retries: {d['stale_keepalive_retries']}, "
      f"max lateness {d['max_lateness_s']} s, releases seen {list(d['releases'])}")
# The summary task's lines, unwrapped from the YAML callback's line folding.
log = open(sys.argv[2]).read()
for line in re.findall(r"- '([A-Za-z0-9_.-]+: runs [0-9a-f]{12} - .*?)'\n", log, re.S):
    print("  " + " ".join(line.split()))
EOF
}
{
  echo "rolling update and rollback of the demo cluster under load ($stamp)"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), docker $(docker version --format '{{.Server.Version}}')"
  echo "command: bench/rolling_update.sh (BENCH_RATE=$rate BENCH_SERIAL=$serial)"
  echo "rolling_update.yml: rc=$update_rc, ${update_seconds} s"
  summary update
  echo "rollback.yml: rc=$rollback_rc, ${rollback_seconds} s"
  summary rollback
} | tee "$report"
[ "$update_rc" -eq 0 ] && [ "$rollback_rc" -eq 0 ]
