# A container from an image this configuration manages, configured, with a file
# pushed in and a command run once it is up.
resource "imagefleet_instance" "web" {
  name  = "web-1"
  image = imagefleet_image.container.fingerprint

  config = {
    "limits.cpu"    = "2"
    "limits.memory" = "1GiB"
    "user.role"     = "web"
  }

  devices = {
    data = {
      type       = "disk"
      properties = { source = "/srv/web", path = "/var/www" }
    }
  }

  files = [
    { target_path = "/etc/motd", content = "Managed by Terraform\n", mode = "0644" },
  ]

  exec = [
    { command = ["sh", "-c", "hostname; cat /etc/motd"] },
    # Runs again after every apply that changes the instance.
    { command = ["systemctl", "reload", "nginx"], trigger = "on_change", allow_failure = true },
  ]

  # Changes the server refuses while the instance runs may restart it.
  allow_restart = true
}

# A virtual machine from an image server, kept stopped.
resource "imagefleet_instance" "vm" {
  name   = "builder"
  type   = "virtual-machine"
  image  = "debian/12"
  remote = { server = "https://images.linuxcontainers.org" }
  state  = "stopped"
}
