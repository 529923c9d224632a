# A unified image tarball built locally, hashed while it uploads. When the file's
# content changes later, the plan replaces the image.
resource "imagefleet_image" "base" {
  file = "${path.module}/build/base.tar.gz"

  properties = {
    os      = "debian"
    release = "12"
    build   = "2026-11-23"
  }
  public = false

  aliases = [
    { name = "base-latest", description = "Newest base image" },
  ]

  timeouts = {
    create = "1h"
  }
}

# A split virtual-machine image: metadata tarball and a qcow2 disk.
resource "imagefleet_image" "vm" {
  split = {
    metadata_file = "${path.module}/build/vm-metadata.tar.xz"
    rootfs_file   = "${path.module}/build/vm-disk.qcow2"
  }
}

# Publish the same image to several endpoints, streamed from the first.
resource "imagefleet_image" "published" {
  for_each = toset(["lab", "old"])

  endpoint  = each.key
  copy_from = { endpoint = "local", fingerprint = imagefleet_image.base.fingerprint }
}

# An image the server pulls from an image server.
resource "imagefleet_image" "upstream" {
  remote = {
    server = "https://images.linuxcontainers.org"
    alias  = "debian/12"
    type   = "container"
  }
  auto_update = true
}
