# Import by fingerprint (or a unique prefix of one) on the default endpoint...
terraform import imagefleet_image.container 88561c07c0fb
# ...or on a named endpoint: a Glance image by its UUID.
terraform import 'imagefleet_image.base["cloud"]' cloud:5f2c6a8e-5d0b-4d8c-9a43-2b1d7e4c9f10
