#!/usr/bin/env bash
# Prints the path of a Terraform CLI config that points imagefleet/imagefleet at the
# provider binary in directory $1 (dev_overrides: no registry, no download).
set -euo pipefail
bindir=$(cd "$1" && pwd)
rc="$bindir/terraformrc"
cat >"$rc" <<RC
provider_installation {
  dev_overrides {
    "imagefleet/imagefleet" = "$bindir"
  }
  direct {}
}
RC
echo "$rc"
