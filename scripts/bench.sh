#!/usr/bin/env bash
# Upload benchmarks, each client against the same server on the same file, rounds
# interleaved in one run so the shared machine's noise hits every client alike:
#   incus      `terraform apply` of a 1 GiB image with this provider vs `incus image
#              import`, then N containers from one image (create and refresh);
#   openstack  the provider vs curl and the OpenStack CLI uploading a 1 GiB qcow2 to
#              Glance (scripts/bench-glance.sh);
#   air        the provider on the project's NVIDIA Air emulator: a 1 GiB qcow2 sent
#              in parts with upload_workers 4 vs 1 under a per-connection bandwidth
#              cap, and peak RSS on 1 GiB and 4 GiB (scripts/bench-air.sh; 3 rounds
#              unless BENCH_ROUNDS says otherwise).
# The provider's own peak RSS, CPU and bytes read are measured by running the plugin
# binary under a wrapper. Results: bench/results.md, rewritten by a run of all three;
# a run of some prints their sections only.
# Usage: scripts/bench.sh [incus] [openstack] [air]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${BENCH_ROUNDS:-5}
size=${BENCH_BYTES:-1073741824}
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(incus openstack air)
servers=()
for b in "${want[@]}"; do
  case "$b" in
    incus | openstack) servers+=("$b") ;;
    air) ;;
    *) echo "bench: unknown benchmark $b (incus, openstack, air)" >&2; exit 2 ;;
  esac
done
runs() { [[ " ${want[*]} " == *" $1 "* ]]; }

