#!/usr/bin/env bash
# Glance upload benchmark, run by `scripts/bench.sh openstack`, which builds the
# provider and wraps its binary to measure it. One qcow2 file is uploaded to the local
# Glance (scripts/backends.sh openstack) by three clients in interleaved rounds, the
# order turning each round:
#   provider  `terraform apply` of one imagefleet_image (destroyed after its round);
#   curl      POST /v2/images, then `curl -T file` to PUT /v2/images/{id}/file, with a
#             token issued before the rounds;
#   CLI       `openstack image create --file`.
# Every image is deleted after its round, and the run checks that none is left on
# Glance. Prints a Markdown section on stdout; progress goes to stderr.
set -euo pipefail
shopt -s inherit_errexit
: "${BENCH_WORK:?run through scripts/bench.sh openstack}"
cd "$(dirname "$0")/.."
work=$BENCH_WORK
rounds=${BENCH_ROUNDS:-5}
size=${BENCH_BYTES:-1073741824}

export OS_CLIENT_CONFIG_FILE=/etc/imagefleet/openstack/clouds.yaml
cloud=imagefleet-a
glance=http://127.0.0.1:9292/v2
store=/var/lib/imagefleet-openstack/glance/images
glance_pid=/var/lib/imagefleet-openstack/glance.pid
# Debian's python3: another python3 may come first on PATH and lacks the packages.
py=/usr/bin/python3
# Names no test uses: what an interrupted run leaves behind is found by them.
prefix=imagefleet-bench-
log() { echo "bench: glance: $*" >&2; }
now() { date +%s.%N; }
# elapsed T0 T1, ratio A B, per TICKS: two decimals (three for a ratio).
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# The disk: random bytes (incompressible) with an MBR boot signature, which is how the
# provider knows a raw disk, converted to qcow2 once and kept beside the Incus image.
disk="$work/glance-bench.qcow2"
if [ ! -f "$disk" ] || [ "$(qemu-img info --output=json "$disk" | jq '."virtual-size"')" -ne "$size" ]; then
  log "building a qcow2 of $size random bytes"
  raw="$work/glance-bench.raw"
  head -c "$size" /dev/urandom >"$raw"
  printf '\x55\xaa' | dd of="$raw" bs=1 seek=510 conv=notrunc status=none
  qemu-img convert -f raw -O qcow2 "$raw" "$disk.tmp"
  mv "$disk.tmp" "$disk"
  rm -f "$raw"
fi
bytes=$(stat -c %s "$disk")

token=$("$py" /usr/bin/openstack --os-cloud "$cloud" token issue -f value -c id)
api() { curl -sS -f -H "X-Auth-Token: $token" "$@"; }
# ids_named NAME: the ids of the project's images called NAME.
ids_named() { api "$glance/images?name=$1" | jq -r '.images[].id'; }
tfdir="$work/tf-glance"
clean() {
  local n id
  for n in tf curl cli; do
    for id in $(ids_named "$prefix$n"); do api -X DELETE "$glance/images/$id" >/dev/null; done
  done
  rm -f "$tfdir/terraform.tfstate"*
}
clean
trap clean EXIT

mkdir -p "$tfdir"
cat >"$tfdir/main.tf" <<TF
terraform {
  required_providers {
    imagefleet = { source = "imagefleet/imagefleet" }
  }
}
provider "imagefleet" {
  endpoints = {
    cloud = { openstack = { cloud = "$cloud", clouds_file = "$OS_CLIENT_CONFIG_FILE" } }
  }
}
resource "imagefleet_image" "bench" {
  endpoint = "cloud"
  name     = "${prefix}tf"
  file     = "$disk"
}
output "id" {
  value = imagefleet_image.bench.id
}
TF

# measured NAME CMD...: runs CMD; NAME.time gets its user and system CPU seconds and
# peak RSS (KiB), NAME.io the bytes it read (the inner shell's /proc I/O counters
# include those of the children it reaped).
measured() {
  local out=$work/$1
  shift
  /usr/bin/time -o "$out.time" -f "%U %S %M" /bin/sh -c '"$@"; rc=$?; { read -r _ r; } </proc/$$/io; echo "$r" >"$0"; exit $rc' "$out.io" "$@"
}
cpu_of() { awk '{printf "%.2f", $1 + $2}' "$work/$1.time"; }
reads_of() { awk -v n="$bytes" '{printf "%.3f", $1 / n}' "$work/$1.io"; }

