#!/usr/bin/env bash
# Make pebble (Let's Encrypt's test ACME server) available on this machine for the `acme`
# molecule scenario, which copies the binary into a container on the scenario's network:
# install the distribution's pebble package when the binary is missing.
set -euo pipefail

log() { printf '[ensure-pebble] %s\n' "$*"; }

if [ -x /usr/bin/pebble ]; then
  log "pebble $(dpkg-query -W -f '${Version}' pebble 2>/dev/null || echo '(not from a package)') already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "pebble is missing and this is not root on an apt system: install it, then run again" >&2
  exit 1
fi
log "installing pebble from the distribution"
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package is unknown (a fresh machine's lists may be empty).
apt-cache show pebble >/dev/null 2>&1 || apt-get update -qq
apt-get install -y -qq --no-install-recommends pebble >/dev/null
log "pebble $(dpkg-query -W -f '${Version}' pebble) installed"
