#!/usr/bin/env bash
# Installs and starts the real Incus and LXD daemons the acceptance tests and the
# quickstart use. Idempotent: whatever is already installed or running is left alone.
# Usage: scripts/backends.sh [incus] [lxd]   (default: both)
set -euo pipefail

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(incus lxd)
log() { echo "backends: $*" >&2; }

apt_updated=""
# apt_install [-t SUITE] PACKAGE...: installs the packages that are missing.
apt_install() {
  local suite=() missing=()
  if [ "$1" = -t ]; then suite=(-t "$2"); shift 2; fi
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${suite[@]}" "${missing[@]}" >/dev/null
}

# Incus maps every root range of /etc/subuid and /etc/subgid at container id 0, so
# the second range that LXD's package adds for root makes newuidmap refuse the map
# and no container starts. Both daemons need only one range (LXD uses the first
# anyway), so keep the first. Prints "changed" when a file was rewritten.
single_root_range() {
  local f
  for f in /etc/subuid /etc/subgid; do
    [ -f "$f" ] || continue
    if [ "$(grep -c '^root:' "$f")" -gt 1 ]; then
      awk -F: '$1 != "root" || !seen++' "$f" >"$f.new" && mv "$f.new" "$f"
      log "kept one root range in $f"
      echo changed
    fi
  done
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

install_incus() {
  ensure_backports
  apt_install -t bookworm-backports incus-base incus-client
  ensure_group incus-admin
}

install_lxd() {
  apt_install lxd lxd-client
  ensure_group lxd
}

start_incus() {
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
    incus | lxd) "install_$b" ;;
    *) echo "unknown backend $b" >&2; exit 2 ;;
  esac
done

# Incus reads the id map when it starts: fix the ranges first, and restart an Incus
# that was started with the broken map.
if [ -n "$(single_root_range)" ] && incus info >/dev/null 2>&1; then
  log "restarting incus to load the id map"
  incus admin shutdown --timeout 60 >/dev/null 2>&1 || true
fi

for b in "${want[@]}"; do "start_$b"; done
