package provider_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// unknownProject is the project the tests of unknown endpoint settings work in. It
// has its own image store, so an image there is not seen from the default project.
const unknownProject = "tf-unknown-settings"

// unknownCase is an endpoint "proj" whose settings come from terraform_data.ep's
// output, so they are unknown at plan time whenever terraform_data.ep is replaced.
type unknownCase struct {
	b acctest.Backend
	// settings are the endpoint's settings; each is fed through terraform_data.
	settings map[string]string
	file     string
}

func (u unknownCase) config(trigger, endpoint, tier string) string {
	var keys, inputs, uses []string
	for k := range u.settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		inputs = append(inputs, fmt.Sprintf("    %s = %q", k, u.settings[k]))
		uses = append(uses, fmt.Sprintf("%s = terraform_data.ep.output.%s", k, k))
	}
	return fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "plain"
  endpoints = {
    plain = { %[1]s = {} }
    proj  = { %[1]s = { %[2]s } }
  }
}

resource "terraform_data" "ep" {
  input = {
%[3]s
  }
  triggers_replace = [%[4]q]
}

resource "imagefleet_image" "test" {
  endpoint   = %[5]q
  file       = %[6]q
  properties = { tier = %[7]q }
}
`, u.b.Kind, strings.Join(uses, ", "), strings.Join(inputs, "\n"), trigger, endpoint, u.file, tier)
}

// inProject checks that the image is in the test project and not in the default one:
// an unknown project never silently means the default.
func (u unknownCase) inProject(fp *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		*fp = s.RootModule().Resources["imagefleet_image.test"].Primary.ID
		if out, err := u.b.Try("image", "info", *fp, "--project", unknownProject); err != nil {
			return fmt.Errorf("image %s is not in project %s: %s", *fp, unknownProject, out)
		}
		if _, err := u.b.Try("image", "info", *fp); err == nil {
			return fmt.Errorf("image %s is in the default project", *fp)
		}
		return nil
	}
}

// steps go through create, update and replace of an image with the endpoint's
// settings unknown at plan time: what can work does, and what cannot (refreshing the
// image on the endpoint) fails with the diagnostic naming the settings, leaving the
// image in state.
func (u unknownCase) steps(unknown ...string) []resource.TestStep {
	const addr = "imagefleet_image.test"
	var fp string
	notKnown := acctest.Diagnostic(`Could not read image`, fmt.Sprintf(`endpoint "proj" (%s) cannot be used before apply:`, u.b.Kind),
		strings.Join(unknown, ", ")+" in the provider block are known only after apply", "terraform apply -target=")
	if len(unknown) == 1 {
		notKnown = acctest.Diagnostic(`Could not read image`, fmt.Sprintf(`endpoint "proj" (%s) cannot be used before apply:`, u.b.Kind),
			unknown[0]+" in the provider block is known only after apply", "terraform apply -target=")
	}
	return []resource.TestStep{
		{
			// Created while the settings are unknown at plan time: the apply
			// configures the provider once they are known.
			Config: u.config("1", "proj", "a"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
			}},
			Check: u.inProject(&fp),
		},
		{
			// Updated while they are unknown again: the refresh cannot read the
			// image, and says why, instead of looking in the default project and
			// dropping it from state.
			Config:      u.config("2", "proj", "b"),
			ExpectError: notKnown,
		},
		{
			// Known again: the image is still in state, unchanged.
			Config: u.config("1", "proj", "a"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectEmptyPlan(),
			}},
		},
		{
			Config: u.config("1", "plain", "a"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionReplace),
			}},
		},
		{
			// Replaced onto the endpoint while its settings are unknown: nothing on
			// it needs reading at plan time, so this works.
			Config: u.config("3", "proj", "a"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionReplace),
			}},
			Check: u.inProject(&fp),
		},
	}
}

// TestAccProvider_unknownProject: an endpoint's project comes from another resource.
func TestAccProvider_unknownProject(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		acctest.PreCheck(t, b)
		u := unknownCase{b: b, settings: map[string]string{"project": b.Project(t, unknownProject, true)},
			file: acctest.Unified(t, acctest.TempDir(t), acctest.ImageOpts{Variant: acctest.Name("unknown-project")})}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps:                    u.steps(fmt.Sprintf(`endpoints["proj"].%s.project`, b.Kind)),
		})
	})
}

// TestAccProvider_unknownRemote: an HTTPS endpoint whose address, certificates, trust
// token and project all come from another resource.
func TestAccProvider_unknownRemote(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		acctest.PreCheck(t, b)
		dir := acctest.TempDir(t)
		name := acctest.Name("tf-unknown")
		crt, key, fp := clientCert(t, dir, name)
		token := trustToken(t, b, name, fp)
		u := unknownCase{b: b, settings: map[string]string{
			"address": b.HTTPSAddress(t), "client_cert": readFile(t, crt), "client_key": readFile(t, key),
			"server_cert": strings.TrimSpace(b.ServerCert(t)), "trust_token": token, "project": b.Project(t, unknownProject, true),
		}, file: acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("unknown-remote")})}
		var unknown []string
		for _, k := range []string{"address", "client_cert", "client_key", "project", "server_cert", "trust_token"} {
			unknown = append(unknown, fmt.Sprintf(`endpoints["proj"].%s.%s`, b.Kind, k))
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps:                    u.steps(unknown...),
		})
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
