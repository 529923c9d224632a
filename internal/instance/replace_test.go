package instance_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// replaced expects the plan to replace the instance, and the apply to leave it built
// from the image `image` (a resource address) names.
func replaced(image string) (resource.ConfigPlanChecks, []statecheck.StateCheck) {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
			plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
			plancheck.ExpectUnknownValue(addr, tfjsonpath.New("image_fingerprint")),
		}}, []statecheck.StateCheck{
			statecheck.CompareValuePairs(addr, tfjsonpath.New("image_fingerprint"), image, tfjsonpath.New("fingerprint"), compare.ValuesSame()),
		}
}

// TestAccInstance_imageRebuilt: an instance whose image is
// imagefleet_image.base.fingerprint is replaced when the image is rebuilt, although
// the new fingerprint is unknown until the image is uploaded.
func TestAccInstance_imageRebuilt(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		first := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("rebuilt")})
		second := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("rebuilt")})
		name := acctest.Name("rebuilt")
		config := func(file string) string { return onImage(b, file, name, "") }
		planChecks, stateChecks := replaced("imagefleet_image.base")
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{Config: config(first)},
				{Config: config(second), ConfigPlanChecks: planChecks, ConfigStateChecks: stateChecks},
			},
		})
	})
}

// TestAccInstance_remoteImageChanged: with remote set, naming another image replaces
// the instance (it used to plan an update that changed nothing).
func TestAccInstance_remoteImageChanged(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		first := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("rchanged")})
		second := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("rchanged")})
		name, alias := acctest.Name("rchanged"), acctest.Name("rchanged")
		server, cert := b.HTTPSAddress(t), strings.TrimSpace(b.ServerCert(t))
		config := func(image string) string {
			return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "first" {
  file    = %[1]q
  incus = {
    public  = true
    aliases = [{ name = "%[3]s-1" }]
  }
}
resource "imagefleet_image" "second" {
  file    = %[2]q
  incus = {
    public  = true
    aliases = [{ name = "%[3]s-2" }]
  }
}
resource "imagefleet_instance" "test" {
  name   = %[4]q
  image  = "%[3]s-%[5]s"
  remote = { server = %[6]q, protocol = %[7]q, certificate = %[8]q }
  depends_on = [imagefleet_image.first, imagefleet_image.second]
}`, first, second, alias, name, image, server, b.Kind, cert)
		}
		planChecks, stateChecks := replaced("imagefleet_image.second")
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{Config: config("1")},
				{Config: config("2"), ConfigPlanChecks: planChecks, ConfigStateChecks: stateChecks},
			},
		})
	})
}

// TestAccInstance_endpointUnknown: an endpoint that becomes unknown at plan time (here
// another name for the same daemon, passed through terraform_data) replaces the
// instance, as a known change of endpoint does; it used to plan an update.
func TestAccInstance_endpointUnknown(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("epunknown")})
		name := acctest.Name("epunknown")
		config := func(endpoint string) string {
			return fmt.Sprintf(`
provider "imagefleet" {
  endpoints = {
    one = { %[1]s = {} }
    two = { %[1]s = {} }
  }
}
resource "terraform_data" "endpoint" {
  input = %[2]q
}
resource "imagefleet_image" "base" {
  endpoint = "one"
  file     = %[3]q
}
resource "imagefleet_instance" "test" {
  endpoint = terraform_data.endpoint.output
  name     = %[4]q
  image    = imagefleet_image.base.fingerprint
}`, b.Kind, endpoint, file, name)
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{Config: config("one")},
				{
					Config: config("two"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("endpoint")),
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
				},
			},
		})
	})
}
