import {
  to = imagefleet_image.base
  id = "local:88561c07c0fb"
}
