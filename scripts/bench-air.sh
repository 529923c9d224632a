#!/usr/bin/env bash
# NVIDIA Air upload benchmark, run by `scripts/bench.sh air`, which builds the
# provider and wraps its binary to measure it. The project's emulator of the Air v3
# image API (cmd/air-emulator) serves here, with 100 MB parts as the real service
# answers and a short validation delay; it is started afresh for each part below:
#   workers  `terraform apply` of one imagefleet_image of a 1 GiB qcow2 with
#            upload_workers = 4 and with 1, rounds interleaved, the order turning
#            each round, each part connection capped at BENCH_AIR_BANDWIDTH bytes/s;
#            each image is destroyed after its apply;
#   memory   with 4 workers and no cap: a create of the 1 GiB image, a forced
#            replacement of it (-replace), and a create of a 4 GiB one (when the
#            disk has room for it), one apply each: peak RSS and bytes read.
# Every image is checked on the emulator (COMPLETE, size, sha256), and none is left
# afterwards. Prints a Markdown section on stdout; progress goes to stderr.
set -euo pipefail
shopt -s inherit_errexit
: "${BENCH_WORK:?run through scripts/bench.sh air}"
cd "$(dirname "$0")/.."
work=$BENCH_WORK
rounds=${BENCH_ROUNDS:-3}
size=${BENCH_BYTES:-1073741824}
big=${BENCH_AIR_BIG_BYTES:-4294967296}
# 20 MB/s per connection: 4 connections then carry 80 MB/s. Uncapped, the provider
# and the emulator share the 2 cores with the other jobs on the machine, and the
# parts went at 150 to 540 MB/s in trial runs (the lower rates at a load average
# near 10): 50 MB/s per connection, 200 MB/s for four, could leave 4 workers
# CPU-bound, 80 MB/s stays under every rate seen. And a 100 MB part takes 5 s, so
# the fixed costs of an apply (Terraform, the sha256 pass, validation) weigh little
# beside the transfer.
cap=${BENCH_AIR_BANDWIDTH:-20000000}
chunk=100000000
validation_delay=100ms

