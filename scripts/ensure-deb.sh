#!/usr/bin/env bash
# Install a distribution package on this machine when none of its commands is on PATH:
#   scripts/ensure-deb.sh <package> <command> [<command>...]
# The test set-up's way to get a tool from the distribution (scripts/ensure-chromium.sh,
# scripts/ensure-pebble.sh). Needs root and apt; says what it found or installed.
set -euo pipefail

package=$1
shift
log() { printf '[ensure-%s] %s\n' "$package" "$*"; }
version() { dpkg-query -W -f '${Version}' "$package" 2>/dev/null || echo '(not from a package)'; }

for command in "$@"; do
  if command -v "$command" >/dev/null 2>&1; then
    log "$package $(version) already installed ($(command -v "$command"))"
    exit 0
  fi
done
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "$package is missing and this is not root on an apt system: install it, then run again" >&2
  exit 1
fi
log "installing $package from the distribution"
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package is unknown (a fresh machine's lists may be empty).
apt-cache show "$package" >/dev/null 2>&1 || apt-get update -qq
apt-get install -y -qq --no-install-recommends "$package" >/dev/null
log "$package $(version) installed"
