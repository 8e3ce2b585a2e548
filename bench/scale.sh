#!/usr/bin/env bash
# Benchmark (not a test): how the cost of an idempotent `site.yml` grows with the number of
# app hosts behind one web host. For each size (1, 4 and 8 app hosts by default) it starts
# the containers (one web host, one host for the database and the cache, N app hosts; the
# hosts of the previous size are kept and new app hosts added), converges them with
# site.yml, then times idempotent runs, alternating Ansible's plain linear strategy and
# Mitogen's (ansible.cfg's default), BENCH_REPEATS of each.
#
#   bench/scale.sh                          sizes 1 4 8, 2 runs per strategy and size
#   BENCH_SIZES="1 2" BENCH_REPEATS=1 bench/scale.sh
#
# The inventory is written to .cache/bench-scale/inventory/ (demo group_vars: generated
# secrets, the stand-in Anaconda installer); the containers are removed at the end.
# Output: a report on stdout and in bench/results/scale-<UTC time>.txt.
# Beside it, with the same name: its figures as .json and drawn as .png (scripts/bench_plot.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/figures.sh
source bench/figures.sh
export PATH="$PWD/.venv/bin:$PATH"
export DEPLOYER_ARTIFACTS="$PWD/.artifacts" NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export DEMO_DISTRO=${BENCH_DISTRO:-ubuntu2204}
sizes=${BENCH_SIZES:-1 4 8} repeats=${BENCH_REPEATS:-2} port=${BENCH_HTTP_PORT:-8091}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=.cache/bench-scale
inventory=$work/inventory
report=bench/results/scale-$stamp.txt
log=.cache/logs/bench-scale.log
network=deployer-scale
mkdir -p bench/results .cache/logs "$inventory"
ln -sfn ../../../inventory/group_vars "$inventory/group_vars"
ln -sfn ../../../inventory/hooks "$inventory/hooks"
: >"$log"
results=()

say() { printf '[bench] %s\n' "$*"; }

# write_inventory <app hosts>
write_inventory() {
  {
    echo "# Written by bench/scale.sh: one web host, one db+cache host, $1 app hosts."
    echo "all:"
    echo "  vars:"
    echo "    ansible_connection: docker"
    echo "    ansible_python_interpreter: /usr/bin/python3"
    echo "  children:"
    echo "    web:"
    echo "      hosts:"
    echo "        deployer-scale-web:"
    echo "          demo_published_ports: [\"127.0.0.1:$port:80\"]"
    echo "    app:"
    echo "      hosts:"
    for i in $(seq 1 "$1"); do echo "        deployer-scale-app$i:"; done
    echo "    db:"
    echo "      hosts:"
    echo "        deployer-scale-data:"
    echo "    cache:"
    echo "      hosts:"
    echo "        deployer-scale-data:"
  } >"$inventory/hosts.yml"
}

nodes() {  # nodes <state>
  ansible-playbook -i "$inventory" scripts/demo_nodes.yml -e "demo_state=$1" -e "demo_network=$network" >>"$log" 2>&1
}
cleanup() { nodes absent || true; rm -rf "$work/.credentials"; }
recap() {  # recap <log> <key>: the PLAY RECAP counter summed over hosts
  awk -v key="$2" '/PLAY RECAP/ {r=1; next} r && /ok=/ {for (i=1;i<=NF;i++) if (split($i,kv,"=")==2 && kv[1]==key) s+=kv[2]} END {print s+0}' "$1"
}

say "setting up (venv, Docker, image $DEMO_DISTRO, stand-in installer); log: $log"
scripts/bootstrap-venv.sh >>"$log" 2>&1
scripts/ensure-docker.sh >>"$log" 2>&1
scripts/build-images.sh "$DEMO_DISTRO" >>"$log" 2>&1
scripts/build-standin-anaconda.sh >>"$log" 2>&1
write_inventory 1
cleanup
trap cleanup EXIT

