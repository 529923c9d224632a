# Offer the Air image to the partner organisation until 8 January 2030. The
# share's ID is the claim code; the image must be COMPLETE and unpublished.
resource "imagefleet_image_share" "partner" {
  endpoint   = "air"
  image      = imagefleet_image.base["air"].id
  target_org = "partner-org"
  expires_at = "2030-01-08T00:00:00Z"
}

# The partner claims it, in the same configuration, through an endpoint whose API
# key belongs to the partner organisation: the copy is its own image.
resource "imagefleet_image" "partner_copy" {
  endpoint = "air_partner"
  name     = "base-2026.11"
  claim    = { share = imagefleet_image_share.partner.id }
  air      = { version = "1.0", default_username = "root" }
}
