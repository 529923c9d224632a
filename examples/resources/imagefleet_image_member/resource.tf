# Share the Glance image with the partner project and accept it in the partner's
# name, through the provider's "partner" endpoint (authenticated as that project).
# The image's visibility must be "shared".
resource "imagefleet_image_member" "partner" {
  endpoint        = "cloud"
  image           = imagefleet_image.base["cloud"].id
  member          = "8b1a9953c4611296a827abf8c47804d7" # the partner project's ID
  status          = "accepted"
  member_endpoint = "partner"
}

# Share it with more projects and let each accept or reject it itself: status shows
# their answer, and plans no change when they change it.
resource "imagefleet_image_member" "readers" {
  for_each = toset(["0c4e1f2a9b3d4c5e8f7a6b5c4d3e2f1a", "7d6c5b4a39281706f5e4d3c2b1a09f8e"])

  endpoint = "cloud"
  image    = imagefleet_image.base["cloud"].id
  member   = each.key
}