log() { echo "bench: air: $*" >&2; }
now() { date +%s.%N; }
# elapsed T0 T1, ratio A B: two decimals (three for a ratio).
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
gib() { awk -v b="$1" 'BEGIN {printf "%g GiB", b / 1073741824}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
free_bytes() { df -B1 --output=avail "$work" | tail -n1 | tr -d ' '; }

# make_disk BYTES FILE: random bytes (incompressible) with an MBR boot signature,
# which is how the provider knows a raw disk, converted to qcow2, built as
# bench-glance.sh builds its disk and kept for later runs.
make_disk() {
  local bytes=$1 disk=$2 raw
  if [ -f "$disk" ] && [ "$(qemu-img info --output=json "$disk" | jq '."virtual-size"')" -eq "$bytes" ]; then
    return 0
  fi
  log "building a qcow2 of $bytes random bytes"
  raw="${disk%.qcow2}.raw"
  head -c "$bytes" /dev/urandom >"$raw"
  printf '\x55\xaa' | dd of="$raw" bs=1 seek=510 conv=notrunc status=none
  qemu-img convert -f raw -O qcow2 "$raw" "$disk.tmp"
  mv "$disk.tmp" "$disk"
  rm -f "$raw"
}

# The 1 GiB disk is the Glance benchmark's (same name, same making).
disk="$work/glance-bench.qcow2"
make_disk "$size" "$disk"
bytes=$(stat -c %s "$disk")
bigdisk="$work/air-bench-big.qcow2"

go build -o "$work/bin/air-emulator" ./cmd/air-emulator
token=bench-$(openssl rand -hex 16)
data="$work/air-data"
emu_pid=""
url=""
# start_emulator BANDWIDTH: a fresh emulator, no image yet, each part connection
# capped at BANDWIDTH bytes/s (0: none); sets url.
start_emulator() {
  # A new emulator holds no image: any state of an earlier one is stale.
  rm -rf "$data" "$work"/tf-air-*/terraform.tfstate*
  "$work/bin/air-emulator" -listen 127.0.0.1:0 -org "bench=$token" -chunk-size "$chunk" -data "$data" \
    -bandwidth "$1" -validation-delay "$validation_delay" >"$work/air-emulator.log" 2>&1 &
  emu_pid=$!
  url=""
  for _ in $(seq 100); do
    url=$(sed -n 's|^air-emulator: NVIDIA Air v3 image API at \(http://[^ ]*\)/api/v3/$|\1|p' "$work/air-emulator.log")
    [ -n "$url" ] && return 0
    kill -0 "$emu_pid" 2>/dev/null || break
    sleep 0.1
  done
  log "the emulator did not start: $(cat "$work/air-emulator.log")"
  exit 1
}
stop_emulator() {
  [ -n "$emu_pid" ] || return 0
  kill -TERM "$emu_pid" 2>/dev/null || true
  wait "$emu_pid" 2>/dev/null || true
  emu_pid=""
  rm -rf "$data"
}
trap 'stop_emulator; rm -f "$work/air-emulator.log" "$work/air-provider.log" "$work/air-bench-changed.qcow2"' EXIT

api() { curl -sS -f -H "Authorization: Bearer $token" "$url/api/v3/$1"; }
# check_complete FILE: the image named bench is COMPLETE and holds FILE (size and
# sha256 as the emulator validated them).
check_complete() {
  local want got
  want="COMPLETE $(stat -c %s "$1") $(openssl dgst -sha256 -r "$1" | cut -d' ' -f1)"
  got=$(api "images/?name=bench" | jq -r '.results[] | "\(.upload_status) \(.size) \(.hash)"')
  [ "$got" = "$want" ] || { log "image bench is '$got', not '$want'"; exit 1; }
}
# check_empty: no image on the emulator, no part data in its directory.
check_empty() {
  local n files
  n=$(api "images/" | jq '.count')
  files=$(find "$data" -type f | wc -l)
  if [ "$n" -ne 0 ] || [ "$files" -ne 0 ]; then
    log "left on the emulator: $n images, $files data files"
    exit 1
  fi
}

# The emulator's CPU ticks so far (user + system).
tck=$(getconf CLK_TCK)
emu_cpu() {
  local f s
  f=$(cat "/proc/$emu_pid/stat")
  read -ra s <<<"${f##*) }"
  echo $((s[11] + s[12]))
}

# tf_config DIR WORKERS FILE: a configuration of one image from FILE on the running
# emulator, uploaded with WORKERS parts at once (the state in DIR is kept).
tf_config() {
  mkdir -p "$1"
  cat >"$1/main.tf" <<TF
terraform {
  required_providers {
    imagefleet = { source = "imagefleet/imagefleet" }
  }
}
provider "imagefleet" {
  endpoints = {
    air = { air = { api_url = "$url", api_key = "$token", upload_workers = $2 } }
  }
}
resource "imagefleet_image" "bench" {
  endpoint = "air"
  name     = "bench"
  file     = "$3"
  air = {
    version          = "1"
    default_username = "root"
    default_password = "pw"
  }
}
TF
}

# The machine's CPU ticks so far: all of them, and the idle ones (idle, iowait).
machine_ticks() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6}' /proc/stat; }

# at MESSAGE: the time (epoch seconds) of the provider log's first line with MESSAGE,
# nothing when there is none.
at() {
  local ts
  ts=$(grep -m1 -F "$1" "$work/air-provider.log" | cut -d' ' -f1 || true)
  [ -z "$ts" ] || date -d "$ts" +%s.%N
}

