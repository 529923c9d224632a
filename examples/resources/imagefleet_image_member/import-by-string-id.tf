# The member accepted through the partner endpoint: the trailing /partner names the
# member_endpoint, which Glance cannot report, so the import plans no change.
import {
  to = imagefleet_image_member.partner
  id = "cloud:5f3ec3c4-3a0e-4b8f-9d7e-0d1c2b3a4f5e/8b1a9953c4611296a827abf8c47804d7/partner"
}
