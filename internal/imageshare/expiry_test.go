package imageshare_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
)

// shareConfig shares image with the partner; extra adds arguments.
func shareConfig(s *airemu.Server, image, extra string) string {
	return shareConfigTo(s, image, acctest.AirPartner, extra)
}

// shareConfigTo shares image with targetOrg; extra adds arguments.
func shareConfigTo(s *airemu.Server, image, targetOrg, extra string) string {
	return providerConfig(s) + fmt.Sprintf(`
resource "imagefleet_image_share" "test" {
  image      = %q
  target_org = %q
%s}
`, image, targetOrg, extra)
}

func expiresAt(t time.Time) string { return fmt.Sprintf("  expires_at = %q\n", t.Format(time.RFC3339)) }

// expiresOnServer checks the expiry the emulator holds for share *id.
func expiresOnServer(s *airemu.Server, id *string, want time.Time) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sh, ok := shareOf(s, *id)
		if !ok || !sh.ExpiresAt.Equal(want) {
			return fmt.Errorf("the emulator holds share %s expiring at %v, want %v", *id, sh.ExpiresAt, want)
		}
		return nil
	}
}

// TestAccImageShare_expiresAt sets the expiry, writes the same time another way
// (no change on Air), changes it (a new share: Air cannot change one), imports a
// share with a configured expiry, replaces a share whose expiry was moved into the
// past behind Terraform's back.
func TestAccImageShare_expiresAt(t *testing.T) {
	s := emulator(t)
	image, _ := ownerImage(t, s, false)
	first := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	second := first.Add(24 * time.Hour)
	inBerlin := fmt.Sprintf("  expires_at = %q\n", first.In(time.FixedZone("", 2*3600)).Format(time.RFC3339))
	var id, before string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if shares := s.Shares(); len(shares) > 0 {
				return fmt.Errorf("shares left after destroy: %+v", shares)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: shareConfig(s, image, expiresAt(first)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("expires_at"), knownvalue.StringExact(first.Format(time.RFC3339))),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					expiresOnServer(s, &id, first),
				),
			},
			{
				// The same time at another offset: recorded as written, nothing sent.
				Config: shareConfig(s, image, inBerlin),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", func(v string) error {
						if v != id {
							return fmt.Errorf("the share was replaced: %s, then %s", id, v)
						}
						return nil
					}),
					expiresOnServer(s, &id, first),
				),
			},
			{
				Config:    shareConfig(s, image, expiresAt(second)),
				PreConfig: func() { before = id },
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					changed(s, &before, &id),
					expiresOnServer(s, &id, second),
				),
			},
			importStep(shareConfig(s, image, expiresAt(second))),
			{
				// Moved into the past behind Terraform's back: the configured
				// expiry is another time, so a new share is made with it.
				PreConfig: func() {
					before = id
					s.ExpireShare(id)
				},
				Config: shareConfig(s, image, expiresAt(second)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					changed(s, &before, &id),
					expiresOnServer(s, &id, second),
				),
			},
		},
	})
}

// TestAccImageShare_expiredWithConfiguredExpiry refuses to make again, with the
// same expiry, a share that expired unclaimed.
func TestAccImageShare_expiredWithConfiguredExpiry(t *testing.T) {
	s := emulator(t)
	image, _ := ownerImage(t, s, false)
	soon := time.Now().Add(10 * time.Second).UTC().Truncate(time.Second)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: shareConfig(s, image, expiresAt(soon))},
			{
				PreConfig: func() { time.Sleep(time.Until(soon.Add(time.Second))) },
				Config:    shareConfig(s, image, expiresAt(soon)),
				ExpectError: acctest.Diagnostic("Error: Image share expired", `Share "`,
					fmt.Sprintf(`" expired at %s before it was claimed, so it has to be made again, and the configured expires_at has passed.`, soon.Format(time.RFC3339)),
					"Give a later time, or remove expires_at for Air's default (24 hours)."),
			},
		},
	})
}
