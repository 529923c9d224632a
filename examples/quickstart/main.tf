# Uploads a locally built image to the local Incus, gives it an alias, and reads it
# back through a data source. Run it with `make quickstart`.
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

output "image" {
  value = {
    fingerprint  = data.imagefleet_image.quickstart.fingerprint
    alias        = imagefleet_image_alias.quickstart.name
    size         = data.imagefleet_image.quickstart.size
    architecture = data.imagefleet_image.quickstart.architecture
    properties   = data.imagefleet_image.quickstart.properties
  }
}
