# Import by [endpoint:]name.
terraform import imagefleet_image_alias.stable local:base-stable
