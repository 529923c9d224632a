import {
  to = imagefleet_image_alias.stable
  id = "local:base-stable"
}
