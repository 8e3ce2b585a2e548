#!/usr/bin/env bash
# Benchmark (not a test): how long the first `site.yml` run takes on a fresh all-in-one
# node, against the apt floor of the same packages, and how long idempotent runs take, with
# Mitogen (ansible.cfg's default strategy) and with Ansible's plain linear strategy, in one
# run.
#
#   bench/site_first_run.sh                 ubuntu2204, 2 idempotent runs per strategy
#   BENCH_DISTRO=debian12 BENCH_REPEATS=3 bench/site_first_run.sh
#
# Method (results in docs/benchmarks.md): three fresh systemd containers from the same image.
#   1. site.yml provisions and deploys one all-in-one host under Mitogen and another under
#      the plain strategy (timed: first runs).
#   2. The packages the Mitogen run installed are read off its host (apt's manual marks,
#      minus the image's own), and the third, untouched container installs exactly those
#      with one `apt-get update` and one `apt-get install` (timed: the apt floor). All three
#      download from the image's default mirrors; none shares an apt cache.
#   3. site.yml runs again on each provisioned host, alternating the strategies
#      (BENCH_REPEATS each; timed; every one must change nothing).
# The Anaconda installer is the stand-in of scripts/build-standin-anaconda.sh (the real one
# cannot be downloaded on the machines this runs on); the controller's pip cache and
# .artifacts/ are kept between runs of this script, as they are for an operator.
# Output: a report on stdout and in bench/results/site-first-run-<distro>-<UTC time>.txt.
# Beside it, with the same name: its figures as .json and drawn as .png (scripts/bench_plot.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/figures.sh
source bench/figures.sh
export PATH="$PWD/.venv/bin:$PATH"
export DEPLOYER_ARTIFACTS="$PWD/.artifacts"
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export DEMO_DISTRO=${BENCH_DISTRO:-ubuntu2204} BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-8090}
repeats=${BENCH_REPEATS:-2}
inventory=bench/inventory
aio=deployer-bench-aio floor=deployer-bench-floor network=deployer-bench
# The plain strategy's host: the same inventory with another name and port.
plain_inventory=.cache/bench-first-run/inventory
plain_aio=deployer-bench-aio-plain
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results .cache/logs "$plain_inventory"
report=bench/results/site-first-run-$DEMO_DISTRO-$stamp.txt
log=.cache/logs/bench-site-first-run-$DEMO_DISTRO.log
sed -e "s/$aio:/$plain_aio:/" -e "s/BENCH_HTTP_PORT/BENCH_HTTP_PORT_PLAIN/" -e "s/'8090'/'8092'/" \
  "$inventory/hosts.yml" >"$plain_inventory/hosts.yml"
ln -sfn ../../../inventory/group_vars "$plain_inventory/group_vars"
ln -sfn ../../../inventory/hooks "$plain_inventory/hooks"

