#!/usr/bin/env bash
# Benchmark (not a test): how long the first `site.yml` run takes on a fresh all-in-one
# node, against the apt floor of the same packages, and how long the second run takes and
# how much it changes.
#
#   bench/site_first_run.sh                 ubuntu2204
#   BENCH_DISTRO=debian12 bench/site_first_run.sh
#
# Method (DESIGN.md): two fresh systemd containers from the same image.
#   1. site.yml provisions and deploys the all-in-one host (timed: first run).
#   2. The packages that run installed are read off that host (apt's manual marks, minus the
#      image's own), and the second, untouched container installs exactly those with one
#      `apt-get update` and one `apt-get install` (timed: the apt floor). Both download from
#      the image's default mirrors; neither shares an apt cache.
#   3. site.yml runs again on the provisioned host (timed: second run; changed count).
# The Anaconda installer is the stand-in of scripts/build-standin-anaconda.sh (the real one
# cannot be downloaded on the machines this runs on); the controller's pip cache and
# .artifacts/ are kept between runs of this script, as they are for an operator.
# Output: a report on stdout and in bench/results/site-first-run-<distro>-<UTC time>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEPLOYER_ARTIFACTS="$PWD/.artifacts"
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export DEMO_DISTRO=${BENCH_DISTRO:-ubuntu2204} BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-8090}
inventory=bench/inventory
aio=deployer-bench-aio floor=deployer-bench-floor network=deployer-bench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results .cache/logs
report=bench/results/site-first-run-$DEMO_DISTRO-$stamp.txt
log=.cache/logs/bench-site-first-run-$DEMO_DISTRO.log

say() { printf '[bench] %s\n' "$*"; }
nodes() {  # nodes <inventory> <state>
  ansible-playbook -i "$1" scripts/demo_nodes.yml -e "demo_state=$2" -e "demo_network=$network" >>"$log"
}
cleanup() {
  nodes "$floor," absent || true
  nodes "$inventory" absent || true
  rm -rf .credentials/inventory
}
# site_run <name>: run site.yml on the all-in-one host; sets <name> (seconds) and
# <name>_changed (the recap's changed count); the log is .cache/logs/bench-<name>.log.
site_run() {
  local name=$1 run_log=.cache/logs/bench-$1.log started
  say "$name site.yml run on $aio"
  started=$(date +%s.%N)
  ansible-playbook -i "$inventory" site.yml >"$run_log" 2>&1 || { tail -n 40 "$run_log"; exit 1; }
  printf -v "$name" '%s' "$(echo "$(date +%s.%N) - $started" | bc)"
  printf -v "${name}_changed" '%s' "$(recap "$run_log" changed)"
}
# Sum of one PLAY RECAP counter (changed, failed, ...) over every host of a run's output.
recap() { awk -v key="$2" '/PLAY RECAP/ {r=1; next} r && /ok=/ {for (i=1;i<=NF;i++) if (split($i,kv,"=")==2 && kv[1]==key) s+=kv[2]} END {print s+0}' "$1"; }

: >"$log"
say "setting up (venv, Docker, image $DEMO_DISTRO, stand-in installer); log: $log"
scripts/bootstrap-venv.sh >>"$log" 2>&1
scripts/ensure-docker.sh >>"$log" 2>&1
scripts/build-images.sh "$DEMO_DISTRO" >>"$log" 2>&1
scripts/build-standin-anaconda.sh >>"$log" 2>&1
cleanup >>"$log" 2>&1
trap 'cleanup >>"$log" 2>&1' EXIT

say "starting two fresh $DEMO_DISTRO containers"
nodes "$inventory" started
nodes "$floor," started
for node in "$aio" "$floor"; do
  docker exec "$node" systemctl is-system-running --wait >/dev/null 2>&1 || true
done
manual_before=$(docker exec "$floor" apt-mark showmanual | sort)

site_run first

mapfile -t packages < <(comm -13 <(echo "$manual_before") <(docker exec "$aio" apt-mark showmanual | sort))
say "apt floor on $floor: apt-get update + install of the ${#packages[@]} packages site.yml installed"
started=$(date +%s.%N)
docker exec -e DEBIAN_FRONTEND=noninteractive "$floor" \
  sh -c "apt-get update -qq && apt-get install -y -qq ${packages[*]} >/dev/null" >>"$log" 2>&1
floor_s=$(echo "$(date +%s.%N) - $started" | bc)

site_run second

status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BENCH_HTTP_PORT/readyz")
{
  echo "site.yml on a fresh all-in-one $DEMO_DISTRO container ($stamp)"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), docker $(docker version --format '{{.Server.Version}}')"
  echo "command: bench/site_first_run.sh (BENCH_DISTRO=$DEMO_DISTRO)"
  printf 'first run:  %6.1f s  (changed=%s)\n' "$first" "$first_changed"
  printf 'apt floor:  %6.1f s  (apt-get update + install of the same %d packages)\n' "$floor_s" "${#packages[@]}"
  printf 'overhead:   %6.1f s  (first run minus apt floor), ratio %.2f\n' \
    "$(echo "$first - $floor_s" | bc)" "$(echo "$first / $floor_s" | bc -l)"
  printf 'second run: %6.1f s  (changed=%s)\n' "$second" "$second_changed"
  echo "/readyz through nginx after the second run: $status"
  echo "packages: ${packages[*]}"
} | tee "$report"
[ "$second_changed" -eq 0 ] && [ "$status" = 200 ]
