package image_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// TestAccImageDataSourceAir finds images made in one Air organisation: by id, by
// name and version, by hash, by publication, CPU architecture and status, the newest
// of several; an image found by id that fails the filters is no match, and several
// matches without most_recent an error naming them by name and version. Another
// organisation sees the published image only, as Air shows it.
func TestAccImageDataSourceAir(t *testing.T) {
	s := acctest.StartAir(t)
	dir := acctest.TempDir(t)
	name := acctest.Name("airds")
	v1, v2, other := acctest.Disk(t, dir, "qcow2", name+"-v1"), acctest.Disk(t, dir, "qcow2", name+"-v2"), acctest.Disk(t, dir, "qcow2", name+"-other")
	// v2 is made after v1, so it is the newer of the two of that name.
	images := acctest.ProviderConfigAir("air", s) + fmt.Sprintf(`
resource "imagefleet_image" "v1" {
  name = %[1]q
  file = %[2]q
  air  = { version = "1.0", default_username = "cumulus", default_password = "pw", published = true }
}
resource "imagefleet_image" "v2" {
  name = %[1]q
  file = %[3]q
  air = {
    version           = "2.0"
    default_username  = "root"
    default_password  = "pw"
    cpu_arch          = "ARM"
    provider          = "CONTAINER"
    emulation_type    = ["NVUE"]
    emulation_version = "5.9"
    mountpoint        = "/mnt"
    minimum_resources = { cpu = 2, memory = 2048, storage = 20 }
  }
  depends_on = [imagefleet_image.v1]
}
resource "imagefleet_image" "other" {
  name = "%[1]s-other"
  file = %[4]q
  air  = { version = "1.0", default_username = "root", default_password = "pw" }
}
`, name, v1, v2, other)
	lookups := images + fmt.Sprintf(`
data "imagefleet_image" "by_id" {
  id = imagefleet_image.v2.id
}
data "imagefleet_image" "by_name_version" {
  filter     = { name = %[1]q, version = "1.0" }
  depends_on = [imagefleet_image.v1, imagefleet_image.v2]
}
data "imagefleet_image" "by_sha256" {
  filter     = { sha256 = %[2]q }
  depends_on = [imagefleet_image.other]
}
data "imagefleet_image" "newest" {
  most_recent = true
  filter      = { name = %[1]q, status = "COMPLETE" }
  depends_on  = [imagefleet_image.v1, imagefleet_image.v2]
}
data "imagefleet_images" "named" {
  filter     = { name = %[1]q }
  depends_on = [imagefleet_image.v1, imagefleet_image.v2, imagefleet_image.other]
}
data "imagefleet_images" "published" {
  filter     = { published = true }
  depends_on = [imagefleet_image.v1, imagefleet_image.v2, imagefleet_image.other]
}
data "imagefleet_images" "unpublished_named" {
  filter     = { name = %[1]q, published = false }
  depends_on = [imagefleet_image.v1, imagefleet_image.v2, imagefleet_image.other]
}
data "imagefleet_images" "arm" {
  filter     = { cpu_arch = "ARM" }
  depends_on = [imagefleet_image.v1, imagefleet_image.v2, imagefleet_image.other]
}
data "imagefleet_images" "ready" {
  filter     = { status = "READY" }
  depends_on = [imagefleet_image.v1, imagefleet_image.v2, imagefleet_image.other]
}
# The other organisation sees the published image, and only that one.
data "imagefleet_images" "partner" {
  endpoint   = "air_b"
  depends_on = [imagefleet_image.v1, imagefleet_image.v2, imagefleet_image.other]
}
data "imagefleet_image" "partner_published" {
  endpoint = "air_b"
  id       = imagefleet_image.v1.id
  filter   = { published = true }
}
`, name, strings.ToUpper(acctest.SHA256(t, other)))
	ds := func(name string) string { return "data.imagefleet_image." + name }
	attr := func(name, attr string, want knownvalue.Check) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(ds(name), tfjsonpath.New(attr), want)
	}
	sameID := func(data, res string) statecheck.StateCheck {
		return statecheck.CompareValuePairs(data, tfjsonpath.New("id"), "imagefleet_image."+res, tfjsonpath.New("id"), compare.ValuesSame())
	}
	listed := func(name string, want ...knownvalue.Check) statecheck.StateCheck {
		return statecheck.ExpectKnownValue("data.imagefleet_images."+name, tfjsonpath.New("images"), knownvalue.ListExact(want))
	}
	image := func(name, version string) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{"name": knownvalue.StringExact(name), "version": knownvalue.StringExact(version)})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: lookups,
				ConfigStateChecks: []statecheck.StateCheck{
					sameID(ds("by_id"), "v2"),
					attr("by_id", "name", knownvalue.StringExact(name)),
					attr("by_id", "version", knownvalue.StringExact("2.0")),
					attr("by_id", "sha256", knownvalue.StringExact(acctest.SHA256(t, v2))),
					attr("by_id", "status", knownvalue.StringExact("COMPLETE")),
					attr("by_id", "published", knownvalue.Bool(false)),
					attr("by_id", "default_username", knownvalue.StringExact("root")),
					attr("by_id", "cpu_arch", knownvalue.StringExact("ARM")),
					attr("by_id", "air_provider", knownvalue.StringExact("CONTAINER")),
					attr("by_id", "emulation_type", knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("NVUE")})),
					attr("by_id", "emulation_version", knownvalue.StringExact("5.9")),
					attr("by_id", "mountpoint", knownvalue.StringExact("/mnt")),
					attr("by_id", "minimum_resources", knownvalue.ObjectExact(map[string]knownvalue.Check{
						"cpu": knownvalue.Int64Exact(2), "memory": knownvalue.Int64Exact(2048), "storage": knownvalue.Int64Exact(20),
					})),
					attr("by_id", "includes_air_agent", knownvalue.Bool(false)),
					attr("by_id", "creator", knownvalue.StringExact("user@org-a.example.com")),
					attr("by_id", "size", knownvalue.Int64Func(func(v int64) error {
						if v <= 0 {
							return fmt.Errorf("size %d, want the qcow2's", v)
						}
						return nil
					})),
					attr("by_id", "created_at", knownvalue.NotNull()),
					attr("by_id", "uploaded_at", knownvalue.NotNull()),
					// Air images have no properties, and none of what only Incus or Glance has.
					attr("by_id", "properties", knownvalue.Null()),
					attr("by_id", "architecture", knownvalue.Null()),
					attr("by_id", "fingerprint", knownvalue.Null()),
					attr("by_id", "aliases", knownvalue.Null()),
					attr("by_id", "public", knownvalue.Null()),
					attr("by_id", "type", knownvalue.Null()),
					attr("by_id", "disk_format", knownvalue.Null()),
					attr("by_id", "visibility", knownvalue.Null()),
					attr("by_id", "tags", knownvalue.Null()),
					attr("by_id", "hidden", knownvalue.Null()),
					attr("by_id", "os_hash_value", knownvalue.Null()),
					sameID(ds("by_name_version"), "v1"),
					attr("by_name_version", "published", knownvalue.Bool(true)),
					attr("by_name_version", "default_username", knownvalue.StringExact("cumulus")),
					// What Air fills in itself.
					attr("by_name_version", "cpu_arch", knownvalue.StringExact("x86")),
					attr("by_name_version", "air_provider", knownvalue.StringExact("VM")),
					attr("by_name_version", "emulation_type", knownvalue.ListSizeExact(0)),
					attr("by_name_version", "mountpoint", knownvalue.Null()),
					sameID(ds("by_sha256"), "other"),
					attr("by_sha256", "sha256", knownvalue.StringExact(acctest.SHA256(t, other))),
					sameID(ds("newest"), "v2"),
					listed("named", image(name, "2.0"), image(name, "1.0")),
					listed("published", image(name, "1.0")),
					listed("unpublished_named", image(name, "2.0")),
					listed("arm", image(name, "2.0")),
					listed("ready"),
					listed("partner", image(name, "1.0")),
					sameID(ds("partner_published"), "v1"),
					attr("partner_published", "creator", knownvalue.StringExact("user@org-a.example.com")),
				},
			},
			{
				// One result that does not match the filter is no match.
				Config: images + `
data "imagefleet_image" "wrong_version" {
  id     = imagefleet_image.v2.id
  filter = { version = "1.0" }
}`,
				ExpectError: acctest.Diagnostic("No image found", `Endpoint "air" has an image with id "`, `", but it does not match the filters, so it is no match`),
			},
			{
				Config: images + `
data "imagefleet_image" "not_published" {
  id     = imagefleet_image.v2.id
  filter = { published = true }
}`,
				ExpectError: acctest.Diagnostic("No image found", `Endpoint "air" has an image with id "`, `", but it does not match the filters, so it is no match`),
			},
			{
				Config: images + fmt.Sprintf(`
data "imagefleet_image" "ambiguous" {
  filter = { name = %q }
}`, name),
				ExpectError: acctest.Diagnostic("Several images found", `Endpoint "air" has 2 images matching the filters (`,
					fmt.Sprintf(`%q version "2.0", `, name), fmt.Sprintf(`%q version "1.0"): narrow the filters, or set most_recent = true to take the newest.`, name)),
			},
			{
				// Another organisation's unpublished image is not there for the partner.
				Config: images + `
data "imagefleet_image" "partner_unpublished" {
  endpoint = "air_b"
  id       = imagefleet_image.v2.id
}`,
				ExpectError: acctest.Diagnostic("No image found", `Endpoint "air_b" has no image with id "`),
			},
			{
				Config: images + `
data "imagefleet_image" "unknown" {
  id = "00000000-0000-4000-8000-000000000000"
}`,
				ExpectError: acctest.Diagnostic("No image found", `Endpoint "air" has no image with id "00000000-0000-4000-8000-000000000000": check that it is right.`),
			},
			{
				Config: images + fmt.Sprintf(`
data "imagefleet_images" "none" {
  filter     = { name = %q, version = "3.0" }
  depends_on = [imagefleet_image.v1, imagefleet_image.v2]
}`, name),
				ConfigStateChecks: []statecheck.StateCheck{listed("none")},
			},
		},
	})
}

