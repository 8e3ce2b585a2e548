#!/usr/bin/env bash
# `make demo` / `make demo-clean`: the demo cluster of local systemd containers.
#   scripts/demo.sh up      install what is missing, build the image, start the containers,
#                           run site.yml against inventory/ (the demo), then check the result
#   scripts/demo.sh clean   remove the containers, their network and the demo's state
# DEMO_DISTRO (ubuntu2204) picks the image, DEMO_HTTP_PORT (8080) the loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEPLOYER_ARTIFACTS="$PWD/.artifacts"
export DEMO_DISTRO=${DEMO_DISTRO:-ubuntu2204} DEMO_HTTP_PORT=${DEMO_HTTP_PORT:-8080}

up() {
  local started=$SECONDS
  scripts/bootstrap-venv.sh
  scripts/ensure-docker.sh
  scripts/build-images.sh "$DEMO_DISTRO"
  scripts/build-standin-anaconda.sh
  ansible-playbook -i inventory scripts/demo_nodes.yml
  echo "[demo] waiting for systemd to finish booting in every node"
  ansible all -i inventory -o -m ansible.builtin.command \
    -a 'systemctl is-system-running --wait' >/dev/null || true
  ansible-playbook -i inventory site.yml
  echo
  echo "[demo] site.yml finished in $((SECONDS - started)) s total."
  if [ -d roles/flask_app ]; then
    ansible-playbook -i inventory playbooks/smoke_test.yml -e smoke_url="http://127.0.0.1:$DEMO_HTTP_PORT"
    echo
    echo "[demo] The app answers on http://127.0.0.1:$DEMO_HTTP_PORT/ (API docs: /api/v1/swagger)."
  else
    echo "[demo] The demo nodes are up and reachable, but the roles do not exist yet:"
    echo "[demo] nothing is deployed, so nothing answers on http://127.0.0.1:$DEMO_HTTP_PORT/ yet."
  fi
}

clean() {
  if docker info >/dev/null 2>&1 && [ -x .venv/bin/ansible-playbook ]; then
    ansible-playbook -i inventory scripts/demo_nodes.yml -e demo_state=absent
  fi
  rm -rf .credentials/inventory
  echo "[demo] removed"
}

case ${1:-} in
  up) up ;;
  clean) clean ;;
  *) echo "usage: $0 up|clean" >&2; exit 2 ;;
esac
