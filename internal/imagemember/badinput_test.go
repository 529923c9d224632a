package imagemember_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// TestAccImageMember_badInput checks each kind of bad input gets its own clear
// diagnostic at plan time.
func TestAccImageMember_badInput(t *testing.T) {
	preCheck(t)
	private := ownerImage(t, "private")
	shared := ownerImage(t, "shared")
	member := acctest.Partner.ProjectID(t)
	const missing = "00000000-0000-4000-8000-000000000000"
	cases := map[string]struct {
		config string
		want   *regexp.Regexp
	}{
		"private image": {
			memberConfig(private, member, ""),
			acctest.Diagnostic("Error: Image not shared",
				fmt.Sprintf(`Endpoint "cloud", image %q has visibility "private", and Glance gives members only to images whose visibility is "shared".`, private),
				fmt.Sprintf(`Set openstack = { visibility = "shared" } on the imagefleet_image that manages it (or run openstack image set --shared %s).`, private),
				`If this configuration sets it already, the image becomes shared only when that change is applied: apply the image first (terraform apply -target=<its address>).`),
		},
		"missing image": {
			memberConfig(missing, member, ""),
			acctest.Diagnostic("Error: Image not found",
				fmt.Sprintf(`Endpoint "cloud" sees no image %q: check the image ID, and that the endpoint is authenticated as the project that owns it.`, missing)),
		},
		"status without member_endpoint": {
			memberConfig(shared, member, `  status = "accepted"`+"\n"),
			acctest.Diagnostic("Error: status needs member_endpoint",
				"Glance lets only the member project (or an owner with the admin role) set a membership's status, so the owner's endpoint cannot be trusted to set it.",
				fmt.Sprintf(`Add member_endpoint, naming a provider endpoint authenticated as project %q, the member, or remove status to leave the answer to the member.`, member),
				"If the owner's endpoint has the admin role, name it as member_endpoint."),
		},
		"unknown status": {
			memberConfig(shared, member, `  status          = "accept"`+"\n"+`  member_endpoint = "partner"`+"\n"),
			acctest.Diagnostic("Error: Invalid Attribute Value Match", `Attribute status value must be one of: ["pending" "accepted" "rejected"], got: "accept"`),
		},
		"member with a slash": {
			memberConfig(shared, member+"/x", ""),
			acctest.Diagnostic("Error: Invalid Attribute Value Match", `Attribute member must be an ID, not empty and without "/", got: `+member+"/x"),
		},
		"endpoint of another kind": {
			memberConfig(shared, member, `  endpoint = "incus"`+"\n"),
			acctest.Diagnostic("Error: Unusable endpoint", `endpoint "incus" is of type incus, which does not support image members; use an endpoint of type openstack.`),
		},
		"member_endpoint not configured": {
			memberConfig(shared, member, `  status          = "accepted"`+"\n"+`  member_endpoint = "nowhere"`+"\n"),
			acctest.Diagnostic("Error: Unusable endpoint", `endpoint "nowhere" is not configured in the provider's endpoints (configured: cloud, incus, lxd, partner): name one of these, or add "nowhere" to the provider's endpoints.`),
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: c.config, PlanOnly: true, ExpectError: c.want}},
			})
		})
	}
}

// TestAccImageMember_ownerSetsStatus: a non-admin owner named as member_endpoint
// cannot set the status; the apply says who can. The member exists by then, and is
// recorded (tainted), so destroy removes it.
func TestAccImageMember_ownerSetsStatus(t *testing.T) {
	preCheck(t)
	image := ownerImage(t, "shared")
	member := acctest.Partner.ProjectID(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if got := memberStatus(t, image, member); got != "" {
				return fmt.Errorf("project %s is still a member of image %s after destroy (status %s)", member, image, got)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			Config: memberConfig(image, member, `  status          = "accepted"`+"\n"+`  member_endpoint = "cloud"`+"\n"),
			ExpectError: acctest.Diagnostic("Error: Could not set image member status",
				fmt.Sprintf(`Member endpoint "cloud", image %q, member %q, status "accepted":`, image, member),
				fmt.Sprintf(`Glance lets only the member project (or an admin) set the status: member_endpoint must be authenticated as project %q, not as the image's owner.`, member)),
		}},
	})
}
