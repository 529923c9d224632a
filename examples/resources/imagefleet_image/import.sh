# Import by fingerprint (or a unique prefix of one) on the default endpoint...
terraform import imagefleet_image.base 88561c07c0fb
# ...or on a named endpoint.
terraform import 'imagefleet_image.published["lab"]' lab:88561c07c0fbdb072027ba129dd86d92c9f1a10177230adca35f68c5f4e03be0
