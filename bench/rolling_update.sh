#!/usr/bin/env bash
# Benchmark (not a test): a rolling update and a rollback of the demo cluster (one web, two
# app hosts, one db+cache host) under a constant request rate through nginx, reporting the
# requests sent, the failed ones, how long the install phase took and how long each app
# host's switch took, with Mitogen (ansible.cfg's default strategy) and then with Ansible's
# plain linear strategy, in one run (each ships a release of its own).
#
#   bench/rolling_update.sh                 20 requests/s, serial 1
#   BENCH_RATE=50 BENCH_SERIAL=2 bench/rolling_update.sh
#
# It starts the demo (scripts/demo.sh up: idempotent) if needed, ships a variant of app/
# (this repository's app with one file added, so a new release id) from a throwaway git
# repository with playbooks/rolling_update.yml while scripts/loadgen.py runs (reads, user
# creations, uploads), then rolls back with playbooks/rollback.yml under the same load; then
# the same with another variant under the plain strategy.
# Output: a report on stdout and in bench/results/rolling-update-<UTC time>.txt, and for each
# run bench/results/rolling-update-<UTC time>-<run>.{html,png} (scripts/rollout_report.py: the
# load per second, with the steps of the rollout receipt the run wrote, if any).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEPLOYER_ARTIFACTS="$PWD/.artifacts" NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
rate=${BENCH_RATE:-20} serial=${BENCH_SERIAL:-1} port=${DEMO_HTTP_PORT:-8080}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=.cache/bench-rolling
report=bench/results/rolling-update-$stamp.txt
strategies=(mitogen_linear linear)
receipts=.state/inventory/receipts  # written by the playbooks, one per rollout
mkdir -p bench/results "$work"

say() { printf '[bench] %s\n' "$*"; }
# newest_receipt <marker>: the newest receipt written after <marker> was, or nothing.
newest_receipt() {
  [ -d "$receipts" ] || return 0
  find "$receipts" -maxdepth 1 -type f -name '*.json' -newer "$1" -printf '%T@ %p\n' |
    sort -n | tail -n 1 | cut -d' ' -f2-
}

if ! curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; then
  say "starting the demo cluster (scripts/demo.sh up; log: $work/demo.log)"
  scripts/demo.sh up >"$work/demo.log" 2>&1
fi

say "making a variant of app/ per strategy in a throwaway git repository"
rm -rf "$work/variant"
mkdir -p "$work/variant"
cp -a app "$work/variant/app"
git -C "$work/variant" init -q -b base
git -C "$work/variant" add -A
git -C "$work/variant" -c user.name=bench -c user.email=bench@localhost commit -q -m "bench $stamp"
for strategy in "${strategies[@]}"; do
  git -C "$work/variant" checkout -q -b "$strategy" base
  echo "variant shipped by bench/rolling_update.sh at $stamp ($strategy)" >"$work/variant/app/VARIANT"
  git -C "$work/variant" add -A
  git -C "$work/variant" -c user.name=bench -c user.email=bench@localhost commit -q -m "$strategy"
done

# under_load <name> <strategy> <playbook> [args...]: run the playbook while loadgen runs;
# leaves $work/<name>.json (loadgen) and $work/<name>.log (playbook output), and sets
# <name>_receipt to the receipt the playbook wrote (empty if none).
under_load() {
  local name=$1 strategy=$2 playbook=$3
  shift 3
  rm -f "$work/$name.stop" "$work/$name.ready"
  python scripts/loadgen.py --url "http://127.0.0.1:$port" --rate "$rate" \
    --admin-password-file .credentials/inventory/admin_password \
    --stop-file "$work/$name.stop" --ready-file "$work/$name.ready" \
    --output "$work/$name.json" >"$work/$name.loadgen.log" 2>&1 &
  local loadgen=$!
  for _ in $(seq 1 60); do [ -f "$work/$name.ready" ] && break; sleep 1; done
  say "$name: $playbook under $rate requests/s ($strategy)"
  local started=$SECONDS rc=0
  touch "$work/$name.started"
  ANSIBLE_STRATEGY=$strategy ansible-playbook -i inventory "$playbook" -e "flask_app_rollout_serial=$serial" "$@" \
    >"$work/$name.log" 2>&1 || rc=$?
  printf -v "${name}_receipt" '%s' "$(newest_receipt "$work/$name.started" || true)"
  printf -v "${name}_seconds" '%s' "$((SECONDS - started))"
  printf -v "${name}_rc" '%s' "$rc"
  sleep 5
  touch "$work/$name.stop"
  wait "$loadgen" || true
}