declare -A wall cpu reads rss emu busy sha parts validate cached
# apply KEY DIR FILE [ARG...]: terraform apply in DIR (of an image from FILE),
# measured under KEY: wall time; CPU, peak RSS (KiB) and bytes read (in sizes of
# FILE) of the plugin processes, from the wrapper bench.sh put in Terraform's way;
# the emulator's CPU; how busy the machine's CPUs were; from the provider's log, the
# seconds of its sha256 pass, of the parts and of the wait for validation ("–" for
# a phase the apply did not go through), and how many plans used the digest
# recorded at the last upload.
apply() {
  local key=$1 dir=$2 file=$3 e0 e1 m0 m1 t0 t1 sent finished validated
  shift 3
  sync
  : >"$work/rss.txt"
  : >"$work/io.txt"
  rm -f "$work/air-provider.log"
  e0=$(emu_cpu)
  m0=$(machine_ticks)
  t0=$(now)
  (cd "$dir" && TF_LOG_PROVIDER=DEBUG TF_LOG_PATH="$work/air-provider.log" terraform apply -auto-approve -input=false "$@" >/dev/null)
  t1=$(now)
  m1=$(machine_ticks)
  e1=$(emu_cpu)
  check_complete "$file"
  wall[$key]=$(elapsed "$t0" "$t1")
  emu[$key]=$(awk -v t=$((e1 - e0)) -v hz="$tck" 'BEGIN {printf "%.2f", t / hz}')
  busy[$key]=$(awk -v a="$m0" -v b="$m1" 'BEGIN {split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (1 - (y[2] - x[2]) / (y[1] - x[1]))}')
  cpu[$key]=$(awk '{c += $2 + $3} END {printf "%.2f", c}' "$work/rss.txt")
  rss[$key]=$(awk '$1 > m {m = $1} END {print m}' "$work/rss.txt")
  reads[$key]=$(awk -v n="$(stat -c %s "$file")" '{c += $1} END {printf "%.3f", c / n}' "$work/io.txt")
  cached[$key]=$(grep -c -F 'using the recorded digest' "$work/air-provider.log" || true)
  sha[$key]=$(grep -m1 -F 'air upload: content measured' "$work/air-provider.log" | grep -o 'seconds=[0-9.e+-]*' | cut -d= -f2 || true)
  [ -z "${sha[$key]}" ] || sha[$key]=$(awk -v s="${sha[$key]}" 'BEGIN {printf "%.2f", s}')
  sent=$(at 'air upload: sending parts')
  finished=$(at 'air upload: all parts sent')
  validated=$(at 'air image validated')
  parts[$key]="" validate[$key]=""
  [ -z "$sent" ] || [ -z "$finished" ] || parts[$key]=$(elapsed "$sent" "$finished")
  [ -z "$finished" ] || [ -z "$validated" ] || validate[$key]=$(elapsed "$finished" "$validated")
  : "${sha[$key]:=–}" "${parts[$key]:=–}" "${validate[$key]:=–}"
  log "$key: ${wall[$key]} s (sha256 ${sha[$key]} s, parts ${parts[$key]} s, validation ${validate[$key]} s), provider ${cpu[$key]} s CPU, emulator ${emu[$key]} s CPU, machine ${busy[$key]} % busy, read ${reads[$key]} × the file, peak RSS ${rss[$key]} KiB"
}
destroy() { (cd "$1" && terraform destroy -auto-approve -input=false >/dev/null); }

air_load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. upload_workers 4 vs 1, part connections capped.
start_emulator "$cap"
for w in 4 1; do tf_config "$work/tf-air-w$w" "$w" "$disk"; done
# order I: the workers settings in round I's order.
order() { if [ $(($1 % 2)) -eq 1 ]; then echo 4 1; else echo 1 4; fi; }
for i in $(seq 1 "$rounds"); do
  for w in $(order "$i"); do
    apply "w$w,$i" "$work/tf-air-w$w" "$disk"
    destroy "$work/tf-air-w$w"
  done
done
check_empty
stop_emulator

