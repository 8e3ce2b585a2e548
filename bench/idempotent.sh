#!/usr/bin/env bash
# Benchmark (not a test): idempotent `site.yml` on the demo cluster (one web host, two app
# hosts, one host for the database and the cache), alternating Ansible's plain linear
# strategy and Mitogen's (ansible.cfg's default), BENCH_REPEATS runs of each. Every run must
# report changed=0.
#
#   bench/idempotent.sh                 3 runs per strategy
#   BENCH_REPEATS=5 bench/idempotent.sh
#
# It starts the demo (scripts/demo.sh up: idempotent) if it does not answer.
# Output: a report on stdout and in bench/results/idempotent-demo-<UTC time>.txt.
# Beside it, with the same name: its figures as .json and drawn as .png (scripts/bench_plot.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/figures.sh
source bench/figures.sh
export PATH="$PWD/.venv/bin:$PATH"
export DEPLOYER_ARTIFACTS="$PWD/.artifacts" NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
repeats=${BENCH_REPEATS:-3} port=${DEMO_HTTP_PORT:-8080}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=.cache/bench-idempotent
report=bench/results/idempotent-demo-$stamp.txt
mkdir -p bench/results "$work"

say() { printf '[bench] %s\n' "$*"; }
recap() {  # recap <log> <key>: the PLAY RECAP counter summed over hosts
  awk -v key="$2" '/PLAY RECAP/ {r=1; next} r && /ok=/ {for (i=1;i<=NF;i++) if (split($i,kv,"=")==2 && kv[1]==key) s+=kv[2]} END {print s+0}' "$1"
}

if ! curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; then
  say "starting the demo cluster (scripts/demo.sh up; log: $work/demo.log)"
  scripts/demo.sh up >"$work/demo.log" 2>&1
fi
# One unmeasured run first, so every measured one starts from the same converged state.
ansible-playbook -i inventory site.yml >"$work/warmup.log" 2>&1

plain=() mitogen=()
for r in $(seq 1 "$repeats"); do
  for strategy in linear mitogen_linear; do
    log=$work/$strategy-$r.log
    s=$(date +%s.%N)
    ANSIBLE_STRATEGY=$strategy ansible-playbook -i inventory site.yml >"$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
    t=$(printf '%.1f' "$(echo "$(date +%s.%N) - $s" | bc)")
    changed=$(recap "$log" changed)
    [ "$changed" -eq 0 ] || { say "run $r ($strategy) changed $changed: see $log"; exit 1; }
    say "$strategy run $r: $t s, changed=0, $(grep -c '^TASK \[' "$log") task headers"
    if [ "$strategy" = linear ]; then plain+=("$t"); else mitogen+=("$t"); fi
  done
done

{
  echo "idempotent site.yml on the demo cluster, 4 hosts ($stamp)"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), docker $(docker version --format '{{.Server.Version}}')"
  echo "command: bench/idempotent.sh (BENCH_REPEATS=$repeats), runs alternated, every one changed=0"
  python3 - "${plain[*]}" "${mitogen[*]}" <<'EOF'
import statistics, sys
plain, mitogen = ([float(v) for v in arg.split()] for arg in sys.argv[1:])
print(f"plain linear:    {', '.join(f'{v:.1f}' for v in plain)} s (median {statistics.median(plain):.1f})")
print(f"mitogen_linear:  {', '.join(f'{v:.1f}' for v in mitogen)} s (median {statistics.median(mitogen):.1f})")
print(f"speed-up: {statistics.median(plain) / statistics.median(mitogen):.1f}x")
EOF
} | tee "$report"

# The figures as JSON beside the report, drawn as a PNG beside it too (scripts/bench_plot.py);
# a failure here is reported and leaves the text report as it is.
figures=${report%.txt}.json
written=0
python3 - "$figures" "$report" "$stamp" "${plain[*]}" "${mitogen[*]}" <<'EOF' || written=$?
import json, sys
out, report, stamp = sys.argv[1:4]
title, machine, command = (open(report).read().splitlines() + ["", "", ""])[:3]
plain, mitogen = ([float(v) for v in arg.split()] for arg in sys.argv[4:6])
figures = {"schema": 1, "bench": "idempotent", "stamp": stamp, "title": title, "machine": machine,
           "command": command, "strategies": {"linear": plain, "mitogen_linear": mitogen}}
with open(out, "w") as fh:
    json.dump(figures, fh, indent=2)
EOF
draw_figures "$written" "$figures" "$report"
