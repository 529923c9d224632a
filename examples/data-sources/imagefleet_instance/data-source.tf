data "imagefleet_instance" "web" {
  name = "web-1"
}

output "web_address" {
  value = data.imagefleet_instance.web.ipv4_address
}
