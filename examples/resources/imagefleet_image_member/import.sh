# Import by [endpoint:]image_id/member_id...
terraform import 'imagefleet_image_member.readers["0c4e1f2a9b3d4c5e8f7a6b5c4d3e2f1a"]' cloud:5f3ec3c4-3a0e-4b8f-9d7e-0d1c2b3a4f5e/0c4e1f2a9b3d4c5e8f7a6b5c4d3e2f1a
# ...followed by /member_endpoint when the configuration sets status, so that the
# import plans no change.
terraform import imagefleet_image_member.partner cloud:5f3ec3c4-3a0e-4b8f-9d7e-0d1c2b3a4f5e/8b1a9953c4611296a827abf8c47804d7/partner