// TestAccImageDataSourceAirFamilyChecks: what air endpoints do not have is refused at
// plan time, naming the endpoint and what to use there, and so are the Air-only
// filters elsewhere. Nothing connects: the checks come before any request.
func TestAccImageDataSourceAirFamilyChecks(t *testing.T) {
	s := acctest.StartAir(t)
	cfg := acctest.ProviderConfigAir("air", s)
	step := func(config string, diagnostic ...string) resource.TestStep {
		return resource.TestStep{Config: cfg + config, PlanOnly: true, ExpectError: acctest.Diagnostic(diagnostic...)}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			step(`
data "imagefleet_image" "props" {
  filter = { properties = { os = "cumulus" } }
}`, "Not available on this endpoint",
				`Endpoint "air" is of type air, and filter.properties applies to endpoints of type incus, lxd and openstack only. Instead, filter on name and version (Air images have no properties).`),
			step(`
data "imagefleet_images" "tagged" {
  filter = { tags = ["golden"], architecture = "x86_64" }
}`,
				`Endpoint "air" is of type air, and filter.architecture applies to endpoints of type incus, lxd and openstack only. Instead, filter on cpu_arch, in Air's names (such as x86 or ARM).`,
				`Endpoint "air" is of type air, and filter.tags applies to endpoints of type openstack only. Instead, filter on name and version.`),
			step(`
data "imagefleet_image" "aliased" {
  alias = "cumulus-stable"
}`, `Endpoint "air" is of type air, and alias applies to endpoints of type incus and lxd only. Instead, find the image by id, or by filter (name, version).`),
			step(`
data "imagefleet_image" "versioned" {
  endpoint = "incus"
  filter   = { version = "1.0", cpu_arch = "x86" }
}`,
				`Endpoint "incus" is of type incus, and filter.version applies to endpoints of type air only. Instead, filter on name or properties.`,
				`Endpoint "incus" is of type incus, and filter.cpu_arch applies to endpoints of type air only. Instead, filter on architecture.`),
			step(`
data "imagefleet_images" "published" {
  endpoint = "cloud"
  filter   = { published = true }
}`, `Endpoint "cloud" is of type openstack, and filter.published applies to endpoints of type air only. Instead, filter on visibility.`),
			step(`
data "imagefleet_image" "glance_status" {
  filter = { status = "active" }
}`, "Status not available on this endpoint",
				`Endpoint "air" is of type air, whose images never have status "active", so it would match nothing. Statuses there: READY, UPLOADING, VALIDATING, COMPLETE, PUBLISHING, UNPUBLISHING, COPYING_FROM_IMAGE_SHARE, PENDING_PUBLISH, PENDING_UNPUBLISH.`),
			step(`
data "imagefleet_images" "air_status" {
  endpoint = "lxd"
  filter   = { status = "COMPLETE" }
}`, `Endpoint "lxd" is of type lxd, whose images never have status "COMPLETE", so it would match nothing. Statuses there: active.`),
			step(`
data "imagefleet_image" "bad_status" {
  filter = { status = "complete" }
}`, `Attribute filter.status value must be one of`),
		},
	})
}
