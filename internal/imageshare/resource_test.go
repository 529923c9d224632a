package imageshare_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
)

// importStep imports the share with an import block, by the owner's endpoint and
// the share's ID, and expects no change.
func importStep(config string) resource.TestStep {
	return resource.TestStep{
		Config:          config,
		ResourceName:    addr,
		ImportState:     true,
		ImportStateKind: resource.ImportBlockWithID,
		ImportStateIdFunc: func(s *terraform.State) (string, error) {
			return "air:" + s.RootModule().Resources[addr].Primary.ID, nil
		},
		ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
			plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop),
		}},
	}
}

// aroundADay checks that the server's default expiry, about 24 hours after the
// share was made, was recorded.
var aroundADay = knownvalue.StringFunc(func(v string) error {
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return err
	}
	if left := time.Until(at); left < 23*time.Hour || left > 25*time.Hour {
		return fmt.Errorf("expires_at %s is %s away, want about 24h", v, left.Round(time.Minute))
	}
	return nil
})

// TestAccImageShare_lifecycle shares an image made in the same apply (so its ID is
// unknown at plan time) with the partner organisation, imports the share, makes it
// again when it is deleted or expires unclaimed, has the partner claim it through
// imagefleet_image's claim source, and keeps the claimed share, expired or not.
func TestAccImageShare_lifecycle(t *testing.T) {
	s := emulator(t)
	disk := acctest.Disk(t, acctest.TempDir(t), "qcow2", acctest.Name("lifecycle"))
	name := acctest.Name("shared")
	image := fmt.Sprintf(`
resource "imagefleet_image" "src" {
  name = %q
  file = %q
  air  = { version = "1.0", default_username = "root", default_password = "s3cret" }
}
`, name, disk)
	share := `
resource "imagefleet_image_share" "test" {
  image      = imagefleet_image.src.id
  target_org = "org-b"
}
`
	claimed := fmt.Sprintf(`
resource "imagefleet_image" "claimed" {
  endpoint = "air_b"
  name     = "%s-copy"
  claim    = { share = imagefleet_image_share.test.id }
  air      = { version = "2.0", default_username = "root" }
}
`, name)
	config := providerConfig(s) + image + share
	var id, before, imageID string
	next := func() { before = id }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkNothingLeft(s),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("image")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("state"), knownvalue.StringExact("ACTIVE")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("claimed_by"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("target_org"), knownvalue.StringExact(acctest.AirPartner)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("image_name"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("image_version"), knownvalue.StringExact("1.0")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("expires_at"), aroundADay),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("endpoint"), knownvalue.Null()),
					statecheck.CompareValuePairs(addr, tfjsonpath.New("image"), "imagefleet_image.src", tfjsonpath.New("id"), compare.ValuesSame()),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					resource.TestCheckResourceAttrWith("imagefleet_image.src", "id", record(&imageID)),
					resource.TestCheckResourceAttrSet(addr, "created_at"),
					checkShare(s, &id, airemu.ShareActive),
					func(*terraform.State) error {
						if sh, _ := shareOf(s, id); sh.ImageID != imageID {
							return fmt.Errorf("the emulator's share is of image %s, want %s", sh.ImageID, imageID)
						}
						return nil
					},
				),
			},
			importStep(config),
			{
				// Deleted outside Terraform: made again.
				PreConfig: func() {
					next()
					if err := client(t, s, acctest.AirOwner).DeleteShare(context.Background(), id); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					changed(s, &before, &id),
					checkShare(s, &id, airemu.ShareActive),
				),
			},
			{
				// Expired unclaimed: it can no longer be claimed, so it is replaced,
				// with Air's default expiry again.
				PreConfig: func() {
					next()
					if !s.ExpireShare(id) {
						t.Fatalf("the emulator has no share %s to expire", id)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("expires_at")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("expires_at"), aroundADay),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					changed(s, &before, &id),
					checkShare(s, &id, airemu.ShareActive),
				),
			},
			{
				// The partner claims it: a copy of its own.
				Config: config + claimed,
				Check: resource.ComposeTestCheckFunc(
					checkShare(s, &id, airemu.ShareClaimed),
					func(*terraform.State) error {
						imgs := s.Images(acctest.AirPartner)
						if len(imgs) != 1 || imgs[0].UploadStatus != airemu.StatusComplete || imgs[0].Name != name+"-copy" || imgs[0].Version != "2.0" {
							return fmt.Errorf("the partner holds %+v, want one COMPLETE copy %s-copy 2.0", imgs, name)
						}
						return nil
					},
				),
			},
			{
				// Claimed: the refresh shows it, and nothing changes.
				Config: config + claimed,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("state"), knownvalue.StringExact("CLAIMED")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("claimed_by"), knownvalue.StringExact("user@org-b.example.com")),
				},
			},
			{
				// A claimed share that expires is kept: it no longer needs to be
				// claimable.
				PreConfig: func() {
					if !s.ExpireShare(id) {
						t.Fatalf("the emulator has no share %s to expire", id)
					}
				},
				Config: config + claimed,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("state"), knownvalue.StringExact("CLAIMED")),
				},
				Check: checkShare(s, &id, airemu.ShareClaimed),
			},
		},
	})
}
