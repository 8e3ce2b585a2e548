#!/usr/bin/env bash
# Run molecule scenarios from molecule/test-plan.txt and print one line per run with its
# duration, then "molecule: N passed, N failed". Exits non-zero when any run failed.
#
#   scripts/run-molecule.sh            the plan: each scenario on the distros its line names
#   scripts/run-molecule.sh --matrix   every scenario of the plan on all three distros
#   scripts/run-molecule.sh smoke:debian12 site:ubuntu2404   explicit runs
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
# Plain output: logs and CI read better without terminal colour codes.
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
ALL_DISTROS=(ubuntu2204 ubuntu2404 debian12)

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

passed=0 failed=0 report=()
for run in "${runs[@]}"; do
  scenario=${run%%:*} distro=${run#*:}
  mkdir -p ".cache/apt/${MOLECULE_APT_CACHE:-shared}/$distro/partial" .cache/logs
  log=".cache/logs/molecule-$scenario-$distro.log"
  echo "=== molecule test -s $scenario (MOLECULE_DISTRO=$distro); log: $log"
  started=$SECONDS
  MOLECULE_DISTRO=$distro molecule test -s "$scenario" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  took=$((SECONDS - started))
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); report+=("$(printf 'PASS  %-10s %-11s %4d s' "$scenario" "$distro" "$took")")
  else
    failed=$((failed + 1)); report+=("$(printf 'FAIL  %-10s %-11s %4d s  (exit %d, log %s)' "$scenario" "$distro" "$took" "$rc" "$log")")
    # Leave nothing running behind a failed run.
    MOLECULE_DISTRO=$distro molecule destroy -s "$scenario" >/dev/null 2>&1 || true
  fi
done

echo
echo "molecule runs:"
printf '  %s\n' "${report[@]}"
echo "molecule: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
