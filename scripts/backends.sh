#!/usr/bin/env bash
# Installs and starts the real Incus and LXD daemons and the Keystone + Glance pair
# the acceptance tests and the quickstart use. Idempotent: whatever is already
# installed or running is left alone.
# Usage: scripts/backends.sh [incus] [lxd] [openstack]   (default: incus lxd)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
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

# OpenStack: Keystone 22 + Glance 25 from Debian bookworm main, on PostgreSQL.
# Contract the tests rely on:
#   Keystone  http://127.0.0.1:5000/v3, Glance http://127.0.0.1:9292, region RegionOne;
#             the catalog lists identity and image on the public, internal and admin
#             interfaces.
#   Accounts  (domain Default; password after the slash)
#             admin/admin      admin on project admin
#             fleet-a/fleet-a-pass  member (not admin) of project fleet-a
#             fleet-b/fleet-b-pass  member of project fleet-b
#   /etc/imagefleet/openstack/clouds.yaml  clouds imagefleet-admin, imagefleet-a and
#             imagefleet-b (set OS_CLIENT_CONFIG_FILE to it)
#   /etc/imagefleet/openstack/ids.env  ADMIN_PROJECT_ID=, FLEET_A_PROJECT_ID=,
#             FLEET_B_PROJECT_ID= lines
#   Web-download imports may fetch from http://127.0.0.1:18089/ (and ports 80, 443).
#   /etc/glance/policy.yaml, empty: Glance reads it again when its mtime changes.
#             Glance merges it into its rules, so to lift a rule write it back with
#             its default (for deactivate and reactivate: "rule:default");
#             deleting the line leaves the rule in force.
#   Logs in /var/log/imagefleet-openstack/, data in /var/lib/imagefleet-openstack/.
os_etc=/etc/imagefleet/openstack
os_var=/var/lib/imagefleet-openstack
os_log=/var/log/imagefleet-openstack
glance_policy=/etc/glance/policy.yaml
# Debian's python3: another python3 may come first on PATH and lacks the packages.
py=/usr/bin/python3

install_openstack() {
  # uwsgi serves Keystone with two processes; keystone-wsgi-public alone is
  # wsgiref, one request at a time.
  apt_install postgresql python3-keystone python3-glance glance-common \
    python3-openstackclient uwsgi-core uwsgi-plugin-python3
}

# in_log NAME CMD...: runs CMD with its output appended to NAME's log, which is
# shown when CMD fails.
in_log() {
  local f=$os_log/$1.log
  shift
  "$@" >>"$f" 2>&1 || { tail -n 20 "$f" >&2; log "failed: $* (log: $f)"; return 1; }
}

start_postgres() {
  local ver cluster status
  read -r ver cluster status < <(pg_lsclusters -h | awk '{print $1, $2, $4}' | head -n1)
  [ "$status" = online ] || pg_ctlcluster "$ver" "$cluster" start
}

# ensure_db NAME: a database NAME owned by a role NAME whose password is NAME-db.
ensure_db() {
  local q=(runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA)
  [ -n "$("${q[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$1'")" ] ||
    "${q[@]}" -c "CREATE ROLE \"$1\" LOGIN PASSWORD '$1-db'"
  [ -n "$("${q[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" ] ||
    runuser -u postgres -- createdb -O "$1" "$1"
}

# answers URL: the URL answers 200 now.
answers() { curl -sf -o /dev/null --max-time 5 "$1"; }

# stop_daemon NAME: ends the process group recorded for NAME if it still runs (a
# recorded pid that now belongs to a process not started with our configuration
# is left alone).
stop_daemon() {
  local f=$os_var/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if grep -qaF "$os_etc/" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -- "-$pid" 2>/dev/null || true
    timeout 20 tail --pid="$pid" -f /dev/null || kill -9 -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# start_daemon NAME URL CMD...: unless URL answers, (re)starts CMD in its own
# process group and waits until URL answers.
start_daemon() {
  local name=$1 url=$2 pid
  shift 2
  answers "$url" && return 0
  stop_daemon "$name"
  log "starting $name"
  setsid nohup "$@" >>"$os_log/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$os_var/$name.pid"
  until answers "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$os_log/$name.log" >&2
      log "$name exited (log: $os_log/$name.log)"
      return 1
    fi
    sleep 0.2
  done
}

# keystone_keys: the fernet and credential key repositories, made side by side.
keystone_keys() {
  local k jobs=()
  for k in fernet credential; do
    [ -f "$os_var/keystone/$k-keys/0" ] && continue
    in_log keystone-manage keystone-manage --config-file "$os_etc/keystone.conf" \
      "${k}_setup" --keystone-user root --keystone-group root &
    jobs+=($!)
  done
  for k in "${jobs[@]}"; do wait "$k"; done
}

start_keystone() {
  start_daemon keystone http://127.0.0.1:5000/v3 \
    uwsgi --env OS_KEYSTONE_CONFIG_FILES="$os_etc/keystone.conf" \
    --plugin python3 --http-socket 127.0.0.1:5000 \
    --wsgi-file /usr/bin/keystone-wsgi-public --need-app \
    --master --processes 2 --die-on-term --add-header 'Connection: close'
}

start_glance() {
  in_log glance-manage glance-manage --config-file "$os_etc/glance-api.conf" db_sync
  start_daemon glance http://127.0.0.1:9292/versions \
    "$py" -m glance.cmd.api --config-file "$os_etc/glance-api.conf"
}

start_openstack() {
  mkdir -p "$os_etc" "$os_log" "$os_var"/keystone "$os_var"/glance/{images,staging,tasks,lock}
  local f changed=""
  for f in keystone.conf glance-api.conf clouds.yaml; do
    cmp -s "$here/openstack/$f" "$os_etc/$f" && continue
    install -m 0600 "$here/openstack/$f" "$os_etc/$f"
    changed+=" $f"
  done
  [ -f "$glance_policy" ] || : >"$glance_policy"
  start_postgres &
  local postgres=$!
  keystone_keys
  wait "$postgres"
  if [ -z "$changed" ] && "$py" "$here/openstack/healthcheck.py" quick 2>/dev/null; then
    log "openstack ready"
    return
  fi
  # A daemon whose configuration changed starts again with the new one.
  [[ $changed != *keystone.conf* ]] || stop_daemon keystone
  [[ $changed != *glance-api.conf* ]] || stop_daemon glance
  ensure_db keystone
  ensure_db glance
  # Glance needs Keystone only when requests come, and Keystone needs bootstrap's
  # rows only when requests come: each pair runs side by side.
  start_glance &
  local glance=$!
  in_log keystone-manage keystone-manage --config-file "$os_etc/keystone.conf" db_sync
  start_keystone &
  local keystone=$!
  in_log provision "$py" "$here/openstack/provision.py" bootstrap
  wait "$keystone"
  in_log provision "$py" "$here/openstack/provision.py" accounts
  wait "$glance"
  in_log healthcheck "$py" "$here/openstack/healthcheck.py" full
  log "openstack ready"
}

# Tools the test image builder needs.
apt_install busybox-static qemu-utils

for b in "${want[@]}"; do
  case "$b" in
    incus | lxd | openstack) "install_$b" ;;
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
