package instance_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// TestAccInstance_importPlansClean imports, with import blocks, an instance in the
// endpoint's own project by an ID that names that project, one in another project,
// and one pulled from an image server: each import plans no change. Without the
// endpoint's cached copy of the pulled image, the import is updated in place.
func TestAccInstance_importPlansClean(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("import")})
		other := b.Project(t, "imagefleet-instances", false)
		// A project with its own images, so the pulled image is cached there with
		// the image server it came from, as it is on a daemon that lacks it.
		pulling := b.Project(t, "imagefleet-instances-pull", true)
		fp := acctest.SHA256(t, file)
		t.Cleanup(func() { _, _ = b.Try("image", "delete", fp, "--project", pulling) })
		plain, inOther, pulled, alias := acctest.Name("imp"), acctest.Name("imp"), acctest.Name("imp"), acctest.Name("imp")
		server, cert := b.HTTPSAddress(t), strings.TrimSpace(b.ServerCert(t))
		config := acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file    = %[1]q
  public  = true
  aliases = [{ name = %[2]q }]
}
resource "imagefleet_instance" "plain" {
  name  = %[3]q
  image = imagefleet_image.base.fingerprint
}
resource "imagefleet_instance" "other" {
  name    = %[4]q
  project = %[5]q
  image   = imagefleet_image.base.fingerprint
}
resource "imagefleet_instance" "pulled" {
  name       = %[6]q
  project    = %[7]q
  image      = %[2]q
  remote     = { server = %[8]q, protocol = %[9]q, certificate = %[10]q }
  depends_on = [imagefleet_image.base]
}`, file, alias, plain, inOther, other, pulled, pulling, server, b.Kind, cert)
		importStep := func(res, id string) resource.TestStep {
			return resource.TestStep{
				Config:          config,
				ResourceName:    res,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   id,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionNoop),
				}},
			}
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy: func(*terraform.State) error {
				for project, name := range map[string]string{"default": plain, other: inOther, pulling: pulled} {
					if out, err := b.Try("info", name, "--project", project); err == nil {
						return fmt.Errorf("instance %s still exists in project %s: %s", name, project, out)
					}
				}
				return nil
			},
			Steps: []resource.TestStep{
				{Config: config},
				importStep("imagefleet_instance.plain", b.Endpoint+":default/"+plain),
				importStep("imagefleet_instance.other", b.Endpoint+":"+other+"/"+inOther),
				importStep("imagefleet_instance.pulled", b.Endpoint+":"+pulling+"/"+pulled),
				{
					// Once the cached copy is gone, nothing tells where the image came
					// from: the configuration is taken as it is, in place.
					PreConfig:          func() { b.Run(t, "image", "delete", fp, "--project", pulling) },
					Config:             config,
					ResourceName:       "imagefleet_instance.pulled",
					ImportState:        true,
					ImportStateKind:    resource.ImportBlockWithID,
					ImportStateId:      b.Endpoint + ":" + pulling + "/" + pulled,
					ExpectNonEmptyPlan: true,
					ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("imagefleet_instance.pulled", plancheck.ResourceActionUpdate),
					}},
				},
			},
		})
	})
}
