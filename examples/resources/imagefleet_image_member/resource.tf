# Share a Glance image with a partner project and accept it in the partner's name.
# The provider has two openstack endpoints: "cloud", the project that owns the
# image, and "partner", authenticated as the partner project (another clouds.yaml
# entry, say). The image's visibility must be "shared".
resource "imagefleet_image_member" "partner" {
  endpoint        = "cloud"
  image           = "5f3ec3c4-3a0e-4b8f-9d7e-0d1c2b3a4f5e" # usually imagefleet_image.<name>.id
  member          = "8b1a9953c4611296a827abf8c47804d7"     # the partner project's ID
  status          = "accepted"
  member_endpoint = "partner"
}

# Share it with more projects and let each accept or reject it itself: status shows
# their answer and plans no change when it changes.
resource "imagefleet_image_member" "readers" {
  for_each = toset(["0c4e1f2a9b3d4c5e8f7a6b5c4d3e2f1a", "7d6c5b4a39281706f5e4d3c2b1a09f8e"])

  endpoint = "cloud"
  image    = imagefleet_image_member.partner.image
  member   = each.key
}
