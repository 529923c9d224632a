# Point "base-stable" at an image; retargeting it later is an in-place update.
resource "imagefleet_image_alias" "stable" {
  name        = "base-stable"
  target      = imagefleet_image.container.fingerprint
  description = "Promoted after testing"
}