# 2. No cap, 4 workers, the 1 GiB image: created; applied again with nothing to do;
# replaced with -replace (same file); replaced by a copy with one byte changed in
# its data (the plan sees new content).
start_emulator 0
free_dir="$work/tf-air-free"
tf_config "$free_dir" 4 "$disk"
apply free "$free_dir" "$disk"
apply noop "$free_dir" "$disk"
apply replace "$free_dir" "$disk" -replace=imagefleet_image.bench
changed="$work/air-bench-changed.qcow2"
cp "$disk" "$changed"
off=$((bytes / 2))
b=$(od -An -tu1 -j "$off" -N1 "$changed" | tr -d ' ')
# shellcheck disable=SC2059 # the format is the byte's octal escape
printf "\\$(printf %03o $((255 - b)))" | dd of="$changed" bs=1 seek="$off" conv=notrunc status=none
tf_config "$free_dir" 4 "$changed"
apply changed "$free_dir" "$changed"
destroy "$free_dir"
rm -f "$changed"
check_empty

# 3. The 4 GiB image (no cap, 4 workers), if the disk has room: for the file, and
# for the raw disk it is made from unless the file is kept from an earlier run; and
# for the emulator's copy of the parts.
need=$((big + big / 4))
[ -f "$bigdisk" ] || need=$((need + 2 * big))
have=$(free_bytes)
big_note=""
if [ "$have" -ge "$need" ]; then
  make_disk "$big" "$bigdisk"
  bigbytes=$(stat -c %s "$bigdisk")
  # Read once beforehand, so that it comes from the page cache as the 1 GiB file
  # does after its rounds.
  cat "$bigdisk" >/dev/null
  tf_config "$work/tf-air-big" 4 "$bigdisk"
  apply big "$work/tf-air-big" "$bigdisk"
  destroy "$work/tf-air-big"
  check_empty
  # Kept for the next run while the disk stays roomy (five times its size free).
  if [ "$(free_bytes)" -lt $((5 * bigbytes)) ]; then
    rm -f "$bigdisk"
    big_note=" The $(gib "$big") file was deleted after its run: less than five times its size was left free."
  fi
else
  big_note=" The $(gib "$big") image was not measured: it needs $(gib "$need") of disk, $(gib "$have") is free."
fi
stop_emulator
air_load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# col W ARRAY: the values in ARRAY for upload_workers W, one per round.
col() { local -n a=$2; local i out=(); for i in $(seq 1 "$rounds"); do out+=("${a[w$1,$i]}"); done; echo "${out[@]}"; }
# median_of WORDS: the median of the numbers in the string WORDS.
median_of() { local v; read -ra v <<<"$1"; median "${v[@]}"; }
med() { median_of "$(col "$1" "$2")"; }
maxof() { col "$1" "$2" | tr ' ' '\n' | sort -n | tail -n1; }
# rest W: per round, what an apply spent outside the parts.
rest() { local i out=(); for i in $(seq 1 "$rounds"); do out+=("$(elapsed "${parts[w$1,$i]}" "${wall[w$1,$i]}")"); done; echo "${out[@]}"; }
mbs() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b / s / 1e6}'; }
wall4=$(med 4 wall); wall1=$(med 1 wall)
parts4=$(med 4 parts); parts1=$(med 1 parts)
rest4=$(median_of "$(rest 4)"); rest1=$(median_of "$(rest 1)")
nparts=$(((bytes + chunk - 1) / chunk))
# With the cap the only limit, a part of c bytes takes c / cap seconds: one worker
# sends the file in bytes / cap, four send the parts in turns (each worker takes
# the next part when it is free), the last turn ending with its longest part.
ideal=$(awk -v b="$bytes" -v c="$chunk" -v n="$nparts" 'BEGIN {
  for (p = 0; p < n; p++) {
    s = (p < n - 1) ? c : b - c * (n - 1)
    k = 0; for (i = 1; i < 4; i++) if (t[i] < t[k]) k = i
    t[k] += s
  }
  m = 0; for (i = 0; i < 4; i++) if (t[i] > m) m = t[i]
  printf "%.2f", b / m }')
