package imagemember_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

const addr = "imagefleet_image_member.test"

// accept makes the member accept the image, through the partner endpoint.
const accept = `
  status          = "accepted"
  member_endpoint = "partner"
`

// memberConfig shares image with project member; extra adds arguments.
func memberConfig(image, member, extra string) string {
	return providerConfig + fmt.Sprintf(`
resource "imagefleet_image_member" "test" {
  image  = %q
  member = %q
%s}
`, image, member, extra)
}

// statusChange checks that the plan changes the resource's status from before (what
// the refresh found) to after.
type statusChange struct{ before, after string }

func (c statusChange) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != addr {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		if before["status"] != c.before || after["status"] != c.after {
			resp.Error = fmt.Errorf("%s: the plan changes status from %v to %v, want %s to %s", addr, before["status"], after["status"], c.before, c.after)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", addr)
}

// serverStatus checks the membership's status on the server.
func serverStatus(t *testing.T, image, member, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := memberStatus(t, image, member); got != want {
			return fmt.Errorf("the server holds member %s of image %s with status %q, want %q", member, image, got, want)
		}
		return nil
	}
}

// TestAccImageMember_lifecycle shares an image, accepts it in the member's name,
// imports it both ways, and sees and repairs what the member and the owner change
// outside Terraform.
func TestAccImageMember_lifecycle(t *testing.T) {
	preCheck(t)
	image := ownerImage(t, "shared")
	member := acctest.Partner.ProjectID(t)
	importStep := func(config, id string) resource.TestStep {
		return resource.TestStep{
			Config:          config,
			ResourceName:    addr,
			ImportState:     true,
			ImportStateKind: resource.ImportBlockWithID,
			ImportStateId:   id,
			ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop),
			}},
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if got := memberStatus(t, image, member); got != "" {
				return fmt.Errorf("project %s is still a member of image %s after destroy (status %s)", member, image, got)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// Added by the owner: pending until the member answers.
				Config: memberConfig(image, member, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(image+"/"+member)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("pending")),
				},
				Check: serverStatus(t, image, member, "pending"),
			},
			importStep(memberConfig(image, member, ""), "cloud:"+image+"/"+member),
			{
				// Accepted through the member's endpoint, in place.
				Config: memberConfig(image, member, accept),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					statusChange{"pending", "accepted"},
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("accepted")),
				},
				Check: serverStatus(t, image, member, "accepted"),
			},
			// The member endpoint in the ID: a configuration that sets status
			// imports without a change.
			importStep(memberConfig(image, member, accept), "cloud:"+image+"/"+member+"/partner"),
			{
				// Rejected by the member outside Terraform: the plan shows it and
				// accepts again.
				PreConfig: func() { acctest.Partner.Run(t, "image", "set", "--reject", image) },
				Config:    memberConfig(image, member, accept),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					statusChange{"rejected", "accepted"},
				}},
				Check: serverStatus(t, image, member, "accepted"),
			},
			{
				// Removed by the owner outside Terraform: added and accepted again.
				PreConfig: func() { acctest.Owner.Run(t, "image", "remove", "project", image, member) },
				Config:    memberConfig(image, member, accept),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
				}},
				Check: serverStatus(t, image, member, "accepted"),
			},
			{
				// status no longer set: the member's answer stays as it is.
				Config: memberConfig(image, member, `  member_endpoint = "partner"`+"\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("accepted")),
				},
			},
			{
				Config:          memberConfig(image, member, ""),
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "cloud:" + image,
				ExpectError: acctest.Diagnostic("Error: Invalid import ID",
					fmt.Sprintf(`"cloud:%s" is not [endpoint:]image_id/member_id[/member_endpoint]:`, image)),
			},
		},
	})
}

// TestAccImageMember_imageKnownAtApply: with an image ID known only at apply, the
// plan cannot check the image; the apply adds and accepts a member of a shared
// image, and refuses a private one with the plan's advice.
func TestAccImageMember_imageKnownAtApply(t *testing.T) {
	preCheck(t)
	member := acctest.Partner.ProjectID(t)
	config := func(image string) string {
		return providerConfig + fmt.Sprintf(`
resource "terraform_data" "image" {
  input = %q
}
resource "imagefleet_image_member" "test" {
  image  = terraform_data.image.output
  member = %q
%s}
`, image, member, accept)
	}
	t.Run("shared", func(t *testing.T) {
		image := ownerImage(t, "shared")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy: func(*terraform.State) error {
				if got := memberStatus(t, image, member); got != "" {
					return fmt.Errorf("project %s is still a member of image %s after destroy (status %s)", member, image, got)
				}
				return nil
			},
			Steps: []resource.TestStep{{
				Config: config(image),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("image")),
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("id")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("accepted")),
				},
				Check: serverStatus(t, image, member, "accepted"),
			}},
		})
	})
	t.Run("private", func(t *testing.T) {
		image := ownerImage(t, "private")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: config(image),
				ExpectError: acctest.Diagnostic("Error: Image not shared",
					fmt.Sprintf(`Endpoint "cloud", image %q has visibility "private", and Glance gives members only to images whose visibility is "shared".`, image),
					fmt.Sprintf(`Set openstack = { visibility = "shared" } on the imagefleet_image that manages it (or run openstack image set --shared %s).`, image)),
			}},
		})
	})
}

// TestAccImageMember_withImage shares an image made by imagefleet_image in the same
// apply, so the image ID is unknown at plan time, and accepts it; a new image
// content replaces the image and with it the member.
func TestAccImageMember_withImage(t *testing.T) {
	preCheck(t)
	member := acctest.Partner.ProjectID(t)
	dir := acctest.TempDir(t)
	first, second := acctest.Disk(t, dir, "qcow2", acctest.Name("one")), acctest.Disk(t, dir, "qcow2", acctest.Name("two"))
	name := acctest.Name("imagefleet-member")
	config := func(file string) string {
		return providerConfig + fmt.Sprintf(`
resource "imagefleet_image" "shared" {
  name      = %q
  file      = %q
  openstack = { visibility = "shared" }
}
resource "imagefleet_image_member" "test" {
  image  = imagefleet_image.shared.id
  member = %q
%s}
`, name, file, member, accept)
	}
	var images []string
	recordImage := func(s *terraform.State) error {
		images = append(images, s.RootModule().Resources["imagefleet_image.shared"].Primary.ID)
		return nil
	}
	accepted := func(s *terraform.State) error {
		return serverStatus(t, images[len(images)-1], member, "accepted")(s)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			for _, id := range images {
				if out, err := acctest.Owner.Try("image", "show", "-f", "value", "-c", "status", id); err == nil && out != "deleted" {
					return fmt.Errorf("image %s is still on Glance after destroy (status %s)", id, out)
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config(first),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("image")),
				}},
				Check: resource.ComposeTestCheckFunc(recordImage, accepted),
			},
			{
				Config: config(second),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("imagefleet_image.shared", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(recordImage, accepted),
			},
		},
	})
}
