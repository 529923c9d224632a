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
  incus = {
    public  = true
    aliases = [{ name = %[2]q }]
  }
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

// TestAccInstance_importAdoptsOnce: only the first apply after an import takes remote
// and image from the configuration as they are. An import that plans clean adopts
// nothing later: naming an image server and another image then replaces the instance
// (it used to update it in place, rebuilding nothing). An instance whose image the
// endpoint no longer holds, imported with `terraform import`, is adopted in place at
// the next apply, after that command's own refresh and the apply's, and only then.
func TestAccInstance_importAdoptsOnce(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("adopt")})
		goneFile := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("adopt")})
		fp, goneFP := acctest.SHA256(t, file), acctest.SHA256(t, goneFile)
		plain, gone, alias := acctest.Name("adopt"), acctest.Name("adopt"), acctest.Name("adopt")
		t.Cleanup(func() {
			_, _ = b.Try("delete", "--force", plain)
			_, _ = b.Try("delete", "--force", gone)
			_, _ = b.Try("image", "delete", goneFP)
		})
		server, cert := b.HTTPSAddress(t), strings.TrimSpace(b.ServerCert(t))
		remote := fmt.Sprintf(`remote = { server = %q, protocol = %q, certificate = %q }`, server, b.Kind, cert)
		base := acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file    = %q
  incus = {
    public  = true
    aliases = [{ name = %q }]
  }
}`, file, alias)
		instance := func(res, name, image, remote string) string {
			return fmt.Sprintf(`
resource "imagefleet_instance" %q {
  name       = %q
  image      = %s
  state      = "stopped"
  %s
  depends_on = [imagefleet_image.base]
}`, res, name, image, remote)
		}
		plainAsIs := instance("plain", plain, "imagefleet_image.base.fingerprint", "")
		goneAdopted := instance("gone", gone, fmt.Sprintf("%q", alias), remote)
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy: func(s *terraform.State) error {
				if err := checkGone(b, plain)(s); err != nil {
					return err
				}
				return checkGone(b, gone)(s)
			},
			Steps: []resource.TestStep{
				{Config: base},
				{
					PreConfig: func() {
						b.Run(t, "init", fp, plain)
						b.Run(t, "image", "import", goneFile)
						b.Run(t, "init", goneFP, gone)
						b.Run(t, "image", "delete", goneFP)
					},
					Config: base + plainAsIs + fmt.Sprintf(`
import {
  to = imagefleet_instance.plain
  id = %q
}`, plain),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("imagefleet_instance.plain", plancheck.ResourceActionNoop),
					}},
				},
				{
					Config:             base + plainAsIs + goneAdopted,
					ResourceName:       "imagefleet_instance.gone",
					ImportState:        true,
					ImportStateKind:    resource.ImportCommandWithID,
					ImportStateId:      gone,
					ImportStatePersist: true,
				},
				{
					Config: base + plainAsIs + goneAdopted,
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("imagefleet_instance.plain", plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction("imagefleet_instance.gone", plancheck.ResourceActionUpdate),
					}},
				},
				{
					Config: base + instance("plain", plain, fmt.Sprintf("%q", alias), remote) +
						instance("gone", gone, "imagefleet_image.base.fingerprint", remote),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("imagefleet_instance.plain", plancheck.ResourceActionDestroyBeforeCreate),
						plancheck.ExpectResourceAction("imagefleet_instance.gone", plancheck.ResourceActionDestroyBeforeCreate),
					}},
				},
			},
		})
	})
}
