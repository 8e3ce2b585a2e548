#!/usr/bin/env bash
# `make test`: set-up, lint, app tests, molecule scenarios (their first lane beside lint and
# the app's tests). Every step runs even when an earlier one failed (so one run shows every
# problem); the exit status is non-zero when any step failed. Per-step timings are printed
# at the end (molecule's from its start, so the steps overlap) and kept in
# .cache/reports/summary.txt, beside JUnit XML reports of pytest and of each molecule run.
#
#   scripts/run-tests.sh            the plan in molecule/test-plan.txt
#   scripts/run-tests.sh --matrix   every scenario on all three distributions
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
molecule_args=("$@")
# Two lanes of molecule runs at once (scripts/run-molecule.sh): the rollouts under load in
# one, the role scenarios in the other. MOLECULE_JOBS=1 runs them one after the other.
export MOLECULE_JOBS=${MOLECULE_JOBS:-2}

names=() results=()
step() {
  local name=$1; shift
  echo
  echo "################ $name"
  local started=$SECONDS
  "$@"
  local rc=$?
  names+=("$name")
  results+=("$(printf '%-5s %-10s %5d s' "$([ "$rc" -eq 0 ] && echo PASS || echo FAIL)" "$name" $((SECONDS - started)))")
  return "$rc"
}

lint() {
  local rc=0
  echo "--- yamllint";     yamllint --strict . || rc=1
  echo "--- ansible-lint"; ansible-lint || rc=1
  echo "--- ruff";         { ruff check . && ruff format --check .; } || rc=1
  echo "--- ansible-inventory -i inventory --graph (the demo's hosts and nothing else)"
  inventory_only_has_the_demo || rc=1
  return "$rc"
}

# `ansible-playbook site.yml -i inventory` must read exactly the embedded default inventory:
# the hosts ansible-inventory lists for the directory are the ones of inventory/hosts.yml.
graph_hosts() {  # graph_hosts <inventory>: the hosts of `ansible-inventory --graph`, sorted
  ansible-inventory -i "$1" --graph | sed -n 's/^[| ]*--\([^@].*\)$/\1/p' | sort -u | xargs
}
inventory_only_has_the_demo() {
  local listed expected
  ansible-inventory -i inventory --graph || return 1
  listed=$(graph_hosts inventory) && expected=$(graph_hosts inventory/hosts.yml) || return 1
  if [ -z "$expected" ] || [ "$listed" != "$expected" ]; then
    echo "-i inventory lists [$listed], not just inventory/hosts.yml's [$expected]" >&2
    return 1
  fi
}

app_tests() {
  if [ ! -f app/requirements-dev.txt ]; then
    echo "app/ has no requirements-dev.txt: no app tests to run"
    return 1
  fi
  local reports=$PWD/.cache/reports
  VENV=.venv-app scripts/app-venv.sh && (cd app && ../.venv-app/bin/pytest --junitxml="$reports/pytest-app.xml") &&
    echo "--- scripts/tests (the load generator's own tests)" &&
    .venv-app/bin/pytest scripts/tests -q -p no:cacheprovider -o addopts="" --junitxml="$reports/pytest-scripts.xml" &&
    echo "--- tests (the roles' own tests, with the controller's Ansible)" &&
    .venv/bin/pytest tests -q -p no:cacheprovider --junitxml="$reports/pytest-tests.xml"
}

total=$SECONDS
# JUnit XML of pytest and of each molecule run, and the summary below, in .cache/reports/.
rm -rf .cache/reports
mkdir -p .cache/reports
setup_ok=true
step setup bash -c 'scripts/bootstrap-venv.sh && scripts/ensure-docker.sh && scripts/ensure-chromium.sh && scripts/ensure-pebble.sh' || setup_ok=false
# With two lanes or more, molecule's lane 0 (the rollouts under load, the longest lane)
# starts right after the set-up, beside lint and the app's tests, which use about one core;
# the other lanes start once those are done. molecule's output follows theirs.
molecule_beside() {
  local go log pid rc started=$SECONDS
  go=$(mktemp -u) log=$(mktemp)
  MOLECULE_LATER_LANES_AFTER=$go scripts/run-molecule.sh "${molecule_args[@]}" >"$log" 2>&1 &
  pid=$!
  step lint lint
  step app app_tests
  touch "$go"
  echo
  echo "################ molecule (lane 0 started $((SECONDS - started)) s ago, beside lint and app)"
  tail -n +1 -f "$log" &
  local tail_pid=$!
  wait "$pid"
  rc=$?
  sleep 2  # tail reads once a second: let it print the last lines
  kill "$tail_pid" 2>/dev/null
  wait "$tail_pid" 2>/dev/null
  names+=(molecule)
  results+=("$(printf '%-5s %-10s %5d s' "$([ "$rc" -eq 0 ] && echo PASS || echo FAIL)" molecule $((SECONDS - started)))")
  rm -f "$go" "$log"
}

if $setup_ok; then
  if [ "$MOLECULE_JOBS" -gt 1 ]; then
    molecule_beside
  else
    step lint lint
    step app app_tests
    step molecule scripts/run-molecule.sh "${molecule_args[@]}"
  fi
fi

failed=$(printf '%s\n' "${results[@]}" | grep -c '^FAIL')
# The summary, also kept in .cache/reports/summary.txt beside the JUnit XML reports.
{
  echo
  echo "################ summary (wall time $((SECONDS - total)) s)"
  printf '  %s\n' "${results[@]}"
  echo "steps: $(( ${#results[@]} - failed )) passed, $failed failed"
} | tee .cache/reports/summary.txt
[ "$failed" -eq 0 ] && $setup_ok
