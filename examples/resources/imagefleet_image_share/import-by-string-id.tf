# Adopt a share made outside Terraform; the image's owner endpoint reads it.
import {
  to = imagefleet_image_share.partner
  id = "air:3f6d2a1e-8c4b-4e2f-9a7d-5b1c0e9f8a26"
}