for strategy in "${strategies[@]}"; do
  under_load "update_$strategy" "$strategy" playbooks/rolling_update.yml \
    -e "flask_app_source_git_repo=$PWD/$work/variant" -e "flask_app_source_git_ref=$strategy" \
    -e flask_app_source_git_subdir=app
  under_load "rollback_$strategy" "$strategy" playbooks/rollback.yml
done

summary() {  # summary <name>: loadgen figures, the install phase and the per-host lines
  python - "$work/$1.json" "$work/$1.log" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
kinds = ", ".join(f"{k} {v['sent']}/{v['failed']}" for k, v in d["by_kind"].items())
print(f"  requests: sent {d['sent']}, failed {d['failed']} (by kind sent/failed: {kinds})")
print(f"  stale keep-alive retries: {d['stale_keepalive_retries']}, "
      f"max lateness {d['max_lateness_s']} s, releases seen {list(d['releases'])}")
log = open(sys.argv[2]).read()
# How long the phase before the first switch took, from profile_tasks' cumulative clock.
clock = [(m.start(), m.group(1)) for m in re.finditer(r"\)\s+(\d+:\d+:[\d.]+) \*+\s*$", log, re.M)]
plays = [(m.group(1), m.start()) for m in re.finditer(r"^PLAY \[(.*?)\]", log, re.M)]
def at(pos):
    last = "0:00:00"
    for p, c in clock:
        if p > pos:
            return last
        last = c
    return last
def secs(c):
    h, m, s = c.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
for (name, start), (_, end) in zip(plays, plays[1:]):
    if name.startswith(("Build the release", "List the releases")):
        print(f"  before the first switch ({name.split(',')[0].lower()}): {secs(at(end)) - secs(at(start)):.1f} s")
# The summary task's lines, unwrapped from the YAML callback's line folding.
for line in re.findall(r"- '([A-Za-z0-9_.-]+: runs [0-9a-f]{12} - .*?)'\n", log, re.S):
    print("  " + " ".join(line.split()))
PY
}
{
  echo "rolling update and rollback of the demo cluster under load ($stamp)"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), docker $(docker version --format '{{.Server.Version}}')"
  echo "command: bench/rolling_update.sh (BENCH_RATE=$rate BENCH_SERIAL=$serial)"
  for strategy in "${strategies[@]}"; do
    for step in update rollback; do
      name=${step}_$strategy rc_var=${step}_${strategy}_rc seconds_var=${step}_${strategy}_seconds
      echo "$step.yml, $strategy: rc=${!rc_var}, ${!seconds_var} s"
      summary "$name"
    done
  done
} | tee "$report"

# Each run drawn (scripts/rollout_report.py) from its load and, when it wrote one, its receipt;
# a failure here is reported and leaves the text report as it is.
for strategy in "${strategies[@]}"; do
  for step in update rollback; do
    name=${step}_$strategy receipt_var=${step}_${strategy}_receipt
    prefix=bench/results/rolling-update-$stamp-$name
    receipt=()
    if [ -n "${!receipt_var}" ]; then receipt=(--receipt "${!receipt_var}"); fi
    if python scripts/rollout_report.py --loadgen "$work/$name.json" "${receipt[@]}" \
      --output "$prefix" --title "$step.yml, $strategy, $rate requests/s ($stamp)" >/dev/null; then
      say "$name: $prefix.html and .png${receipt[*]:+ (receipt ${!receipt_var})}"
    else
      say "$name: could not draw $prefix.html (scripts/rollout_report.py); the report is $report"
    fi
  done
done
for strategy in "${strategies[@]}"; do
  for step in update rollback; do
    rc_var=${step}_${strategy}_rc
    [ "${!rc_var}" -eq 0 ] || exit 1
  done
done
