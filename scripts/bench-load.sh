#!/usr/bin/env bash
# Load benchmark (issue 9, "Load"), run by `make bench`: one Terraform configuration
# with, by default,
#   300 Incus images (small distinct unified tarballs; the first a busybox image),
#   300 aliases (one per image), 50 instances (stopped, from the first image),
#   100 Glance images, each with one member (the partner project),
#   100 Air images on the project's emulator, each shared with a second org,
# applied, refreshed (`terraform plan -refresh-only`), planned with and without
# refresh, and destroyed, with the provider built from this tree. Each backend is
# reached through a counting proxy (internal/tools/countproxy): Incus over HTTPS,
# Keystone + Glance, the Air emulator; its request lines give the requests per
# object of each phase, by route. The provider's peak RSS comes from GNU time around
# the plugin binary. Measured and reported, never asserted.
#
# Results: bench/load.md and bench/load.jsonl (the rows `make reliability` renders),
# rewritten by a run at the default sizes; a run at other sizes (LOAD_INCUS_IMAGES,
# LOAD_INSTANCES, LOAD_GLANCE, LOAD_AIR) prints its report only. LOAD_PARALLELISM sets
# terraform's -parallelism (default 10, Terraform's own). The three plans run
# LOAD_ROUNDS times (default 3), interleaved, and their median times are reported:
# on a shared machine one run of each varies by a factor of two.
#
# Every object is named with the prefix ldb- (Incus images: property variant), so a
# run first removes whatever an interrupted one left, and removes it again at the end.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
root=$(pwd)
n_images=${LOAD_INCUS_IMAGES:-300}
n_instances=${LOAD_INSTANCES:-50}
n_glance=${LOAD_GLANCE:-100}
n_air=${LOAD_AIR:-100}
parallelism=${LOAD_PARALLELISM:-10}
rounds=${LOAD_ROUNDS:-3}
full=false
[ "$n_images$n_instances$n_glance$n_air" = "30050100100" ] && full=true
prefix=ldb-
clouds=/etc/imagefleet/openstack/clouds.yaml
ids=/etc/imagefleet/openstack/ids.env
keystone=http://127.0.0.1:5000

work="$root/bench/work/load"
files="$work/files"
tf="$work/tf"
mkdir -p "$work/bin" "$files" "$tf"

