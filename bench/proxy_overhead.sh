#!/usr/bin/env bash
# Benchmark (not a test): what nginx costs on the request path of an all-in-one host. wrk,
# run on the host itself, measures requests/s through nginx (port 80) and straight to
# gunicorn (its loopback port), alternated in rounds (which one goes first alternates too),
# for `GET /` (the app alone) and `GET /readyz` (which waits on MariaDB and Redis). The
# report gives each run, the medians and the median of the per-round ratios
# (through nginx / direct). The machine is shared and noisy: only the alternation in one
# run makes the figures comparable.
#
# It does this for two logging set-ups, alternated as well (site.yml switches between them):
#   now      the roles' defaults: nginx's access log buffered (nginx_access_log_buffer),
#            no gunicorn access log, the app's JSON line per request
#   before   what the stack wrote before: nginx unbuffered, gunicorn's access log too
#
#   bench/proxy_overhead.sh                       5 rounds per set-up, 10 s per wrk run
#   BENCH_ROUNDS=7 BENCH_SECONDS=15 BENCH_CONNECTIONS=64 bench/proxy_overhead.sh
#
# It uses the all-in-one container of bench/site_first_run.sh (bench/inventory), starting
# and provisioning it when it is not there, and installs wrk in it from the distribution.
# Output: a report on stdout and in bench/results/proxy-overhead-<UTC time>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEPLOYER_ARTIFACTS="$PWD/.artifacts" NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export DEMO_DISTRO=${BENCH_DISTRO:-ubuntu2204} BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-8090}
rounds=${BENCH_ROUNDS:-5} seconds=${BENCH_SECONDS:-10} connections=${BENCH_CONNECTIONS:-32}
inventory=bench/inventory node=deployer-bench-aio
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=bench/results/proxy-overhead-$stamp.txt
log=.cache/logs/bench-proxy-overhead.log
raw=.cache/bench-proxy/$stamp.tsv
mkdir -p bench/results .cache/logs "$(dirname "$raw")"
: >"$log"

say() { printf '[bench] %s\n' "$*"; }

if ! docker exec "$node" true 2>/dev/null; then
  say "starting $node and provisioning it with site.yml (log: $log)"
  scripts/bootstrap-venv.sh >>"$log" 2>&1
  scripts/ensure-docker.sh >>"$log" 2>&1
  scripts/build-images.sh "$DEMO_DISTRO" >>"$log" 2>&1
  scripts/build-standin-anaconda.sh >>"$log" 2>&1
  ansible-playbook -i "$inventory" scripts/demo_nodes.yml -e demo_network=deployer-bench >>"$log"
  docker exec "$node" systemctl is-system-running --wait >/dev/null 2>&1 || true
fi
docker exec -e DEBIAN_FRONTEND=noninteractive "$node" sh -c \
  'command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }' >>"$log" 2>&1

# setup <name>: converge the host to one logging set-up.
setup() {
  local -a extra=()
  [ "$1" = before ] && extra=(-e nginx_access_log_buffer= -e flask_app_gunicorn_access_log=true)
  ansible-playbook -i "$inventory" site.yml "${extra[@]}" >>"$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
  docker exec "$node" curl -sf -o /dev/null -H 'Host: localhost' http://127.0.0.1/readyz
}

# measure <setup> <round> <target> <path>: one wrk run, one line of $raw.
measure() {
  local url
  case $3 in
    nginx) url=http://127.0.0.1:80$4 ;;
    direct) url=http://127.0.0.1:8000$4 ;;
  esac
  local out
  out=$(docker exec "$node" wrk -t2 -c"$connections" -d"${seconds}s" -H 'Host: localhost' "$url")
  local rate errors
  rate=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$rate" "${errors:-0}" >>"$raw"
  say "$1 round $2: $3 $4 $rate req/s (non-2xx ${errors:-0})"
}

for round in $(seq 1 "$rounds"); do
  # The set-ups alternate which goes first, and so do nginx and direct within each.
  if [ $((round % 2)) -eq 1 ]; then setups=(now before); else setups=(before now); fi
  for name in "${setups[@]}"; do
    say "round $round: converging to the '$name' logging set-up"
    setup "$name"
    for path in / /readyz; do
      if [ $((round % 2)) -eq 1 ]; then targets=(nginx direct); else targets=(direct nginx); fi
      for target in "${targets[@]}"; do measure "$name" "$round" "$target" "$path"; done
    done
  done
done
say "back to the roles' defaults"
setup now

{
  echo "request path cost on an all-in-one $DEMO_DISTRO container ($stamp)"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), docker $(docker version --format '{{.Server.Version}}')"
  echo "command: bench/proxy_overhead.sh (BENCH_ROUNDS=$rounds BENCH_SECONDS=$seconds BENCH_CONNECTIONS=$connections)"
  echo "wrk -t2 -c$connections -d${seconds}s on the host itself; gunicorn $(docker exec "$node" sh -c 'grep -E "^workers" /srv/*/shared/configm.py') $(docker exec "$node" sh -c 'grep -E "^worker_class" /srv/*/shared/configm.py')"
  python3 - "$raw" <<'EOF'
import statistics, sys
from collections import defaultdict
runs = defaultdict(dict)
errors = 0
for line in open(sys.argv[1]):
    setup, rnd, target, path, rate, bad = line.rstrip("\n").split("\t")
    runs[(setup, path)].setdefault(rnd, {})[target] = float(rate)
    errors += int(bad)
for setup in ("now", "before"):
    print(f"\n{setup}:")
    for path in ("/", "/readyz"):
        rounds = runs[(setup, path)]
        nginx = [r["nginx"] for r in rounds.values()]
        direct = [r["direct"] for r in rounds.values()]
        ratios = [r["nginx"] / r["direct"] for r in rounds.values()]
        print(f"  GET {path:8s} through nginx {', '.join(f'{v:.0f}' for v in nginx)} req/s (median {statistics.median(nginx):.0f})")
        print(f"  {'':12s} direct        {', '.join(f'{v:.0f}' for v in direct)} req/s (median {statistics.median(direct):.0f})")
        print(f"  {'':12s} ratio per round {', '.join(f'{v:.2f}' for v in ratios)}; median {statistics.median(ratios):.2f}")
print(f"\nnon-2xx answers over all runs: {errors}")
EOF
} | tee "$report"