for n in $sizes; do
  write_inventory "$n"
  say "$n app host(s): starting the containers and converging them with site.yml"
  nodes started
  for c in $(docker ps --filter "network=$network" --format '{{.Names}}'); do
    docker exec "$c" systemctl is-system-running --wait >/dev/null 2>&1 || true
  done
  started=$SECONDS
  ansible-playbook -i "$inventory" site.yml >"$work/converge-$n.log" 2>&1 || { tail -n 40 "$work/converge-$n.log"; exit 1; }
  converge_s=$((SECONDS - started))
  plain=() mitogen=()
  for r in $(seq 1 "$repeats"); do
    for strategy in linear mitogen_linear; do
      run_log="$work/idempotent-$n-$strategy-$r.log" cost="$work/idempotent-$n-$strategy-$r.cost"
      ANSIBLE_STRATEGY=$strategy python3 bench/measure.py --network "$network" --out "$cost" -- \
        ansible-playbook -i "$inventory" site.yml >"$run_log" 2>&1 || { tail -n 40 "$run_log"; exit 1; }
      changed=$(recap "$run_log" changed)
      [ "$changed" -eq 0 ] || { say "idempotent run changed $changed (see $run_log)"; exit 1; }
      # The cost line is wall=<s> controller=<cpu s> nodes=<cpu s>.
      read -r wall controller nodes_cpu < <(sed 's/[a-z_]*=//g' "$cost")
      say "$n app host(s), $strategy run $r: $wall s, changed=0, CPU: controller $controller s, nodes $nodes_cpu s"
      if [ "$strategy" = linear ]; then plain+=("$wall,$controller,$nodes_cpu"); else mitogen+=("$wall,$controller,$nodes_cpu"); fi
    done
  done
  results+=("$n ${converge_s} ${plain[*]} | ${mitogen[*]}")
done

{
  echo "idempotent site.yml by number of app hosts, one web host, one db+cache host ($stamp)"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), docker $(docker version --format '{{.Server.Version}}')"
  echo "command: bench/scale.sh (BENCH_SIZES=\"$sizes\" BENCH_REPEATS=$repeats), forks $(awk -F' *= *' '/^forks/ {print $2}' ansible.cfg), $DEMO_DISTRO containers"
  python3 - "$(nproc)" "${results[@]}" <<'EOF'
import statistics, sys
cores = int(sys.argv[1])
rows = []
for arg in sys.argv[2:]:
    head, mitogen = arg.split(" | ")
    n, converge, *plain = head.split()
    rows.append((int(n), int(converge), [tuple(map(float, v.split(","))) for v in plain],
                 [tuple(map(float, v.split(","))) for v in mitogen.split()]))
def med(runs, i=0):
    return statistics.median(run[i] for run in runs)
print(f"{'app hosts':>9}  {'first converge':>14}  {'plain linear (s)':>22}  {'mitogen_linear (s)':>22}")
for n, converge, plain, mitogen in rows:
    print(f"{n:>9}  {converge:>12} s  {', '.join(f'{v[0]:.1f}' for v in plain):>16} med {med(plain):5.1f}"
          f"  {', '.join(f'{v[0]:.1f}' for v in mitogen):>16} med {med(mitogen):5.1f}")
base = rows[0]
for n, _, plain, mitogen in rows[1:]:
    print(f"{n} / {base[0]} app hosts: plain {med(plain) / med(base[2]):.2f}, mitogen {med(mitogen) / med(base[3]):.2f}")
print()
print("CPU time of the idempotent runs, medians (controller: ansible-playbook and every process")
print("it waited for; nodes: the containers' cgroups); busy = (controller + nodes) / (cores x wall)")
print(f"{'app hosts':>9}  {'strategy':>14}  {'wall':>7}  {'controller':>10}  {'nodes':>7}  {'busy':>5}")
for n, _, plain, mitogen in rows:
    for name, runs in (("linear", plain), ("mitogen_linear", mitogen)):
        wall, controller, nodes = med(runs), med(runs, 1), med(runs, 2)
        print(f"{n:>9}  {name:>14}  {wall:5.1f} s  {controller:8.1f} s  {nodes:5.1f} s"
              f"  {(controller + nodes) / (cores * wall):5.0%}")
EOF
} | tee "$report"

# The figures as JSON beside the report, drawn as a PNG beside it too (scripts/bench_plot.py);
# a failure here is reported and leaves the text report as it is.
figures=${report%.txt}.json
written=0
python3 - "$figures" "$report" "$stamp" "${results[@]}" <<'EOF' || written=$?
import json, sys
out, report, stamp = sys.argv[1:4]
title, machine, command = (open(report).read().splitlines() + ["", "", ""])[:3]
def run(text):
    wall, controller, nodes = map(float, text.split(","))
    return {"wall_s": wall, "controller_s": controller, "nodes_s": nodes}
sizes = []
for arg in sys.argv[4:]:
    head, mitogen = arg.split(" | ")
    n, converge, *plain = head.split()
    sizes.append({"app_hosts": int(n), "converge_s": int(converge),
                  "runs": {"linear": [run(v) for v in plain],
                           "mitogen_linear": [run(v) for v in mitogen.split()]}})
figures = {"schema": 1, "bench": "scale", "stamp": stamp, "title": title, "machine": machine,
           "command": command, "sizes": sizes}
with open(out, "w") as fh:
    json.dump(figures, fh, indent=2)
EOF
draw_figures "$written" "$figures" "$report"
