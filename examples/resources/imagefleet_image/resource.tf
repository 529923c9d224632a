# One disk image published to every kind of endpoint: on incus and lxd endpoints it
# becomes a virtual-machine image with generated metadata, on openstack endpoints a
# Glance image, on air endpoints an Air image uploaded in parallel parts. Each family
# block applies only on endpoints of its family.
resource "imagefleet_image" "base" {
  for_each = toset(["local", "old", "cloud", "air"])

  endpoint = each.key
  name     = "base-2026.11"
  file     = "${path.module}/build/base.qcow2"

  properties = {
    os_distro  = "debian"
    os_version = "12"
  }

  incus = {
    public  = false
    aliases = [{ name = "base-latest", description = "Newest base image" }]
  }
  openstack = {
    visibility  = "shared"
    min_disk_gb = 4
    tags        = ["base"]
  }
  air = {
    version          = "2026.11"
    default_username = "root"
    default_password = var.image_password # write-only: sent, never stored
    cpu_arch         = "x86"
  }

  timeouts = {
    create = "1h"
  }
}

# A unified container image tarball, hashed while it uploads. When the file's
# content changes later, the plan replaces the image.
resource "imagefleet_image" "container" {
  file = "${path.module}/build/base.tar.gz"
}

# A split virtual-machine image: metadata tarball and a qcow2 disk.
resource "imagefleet_image" "vm" {
  split = {
    metadata_file = "${path.module}/build/vm-metadata.tar.xz"
    rootfs_file   = "${path.module}/build/vm-disk.qcow2"
  }
}

# Copy an image from one endpoint to another, streamed: here the Incus VM image's
# disk becomes a Glance image.
resource "imagefleet_image" "copied" {
  endpoint  = "cloud"
  copy_from = { endpoint = "local", image = imagefleet_image.vm.id }
}

# Glance downloads the image itself (interoperable import, web-download).
resource "imagefleet_image" "downloaded" {
  endpoint = "cloud"
  name     = "cirros"
  url      = "https://download.cirros-cloud.net/0.6.2/cirros-0.6.2-x86_64-disk.img"
}

# An image the server pulls from an image server.
resource "imagefleet_image" "upstream" {
  remote = {
    server = "https://images.linuxcontainers.org"
    alias  = "debian/12"
    type   = "container"
  }
  incus = { auto_update = true }
}

variable "image_password" {
  type      = string
  sensitive = true
}
