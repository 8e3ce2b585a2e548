#!/usr/bin/env bash
# Run molecule scenarios from molecule/test-plan.txt and print one line per run with its
# duration, then "molecule: N passed, N failed". Exits non-zero when any run failed.
#
#   scripts/run-molecule.sh            the plan: each scenario on the distros its line names
#   scripts/run-molecule.sh --matrix   every scenario of the plan on all three distros
#   scripts/run-molecule.sh smoke:debian12 site:ubuntu2404   explicit runs
#
# MOLECULE_JOBS=N (default 1) runs the plan in N lanes at once. The scenarios that roll
# releases out under a constant load (site, rolling, cluster) share the first lane, so two
# of them never measure failed requests at the same time; the others are spread over the
# remaining lanes, which yield the CPU to the first (their controller processes run with
# nice 10, their containers with a quarter of the default CPU weight): a rollout under load
# on a machine busy with package installs must still see its apps boot in seconds. Each
# lane has its own .deb cache (apt does not wait for the archives lock of a cache another
# lane's container holds), and in parallel mode each run's output goes to its log only.
# Each run also writes .cache/reports/molecule-<scenario>-<distro>.xml (JUnit XML, one test
# case per molecule step, scripts/molecule_report.py).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
# Plain output: logs and CI read better without terminal colour codes.
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
ALL_DISTROS=(ubuntu2204 ubuntu2404 debian12)
UNDER_LOAD=(site rolling cluster)
jobs=${MOLECULE_JOBS:-1}
apt_cache=${MOLECULE_APT_CACHE:-shared}

runs=()
if [ $# -gt 0 ] && [ "$1" != --matrix ]; then
  runs=("$@")
else
  while read -r scenario distros; do
    case $scenario in ''|'#'*) continue ;; esac
    if [ "${1:-}" = --matrix ]; then distros="${ALL_DISTROS[*]}"; fi
    for d in $distros; do runs+=("$scenario:$d"); done
  done <molecule/test-plan.txt
fi

# Build only the images the runs need (each is reused when it already exists).
mapfile -t needed < <(printf '%s\n' "${runs[@]}" | cut -d: -f2 | sort -u)
scripts/build-images.sh "${needed[@]}" || exit 1

status_dir=.cache/logs/molecule-status
rm -rf "$status_dir"
mkdir -p "$status_dir" .cache/logs .cache/reports

# run_one <scenario:distro> <lane>: one `molecule test`, its result in $status_dir/<run>.
run_one() {
  local scenario=${1%%:*} distro=${1#*:} lane=$2
  local log=".cache/logs/molecule-$scenario-$distro.log" cache=$apt_cache
  [ "$lane" -eq 0 ] || cache=$apt_cache-lane$lane
  mkdir -p ".cache/apt/$cache/$distro/partial"
  local where="MOLECULE_DISTRO=$distro"
  [ "$jobs" -le 1 ] || where="$where, lane $lane"
  echo "=== molecule test -s $scenario ($where); log: $log"
  local started=$SECONDS rc
  # A free loopback port for the scenarios that publish sshd (site): runs from other
  # checkouts or lanes at the same time must not collide.
  local ssh_port
  ssh_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local run=(env MOLECULE_SSH_PORT="$ssh_port" MOLECULE_APT_CACHE="$cache" MOLECULE_DISTRO="$distro")
  # Lanes after the first yield the CPU (see the top of this file).
  if [ "$jobs" -gt 1 ] && [ "$lane" -gt 0 ]; then run+=(MOLECULE_CPU_SHARES=256 nice -n 10); fi
  # The log, and a JUnit XML report with one case per molecule step in .cache/reports/.
  local report=(python3 scripts/molecule_report.py --log "$log" --suite "$scenario.$distro"
    --junit ".cache/reports/molecule-$scenario-$distro.xml")
  [ "$jobs" -gt 1 ] || report+=(--tee)
  "${report[@]}" -- "${run[@]}" molecule test -s "$scenario"
  rc=$?
  local took=$((SECONDS - started)) line
  if [ "$rc" -eq 0 ]; then
    line=$(printf 'PASS  %-10s %-11s %4d s' "$scenario" "$distro" "$took")
  else
    line=$(printf 'FAIL  %-10s %-11s %4d s  (exit %d, log %s)' "$scenario" "$distro" "$took" "$rc" "$log")
    # Leave nothing running behind a failed run.
    MOLECULE_APT_CACHE=$cache MOLECULE_DISTRO=$distro molecule destroy -s "$scenario" >/dev/null 2>&1 || true
  fi
  echo "$line" >"$status_dir/$scenario-$distro"
  echo "=== $line"
}

if [ "$jobs" -le 1 ]; then
  jobs=1
  for run in "${runs[@]}"; do run_one "$run" 0; done
else
  # Lane 0: the runs under load, in plan order; the rest round-robin over lanes 1..jobs-1.
  declare -A lane_of=()
  next=1
  for run in "${runs[@]}"; do
    if [[ " ${UNDER_LOAD[*]} " == *" ${run%%:*} "* ]]; then
      lane_of[$run]=0
    else
      lane_of[$run]=$next
      next=$(( next % (jobs - 1) + 1 ))
    fi
  done
  pids=()
  for lane in $(seq 0 $((jobs - 1))); do
    (
      # MOLECULE_LATER_LANES_AFTER=<file>: lane 0 starts now, the others once the file
      # exists (scripts/run-tests.sh runs lint and the app's tests meanwhile).
      if [ "$lane" -gt 0 ] && [ -n "${MOLECULE_LATER_LANES_AFTER:-}" ]; then
        while [ ! -e "$MOLECULE_LATER_LANES_AFTER" ]; do sleep 1; done
      fi
      for run in "${runs[@]}"; do
        [ "${lane_of[$run]}" -eq "$lane" ] && run_one "$run" "$lane"
      done
      true
    ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
fi

passed=0 failed=0 report=()
for run in "${runs[@]}"; do
  scenario=${run%%:*} distro=${run#*:}
  line=$(cat "$status_dir/$scenario-$distro" 2>/dev/null || printf 'FAIL  %-10s %-11s (no result)' "$scenario" "$distro")
  report+=("$line")
  case $line in PASS*) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
done
if [ "$jobs" -gt 1 ] && [ "$failed" -gt 0 ]; then
  for run in "${runs[@]}"; do
    scenario=${run%%:*} distro=${run#*:}
    grep -q '^PASS' "$status_dir/$scenario-$distro" 2>/dev/null && continue
    echo
    echo "--- last lines of .cache/logs/molecule-$scenario-$distro.log"
    tail -n 80 ".cache/logs/molecule-$scenario-$distro.log"
  done
fi

{
  echo
  echo "molecule runs:"
  printf '  %s\n' "${report[@]}"
  echo "molecule: $passed passed, $failed failed"
} | tee .cache/reports/molecule-runs.txt
[ "$failed" -eq 0 ]