capmb=$(awk -v c="$cap" 'BEGIN {printf "%g", c / 1e6}')
row() { # row LABEL IMAGE KEY FILE-BYTES
  local k=$3 rate=""
  [ "${parts[$k]}" = "–" ] || rate=" ($(mbs "$4" "${parts[$k]}") MB/s)"
  echo "| $1 | $2 | ${wall[$k]} | ${sha[$k]} | ${parts[$k]}$rate | ${cpu[$k]} | ${emu[$k]} | ${busy[$k]} | ${reads[$k]} | $(mib "${rss[$k]}") |"
}

cat <<MD
## NVIDIA Air (emulator): upload of a $(gib "$size") qcow2 in parts

The project's emulator of the Air v3 image API (cmd/air-emulator) on 127.0.0.1, started by the benchmark: parts of $chunk bytes (the size the real service answers; the emulator's default), a validation delay of $validation_delay, part data on this machine's disk. Load average (1, 5, 15 min) $air_load_start at the start, $air_load_end at the end.

Image: $bytes bytes of qcow2 (the virtual disk is $size random bytes: incompressible), $nparts parts. \`terraform apply\` with \`upload_workers = 4\` and with \`upload_workers = 1\`, each part connection capped at $capmb MB/s by the emulator (\`-bandwidth $cap\`), $rounds rounds, interleaved, the order turning each round; each image destroyed after its apply.

Why $capmb MB/s: without a cap (below) the same parts went at $(mbs "$bytes" "${parts[free]}") MB/s in this run, the provider and the emulator spending ${cpu[free]} s and ${emu[free]} s of CPU on that apply of ${wall[free]} s, on 2 cores shared with other jobs (the md5 of every part on both sides, the sha256 passes, the emulator's writes, the copies through loopback). Four capped connections carry at most $(awk -v c="$cap" 'BEGIN {printf "%g", 4 * c / 1e6}') MB/s, $(awk -v c="$cap" -v b="$bytes" -v p="${parts[free]}" 'BEGIN {printf "%.0f", 100 * 4 * c / (b / p)}') % of that rate, so that the cap is the bottleneck for 1 worker and for 4 alike; the parts' rates below show whether it was ($(awk -v c="$cap" -v i="$ideal" 'BEGIN {printf "%.0f", c * i / 1e6}') MB/s is what the cap allows 4 workers on $nparts parts). A part of $chunk bytes takes $(awk -v c="$chunk" -v r="$cap" 'BEGIN {printf "%g", c / r}') s at the cap, so the fixed costs of an apply weigh less beside the transfer than with a faster cap.

| round | workers | terraform apply (s) | sha256 pass (s) | parts (s) | validation wait (s) | provider CPU (s) | emulator CPU (s) | machine CPU busy (%) | read, in file sizes | peak RSS (MiB) |
|---|---|---|---|---|---|---|---|---|---|---|
$(for i in $(seq 1 "$rounds"); do
  for w in $(order "$i"); do
    k="w$w,$i"
    echo "| $i | $w | ${wall[$k]} | ${sha[$k]} | ${parts[$k]} | ${validate[$k]} | ${cpu[$k]} | ${emu[$k]} | ${busy[$k]} | ${reads[$k]} | $(mib "${rss[$k]}") |"
  done
done)

| measure | value | target |
|---|---|---|
| median wall time, upload_workers 1 / 4 | **$(ratio "$wall1" "$wall4")** ($wall1 s / $wall4 s) | ≥ 3 |
| median time of the parts alone, upload_workers 1 / 4 | $(ratio "$parts1" "$parts4") ($parts1 s / $parts4 s: $(mbs "$bytes" "$parts1") MB/s, $(mbs "$bytes" "$parts4") MB/s) | |
| the same if the cap were the only limit: $nparts parts, 4 at a time | $ideal | |
| median rest of an apply (Terraform, plan, sha256 pass, complete-upload, validation wait), upload_workers 4, 1 | $rest4 s, $rest1 s | |
| median sha256 pass; median validation wait | $(median_of "$(col 4 sha) $(col 1 sha)") s; $(median_of "$(col 4 validate) $(col 1 validate)") s | |
| provider process peak RSS, upload_workers 4, 1 (largest round) | $(mib "$(maxof 4 rss)") MiB, $(mib "$(maxof 1 rss)") MiB | ≤ 64 MiB |
| median provider CPU, upload_workers 4, 1 | $(med 4 cpu) s, $(med 1 cpu) s | |

Where the time goes: the parts alone went $(ratio "$parts1" "$parts4") times faster with 4 workers, of the $ideal that $nparts parts sent 4 at a time allow when each connection is held to the cap (each worker takes the next part when it is free: $(((nparts + 3) / 4)) turns). The rest of an apply is the same work with 1 worker or 4: the provider's sha256 pass over the file before start-upload, the wait for the validation (the emulator's delay and its own sha256 of the parts, seen at the provider's next poll), Terraform's start-up and plan. The wall-time speed-up is therefore (parts with 1 worker + rest) / (parts with 4 + rest).

### Memory and bytes read, 4 workers, no cap

The emulator restarted without the cap; one apply each, with \`upload_workers = 4\` and parts of $chunk bytes.$big_note

| apply | image | terraform apply (s) | sha256 pass (s) | parts (s) | provider CPU (s) | emulator CPU (s) | machine CPU busy (%) | read, in file sizes | peak RSS (MiB) |
|---|---|---|---|---|---|---|---|---|---|
$(row create "$(gib "$size")" free "$bytes")
$(row "again, nothing to do" "$(gib "$size")" noop "$bytes")
$(row "\`-replace\`, same file" "$(gib "$size")" replace "$bytes")
$(row "replace: a copy with one byte changed" "$(gib "$size")" changed "$bytes")
$([ -z "${wall[big]:-}" ] || row create "$(gib "$big") ($bigbytes bytes)" big "$bigbytes")

Bytes read: a create reads the file twice, once for the sha256 that start-upload needs before any part and once for the parts; no digest is recorded for a file before its first upload. An apply with nothing to do opens nothing: the file's path, size, modification and change times are those recorded at the upload, so the recorded digest is used. A \`-replace\` of the same file reads it twice again: the plan finds the recorded digest, but Terraform plans the replacement's create a second time with no prior state, and that plan, the one the create follows, has no digest to use (plans that used the recorded digest in this apply: ${cached[replace]}; the create's own sha256 pass: ${sha[replace]} s), so the create computes the sha256 itself. A replacement for changed content reads the file three times: the plan hashes it to see the change, then the create hashes it again and sends it.

How it was measured. Wall time is the whole \`terraform apply\`: Terraform's start-up, the plan (which checks the file's format without reading it through, unless the file changed since the last upload), the create: the provider's sha256 pass over the file (start-upload needs the digest and size before any part), the parts, complete-upload, and the wait for the emulator's validation (its delay, then its own sha256 of the parts; the provider polls after 0.1, 0.3, 0.7, 1.5, 3.1 s…). The phases come from the timestamps and fields of the provider's debug log. CPU is user + system time: the provider's from GNU time around the plugin binary, the emulator's from /proc/PID/stat; how busy the machine was (other jobs included) from /proc/stat over the apply. Bytes read are \`rchar\` from /proc/PID/io of a shell that ran each plugin process and reaped it (every byte read(2) and its kin returned, from files and sockets alike), summed over the apply's plugin processes: about 1 means the file was read once, 2 twice. Each image is checked on the emulator after its apply (COMPLETE, with the file's size and sha256), and none is left at the end (no image, no part data).
MD
