# By alias.
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
