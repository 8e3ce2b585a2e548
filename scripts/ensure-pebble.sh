#!/usr/bin/env bash
# Make pebble (Let's Encrypt's test ACME server) available on this machine for the `acme`
# molecule scenario, which copies the binary into a container on the scenario's network.
exec "$(dirname "$0")/ensure-deb.sh" pebble pebble
