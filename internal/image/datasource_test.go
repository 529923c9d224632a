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
						// So is what only Air has.
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("version"), knownvalue.Null()),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("published"), knownvalue.Null()),
						statecheck.ExpectKnownValue("data.imagefleet_image.by_id", tfjsonpath.New("minimum_resources"), knownvalue.Null()),
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
					ExpectError: acctest.Diagnostic("No image found", fmt.Sprintf(`Endpoint %q has no image with id "0123456789abcdef": check that it is right.`, b.Endpoint)),
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
	cfg := acctest.ProviderConfigAll("incus")
	resource.Test(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t, acctest.Backends[0])
			acctest.PreCheckOpenStack(t)
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg + `
data "imagefleet_image" "tagged" {
  filter = { name = "base", tags = ["golden"] }
}`,
				PlanOnly:    true,
				ExpectError: acctest.Diagnostic(`Endpoint "incus" is of type incus, and filter.tags applies to endpoints of type openstack only. Instead, filter on properties.`),
			},
			{
				// Read at apply, once the name is known: refused then, before any request.
				Config: cfg + `
resource "terraform_data" "later" {
  input = "base"
}
data "imagefleet_image" "tagged" {
  filter = { name = terraform_data.later.output, tags = ["golden"] }
}`,
				ExpectError: acctest.Diagnostic(`Endpoint "incus" is of type incus, and filter.tags applies to endpoints of type openstack only. Instead, filter on properties.`),
			},
			{
				Config: cfg + `
data "imagefleet_images" "hidden" {
  endpoint = "lxd"
  filter   = { hidden = "either", os_hash_value = "ab" }
}`,
				PlanOnly:    true,
				ExpectError: acctest.Diagnostic(`Endpoint "lxd" is of type lxd, and filter.hidden applies`, `Endpoint "lxd" is of type lxd, and filter.os_hash_value applies`),
			},
			{
				Config: cfg + `
data "imagefleet_image" "aliased" {
  endpoint = "cloud"
  alias    = "base-stable"
}`,
				PlanOnly: true,
				ExpectError: acctest.Diagnostic(`Endpoint "cloud" is of type openstack, and alias applies to endpoints of type incus and lxd only.`,
					`Instead, find the image by id, or by filter (name, tags, properties).`),
			},
			{
				Config: cfg + `
data "imagefleet_image" "fingerprinted" {
  endpoint    = "cloud"
  fingerprint = "0123456789ab"
  filter      = { type = "container" }
}`,
				PlanOnly: true,
				// Terraform prints them in the order of their places in the file.
				ExpectError: acctest.Diagnostic(`Endpoint "cloud" is of type openstack, and filter.type applies to endpoints of type incus and lxd only.`,
					`Endpoint "cloud" is of type openstack, and fingerprint applies to endpoints of type incus and lxd only. Instead, find the image by id.`),
			},
		},
	})
}

// glanceImages makes images in one OpenStack project with its CLI, as someone other
// than Terraform would, and deletes them when the test ends.
type glanceImages struct {
	cloud acctest.Cloud
	ids   []string
}

func newGlanceImages(t *testing.T, c acctest.Cloud) *glanceImages {
	g := &glanceImages{cloud: c}
	t.Cleanup(func() {
		if len(g.ids) > 0 {
			if out, err := c.Try(append([]string{"image", "delete"}, g.ids...)...); err != nil {
				t.Logf("deleting test images %v: %v: %s", g.ids, err, out)
			}
		}
	})
	return g
}

// create uploads file as a raw disk and returns the image's ID.
func (g *glanceImages) create(t *testing.T, name, file string, args ...string) string {
	t.Helper()
	id := g.cloud.Run(t, append([]string{"image", "create", "-f", "value", "-c", "id", "--disk-format", "raw", "--container-format", "bare", "--file", file}, append(args, name)...)...)
	g.ids = append(g.ids, id)
	return id
}

