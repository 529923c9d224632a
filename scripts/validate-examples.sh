#!/usr/bin/env bash
# Validates every example against the provider's schema and validators: the provider
# block, each resource's and data source's example and the import examples are put
# into one module (they refer to each other, as the docs show them together), and
# `terraform validate` runs it with the provider built from this tree. The quickstart
# is validated on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bin" "$work/all"
go build -o "$work/bin/terraform-provider-imagefleet" .
export TF_CLI_CONFIG_FILE=$(scripts/dev-terraformrc.sh "$work/bin")
export TF_IN_AUTOMATION=1

cat >"$work/all/versions.tf" <<TF
terraform {
  required_providers {
    imagefleet = { source = "imagefleet/imagefleet" }
  }
}
TF
cp examples/provider/provider.tf "$work/all/provider.tf"
for f in examples/resources/*/*.tf examples/data-sources/*/*.tf; do
  kind=$(basename "$(dirname "$(dirname "$f")")")
  cp "$f" "$work/all/${kind}-$(basename "$(dirname "$f")")-$(basename "$f")"
done

status=0
for dir in "$work/all" "$root/examples/quickstart"; do
  # Dev overrides need no `terraform init`; the warning that says so is expected.
  if ! out=$(cd "$dir" && terraform validate -no-color 2>&1); then
    echo "$out"
    echo "examples: $( [ "$dir" = "$work/all" ] && echo "provider, resources and data sources" || echo "$dir") do not validate"
    status=1
  fi
done
[ $status -eq 0 ] && echo "examples: all validate"
exit $status
