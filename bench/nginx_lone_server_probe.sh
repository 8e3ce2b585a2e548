#!/usr/bin/env bash
# Show how nginx's passive health check treats a lone live server (docs/rolling-updates.md):
# in a throwaway container from the project's ubuntu2204 image,
# nginx proxies to a port that refuses connections through three upstreams:
#   one      that server alone (max_fails=1)
#   two      a `down` entry beside it (max_fails=1), as during a rolling update's switch
#   twozero  the same with max_fails=0 (what flask_app renders for a lone live server)
# and prints, for 3 requests each, how many were tried (connect() failed) and how many
# nginx answered "no live upstreams". Needs Docker and scripts/build-images.sh ubuntu2204.
set -euo pipefail
name=nginx-lone-server-probe
docker rm -f "$name" >/dev/null 2>&1 || true
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$name" --entrypoint sleep deployer/ubuntu2204 600 >/dev/null
docker exec "$name" sh -c 'apt-get update -qq >/dev/null &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx curl >/dev/null 2>&1 && nginx -v'
docker exec "$name" sh -c 'cat >/etc/nginx/conf.d/probe.conf <<CONF
upstream one { server 127.0.0.1:9002 max_fails=1 fail_timeout=10s; }
upstream two { server 127.0.0.1:9001 down; server 127.0.0.1:9002 max_fails=1 fail_timeout=10s; }
upstream twozero { server 127.0.0.1:9001 down; server 127.0.0.1:9002 max_fails=0; }
server {
    listen 8080;
    location /one { proxy_pass http://one; }
    location /two { proxy_pass http://two; }
    location /twozero { proxy_pass http://twozero; }
}
CONF
rm -f /etc/nginx/sites-enabled/default && nginx -t 2>/dev/null && nginx
for p in one two twozero; do
  : >/var/log/nginx/error.log; nginx -s reopen; sleep 0.5
  codes=$(for i in 1 2 3; do curl -s -o /dev/null -w "%{http_code} " localhost:8080/$p; done)
  echo "$p: answers $codes tried=$(grep -c "connect() failed" /var/log/nginx/error.log)" \
       "no-live-upstreams=$(grep -c "no live upstreams" /var/log/nginx/error.log)"
done'
