#!/usr/bin/env bash
# The main job, end to end on this machine: start a local Incus (installing it when
# absent), build the provider and a small test image, and apply examples/quickstart,
# which uploads the image, aliases it, reads it back through a data source and
# launches a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/backends.sh incus

work="$root/.build/quickstart"
mkdir -p "$work/bin"
go build -o "$work/bin/terraform-provider-imagefleet" .
# Built once: a rebuilt image has a new fingerprint, and a second run should plan clean.
image="$work/image-quickstart.tar.gz"
[ -f "$image" ] || go run ./internal/acctest/testimage -dir "$work" -variant quickstart >/dev/null
export TF_CLI_CONFIG_FILE=$(scripts/dev-terraformrc.sh "$work/bin")

cd examples/quickstart
terraform apply -auto-approve -input=false -var "image_file=$image"
echo
echo "The image and the container are on the local Incus:"
incus image list quickstart
incus list quickstart
echo "Remove it again with: (cd examples/quickstart && TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE terraform destroy -var image_file=$image)"
