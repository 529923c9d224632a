package imageshare_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// TestAccImageShare_badInput checks that each kind of bad input known at plan time
// gets its own clear diagnostic then.
func TestAccImageShare_badInput(t *testing.T) {
	s := emulator(t)
	good, _ := ownerImage(t, s, false)
	published, publishedName := ownerImage(t, s, true)
	empty, emptyName := emptyImage(t, s)
	const missing = "00000000-0000-4000-8000-000000000000"
	cases := map[string]struct {
		config string
		want   *regexp.Regexp
	}{
		"expires_at in the past": {
			shareConfig(s, good, `  expires_at = "2020-01-02T03:04:05Z"`+"\n"),
			acctest.Diagnostic("Error: Expiry in the past",
				"expires_at 2020-01-02T03:04:05Z is not in the future: Air would refuse the share, which could never be claimed.",
				"Give a later time, or leave expires_at unset for Air's default (24 hours)."),
		},
		"expires_at not a time": {
			shareConfig(s, good, `  expires_at = "tomorrow"`+"\n"),
			acctest.Diagnostic("Error: Invalid time", `"tomorrow" must be an RFC 3339 time, such as 2030-01-02T15:04:05Z.`),
		},
		"published image": {
			shareConfig(s, published, ""),
			acctest.Diagnostic("Error: Image not shareable",
				fmt.Sprintf(`Endpoint "air", image %q (%s 1.0) is published, and Air shares only unpublished images.`, published, publishedName),
				"Unpublish it: set air = { published = false } on the imagefleet_image that manages it.",
				"If this configuration sets it already, the image is unpublished only when that change is applied: apply the image first (terraform apply -target=<its address>)."),
		},
		"image without content": {
			shareConfig(s, empty, ""),
			acctest.Diagnostic("Error: Image not shareable",
				fmt.Sprintf(`Endpoint "air", image %q (%s 1.0) has no content (upload_status READY), and Air shares only images whose upload is COMPLETE.`, empty, emptyName),
				"Upload its content first (an imagefleet_image with a file or copy_from source does), then plan again."),
		},
		"missing image": {
			shareConfig(s, missing, ""),
			acctest.Diagnostic("Error: Image not found",
				fmt.Sprintf(`Endpoint "air" sees no image %q: check the image ID, and that the endpoint's API key belongs to the organisation that owns it.`, missing)),
		},
		"image of another organisation": {
			shareConfig(s, good, `  endpoint = "air_b"`+"\n"),
			acctest.Diagnostic("Error: Image not found",
				fmt.Sprintf(`Endpoint "air_b" sees no image %q: check the image ID, and that the endpoint's API key belongs to the organisation that owns it.`, good)),
		},
		"endpoint of another kind": {
			shareConfig(s, good, `  endpoint = "incus"`+"\n"),
			acctest.Diagnostic("Error: Unusable endpoint", `endpoint "incus" is of type incus, which does not support image shares; use an endpoint of type air.`),
		},
		"endpoint not configured": {
			shareConfig(s, good, `  endpoint = "nowhere"`+"\n"),
			acctest.Diagnostic("Error: Unusable endpoint", `endpoint "nowhere" is not configured in the provider's endpoints (configured: air, air_b, incus): name one of these, or add "nowhere" to the provider's endpoints.`),
		},
		"empty target_org": {
			shareConfigTo(s, good, "", ""),
			acctest.Diagnostic("Error: Invalid Attribute Value Length", "Attribute target_org string length must be at least 1, got: 0"),
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

// TestAccImageShare_refusedAtApply: what only Air can tell, or what the plan could
// not check because the image ID was unknown, fails the apply with the plan's
// advice, and leaves nothing behind.
func TestAccImageShare_refusedAtApply(t *testing.T) {
	s := emulator(t)
	good, goodName := ownerImage(t, s, false)
	published, publishedName := ownerImage(t, s, true)
	// The image ID comes from another resource, so the plan cannot read the image.
	unknownAtPlan := func(image, targetOrg string) string {
		return providerConfig(s) + fmt.Sprintf(`
resource "terraform_data" "image" {
  input = %q
}
resource "imagefleet_image_share" "test" {
  image      = terraform_data.image.output
  target_org = %q
}
`, image, targetOrg)
	}
	cases := map[string]struct {
		config string
		want   *regexp.Regexp
	}{
		"own organisation": {
			shareConfigTo(s, good, acctest.AirOwner, ""),
			acctest.Diagnostic("Error: Image share refused",
				fmt.Sprintf(`Endpoint "air", image %q (%s 1.0), target_org "org-a":`, good, goodName),
				"The target organization must be different from your organization.",
				`Air shares an image only with an organisation it knows, other than the image's owner: target_org must name the organisation that will claim the image, not the one endpoint "air"'s API key belongs to.`),
		},
		"unknown organisation": {
			unknownAtPlan(good, "org-z"),
			acctest.Diagnostic("Error: Image share refused",
				fmt.Sprintf(`Endpoint "air", image %q (%s 1.0), target_org "org-z":`, good, goodName),
				`Organization "org-z" was not found.`,
				"Air shares an image only with an organisation it knows, other than the image's owner:"),
		},
		"published image known at apply": {
			unknownAtPlan(published, "org-b"),
			acctest.Diagnostic("Error: Image not shareable",
				fmt.Sprintf(`Endpoint "air", image %q (%s 1.0) is published, and Air shares only unpublished images.`, published, publishedName),
				"Unpublish it: set air = { published = false } on the imagefleet_image that manages it."),
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: c.config, ExpectError: c.want}},
			})
			if shares := s.Shares(); len(shares) > 0 {
				t.Errorf("shares left after a refused apply: %+v", shares)
			}
		})
	}
}