# Glance's CPU seconds so far: its process group's (the API server and its workers).
# Other jobs' requests to the same Glance count too.
tck=$(getconf CLK_TCK)
glance_cpu() {
  local p t=0 f
  for p in $(pgrep -g "$(cat "$glance_pid")"); do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    f=${f##*) }
    set -- $f
    t=$((t + ${12} + ${13}))
  done
  echo "$t"
}

# check_active ID: the image is active and holds the whole file; hash_algo is the
# multihash Glance computed for it.
check_active() {
  local got
  read -r got hash_algo < <(api "$glance/images/$1" | jq -r '"\(.status)/\(.size) \(.os_hash_algo)"')
  [ "$got" = "active/$bytes" ] || { log "image $1 is '$got', not 'active/$bytes'"; exit 1; }
}

declare -A wall cpu reads rss server
used_ids=()
turn_curl() {
  local id
  measured curl-create curl -sS -f -H "X-Auth-Token: $token" -H 'Content-Type: application/json' \
    -d "{\"name\": \"${prefix}curl\", \"disk_format\": \"qcow2\", \"container_format\": \"bare\"}" \
    -o "$work/curl-create.json" "$glance/images"
  id=$(jq -r .id "$work/curl-create.json")
  measured curl-put curl -sS -f -T "$disk" -H "X-Auth-Token: $token" \
    -H 'Content-Type: application/octet-stream' "$glance/images/$id/file"
  echo "$id"
}
turn_cli() {
  measured cli "$py" /usr/bin/openstack --os-cloud "$cloud" image create --disk-format qcow2 \
    --container-format bare --file "$disk" -f value -c id "${prefix}cli"
}
turn_tf() {
  : >"$work/rss.txt"; : >"$work/io.txt"
  (cd "$tfdir" && measured tf terraform apply -auto-approve -input=false >/dev/null)
  (cd "$tfdir" && terraform output -raw id)
}

glance_load_start=$(cut -d' ' -f1-3 /proc/loadavg)
clients=(tf curl cli)
for i in $(seq 1 "$rounds"); do
  for k in 0 1 2; do
    c=${clients[$(((i - 1 + k) % 3))]}
    sync
    s0=$(glance_cpu)
    t0=$(now); id=$("turn_$c"); t1=$(now)
    s1=$(glance_cpu)
    check_active "$id"
    used_ids+=("$id")
    wall[$c,$i]=$(elapsed "$t0" "$t1")
    server[$c,$i]=$(awk -v t=$((s1 - s0)) -v hz="$tck" 'BEGIN {printf "%.2f", t / hz}')
    case $c in
      curl)
        cpu[$c,$i]=$(awk '{c += $1 + $2} END {printf "%.2f", c}' "$work/curl-create.time" "$work/curl-put.time")
        reads[$c,$i]=$(reads_of curl-put)
        rss[$c,$i]=$(awk '{print $3}' "$work/curl-put.time")
        ;;
      cli)
        cpu[$c,$i]=$(cpu_of cli) reads[$c,$i]=$(reads_of cli) rss[$c,$i]=$(awk '{print $3}' "$work/cli.time")
        ;;
      tf)
        # The plugin processes, from the wrapper bench.sh put in Terraform's way; the
        # whole apply (Terraform and plugins) in tf.time.
        cpu[$c,$i]=$(awk '{c += $2 + $3} END {printf "%.2f", c}' "$work/rss.txt")
        cpu[tfall,$i]=$(cpu_of tf)
        reads[$c,$i]=$(awk -v n="$bytes" '{c += $1} END {printf "%.3f", c / n}' "$work/io.txt")
        rss[$c,$i]=$(awk '$1 > m {m = $1} END {print m}' "$work/rss.txt")
        ;;
    esac
    log "round $i: $c ${wall[$c,$i]} s, ${cpu[$c,$i]} s CPU, Glance ${server[$c,$i]} s CPU, read ${reads[$c,$i]} × the file, peak RSS ${rss[$c,$i]} KiB"
    case $c in
      tf)
        # The last round's image stays for a moment: the apply with nothing to do.
        if [ "$i" -lt "$rounds" ]; then (cd "$tfdir" && terraform destroy -auto-approve -input=false >/dev/null); fi
        ;;
      *) api -X DELETE "$glance/images/$id" >/dev/null ;;
    esac
  done
done

# Terraform's fixed cost: the same apply with the image there (refresh and plan; the
# file's digest comes from the record of the upload, nothing is read through).
t0=$(now); (cd "$tfdir" && terraform apply -auto-approve -input=false >/dev/null); t1=$(now)
noop=$(elapsed "$t0" "$t1")
(cd "$tfdir" && terraform destroy -auto-approve -input=false >/dev/null)
glance_load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# Nothing left behind: no image of these names, no data file of any image this run made.
clean
left=""
for n in tf curl cli; do left+=$(ids_named "$prefix$n"); done
for id in "${used_ids[@]}"; do [ -e "$store/$id" ] && left+=" $store/$id"; done
[ -z "$left" ] || { log "left behind on Glance: $left"; exit 1; }

