#!/usr/bin/env bash
# Build the systemd "server" images the tests and the demo run on, with debootstrap and
# `docker import` (no image can be pulled on this machine kind). An image that already
# exists with the current recipe is reused.
#
#   scripts/build-images.sh [ubuntu2204] [ubuntu2404] [debian12]   (default: all three)
#   FORCE=1 scripts/build-images.sh ubuntu2204                     (rebuild)
#
# Images are named deployer/<distro>:latest. Ubuntu is bootstrapped with --no-check-gpg
# because Debian ships no Ubuntu keyring package: acceptable for throwaway test images only.
# docker import cannot set STOPSIGNAL: containers are started with stop signal SIGRTMIN+3.
set -euo pipefail

# Bump when the recipe below changes, so stale images are rebuilt.
RECIPE=4
IMAGE_PREFIX=${IMAGE_PREFIX:-deployer}
# openssh-server: scenarios that connect as real servers are reached (SSH as a sudoer) start
# it themselves; it is disabled in the image and has no host keys until then.
PACKAGES=systemd,systemd-sysv,python3,python3-apt,sudo,iproute2,ca-certificates,procps,openssh-server

log() { printf '[build-images] %s\n' "$*"; }

here=$(cd "$(dirname "$0")" && pwd)
"$here/ensure-docker.sh" >/dev/null

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# distro -> debootstrap suite
declare -A SUITE=([ubuntu2204]=jammy [ubuntu2404]=noble [debian12]=bookworm)

build_one() {
  local distro=$1 suite=${SUITE[$1]:-}
  local image="$IMAGE_PREFIX/$distro:latest"
  if [ -z "$suite" ]; then
    log "unknown distro '$distro' (known: ${!SUITE[*]})" >&2
    return 2
  fi
  if [ -z "${FORCE:-}" ] &&
     [ "$(docker image inspect -f '{{index .Config.Labels "deployer.recipe"}}' "$image" 2>/dev/null)" = "$RECIPE" ]; then
    log "$image exists (recipe $RECIPE), reused"
    return 0
  fi

  local work scripts_dir root
  work=$(mktemp -d /var/tmp/deployer-image.XXXXXX)
  # build_one runs in its own background subshell: this trap removes the scratch root
  # filesystem however that subshell ends.
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  root="$work/rootfs"
  # A private copy of debootstrap's scripts: Debian's debootstrap has no script for
  # noble, and gutsy's works for it. Naming it here avoids naming a mirror on the
  # command line (debootstrap's own default mirror is used).
  scripts_dir="$work/debootstrap"
  cp -a /usr/share/debootstrap "$scripts_dir"
  [ -e "$scripts_dir/scripts/$suite" ] || ln -s gutsy "$scripts_dir/scripts/$suite"

  local -a opts=(--variant=minbase "--include=$PACKAGES")
  case $distro in
    ubuntu*) opts+=(--no-check-gpg --components=main,universe) ;;
  esac

  log "bootstrapping $distro ($suite) into $root"
  local started=$SECONDS
  DEBOOTSTRAP_DIR="$scripts_dir" debootstrap "${opts[@]}" "$suite" "$root" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    log "debootstrap failed for $distro" >&2
    return 1
  }

  # A container is not a booted machine: empty machine-id (systemd makes one at boot),
  # no getty on a console nobody reads, apt cache and lists emptied to keep it small.
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  chroot "$root" systemctl mask getty@tty1.service console-getty.service \
    systemd-logind.service >/dev/null 2>&1 || true
  # sshd stays off (nothing listens on 22 unless a test starts it), and every container
  # makes its own host keys (`ssh-keygen -A`) rather than sharing the image's.
  chroot "$root" systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
  rm -f "$root"/etc/ssh/ssh_host_*
  chroot "$root" apt-get clean
  rm -rf "$root/var/lib/apt/lists/"*
  # With no package lists the cache must look stale, or apt's cache_valid_time (which
  # falls back to this directory's mtime) would skip the first update.
  touch -d @0 "$root/var/lib/apt/lists"

  log "importing $image"
  tar -C "$root" --numeric-owner -c . | docker import \
    -c 'CMD ["/lib/systemd/systemd"]' \
    -c 'ENV container=docker' \
    -c "LABEL deployer.recipe=$RECIPE deployer.distro=$distro" \
    - "$image" >/dev/null
  log "$image built in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1000000}'))"
}

distros=("$@")
[ ${#distros[@]} -gt 0 ] || distros=(ubuntu2204 ubuntu2404 debian12)
# Builds run in parallel: each is mostly waiting on the mirror, so together they take
# about as long as one.
pids=()
for d in "${distros[@]}"; do
  build_one "$d" &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit "$rc"
