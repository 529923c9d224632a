# Every virtual-machine image on the default endpoint, newest first.
data "imagefleet_images" "vms" {
  filter = { type = "virtual-machine" }
}

output "vm_fingerprints" {
  value = data.imagefleet_images.vms.images[*].fingerprint
}

# Every Glance image tagged "golden", hidden ones included, and which are deactivated.
data "imagefleet_images" "golden" {
  endpoint = "cloud"
  filter = {
    tags   = ["golden"]
    hidden = "either"
  }
}

output "deactivated_golden" {
  value = [for i in data.imagefleet_images.golden.images : i.id if i.status == "deactivated"]
}