// TestAccImageDataSourceOpenStack finds images made with the openstack CLI: by id, by
// name and tags, by digest, hidden or not, deactivated, shared by another project
// (pending, then accepted), and the newest of several.
func TestAccImageDataSourceOpenStack(t *testing.T) {
	acctest.PreCheckOpenStack(t)
	dir := acctest.TempDir(t)
	tag := acctest.Name("ds")
	owner, partner := acctest.Owner.ProjectID(t), acctest.Partner.ProjectID(t)
	mine, theirs := newGlanceImages(t, acctest.Owner), newGlanceImages(t, acctest.Partner)

	oldFile := acctest.Disk(t, dir, "raw", tag+"-old")
	oldMD5, oldSHA512 := fileDigests(t, oldFile)
	old := mine.create(t, tag, oldFile, "--private", "--tag", tag, "--tag", "golden", "--property", "group="+tag, "--property", "architecture=x86_64")
	// Glance records creation times to the second: the next image must be newer.
	time.Sleep(1100 * time.Millisecond)
	newer := mine.create(t, tag, acctest.Disk(t, dir, "raw", tag+"-new"), "--shared", "--tag", tag, "--tag", "golden", "--property", "group="+tag)
	hidden := mine.create(t, tag+"-hidden", acctest.Disk(t, dir, "raw", tag+"-hidden"), "--shared", "--tag", tag)
	acctest.Owner.Run(t, "image", "set", "--hidden", hidden)
	deactivated := mine.create(t, tag+"-deactivated", acctest.Disk(t, dir, "raw", tag+"-deactivated"), "--shared", "--tag", tag)
	acctest.Owner.Run(t, "image", "set", "--deactivate", deactivated)
	sharedName := tag + "-shared"
	shared := theirs.create(t, sharedName, acctest.Disk(t, dir, "raw", tag+"-shared"), "--shared")
	acctest.Partner.Run(t, "image", "add", "project", shared, owner)

	cfg := acctest.ProviderConfigAll("cloud")
	ids := func(want ...string) knownvalue.Check {
		var checks []knownvalue.Check
		for _, id := range want {
			checks = append(checks, knownvalue.ObjectPartial(map[string]knownvalue.Check{"id": knownvalue.StringExact(id)}))
		}
		return knownvalue.ListExact(checks)
	}
	listed := func(name string, want ...string) statecheck.StateCheck {
		return statecheck.ExpectKnownValue("data.imagefleet_images."+name, tfjsonpath.New("images"), ids(want...))
	}
	attr := func(name, attr string, want knownvalue.Check) statecheck.StateCheck {
		return statecheck.ExpectKnownValue("data.imagefleet_image."+name, tfjsonpath.New(attr), want)
	}
	sharedLookups := fmt.Sprintf(`
data "imagefleet_images" "shared_default" {
  filter = { name = %[1]q }
}
data "imagefleet_images" "shared_pending" {
  filter = { name = %[1]q, member_status = "pending", owner = %[2]q }
}
data "imagefleet_images" "shared_accepted" {
  filter = { name = %[1]q, member_status = "accepted" }
}
`, sharedName, partner)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg + fmt.Sprintf(`
data "imagefleet_image" "by_id" {
  id = %[1]q
}
data "imagefleet_image" "newest" {
  most_recent = true
  filter      = { name = %[2]q, tags = [%[2]q, "golden"] }
}
data "imagefleet_image" "by_hash" {
  filter = { os_hash_value = %[3]q, architecture = "x86_64", properties = { group = %[2]q } }
}
data "imagefleet_image" "hidden_by_id" {
  id = %[4]q
}
data "imagefleet_image" "deactivated" {
  filter = { tags = [%[2]q], status = "deactivated" }
}
data "imagefleet_images" "tagged" {
  filter = { tags = [%[2]q] }
}
data "imagefleet_images" "hidden_false" {
  filter = { tags = [%[2]q], hidden = "false" }
}
data "imagefleet_images" "hidden_true" {
  filter = { tags = [%[2]q], hidden = "true" }
}
data "imagefleet_images" "hidden_either" {
  filter = { tags = [%[2]q], hidden = "either" }
}
data "imagefleet_images" "private" {
  filter = { tags = [%[2]q], visibility = "private" }
}
data "imagefleet_images" "active" {
  filter = { tags = [%[2]q], status = "active", hidden = "either" }
}
`, old, tag, oldSHA512, hidden) + sharedLookups,
				ConfigStateChecks: []statecheck.StateCheck{
					attr("by_id", "id", knownvalue.StringExact(old)),
					attr("by_id", "name", knownvalue.StringExact(tag)),
					attr("by_id", "status", knownvalue.StringExact("active")),
					attr("by_id", "disk_format", knownvalue.StringExact("raw")),
					attr("by_id", "container_format", knownvalue.StringExact("bare")),
					attr("by_id", "visibility", knownvalue.StringExact("private")),
					attr("by_id", "hidden", knownvalue.Bool(false)),
					attr("by_id", "protected", knownvalue.Bool(false)),
					attr("by_id", "min_disk_gb", knownvalue.Int64Exact(0)),
					attr("by_id", "tags", knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("golden"), knownvalue.StringExact(tag)})),
					attr("by_id", "owner", knownvalue.StringExact(owner)),
					attr("by_id", "checksum", knownvalue.StringExact(oldMD5)),
					attr("by_id", "os_hash_algo", knownvalue.StringExact("sha512")),
					attr("by_id", "os_hash_value", knownvalue.StringExact(oldSHA512)),
					attr("by_id", "size", knownvalue.Int64Exact(1<<20)),
					attr("by_id", "architecture", knownvalue.StringExact("x86_64")),
					attr("by_id", "properties", knownvalue.MapPartial(map[string]knownvalue.Check{"group": knownvalue.StringExact(tag), "architecture": knownvalue.StringExact("x86_64")})),
					// What only Incus has is null on Glance; so is the sha256 the CLI did not record.
					attr("by_id", "fingerprint", knownvalue.Null()),
					attr("by_id", "aliases", knownvalue.Null()),
					attr("by_id", "public", knownvalue.Null()),
					attr("by_id", "type", knownvalue.Null()),
					attr("by_id", "sha256", knownvalue.Null()),
					// So is what only Air has.
					attr("by_id", "version", knownvalue.Null()),
					attr("by_id", "published", knownvalue.Null()),
					attr("by_id", "cpu_arch", knownvalue.Null()),
					attr("by_id", "emulation_type", knownvalue.Null()),
					attr("by_id", "minimum_resources", knownvalue.Null()),
					attr("newest", "id", knownvalue.StringExact(newer)),
					attr("newest", "visibility", knownvalue.StringExact("shared")),
					attr("by_hash", "id", knownvalue.StringExact(old)),
					// An image asked for by id is found hidden or not.
					attr("hidden_by_id", "hidden", knownvalue.Bool(true)),
					attr("deactivated", "id", knownvalue.StringExact(deactivated)),
					attr("deactivated", "status", knownvalue.StringExact("deactivated")),
					// A listing leaves hidden images out unless asked, as Glance does.
					listed("tagged", deactivated, newer, old),
					listed("hidden_false", deactivated, newer, old),
					listed("hidden_true", hidden),
					listed("hidden_either", deactivated, hidden, newer, old),
					listed("private", old),
					listed("active", hidden, newer, old),
					// Shared with this project and not accepted yet: listed only when asked.
					listed("shared_default"),
					listed("shared_pending", shared),
					listed("shared_accepted"),
				},
			},
			{
				// One result that does not match the filter is no match.
				Config: cfg + fmt.Sprintf(`
data "imagefleet_image" "wrong_tag" {
  id     = %q
  filter = { tags = ["no-such-tag"] }
}`, old),
				ExpectError: acctest.Diagnostic("No image found", fmt.Sprintf(`Endpoint "cloud" has an image with id %q, but it does not match the filters`, old)),
			},
			{
				Config: cfg + fmt.Sprintf(`
data "imagefleet_image" "hidden_not_wanted" {
  id     = %q
  filter = { hidden = "false" }
}`, hidden),
				ExpectError: acctest.Diagnostic("No image found", fmt.Sprintf(`Endpoint "cloud" has an image with id %q, but it does not match the filters`, hidden)),
			},
			{
				// Glance shows a member its membership only in listings: still pending.
				Config: cfg + fmt.Sprintf(`
data "imagefleet_image" "shared_not_accepted" {
  id     = %q
  filter = { member_status = "accepted" }
}`, shared),
				ExpectError: acctest.Diagnostic("No image found", fmt.Sprintf(`Endpoint "cloud" has an image with id %q, but it does not match the filters`, shared)),
			},
			{
				Config: cfg + `
data "imagefleet_image" "unknown" {
  id = "00000000-0000-4000-8000-000000000000"
}`,
				ExpectError: acctest.Diagnostic("No image found", `Endpoint "cloud" has no image with id "00000000-0000-4000-8000-000000000000": check that it is right.`),
			},
			{
				Config: cfg + fmt.Sprintf(`
data "imagefleet_image" "ambiguous" {
  filter = { name = %q }
}`, tag),
				ExpectError: acctest.Diagnostic("Several images found", fmt.Sprintf(`Endpoint "cloud" has 2 images matching the filters (%s %q, %s %q): narrow the filters, or set most_recent = true`, newer, tag, old, tag)),
			},
			{
				// Once the project accepts the image, it is listed by default.
				PreConfig: func() { acctest.Owner.Run(t, "image", "set", "--accept", shared) },
				Config: cfg + fmt.Sprintf(`
data "imagefleet_image" "shared_accepted" {
  id     = %q
  filter = { member_status = "accepted", owner = %q }
}`, shared, partner) + sharedLookups,
				ConfigStateChecks: []statecheck.StateCheck{
					attr("shared_accepted", "owner", knownvalue.StringExact(partner)),
					listed("shared_default", shared),
					listed("shared_pending"),
					listed("shared_accepted", shared),
				},
			},
		},
	})
}
