#!/usr/bin/env bash
# Make a Docker Engine available on this machine: install Debian's docker.io when
# dockerd is missing, start dockerd when nothing answers, and wait until it does.
# Nothing on this machine kind starts dockerd by itself (no systemd as PID 1).
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*"; }

if docker info >/dev/null 2>&1; then
  log "Docker Engine already answering"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io from the distribution"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; then
    log "starting docker through systemd"
    systemctl start docker
  else
    log "starting dockerd in the background (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  fi
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "Docker Engine up: $(docker version --format '{{.Server.Version}}') ($(docker info --format '{{.Driver}}'))"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