command -v /usr/bin/time >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
# Air runs on the emulator the benchmark starts itself.
[ ${#servers[@]} -eq 0 ] || scripts/backends.sh "${servers[@]}"

work="$root/bench/work"
mkdir -p "$work/bin" "$work/tf"
go build -o "$work/bin/terraform-provider-imagefleet.real" .
# Terraform starts the plugin by name; this wrapper records each plugin process's peak
# RSS (KiB) and CPU seconds (user + system) in rss.txt, and the bytes it read in
# io.txt: the inner shell outlives the plugin, and once it has reaped it its own
# /proc I/O counters include the plugin's (rchar: every byte read(2) and the like
# returned, from files and sockets, page cache or not).
cat >"$work/bin/terraform-provider-imagefleet" <<WRAP
#!/bin/sh
exec /usr/bin/time -a -o "$work/rss.txt" -f "%M %U %S" /bin/sh -c '"\$0" "\$@"; rc=\$?; { read -r _ r; } </proc/\$\$/io; echo "\$r" >>"$work/io.txt"; exit \$rc' "$work/bin/terraform-provider-imagefleet.real" "\$@"
WRAP
chmod +x "$work/bin/terraform-provider-imagefleet"
TF_CLI_CONFIG_FILE=$(scripts/dev-terraformrc.sh "$work/bin")
export TF_CLI_CONFIG_FILE
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
run_load_start=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f "$work"/section-*.md

bench_incus() {
  image="$work/image-bench.tar.gz"
  if [ ! -f "$image" ] || [ "$(stat -c %s "$image")" -lt "$size" ]; then
    echo "bench: building a $size-byte test image"
    go run ./internal/acctest/testimage -dir "$work" -variant bench -pad "$size" >/dev/null
  fi
  fp=$(sha256sum "$image" | cut -d' ' -f1)
  bytes=$(stat -c %s "$image")

  # The provider on the local Incus, as every configuration here uses it.
  provider_block='terraform {
  required_providers {
    imagefleet = { source = "imagefleet/imagefleet" }
  }
}
provider "imagefleet" {
  endpoints = { local = { incus = {} } }
}
'

  { echo "$provider_block"; cat <<TF
resource "imagefleet_image" "bench" {
  file = "$image"
}
TF
  } >"$work/tf/main.tf"

  clean() { incus image delete "$fp" >/dev/null 2>&1 || true; rm -f "$work/tf/terraform.tfstate"*; }
  incus_load_start=$(cut -d' ' -f1-3 /proc/loadavg)
  cli_times=(); tf_times=(); cli_cpus=(); tf_cpus=(); tf_reads=(); rss_max=0
  for i in $(seq 1 "$rounds"); do
    clean
    sync
    t0=$(now); /usr/bin/time -o "$work/cli-cpu.txt" -f "%U %S" incus image import "$image" >/dev/null; t1=$(now)
    cli_times+=("$(echo "$t1 - $t0" | bc)")
    cli_cpus+=("$(awk '{print $1 + $2}' "$work/cli-cpu.txt")")
    clean
    sync
    : >"$work/rss.txt"; : >"$work/io.txt"
    t0=$(now); (cd "$work/tf" && terraform apply -auto-approve -input=false >/dev/null); t1=$(now)
    tf_times+=("$(echo "$t1 - $t0" | bc)")
    incus image info "$fp" >/dev/null || { echo "bench: the provider did not create image $fp"; exit 1; }
    r=$(awk '$1 > m {m = $1} END {print m}' "$work/rss.txt")
    [ "$r" -gt "$rss_max" ] && rss_max=$r
    tf_cpus+=("$(awk '{c += $2 + $3} END {print c}' "$work/rss.txt")")
    tf_reads+=("$(awk -v n="$bytes" '{c += $1} END {printf "%.3f", c / n}' "$work/io.txt")")
    echo "bench: round $i: cli ${cli_times[-1]}s (${cli_cpus[-1]} s CPU), terraform apply ${tf_times[-1]}s (provider ${tf_cpus[-1]} s CPU), provider peak RSS ${r} KiB"
  done
  # Terraform's fixed cost: the same apply with the image already there (refresh and
  # plan, nothing to upload).
  t0=$(now); (cd "$work/tf" && terraform apply -auto-approve -input=false >/dev/null); t1=$(now)
  noop=$(echo "$t1 - $t0" | bc)
  clean
  # What a client-side digest would cost (neither client computes one; the daemon
  # hashes what it receives): hash the file (warm page cache) with OpenSSL, which like
  # Go uses the CPU's SHA extensions (coreutils' sha256sum does not).
  hasher="sha256sum"
  command -v openssl >/dev/null && hasher="openssl dgst -sha256"
  t0=$(now); $hasher "$image" >/dev/null; t1=$(now)
  hash_only=$(echo "$t1 - $t0" | bc)

  cli_med=$(median "${cli_times[@]}"); tf_med=$(median "${tf_times[@]}")
  cli_cpu_med=$(median "${cli_cpus[@]}"); tf_cpu_med=$(median "${tf_cpus[@]}")
  ratio=$(echo "scale=3; $tf_med / $cli_med" | bc)
  rss_mib=$(echo "scale=1; $rss_max / 1024" | bc)

  {
    echo "## Incus: upload of a $(awk -v b="$size" 'BEGIN {printf "%g GiB", b / 1073741824}') image"
    echo
    echo "Incus $(incus version | awk '/Server/{print $3}'). Load average (1, 5, 15 min) $incus_load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo
    echo "Image: $bytes bytes (random padding, incompressible), $rounds rounds, interleaved."
    echo
    echo "| round | incus image import (s) | terraform apply (s) | CLI process CPU (s) | provider processes CPU (s) |"
    echo "|---|---|---|---|---|"
    for i in $(seq 1 "$rounds"); do echo "| $i | ${cli_times[$((i-1))]} | ${tf_times[$((i-1))]} | ${cli_cpus[$((i-1))]} | ${tf_cpus[$((i-1))]} |"; done
    echo
    echo "| measure | value | target |"
    echo "|---|---|---|"
    echo "| median wall time, terraform apply / incus image import | $ratio | ≤ 1.10 |"
    echo "| provider process peak RSS | $rss_mib MiB | ≤ 64 MiB |"
    echo "| median client CPU, CLI / provider | $cli_cpu_med s / $tf_cpu_med s | |"
    echo "| bytes the provider processes read per apply, in file sizes (rounds) | ${tf_reads[*]} | 1 |"
    echo "| terraform apply with nothing to do (Terraform's fixed cost) | ${noop} s | |"
    echo "| \`$hasher\` of the same file alone (what a client-side digest would add) | ${hash_only} s | |"
    echo
    echo "terraform apply includes Terraform's own start-up and the plan (which checks the file's format and metadata.yaml without reading it through). The provider does not hash the upload: the server checks the expected fingerprint when the plan knows it (the digest cache), and on create the fingerprint the server computes is recorded, the file being read through a reader that fails the upload if the file changes (size, mtime, ctime, byte count). It sends a Content-Length; the CLI sends the file chunked."
  } >"$work/section-incus.md"

  # Instances: launch N containers from one image and refresh them, with the provider
  # and with the CLI in a shell loop, in this run.
  n=${BENCH_INSTANCES:-20}
  small=$(go run ./internal/acctest/testimage -dir "$work" -variant bench-instances)
  smallfp=$(sha256sum "$small" | cut -d' ' -f1)
  mkdir -p "$work/tf-instances"
  { echo "$provider_block"; cat <<TF
resource "imagefleet_image" "base" {
  file = "$small"
}
resource "imagefleet_instance" "c" {
  count = $n
  name  = "bench-tf-\${count.index}"
  image = imagefleet_image.base.fingerprint
}
TF
  } >"$work/tf-instances/main.tf"
  # What an interrupted earlier run left behind would make this one fail on taken names.
  clean_instances() {
    incus list -f csv -c n | grep -E '^bench-(tf|cli)-[0-9]+$' | xargs -r incus delete --force >/dev/null 2>&1 || true
    incus image delete "$smallfp" >/dev/null 2>&1 || true
    rm -f "$work/tf-instances/terraform.tfstate"*
  }
  clean_instances

  incus image import "$small" --alias bench-cli >/dev/null
  t0=$(now); for i in $(seq 1 "$n"); do incus launch bench-cli "bench-cli-$i" >/dev/null 2>&1; done; t1=$(now)
  cli_launch=$(echo "$t1 - $t0" | bc)
  t0=$(now); for i in $(seq 1 "$n"); do incus query "/1.0/instances/bench-cli-$i?recursion=1" >/dev/null; done; t1=$(now)
  cli_refresh=$(echo "$t1 - $t0" | bc)
  for i in $(seq 1 "$n"); do incus delete --force "bench-cli-$i" >/dev/null; done
  incus image delete bench-cli >/dev/null

  t0=$(now); (cd "$work/tf-instances" && terraform apply -auto-approve -input=false >/dev/null); t1=$(now)
  tf_launch=$(echo "$t1 - $t0" | bc)
  t0=$(now); (cd "$work/tf-instances" && TF_LOG_PROVIDER=DEBUG TF_LOG_PATH="$work/refresh.log" terraform plan -refresh-only -input=false >/dev/null); t1=$(now)
  tf_refresh=$(echo "$t1 - $t0" | bc)
  requests=$(grep ' request: ' "$work/refresh.log" | grep -c 'url=http://unix.socket/1.0/instances/' || true)
  (cd "$work/tf-instances" && terraform destroy -auto-approve -input=false >/dev/null)
  rm -f "$work/refresh.log"

  {
    echo
    echo "## Incus: $n containers from one image"
    echo
    echo "| work | CLI in a shell loop (s) | provider (s) |"
    echo "|---|---|---|"
    echo "| create and start | $cli_launch (\`incus launch\` × $n) | $tf_launch (\`terraform apply\`, image upload included) |"
    echo "| refresh | $cli_refresh (\`incus query /1.0/instances/NAME?recursion=1\` × $n) | $tf_refresh (\`terraform plan -refresh-only\`) |"
    echo
    echo "API requests per instance on a refresh: $(echo "scale=2; $requests / $n" | bc) (target: 1), counted from the provider's HTTP log."
  } >>"$work/section-incus.md"
}

bench_openstack() {
  BENCH_WORK=$work BENCH_ROUNDS=$rounds BENCH_BYTES=$size scripts/bench-glance.sh >"$work/section-glance.md"
}

bench_air() {
  BENCH_WORK=$work BENCH_ROUNDS=${BENCH_ROUNDS:-3} BENCH_BYTES=$size scripts/bench-air.sh >"$work/section-air.md"
}

for b in "${want[@]}"; do "bench_$b"; done

# The machine, then the sections of this run.
{
  echo "# Upload benchmarks"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r); Terraform $(terraform version | head -n1 | awk '{print $2}'), $(go version | awk '{print $3}'). Load average (1, 5, 15 min) $run_load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end. A shared machine (other jobs run beside this one): compare the columns of one run, not runs with each other."
  for b in incus glance air; do
    [ -f "$work/section-$b.md" ] || continue
    echo
    cat "$work/section-$b.md"
  done
} >"$work/results.md"
if runs incus && runs openstack && runs air; then
  mkdir -p bench
  cp "$work/results.md" bench/results.md
fi
cat "$work/results.md"
