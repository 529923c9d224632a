package image_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

func TestAccImageDataSources(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		group := acctest.Name("group")
		old := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("old"), Created: time.Now().Add(-48 * time.Hour)})
		newer := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("new")})
		alias := acctest.Name("ds")
		images := acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "old" {
  file       = %q
  properties = { group = %q, age = "old" }
}
resource "imagefleet_image" "new" {
  file       = %q
  properties = { group = %q, age = "new" }
  incus = {
    aliases = [{ name = %q }]
  }
}
`, old, group, newer, group, alias)
		lookups := images + fmt.Sprintf(`
data "imagefleet_image" "by_prefix" {
  fingerprint = substr(imagefleet_image.old.fingerprint, 0, 12)
}
data "imagefleet_image" "by_alias" {
  alias = %q
  depends_on = [imagefleet_image.new]
}
data "imagefleet_image" "newest" {
  most_recent = true
  filter      = { properties = { group = %q }, type = "container", architecture = %q }
  depends_on  = [imagefleet_image.old, imagefleet_image.new]
}
data "imagefleet_images" "group" {
  filter     = { properties = { group = %q } }
  depends_on = [imagefleet_image.old, imagefleet_image.new]
}
data "imagefleet_images" "none" {
  filter     = { properties = { group = %q }, type = "virtual-machine" }
  depends_on = [imagefleet_image.old, imagefleet_image.new]
}
`, alias, group, acctest.Arch(), group, group)
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: lookups,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("data.imagefleet_image.by_prefix", tfjsonpath.New("properties").AtMapKey("age"), knownvalue.StringExact("old")),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_alias", tfjsonpath.New("properties").AtMapKey("age"), knownvalue.StringExact("new")),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_alias", tfjsonpath.New("aliases"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(alias)})),
						statecheck.ExpectKnownValue("data.imagefleet_image.newest", tfjsonpath.New("properties").AtMapKey("age"), knownvalue.StringExact("new")),
						statecheck.ExpectKnownValue("data.imagefleet_images.group", tfjsonpath.New("images"), knownvalue.ListExact([]knownvalue.Check{
							knownvalue.ObjectPartial(map[string]knownvalue.Check{"properties": knownvalue.MapPartial(map[string]knownvalue.Check{"age": knownvalue.StringExact("new")})}),
							knownvalue.ObjectPartial(map[string]knownvalue.Check{"properties": knownvalue.MapPartial(map[string]knownvalue.Check{"age": knownvalue.StringExact("old")})}),
						})),
						statecheck.ExpectKnownValue("data.imagefleet_images.none", tfjsonpath.New("images"), knownvalue.ListSizeExact(0)),
					},
				},
				{
					// The provider creates no alias with a slash, but finds one made with the CLI.
					PreConfig: func() { b.Run(t, "image", "alias", "create", "vendor/"+alias, acctest.SHA256(t, newer)) },
					Config: images + fmt.Sprintf(`
data "imagefleet_image" "slashed" {
  alias = "vendor/%s"
}`, alias),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("data.imagefleet_image.slashed", tfjsonpath.New("properties").AtMapKey("age"), knownvalue.StringExact("new")),
					},
				},
				{
					// Two matches without most_recent is an error that lists them.
					Config: images + fmt.Sprintf(`
data "imagefleet_image" "ambiguous" {
  filter = { properties = { group = %q } }
}`, group),
					ExpectError: regexp.MustCompile(`(?s)Several images found.*Endpoint "` + b.Endpoint + `" has 2 images matching.*the\s+filters.*set most_recent = true`),
				},
				{
					Config: images + `
data "imagefleet_image" "missing" {
  filter = { properties = { group = "no-such-group" } }
}`,
					ExpectError: regexp.MustCompile(`(?s)No image found.*Endpoint "` + b.Endpoint + `" has no image matching the\s+filters`),
				},
			},
		})
	})
}