# The digests the provider computes in its one read, each alone on the warm file:
# OpenSSL, like Go, uses the CPU's SHA extensions where it has them.
digest_cost=""
for a in md5 sha512 sha256; do
  t0=$(now); openssl dgst "-$a" "$disk" >/dev/null; t1=$(now)
  digest_cost+="$a $(elapsed "$t0" "$t1") s, "
done

# col CLIENT ARRAY: the client's values in ARRAY, one per round.
col() { local -n a=$2; local i out=(); for i in $(seq 1 "$rounds"); do out+=("${a[$1,$i]}"); done; echo "${out[@]}"; }
med() { median $(col "$1" "$2"); }
wall_tf=$(med tf wall); wall_curl=$(med curl wall); wall_cli=$(med cli wall)
rss_max=$(col tf rss | tr ' ' '\n' | sort -n | tail -n1)
pkg() { dpkg-query -W -f '${Version}' "$1"; }
workers=$(awk -F ' *= *' '$1 == "workers" {print $2}' /etc/imagefleet/openstack/glance-api.conf)
gib=$(awk -v b="$size" 'BEGIN {printf "%g GiB", b / 1073741824}')

cat <<MD
## OpenStack Glance: upload of a $gib qcow2

Keystone $(pkg python3-keystone), Glance $(pkg python3-glance) (Debian packages; Glance with ${workers:-default} workers, the file store, $hash_algo multihash), python3-openstackclient $(pkg python3-openstackclient) with python3-openstacksdk $(pkg python3-openstacksdk), $(curl --version | head -n1 | cut -d' ' -f1-2). Load average (1, 5, 15 min) $glance_load_start at the start, $glance_load_end at the end.

Image: $bytes bytes of qcow2 (the virtual disk is $size random bytes: incompressible), $rounds rounds, interleaved, the order turning each round. Each image is deleted after its round; none is left on Glance afterwards (checked by name and in the store).

| round | terraform apply (s) | curl (s) | openstack image create (s) | provider CPU (s) | curl CPU (s) | CLI CPU (s) | Glance CPU during apply / curl / CLI (s) |
|---|---|---|---|---|---|---|---|
$(for i in $(seq 1 "$rounds"); do echo "| $i | ${wall[tf,$i]} | ${wall[curl,$i]} | ${wall[cli,$i]} | ${cpu[tf,$i]} | ${cpu[curl,$i]} | ${cpu[cli,$i]} | ${server[tf,$i]} / ${server[curl,$i]} / ${server[cli,$i]} |"; done)

| measure | value | target |
|---|---|---|
| median wall time, terraform apply / curl | $(ratio "$wall_tf" "$wall_curl") | ≤ 1.10 |
| median wall time, terraform apply / openstack image create | $(ratio "$wall_tf" "$wall_cli") | |
| median wall times: terraform apply, curl, openstack image create | $wall_tf s, $wall_curl s, $wall_cli s | |
| provider process peak RSS | $(mib "$rss_max") MiB | ≤ 64 MiB |
| peak RSS of curl, of the CLI (largest round) | $(mib "$(col curl rss | tr ' ' '\n' | sort -n | tail -n1)") MiB, $(mib "$(col cli rss | tr ' ' '\n' | sort -n | tail -n1)") MiB | |
| median client CPU: provider processes (all of terraform apply), curl, CLI | $(med tf cpu) s ($(med tfall cpu) s), $(med curl cpu) s, $(med cli cpu) s | |
| median Glance CPU per upload: provider, curl, CLI | $(med tf server) s, $(med curl server) s, $(med cli server) s | |
| bytes read per upload, in file sizes (rounds): provider processes | $(col tf reads) | 1 |
| the same for curl's PUT, for the CLI | $(col curl reads); $(col cli reads) | |
| terraform apply with nothing to do (Terraform's fixed cost) | ${noop} s | |
| \`openssl dgst\` of the file alone, warm page cache | ${digest_cost%, } | |

How it was measured. Wall time is the client's whole command: for curl the \`POST /v2/images\` and the \`PUT\` (the token was issued once before the rounds, with \`openstack token issue\`); for the CLI its start-up and authentication too; for the provider Terraform's start-up, authentication, plan and the apply, which waits for the image to be active and verifies Glance's md5 checksum and sha512 multihash against those it computed while reading (with the sha256 it records, three digests in the one read). CPU is user + system time from GNU time; the provider's is that of its plugin processes, from a wrapper around the plugin binary. Glance's CPU is its process group's (/proc/PID/stat), so other jobs' requests to it count too. Bytes read are \`rchar\` from /proc/PID/io of a shell that ran the client and reaped it (every byte read(2) and its kin returned, from files and sockets alike, page cache or disk): about 1 means the file was read once; sockets add a few KiB, and the CLI's count includes the Python modules it loads at start-up (tens of MiB).
MD