log() { echo "bench: load: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
osc() { OS_CLIENT_CONFIG_FILE=$clouds /usr/bin/python3 /usr/bin/openstack --os-cloud imagefleet-a "$@"; }

command -v /usr/bin/time >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
[ "$n_glance" -eq 0 ] || [ -f "$clouds" ] || scripts/backends.sh openstack
incus info >/dev/null 2>&1 || scripts/backends.sh incus

# words LIST: how many words LIST has.
# shellcheck disable=SC2086
words() { set -- $1; echo $#; }

# --- leftovers ---------------------------------------------------------------------
# clean: every ldb- object on Incus and Glance, and the proxy's trust entry; prints
# how many it found of each, so the end of a run can report what destroy left.
clean() {
  local inst aliases imgs trust glance
  inst=$(incus list -f json | jq -r --arg p "$prefix" '[.[].name | select(startswith($p))] | join(" ")')
  aliases=$(incus image alias list -f json | jq -r --arg p "$prefix" '[.[].name | select(startswith($p))] | join(" ")')
  imgs=$(incus image list -f json | jq -r --arg p "$prefix" '[.[] | select((.properties.variant // "") | startswith($p)) | .fingerprint] | join(" ")')
  trust=$(incus config trust list -f json | jq -r --arg n "${prefix}countproxy" '[.[] | select(.name == $n) | .fingerprint] | join(" ")')
  glance=""
  if [ -f "$clouds" ]; then
    glance=$(osc image list -f json | jq -r --arg p "$prefix" '[.[] | select((.Name // "") | startswith($p)) | .ID] | join(" ")')
  fi
  # Each kind is tried even when another fails; the next run tries again.
  # shellcheck disable=SC2086 # word lists by design
  {
    [ -z "$inst" ] || incus delete --force $inst >/dev/null || log "could not delete instances $inst"
    for a in $aliases; do incus image alias delete "$a" >/dev/null || log "could not delete alias $a"; done
    [ -z "$imgs" ] || incus image delete $imgs >/dev/null || log "could not delete images $imgs"
    for f in $trust; do incus config trust remove "$f" >/dev/null || log "could not remove trust $f"; done
    [ -z "$glance" ] || osc image delete $glance >/dev/null || log "could not delete Glance images $glance"
  }
  echo "instances $(words "$inst"), aliases $(words "$aliases"), Incus images $(words "$imgs"), Glance images $(words "$glance")"
}

pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
finish() {
  stop_all
  log "final cleanup: $(clean)"
  rm -rf "$work/air-data" "$tf"/terraform.tfstate*
}
trap finish EXIT
log "leftovers of earlier runs removed: $(clean)"
rm -f "$tf"/terraform.tfstate*

# --- files ---------------------------------------------------------------------------
# Unified tarballs: metadata.yaml and a rootfs of one file, each distinct by its
# variant; the first is the busybox test image the instances run. Kept for later runs.
arch=$(uname -m)
[ "$arch" = aarch64 ] || arch=x86_64
[ -f "$files/image-${prefix}img-0.tar.gz" ] || go run ./internal/acctest/testimage -dir "$files" -variant "${prefix}img-0" >/dev/null
for i in $(seq 1 $((n_images - 1))); do
  f="$files/image-${prefix}img-$i.tar.gz"
  [ -f "$f" ] && continue
  d=$(mktemp -d)
  mkdir -p "$d/rootfs/etc"
  cat >"$d/metadata.yaml" <<META
architecture: $arch
creation_date: 1767225600
properties:
  description: imagefleet load bench ${prefix}img-$i
  os: none
  release: "1"
  variant: ${prefix}img-$i
templates: {}
META
  echo "${prefix}img-$i" >"$d/rootfs/etc/variant"
  tar -C "$d" --sort=name --mtime=@1767225600 --owner=0 --group=0 -czf "$f.tmp" metadata.yaml rootfs
  mv "$f.tmp" "$f"
  rm -rf "$d"
done
# Raw disks of 64 KiB for Glance and Air: an MBR boot signature (how the provider
# knows a raw disk) and a distinct name at byte 16, so every digest differs.
disk() {
  local f="$files/$1.raw"
  [ -f "$f" ] && return 0
  head -c 65536 /dev/zero >"$f.tmp"
  printf 'imagefleet load bench %s' "$1" | dd of="$f.tmp" bs=1 seek=16 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$f.tmp" bs=1 seek=510 conv=notrunc status=none
  mv "$f.tmp" "$f"
}
for i in $(seq 0 $((n_glance - 1))); do disk "${prefix}glance-$i"; done
for i in $(seq 0 $((n_air - 1))); do disk "${prefix}air-$i"; done

# --- provider, emulator, proxies -----------------------------------------------------
go build -o "$work/bin/terraform-provider-imagefleet.real" .
go build -o "$work/bin/air-emulator" ./cmd/air-emulator
go build -o "$work/bin/countproxy" ./internal/tools/countproxy
# Terraform starts the plugin by name; the wrapper records each plugin process's
# peak RSS (KiB) and CPU seconds in rss.txt.
cat >"$work/bin/terraform-provider-imagefleet" <<WRAP
#!/bin/sh
exec /usr/bin/time -a -o "$work/rss.txt" -f "%M %U %S" "$work/bin/terraform-provider-imagefleet.real" "\$@"
WRAP
chmod +x "$work/bin/terraform-provider-imagefleet"
TF_CLI_CONFIG_FILE=$(scripts/dev-terraformrc.sh "$work/bin")
export TF_CLI_CONFIG_FILE TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

# wait_line FILE REGEXP PID: the first match of REGEXP's group in FILE, once the
# process PID has printed it.
wait_line() {
  local v
  for _ in $(seq 200); do
    v=$(sed -n "s|$2|\1|p" "$1" | head -n1)
    [ -n "$v" ] && { echo "$v"; return 0; }
    kill -0 "$3" 2>/dev/null || break
    sleep 0.05
  done
  log "no '$2' in $1: $(cat "$1")"
  return 1
}

tok_a=nvapi-ldb-a-$(openssl rand -hex 12)
tok_b=nvapi-ldb-b-$(openssl rand -hex 12)
rm -rf "$work/air-data"
# Parts of the default 100 MB (every disk here is one part) and short delays: the
# bench measures the provider's requests, not the emulator's waits.
"$work/bin/air-emulator" -listen 127.0.0.1:0 -org "org-a=$tok_a" -org "org-b=$tok_b" -data "$work/air-data" \
  -validation-delay 50ms -transition-delay 50ms >"$work/air-emulator.log" 2>&1 &
pids+=($!)
air_url=$(wait_line "$work/air-emulator.log" '^air-emulator: NVIDIA Air v3 image API at \(http://[^ ]*\)/api/v3/$' "${pids[-1]}")

# The proxy's client certificate, trusted by the daemon for this run.
incus_https=$(incus config get core.https_address)
if [ -z "$incus_https" ]; then
  incus_https=127.0.0.1:18443
  incus config set core.https_address "$incus_https"
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=${prefix}countproxy" \
  -keyout "$work/client.key" -out "$work/client.crt" 2>/dev/null
incus config trust add-certificate "$work/client.crt" --name "${prefix}countproxy" >/dev/null

reqlog="$work/requests.tsv"
connlog="$work/connections.txt"
: >"$reqlog"
: >"$connlog"
proxy_args=(-log "$reqlog" -conn-log "$connlog" -names "${prefix}.*" -air "$air_url"
  -incus "https://$incus_https" -client-cert "$work/client.crt" -client-key "$work/client.key" -cert-out "$work/proxy.crt")
[ "$n_glance" -eq 0 ] || proxy_args+=(-keystone "$keystone")
"$work/bin/countproxy" "${proxy_args[@]}" >"$work/countproxy.log" 2>&1 &
pids+=($!)
wait_line "$work/countproxy.log" '^countproxy: \(ready\)$' "${pids[-1]}" >/dev/null
incus_proxy=$(wait_line "$work/countproxy.log" '^countproxy: incus \(.*\)$' "${pids[-1]}")
air_proxy=$(wait_line "$work/countproxy.log" '^countproxy: air \(.*\)$' "${pids[-1]}")
keystone_proxy=""
[ "$n_glance" -eq 0 ] || keystone_proxy=$(wait_line "$work/countproxy.log" '^countproxy: keystone \(.*\)$' "${pids[-1]}")
partner=""
[ "$n_glance" -eq 0 ] || partner=$(sed -n 's/^FLEET_B_PROJECT_ID=["'\'']\{0,1\}\([^"'\'']*\).*/\1/p' "$ids")

# --- configuration -------------------------------------------------------------------
cat >"$tf/main.tf" <<TF
terraform {
  required_providers {
    imagefleet = { source = "imagefleet/imagefleet" }
  }
}

provider "imagefleet" {
  endpoints = {
    incus = { incus = { address = "$incus_proxy", server_cert_file = "$work/proxy.crt" } }
    cloud = { openstack = {
      auth_url            = "$keystone_proxy/v3"
      username            = "fleet-a"
      password            = "fleet-a-pass"
      user_domain_name    = "Default"
      project_name        = "fleet-a"
      project_domain_name = "Default"
    } }
    air = { air = { api_url = "$air_proxy", api_key = "$tok_a" } }
  }
}

resource "imagefleet_image" "incus" {
  count    = $n_images
  endpoint = "incus"
  file     = "$files/image-${prefix}img-\${count.index}.tar.gz"
}

resource "imagefleet_image_alias" "incus" {
  count    = $n_images
  endpoint = "incus"
  name     = "${prefix}alias-\${count.index}"
  target   = imagefleet_image.incus[count.index].fingerprint
}

resource "imagefleet_instance" "incus" {
  count    = $n_instances
  endpoint = "incus"
  name     = "${prefix}inst-\${count.index}"
  image    = imagefleet_image.incus[0].fingerprint
  state    = "stopped"
}

resource "imagefleet_image" "glance" {
  count    = $n_glance
  endpoint = "cloud"
  name     = "${prefix}glance-\${count.index}"
  file     = "$files/${prefix}glance-\${count.index}.raw"
}

resource "imagefleet_image_member" "glance" {
  count    = $n_glance
  endpoint = "cloud"
  image    = imagefleet_image.glance[count.index].id
  member   = "$partner"
}

resource "imagefleet_image" "air" {
  count    = $n_air
  endpoint = "air"
  name     = "${prefix}air-\${count.index}"
  file     = "$files/${prefix}air-\${count.index}.raw"
  air      = { version = "1", default_username = "root", default_password = "ldb-password" }
}

resource "imagefleet_image_share" "air" {
  count      = $n_air
  endpoint   = "air"
  image      = imagefleet_image.air[count.index].id
  target_org = "org-b"
}
TF

# --- phases --------------------------------------------------------------------------
declare -A secs rss cpu exits reqs walls
# phase NAME ARGS...: runs terraform ARGS in the configuration's directory and keeps
# its wall time, exit code, the plugin's peak RSS and CPU, and the requests seen.
phase() {
  local name=$1 t0 t1 rc=0
  shift
  : >"$work/rss.txt"
  : >"$reqlog"
  : >"$connlog"
  log "terraform $*"
  t0=$(now)
  (cd "$tf" && terraform "$@" -input=false -no-color -parallelism="$parallelism" >"$work/tf-$name.log" 2>&1) || rc=$?
  t1=$(now)
  secs[$name]=$(elapsed "$t0" "$t1")
  exits[$name]=$rc
  rss[$name]=$(awk '$1 > m {m = $1} END {print m + 0}' "$work/rss.txt")
  cpu[$name]=$(awk '{c += $2 + $3} END {printf "%.1f", c}' "$work/rss.txt")
  cp "$reqlog" "$work/requests-$name.tsv"
  cp "$connlog" "$work/connections-$name.txt"
  log "$name: ${secs[$name]} s, exit $rc, provider peak RSS ${rss[$name]} KiB"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
phase apply apply -auto-approve
[ "${exits[apply]}" -eq 0 ] || { log "apply failed:"; grep -E 'Error' -A6 "$work/tf-apply.log" | head -n 60 >&2; exit 1; }
# What the servers hold now, counted on the servers themselves (not through the proxy).
held_images=$(incus image list -f json | jq --arg p "$prefix" '[.[] | select((.properties.variant // "") | startswith($p))] | length')
held_aliases=$(incus image alias list -f json | jq --arg p "$prefix" '[.[] | select(.name | startswith($p))] | length')
held_instances=$(incus list -f json | jq --arg p "$prefix" '[.[] | select((.name | startswith($p)) and .status == "Stopped")] | length')
held_glance=0
[ "$n_glance" -eq 0 ] || held_glance=$(osc image list -f json | jq --arg p "$prefix" '[.[] | select(((.Name // "") | startswith($p)) and .Status == "active")] | length')
air_api() { curl -sS -f -H "Authorization: Bearer $tok_a" "$air_url/api/v3/$1"; }
held_air=$(air_api "images/?limit=1000" | jq '[.results[] | select(.upload_status == "COMPLETE")] | length')
held_shares=$(air_api "images/shares/?limit=1000" | jq '[.results[] | select(.target_org == "org-b" or .target_org_display_name == "org-b")] | length')
log "held: $held_images Incus images, $held_aliases aliases, $held_instances stopped instances, $held_glance Glance images, $held_air Air images, $held_shares shares"

for r in $(seq 1 "$rounds"); do
  phase "refresh$r" plan -refresh-only -detailed-exitcode
  phase "plan$r" plan -detailed-exitcode
  phase "plan_norefresh$r" plan -refresh=false -detailed-exitcode
done
# median, largest: of their arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
largest() { printf '%s\n' "$@" | sort -n | tail -n1; }
# The rounds of a plan as one phase: median time and CPU, largest RSS and exit code,
# the first round's requests (the others' counts are listed when they differ).
for p in refresh plan plan_norefresh; do
  w=(); c=(); m=(); e=(); q=()
  for r in $(seq 1 "$rounds"); do
    w+=("${secs[$p$r]}"); c+=("${cpu[$p$r]}"); m+=("${rss[$p$r]}"); e+=("${exits[$p$r]}")
    q+=("$(wc -l <"$work/requests-$p$r.tsv")")
  done
  secs[$p]=$(median "${w[@]}"); cpu[$p]=$(median "${c[@]}"); rss[$p]=$(largest "${m[@]}"); exits[$p]=$(largest "${e[@]}")
  walls[$p]=$(printf '%s\n' "${w[@]}" | paste -sd, | sed 's/,/, /g')
  reqs[$p]=$(printf '%s\n' "${q[@]}" | sort -u | paste -sd/)
  cp "$work/requests-${p}1.tsv" "$work/requests-$p.tsv"
  cp "$work/connections-${p}1.txt" "$work/connections-$p.txt"
done
phase destroy destroy -auto-approve
[ "${exits[destroy]}" -eq 0 ] || { log "destroy failed:"; grep -E 'Error' -A6 "$work/tf-destroy.log" | head -n 60 >&2; }
stop_all
left=$(clean)
log "left after destroy (now removed): $left"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report --------------------------------------------------------------------------
# kind BACKEND ROUTE: the kind of object a request route belongs to.
kinds_awk='
function kind(b, r) {
  if (b == "keystone") return "keystone (auth)"
  if (b == "incus") {
    if (r ~ "^/1.0/images/aliases") return "incus alias"
    if (r ~ "^/1.0/images") return "incus image"
    if (r ~ "^/1.0/instances") return "incus instance"
    if (r ~ "^/1.0/operations") return "incus operation"
    return "incus (connect)"
  }
  if (b == "glance") {
    if (r ~ "/members") return "glance member"
    if (r ~ "^/v2/images") return "glance image"
    return "glance (connect)"
  }
  if (b == "air") {
    if (r == "/api/v3/images/?limit=1") return "air (connect)"
    if (r ~ "^/api/v3/images/shares") return "air share"
    if (r ~ "^/api/v3/images") return "air image"
    return "air (other)"
  }
  return b
}'
# routes NAME: the routes of phase NAME as table rows, most requests first: backend,
# request, status, count, mean and largest time to answer.
routes() {
  awk -F'\t' '{k = $1 "\t`" $2 " " $3 "`\t" $4; n[k]++; t[k] += $5; if ($5 > m[k]) m[k] = $5}
    END {for (k in n) printf "%d\t%s\t%.1f\t%.1f\n", n[k], k, t[k] / n[k], m[k]}' "$work/requests-$1.tsv" |
    sort -t$'\t' -k1,1nr -k2,3 | awk -F'\t' '{printf "| %s | %s | %s | %d | %s | %s |\n", $2, $3, $4, $1, $5, $6}'
}
# conns NAME: the connections clients opened to each proxy in phase NAME.
conns() { sort "$work/connections-$1.txt" | uniq -c | awk '{printf "%s%s %d", sep, $2, $1; sep = ", "}'; }
# per_kind NAME: "kind requests" for phase NAME.
per_kind() { awk -F'\t' "$kinds_awk"' {n[kind($1, $3)]++} END {for (k in n) print k "\t" n[k]}' "$work/requests-$1.tsv"; }
objects_of() {
  case "$1" in
    "incus image") echo "$n_images" ;; "incus alias") echo "$n_images" ;; "incus instance") echo "$n_instances" ;;
    "glance image") echo "$n_glance" ;; "glance member") echo "$n_glance" ;;
    "air image") echo "$n_air" ;; "air share") echo "$n_air" ;; *) echo "" ;;
  esac
}
total_objects=$((2 * n_images + n_instances + 2 * n_glance + 2 * n_air))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
rss_max=0
for p in apply refresh plan plan_norefresh destroy; do [ "${rss[$p]}" -gt "$rss_max" ] && rss_max=${rss[$p]}; done
plan_ratio=$(ratio "${secs[plan]}" "${secs[plan_norefresh]}")

