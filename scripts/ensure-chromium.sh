#!/usr/bin/env bash
# Make headless Chromium available for the app's browser test
# (app/tests/test_swagger_browser.py): install the distribution's chromium when missing.
set -euo pipefail

log() { printf '[ensure-chromium] %s\n' "$*"; }

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  log "$( (chromium --version || chromium-browser --version) 2>/dev/null | head -n 1) already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "chromium is missing and this is not root on an apt system: install it, then run again" >&2
  exit 1
fi
log "installing chromium from the distribution"
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package is unknown (a fresh machine's lists may be empty).
apt-cache show chromium >/dev/null 2>&1 || apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
log "$(chromium --version 2>/dev/null | head -n 1) installed"
