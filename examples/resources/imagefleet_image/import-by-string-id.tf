# An Incus image by endpoint and fingerprint prefix, a Glance image by endpoint and UUID.
import {
  to = imagefleet_image.container
  id = "local:88561c07c0fb"
}

import {
  to = imagefleet_image.base["cloud"]
  id = "cloud:5f2c6a8e-5d0b-4d8c-9a43-2b1d7e4c9f10"
}
