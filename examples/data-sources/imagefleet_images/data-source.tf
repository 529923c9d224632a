# Every virtual-machine image on the default endpoint, newest first.
data "imagefleet_images" "vms" {
  filter = { type = "virtual-machine" }
}

output "vm_fingerprints" {
  value = data.imagefleet_images.vms.images[*].fingerprint
}
