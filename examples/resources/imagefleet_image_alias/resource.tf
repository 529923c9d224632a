# Point "base-stable" at an image; retargeting it later is an in-place update.
resource "imagefleet_image_alias" "stable" {
  name        = "base-stable"
  target      = imagefleet_image.base.fingerprint
  description = "Promoted after testing"
}
