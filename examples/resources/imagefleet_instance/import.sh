# Import by [endpoint:][project/]name.
terraform import imagefleet_instance.web local:default/web-1
