import {
  to = imagefleet_instance.web
  id = "local:web-1"
}
