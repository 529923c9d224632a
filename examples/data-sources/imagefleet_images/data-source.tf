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

# Every ARM image on an Air endpoint that this organisation has not published, with
# the least each needs to run.
data "imagefleet_images" "air_arm" {
  endpoint = "air"
  filter = {
    cpu_arch  = "ARM"
    published = false
  }
}

output "air_arm_minimums" {
  value = { for i in data.imagefleet_images.air_arm.images : "${i.name}:${i.version}" => i.minimum_resources }
}