machine="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r); Terraform $(terraform version | head -n1 | awk '{print $2}'), $(go version | awk '{print $3}'), Incus $(incus version | awk '/Server/{print $3}')"
run_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
md="$work/load.md"
{
  echo "# Load benchmark"
  echo
  echo "Generated by \`scripts/bench-load.sh\` (part of \`make bench\`); run it again to regenerate. Measured, not asserted."
  echo
  echo "Run $run_at on $machine, Glance 25 (Keystone + Glance of scripts/backends.sh), the project's Air emulator. Load average (1, 5, 15 min) $load_start at the start, $load_end at the end: a shared machine, other jobs ran beside this one."
  echo
  echo "One configuration of $total_objects objects: $n_images Incus images (unified tarballs of about 300 bytes, the first a busybox image of 1 MiB), $n_images aliases (one per image), $n_instances instances (\`state = \"stopped\"\`, from the first image), $n_glance Glance images (raw disks of 64 KiB) each with one member (the partner project), $n_air Air images (64 KiB, one part each) each shared with a second org. Terraform \`-parallelism=$parallelism\`. Every backend is reached through a counting proxy (\`internal/tools/countproxy\`, on loopback): Incus over HTTPS, Keystone and Glance (the token's catalog rewritten to the proxy), the Air emulator."
  echo
  echo "## Times and memory"
  echo
  echo "| phase | wall time (s) | rounds (s) | exit code | provider peak RSS (MiB) | provider CPU (s) | requests | connections opened |"
  echo "|---|---|---|---|---|---|---|---|"
  for p in apply refresh plan plan_norefresh destroy; do
    case $p in
      apply) label="\`terraform apply\`" ;; refresh) label="\`terraform plan -refresh-only\`" ;;
      plan) label="\`terraform plan\`" ;; plan_norefresh) label="\`terraform plan -refresh=false\`" ;;
      destroy) label="\`terraform destroy\`" ;;
    esac
    echo "| $label | ${secs[$p]} | ${walls[$p]:-} | ${exits[$p]} | $(mib "${rss[$p]}") | ${cpu[$p]} | ${reqs[$p]:-$(wc -l <"$work/requests-$p.tsv")} | $(wc -l <"$work/connections-$p.txt") |"
  done
  echo
  echo "| measure | value | target |"
  echo "|---|---|---|"
  echo "| plan time / plan time with \`-refresh=false\` (medians) | $plan_ratio (${secs[plan]} s / ${secs[plan_norefresh]} s) | ≤ 2 |"
  echo "| the same, round by round | $(for r in $(seq 1 "$rounds"); do ratio "${secs[plan$r]}" "${secs[plan_norefresh$r]}"; echo; done | paste -sd, | sed 's/,/, /g') | |"
  echo "| provider peak RSS, all phases | $(mib "$rss_max") MiB | |"
  echo "| objects the servers held after apply | Incus: $held_images images, $held_aliases aliases, $held_instances stopped instances; Glance: $held_glance active images; Air: $held_air COMPLETE images, $held_shares shares | $n_images, $n_images, $n_instances; $n_glance; $n_air, $n_air |"
  echo "| left on the servers after destroy (then removed by prefix) | $left | none |"
  echo
  echo "The plans ran $rounds times each, interleaved (refresh-only, plan, plan -refresh=false, then again): wall time and CPU are the medians, peak RSS and exit code the largest; their requests and connections are the first round's. Exit code 0 of a plan with \`-detailed-exitcode\` means no change; 2 means the plan had changes."
  echo
  echo "## Requests per object on refresh"
  echo
  echo "\`terraform plan -refresh-only\`: the requests the proxies forwarded, by the kind of object their route belongs to (target: 1 per object)."
  echo
  echo "| kind | objects | requests | per object |"
  echo "|---|---|---|---|"
  per_kind refresh | sort | while IFS=$'\t' read -r k n; do
    o=$(objects_of "$k")
    if [ -n "$o" ] && [ "$o" -gt 0 ]; then echo "| $k | $o | $n | $(ratio "$n" "$o") |"; else echo "| $k | | $n | (per run) |"; fi
  done
  for p in refresh plan apply destroy; do
    echo
    case $p in
      refresh) echo "### Routes on refresh" ;; plan) echo "### Routes on \`terraform plan\`" ;;
      apply) echo "### Routes on apply" ;; destroy) echo "### Routes on destroy" ;;
    esac
    echo
    echo "Connections opened: $(conns "$p")."
    echo
    echo "| backend | request | status | count | mean time to answer (ms) | largest (ms) |"
    echo "|---|---|---|---|---|---|"
    routes "$p"
  done
  echo
  echo "Times to answer are measured at the proxy: from the request's arrival to the end of the answer, the server's time and the copy through the proxy."
  echo
  echo "Routes: paths with object names, IDs and digests folded into {id}; query values kept when short (\`limit=1\`), else folded. The connect requests are each endpoint's first contact, once per provider process: Incus \`GET /1.0\`, Keystone's token and Glance's version document (\`GET /\`), Air's \`GET images/?limit=1\`."
} >"$md"

