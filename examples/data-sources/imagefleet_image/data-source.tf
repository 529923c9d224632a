# By alias (incus and lxd endpoints).
data "imagefleet_image" "stable" {
  alias = "base-stable"
}

# The newest container image with these properties on the "lab" endpoint.
data "imagefleet_image" "latest_debian" {
  endpoint    = "lab"
  most_recent = true
  filter = {
    properties = { os = "debian", release = "12" }
    type       = "container"
  }
}

# The newest active Glance image of this name that carries both tags.
data "imagefleet_image" "golden" {
  endpoint    = "cloud"
  most_recent = true
  filter = {
    name   = "base-2026.11"
    tags   = ["golden", "ci"]
    status = "active"
  }
}

# By Glance image UUID. The image must still match the filter: an image of another
# project, or a hidden one, is "no image found" here.
data "imagefleet_image" "pinned" {
  endpoint = "cloud"
  id       = "8b2f3c1e-6a53-4d8e-9f0b-2c4a7d1e5f60"
  filter = {
    owner  = "2a7859376cc94513add1ea6a161281ec"
    hidden = "false"
  }
}

# An image another project shared with this one, before this project accepted it.
data "imagefleet_image" "offered" {
  endpoint = "cloud"
  filter = {
    name          = "partner-base"
    member_status = "pending"
  }
}
