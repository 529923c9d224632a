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

# On an NVIDIA Air endpoint: an image of this name at this version (name and version
# are unique in an organisation). Air images have no properties: a properties filter
# is an error there, as are Glance's and Incus's own filters.
data "imagefleet_image" "cumulus" {
  endpoint = "air"
  filter = {
    name    = "cumulus-vx"
    version = "5.9.1"
  }
}

# The newest published Air image of this name whose upload is complete, by sha256
# (Air's hash) to pin the exact content.
data "imagefleet_image" "cumulus_published" {
  endpoint    = "air"
  most_recent = true
  filter = {
    name      = "cumulus-vx"
    published = true
    status    = "COMPLETE"
    sha256    = "9f2c4e0d7b1a8c3e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a"
  }
}
