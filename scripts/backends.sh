#!/usr/bin/env bash
# Installs and starts the real Incus and LXD daemons the acceptance tests and the
# quickstart use. Idempotent: whatever is already installed or running is left alone.
# Usage: scripts/backends.sh [incus] [lxd]   (default: both)
set -euo pipefail

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(incus lxd)
log() { echo "backends: $*" >&2; }

apt_updated=""
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Incus 6.0 LTS is only in bookworm-backports.
ensure_backports() {
  local f=/etc/apt/sources.list.d/bookworm-backports.sources
  [ -f "$f" ] && return 0
  cat >"$f" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_updated=""
}

# wait_socket SOCKET WAITREADY-CMD...
wait_ready() { timeout 120 "$@" --timeout 120 >/dev/null; }

# The daemons need their groups to exist for --group.
ensure_group() { getent group "$1" >/dev/null || groupadd --system "$1"; }

# setup_storage CLI: a dir pool named default and a root disk on the default profile.
setup_storage() {
  local cli=$1
  "$cli" storage show default >/dev/null 2>&1 || "$cli" storage create default dir >/dev/null
  "$cli" profile device show default 2>/dev/null | grep -q '^root:' ||
    "$cli" profile device add default root disk path=/ pool=default >/dev/null
}

start_incus() {
  ensure_backports
  apt_install -t bookworm-backports incus-base incus-client
  ensure_group incus-admin
  if ! incus info >/dev/null 2>&1; then
    local bin
    bin=$(dpkg -L incus-base | grep -E '/incusd$' | head -n1)
    log "starting $bin"
    mkdir -p /var/log/incus
    nohup "$bin" --group incus-admin >/var/log/incus/daemon.out 2>&1 &
    wait_ready "$bin" waitready
  fi
  setup_storage incus
  log "incus $(incus version 2>/dev/null | awk '/Server/{print $3}') ready"
}

start_lxd() {
  apt_install lxd lxd-client
  ensure_group lxd
  if ! lxc info >/dev/null 2>&1; then
    log "starting lxd"
    mkdir -p /var/log/lxd
    nohup lxd --group lxd >/var/log/lxd/daemon.out 2>&1 &
    wait_ready lxd waitready
  fi
  setup_storage lxc
  log "lxd $(lxc version 2>/dev/null | awk '/Server/{print $3}') ready"
}

# Tools the test image builder needs.
apt_install busybox-static qemu-utils

for b in "${want[@]}"; do
  case "$b" in
    incus) start_incus ;;
    lxd) start_lxd ;;
    *) echo "unknown backend $b" >&2; exit 2 ;;
  esac
done
