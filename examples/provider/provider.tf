# Named endpoints: every resource and data source picks one with `endpoint`, so one
# configuration can publish the same image to many servers with for_each.
provider "imagefleet" {
  default_endpoint = "local"

  endpoints = {
    # The local Incus daemon, over its unix socket.
    local = { incus = {} }

    # A remote Incus server over HTTPS. On first use the trust token gets the client
    # certificate trusted; afterwards the pinned server certificate is checked.
    lab = {
      incus = {
        address          = "https://lab.example.com:8443"
        client_cert_file = pathexpand("~/.config/incus/client.crt")
        client_key_file  = pathexpand("~/.config/incus/client.key")
        server_cert_file = "${path.module}/lab.crt"
        project          = "images"
      }
    }

    # An LXD daemon beside it.
    old = { lxd = { address = "unix:///var/lib/lxd/unix.socket" } }

    # An OpenStack cloud, from an entry of clouds.yaml (OS_* variables work too).
    cloud = { openstack = { cloud = "mycloud" } }

    # An NVIDIA Air organisation: the API key says which one.
    air = { air = { api_url = "https://air.nvidia.com", api_key = var.ngc_api_key } }

    # Another Air organisation, which claims the images shared with it.
    air_partner = { air = { api_key = var.partner_ngc_api_key } }

    # Another project of it, authenticated as that project: image members use it
    # to accept images shared with it.
    partner = {
      openstack = {
        auth_url            = "https://keystone.example.com:5000/v3"
        username            = "partner-ci"
        password            = var.partner_password
        user_domain_name    = "Default"
        project_name        = "partner"
        project_domain_name = "Default"
      }
    }
  }

  retry = {
    max_attempts = 5
    max_wait     = "1m"
  }
}

variable "partner_password" {
  type      = string
  sensitive = true
}

variable "ngc_api_key" {
  type      = string
  sensitive = true
}

variable "partner_ngc_api_key" {
  type      = string
  sensitive = true
}
