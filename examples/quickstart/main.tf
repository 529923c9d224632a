# Uploads a locally built image to the local Incus, gives it an alias, reads it back
# through a data source and launches a container from it. Run it with `make quickstart`.
terraform {
  required_providers {
    imagefleet = {
      source = "imagefleet/imagefleet"
    }
  }
}

variable "image_file" {
  description = "Path of a unified image tarball."
  type        = string
}

provider "imagefleet" {
  endpoints = {
    local = { incus = {} }
  }
}

resource "imagefleet_image" "quickstart" {
  file = var.image_file
  properties = {
    os          = "busybox"
    description = "imagefleet quickstart image"
  }
}

resource "imagefleet_image_alias" "quickstart" {
  name        = "quickstart"
  target      = imagefleet_image.quickstart.fingerprint
  description = "Managed by Terraform"
}

data "imagefleet_image" "quickstart" {
  alias = imagefleet_image_alias.quickstart.name
}

resource "imagefleet_instance" "quickstart" {
  name  = "quickstart"
  image = imagefleet_image_alias.quickstart.name

  config = { "user.purpose" = "quickstart" }
  files = [
    { target_path = "/etc/motd", content = "Built once, launched by Terraform.\n" },
  ]
  exec = [
    { command = ["cat", "/etc/motd"] },
  ]
}

output "image" {
  value = {
    fingerprint  = data.imagefleet_image.quickstart.fingerprint
    alias        = imagefleet_image_alias.quickstart.name
    size         = data.imagefleet_image.quickstart.size
    architecture = data.imagefleet_image.quickstart.architecture
    properties   = data.imagefleet_image.quickstart.properties
  }
}

output "instance" {
  value = {
    name   = imagefleet_instance.quickstart.name
    status = imagefleet_instance.quickstart.status
    motd   = imagefleet_instance.quickstart.exec[0].stdout
  }
}
