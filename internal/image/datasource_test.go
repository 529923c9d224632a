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
  file       = %[1]q
  properties = { group = %[2]q, age = "old" }
}
resource "imagefleet_image" "new" {
  name       = "%[2]s-new"
  file       = %[3]q
  properties = { group = %[2]q, age = "new" }
  incus = {
    aliases = [{ name = %[4]q }]
  }
}
`, old, group, newer, alias)
		lookups := images + fmt.Sprintf(`
data "imagefleet_image" "by_prefix" {
  fingerprint = substr(imagefleet_image.old.fingerprint, 0, 12)
}
data "imagefleet_image" "by_name" {
  filter     = { name = "%[2]s-new", sha256 = %[4]q }
  depends_on = [imagefleet_image.new]
}
data "imagefleet_image" "by_id" {
  id     = substr(imagefleet_image.new.fingerprint, 0, 12)
  filter = { properties = { age = "new" }, status = "active", type = "container" }
}
data "imagefleet_image" "by_alias" {
  alias = %[1]q
  depends_on = [imagefleet_image.new]
}
data "imagefleet_image" "newest" {
  most_recent = true
  filter      = { properties = { group = %[2]q }, type = "container", architecture = %[3]q }
  depends_on  = [imagefleet_image.old, imagefleet_image.new]
}
data "imagefleet_images" "group" {
  filter     = { properties = { group = %[2]q } }
  depends_on = [imagefleet_image.old, imagefleet_image.new]
}
data "imagefleet_images" "none" {
  filter     = { properties = { group = %[2]q }, type = "virtual-machine" }
  depends_on = [imagefleet_image.old, imagefleet_image.new]
}
`, alias, group, acctest.Arch(), acctest.SHA256(t, newer))
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: lookups,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("data.imagefleet_image.by_prefix", tfjsonpath.New("properties").AtMapKey("age"), knownvalue.StringExact("old")),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_prefix", tfjsonpath.New("id"), knownvalue.StringExact(acctest.SHA256(t, old))),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("id"), knownvalue.StringExact(acctest.SHA256(t, newer))),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("fingerprint"), knownvalue.StringExact(acctest.SHA256(t, newer))),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_name", tfjsonpath.New("id"), knownvalue.StringExact(acctest.SHA256(t, newer))),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_name", tfjsonpath.New("name"), knownvalue.StringExact(group+"-new")),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_name", tfjsonpath.New("sha256"), knownvalue.StringExact(acctest.SHA256(t, newer))),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("status"), knownvalue.StringExact("active")),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("public"), knownvalue.Bool(false)),
						// What only Glance has is null on incus and lxd.
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("disk_format"), knownvalue.Null()),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("tags"), knownvalue.Null()),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("hidden"), knownvalue.Null()),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_alias", tfjsonpath.New("properties").AtMapKey("age"), knownvalue.StringExact("new")),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_alias", tfjsonpath.New("aliases"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(alias)})),
						statecheck.ExpectKnownValue("data.imagefleet_image.newest", tfjsonpath.New("properties").AtMapKey("age"), knownvalue.StringExact("new")),
						statecheck.ExpectKnownValue("data.imagefleet_images.group", tfjsonpath.New("images"), knownvalue.ListExact([]knownvalue.Check{
							knownvalue.ObjectPartial(map[string]knownvalue.Check{
								"id": knownvalue.StringExact(acctest.SHA256(t, newer)), "visibility": knownvalue.Null(),
								"properties": knownvalue.MapPartial(map[string]knownvalue.Check{"age": knownvalue.StringExact("new")}),
							}),
							knownvalue.ObjectPartial(map[string]knownvalue.Check{
								"id":         knownvalue.StringExact(acctest.SHA256(t, old)),
								"properties": knownvalue.MapPartial(map[string]knownvalue.Check{"age": knownvalue.StringExact("old")}),
							}),
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
					ExpectError: acctest.Diagnostic("Several images found", fmt.Sprintf(`Endpoint %q has 2 images matching the filters (%s %q, %s): narrow the filters, or set most_recent = true`,
						b.Endpoint, acctest.SHA256(t, newer)[:12], group+"-new", acctest.SHA256(t, old)[:12])),
				},
				{
					// One result that does not match the filter is no match: by id...
					Config: images + fmt.Sprintf(`
data "imagefleet_image" "filtered_out" {
  id     = %q
  filter = { properties = { age = "old" } }
}`, acctest.SHA256(t, newer)),
					ExpectError: acctest.Diagnostic("No image found", fmt.Sprintf(`Endpoint %q has an image with id %q, but it does not match the filters`, b.Endpoint, acctest.SHA256(t, newer))),
				},
				{
					// ... and by alias.
					Config: images + fmt.Sprintf(`
data "imagefleet_image" "filtered_out" {
  alias  = %q
  filter = { status = "deactivated" }
}`, alias),
					ExpectError: acctest.Diagnostic("No image found", fmt.Sprintf(`Endpoint %q has an image with alias %q, but it does not match the filters`, b.Endpoint, alias)),
				},
				{
					Config: images + `
data "imagefleet_image" "unknown_id" {
  id = "0123456789abcdef"
}`,
					ExpectError: acctest.Diagnostic("No image found", fmt.Sprintf(`Endpoint %q has no image with id "0123456789abcdef".`, b.Endpoint)),
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

// A lookup or filter the endpoint's kind does not have is refused before the endpoint
// is asked anything: at plan time when the configuration is known, else at apply,
// when Terraform reads the data source.
func TestAccImageDataSourceFamilyChecks(t *testing.T) {
	b := acctest.Backends[0]
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, b) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: acctest.ProviderConfig(b.Endpoint) + `
data "imagefleet_image" "tagged" {
  filter = { name = "base", tags = ["golden"] }
}`,
				PlanOnly:    true,
				ExpectError: acctest.Diagnostic(`Endpoint "incus" is of type incus, and filter.tags applies to endpoints of type openstack only. Instead, filter on properties.`),
			},
			{
				Config: acctest.ProviderConfig(b.Endpoint) + `
resource "terraform_data" "later" {
  input = "base"
}
data "imagefleet_image" "tagged" {
  filter = { name = terraform_data.later.output, tags = ["golden"] }
}`,
				ExpectError: acctest.Diagnostic(`Endpoint "incus" is of type incus, and filter.tags applies to endpoints of type openstack only. Instead, filter on properties.`),
			},
			{
				Config: acctest.ProviderConfig(b.Endpoint) + `
data "imagefleet_images" "hidden" {
  endpoint = "lxd"
  filter   = { hidden = "either", os_hash_value = "ab" }
}`,
				PlanOnly:    true,
				ExpectError: acctest.Diagnostic(`Endpoint "lxd" is of type lxd, and filter.hidden applies`, `Endpoint "lxd" is of type lxd, and filter.os_hash_value applies`),
			},
		},
	})
}