say() { printf '[bench] %s\n' "$*"; }
nodes() {  # nodes <inventory> <state>
  ansible-playbook -i "$1" scripts/demo_nodes.yml -e "demo_state=$2" -e "demo_network=$network" >>"$log"
}
cleanup() {
  nodes "$floor," absent || true
  nodes "$inventory" absent || true
  nodes "$plain_inventory" absent || true
  rm -rf bench/.credentials "$plain_inventory/../.credentials"
}
# site_run <name> <inventory> <strategy>: run site.yml; sets <name> (seconds) and
# <name>_changed (the recap's changed count); the log is .cache/logs/bench-<name>.log.
site_run() {
  local name=$1 run_log=.cache/logs/bench-$1.log started
  started=$(date +%s.%N)
  ANSIBLE_STRATEGY=$3 ansible-playbook -i "$2" site.yml >"$run_log" 2>&1 || { tail -n 40 "$run_log"; exit 1; }
  printf -v "$name" '%.1f' "$(echo "$(date +%s.%N) - $started" | bc)"
  printf -v "${name}_changed" '%s' "$(recap "$run_log" changed)"
  say "$name ($3): ${!name} s, changed=$(recap "$run_log" changed), $(grep -c '^TASK \[' "$run_log") task headers"
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

say "starting three fresh $DEMO_DISTRO containers"
nodes "$inventory" started
nodes "$plain_inventory" started
nodes "$floor," started
for node in "$aio" "$plain_aio" "$floor"; do
  docker exec "$node" systemctl is-system-running --wait >/dev/null 2>&1 || true
done
manual_before=$(docker exec "$floor" apt-mark showmanual | sort)

site_run first "$inventory" mitogen_linear
site_run first_plain "$plain_inventory" linear

mapfile -t packages < <(comm -13 <(echo "$manual_before") <(docker exec "$aio" apt-mark showmanual | sort))
say "apt floor on $floor: apt-get update + install of the ${#packages[@]} packages site.yml installed"
started=$(date +%s.%N)
docker exec -e DEBIAN_FRONTEND=noninteractive "$floor" \
  sh -c "apt-get update -qq && apt-get install -y -qq ${packages[*]} >/dev/null" >>"$log" 2>&1
floor_s=$(printf '%.1f' "$(echo "$(date +%s.%N) - $started" | bc)")

again=() again_plain=()
for r in $(seq 1 "$repeats"); do
  site_run "again_$r" "$inventory" mitogen_linear
  again+=("$(eval echo "\$again_$r")")
  [ "$(eval echo "\$again_${r}_changed")" -eq 0 ] || { say "idempotent run changed something"; exit 1; }
  site_run "again_plain_$r" "$plain_inventory" linear
  again_plain+=("$(eval echo "\$again_plain_$r")")
  [ "$(eval echo "\$again_plain_${r}_changed")" -eq 0 ] || { say "idempotent run changed something"; exit 1; }
done

status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BENCH_HTTP_PORT/readyz")
{
  echo "site.yml on a fresh all-in-one $DEMO_DISTRO container ($stamp)"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), docker $(docker version --format '{{.Server.Version}}')"
  echo "command: bench/site_first_run.sh (BENCH_DISTRO=$DEMO_DISTRO BENCH_REPEATS=$repeats)"
  printf 'apt floor:          %6.1f s  (apt-get update + install of the same %d packages)\n' "$floor_s" "${#packages[@]}"
  printf '                    %14s  %14s\n' mitogen_linear "plain linear"
  printf 'first run:          %8.1f s    %8.1f s   (changed=%s / %s)\n' "$first" "$first_plain" "$first_changed" "$first_plain_changed"
  printf 'first run / floor:  %10.2f    %10.2f\n' "$(echo "$first / $floor_s" | bc -l)" "$(echo "$first_plain / $floor_s" | bc -l)"
  printf 'idempotent runs:    %14s  %14s   (changed=0 each)\n' "$(IFS=,; echo "${again[*]}")" "$(IFS=,; echo "${again_plain[*]}")"
  echo "/readyz through nginx after the runs: $status"
  echo "packages: ${packages[*]}"
} | tee "$report"

# The figures as JSON beside the report, drawn as a PNG beside it too (scripts/bench_plot.py);
# a failure here is reported and leaves the text report as it is.
figures=${report%.txt}.json
written=0
python3 - "$figures" "$report" "$stamp" "$DEMO_DISTRO" "$floor_s" "${#packages[@]}" \
  "$first" "$first_changed" "${again[*]}" \
  "$first_plain" "$first_plain_changed" "${again_plain[*]}" "$status" <<'EOF' || written=$?
import json, sys
out, report, stamp, distro, floor, packages = sys.argv[1:7]
title, machine, command = (open(report).read().splitlines() + ["", "", ""])[:3]
def runs(first, changed, again):
    return {"first_s": float(first), "first_changed": int(changed),
            "idempotent_s": [float(v) for v in again.split()]}
figures = {"schema": 1, "bench": "site_first_run", "stamp": stamp, "distro": distro,
           "title": title, "machine": machine, "command": command,
           "floor_s": float(floor), "packages": int(packages),
           "strategies": {"mitogen_linear": runs(*sys.argv[7:10]),
                          "linear": runs(*sys.argv[10:13])},
           "readyz_status": sys.argv[13]}
with open(out, "w") as fh:
    json.dump(figures, fh, indent=2)
EOF
draw_figures "$written" "$figures" "$report"
[ "$status" = 200 ]