# The load section of bench/reliability.md, one row per measure, every row of the
# same shape (value, target, detail) so that the section is one narrow table.
jsonl="$work/load.jsonl"
row() {
  jq -cn --arg item "$1" --arg v "$2" --arg t "$3" --arg d "$4" \
    '{section: "load", item: $item, test: "scripts/bench-load.sh", values: {value: $v, target: $t, detail: $d}}'
}
{
  row "run" "$run_at" "" "$machine; load average $load_start at the start, $load_end at the end"
  for p in apply refresh plan plan_norefresh destroy; do
    case $p in
      apply) label="terraform apply" ;; refresh) label="terraform plan -refresh-only" ;; plan) label="terraform plan" ;;
      plan_norefresh) label="terraform plan -refresh=false" ;; destroy) label="terraform destroy" ;;
    esac
    detail="$(wc -l <"$work/requests-$p.tsv") requests, $(wc -l <"$work/connections-$p.txt") connections, provider peak RSS $(mib "${rss[$p]}") MiB, exit code ${exits[$p]}"
    [ -z "${walls[$p]:-}" ] || detail="median of $rounds rounds (${walls[$p]} s); $detail"
    row "$label, $total_objects objects: wall time" "${secs[$p]} s" "" "$detail"
  done
  row "plan time / plan time with -refresh=false" "$plan_ratio" "≤ 2" "medians, ${secs[plan]} s / ${secs[plan_norefresh]} s"
  row "provider peak RSS" "$(mib "$rss_max") MiB" "" "largest of all phases"
  per_kind refresh | sort | while IFS=$'\t' read -r k n; do
    o=$(objects_of "$k")
    if [ -z "$o" ] || [ "$o" -eq 0 ]; then continue; fi
    row "refresh: requests per $k" "$(ratio "$n" "$o")" "1" "$n requests for $o objects"
  done
  row "left on the servers after destroy" "$left" "none" "found by prefix, then removed"
} >"$jsonl"

if $full; then
  cp "$md" bench/load.md
  cp "$jsonl" bench/load.jsonl
fi
cat "$md"
