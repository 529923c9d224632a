# Import by [endpoint:]share_id (the share's ID is its claim code).
terraform import imagefleet_image_share.partner air:3f6d2a1e-8c4b-4e2f-9a7d-5b1c0e9f8a26
