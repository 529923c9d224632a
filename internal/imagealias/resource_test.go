package imagealias_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

const addr = "imagefleet_image_alias.test"

func config(b acctest.Backend, one, two, inline, name, target, desc string) string {
	return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "one" {
  file    = %q
  incus = {
    aliases = [{ name = %q }]
  }
}
resource "imagefleet_image" "two" {
  file = %q
}
resource "imagefleet_image_alias" "test" {
  name        = %q
  target      = imagefleet_image.%s.fingerprint
  description = %q
}
`, one, inline, two, name, target, desc)
}

// aliasTarget asks the server where an alias points.
func aliasTarget(t *testing.T, b acctest.Backend, name string) string {
	for _, line := range strings.Split(b.Run(t, "image", "alias", "list", "-f", "csv"), "\n") {
		f := strings.Split(line, ",")
		if len(f) >= 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

func TestAccImageAlias_lifecycle(t *testing.T) {
	for _, b := range acctest.Backends {
		t.Run(string(b.Kind), func(t *testing.T) {
			t.Parallel()
			dir := acctest.TempDir(t)
			one := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("one")})
			two := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("two")})
			inline, name, renamed := acctest.Name("inline"), acctest.Name("alias"), acctest.Name("renamed")
			var fpOne, fpTwo string
			recordFP := func(s *terraform.State) error {
				fpOne = s.RootModule().Resources["imagefleet_image.one"].Primary.Attributes["fingerprint"]
				fpTwo = s.RootModule().Resources["imagefleet_image.two"].Primary.Attributes["fingerprint"]
				return nil
			}
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t, b) },
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				CheckDestroy: func(*terraform.State) error {
					for _, n := range []string{name, renamed, inline} {
						if got := aliasTarget(t, b, n); got != "" {
							return fmt.Errorf("alias %s still on the server after destroy (-> %s)", n, got)
						}
					}
					return nil
				},
				Steps: []resource.TestStep{
					{
						Config: config(b, one, two, inline, name, "one", "first"),
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("first")),
							statecheck.ExpectKnownValue(addr, tfjsonpath.New("type"), knownvalue.StringExact("container")),
							// Coexistence: the image lists only its inline alias, not the
							// one this resource manages, though both point at it.
							statecheck.ExpectKnownValue("imagefleet_image.one", tfjsonpath.New("incus").AtMapKey("aliases"), knownvalue.SetExact([]knownvalue.Check{
								knownvalue.ObjectExact(map[string]knownvalue.Check{"name": knownvalue.StringExact(inline), "description": knownvalue.StringExact("")}),
							})),
							statecheck.CompareValuePairs(addr, tfjsonpath.New("target"), "imagefleet_image.one", tfjsonpath.New("fingerprint"), compare.ValuesSame()),
						},
						Check: resource.ComposeTestCheckFunc(recordFP, func(*terraform.State) error {
							if got := aliasTarget(t, b, name); !strings.HasPrefix(fpOne, got) || got == "" {
								return fmt.Errorf("alias points at %q on the server, want %s", got, fpOne)
							}
							return nil
						}),
					},
					{
						// Retarget and new description: in place.
						Config: config(b, one, two, inline, name, "two", "second"),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						}},
						Check: func(*terraform.State) error {
							if got := aliasTarget(t, b, name); got == "" || !strings.HasPrefix(fpTwo, got) {
								return fmt.Errorf("alias points at %q on the server after retargeting, want %s", got, fpTwo)
							}
							return nil
						},
					},
					{
						ResourceName:      addr,
						ImportState:       true,
						ImportStateId:     b.Endpoint + ":" + name,
						ImportStateVerify: true,
					},
					{
						// Retargeted outside Terraform: seen and repaired.
						PreConfig: func() {
							b.Run(t, "query", "-X", "PUT", "/1.0/images/aliases/"+name, "-d", fmt.Sprintf(`{"target":%q,"description":"second"}`, fpOne))
						},
						Config: config(b, one, two, inline, name, "two", "second"),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						}},
						Check: func(*terraform.State) error {
							if got := aliasTarget(t, b, name); got == "" || !strings.HasPrefix(fpTwo, got) {
								return fmt.Errorf("apply did not repair the alias: it points at %q", got)
							}
							return nil
						},
					},
					{
						// Deleted outside Terraform: created again.
						PreConfig: func() { b.Run(t, "image", "alias", "delete", name) },
						Config:    config(b, one, two, inline, name, "two", "second"),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
						}},
					},
					{
						// A new name replaces the alias.
						Config: config(b, one, two, inline, renamed, "two", "second"),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
						}},
						Check: func(*terraform.State) error {
							if got := aliasTarget(t, b, name); got != "" {
								return fmt.Errorf("old alias %s still exists after the rename", name)
							}
							if got := aliasTarget(t, b, renamed); got == "" {
								return fmt.Errorf("renamed alias %s missing on the server", renamed)
							}
							return nil
						},
					},
				},
			})
		})
	}
}

// TestAccImageAlias_missingTarget: an alias to a fingerprint the server does not have.
func TestAccImageAlias_missingTarget(t *testing.T) {
	for _, b := range acctest.Backends {
		t.Run(string(b.Kind), func(t *testing.T) {
			t.Parallel()
			target := strings.Repeat("0", 64)
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t, b) },
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image_alias" "x" {
  name   = %q
  target = %q
}`, acctest.Name("orphan"), target),
					ExpectError: acctest.Diagnostic("Error: Could not create image alias", fmt.Sprintf(`Endpoint %q, alias`, b.Endpoint), "404: Image not found.", fmt.Sprintf(`Check that an image with fingerprint %q exists on the endpoint.`, target)),
				}},
			})
		})
	}
}

// TestAccImageAlias_prefixTarget accepts a unique fingerprint prefix as target and keeps
// it as written, so the apply is consistent and the next plan empty.
func TestAccImageAlias_prefixTarget(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("prefix")})
		fp := acctest.SHA256(t, file)
		name := acctest.Name("prefix")
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "one" {
  file = %q
}
resource "imagefleet_image_alias" "test" {
  name   = %q
  target = substr(imagefleet_image.one.fingerprint, 0, 16)
}`, file, name),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("target"), knownvalue.StringExact(fp[:16])),
				},
				Check: func(*terraform.State) error {
					if got := aliasTarget(t, b, name); got == "" || !strings.HasPrefix(fp, got) {
						return fmt.Errorf("alias points at %q on the server, want %s", got, fp)
					}
					return nil
				},
			}},
		})
	})
}

// TestAccImageAlias_unknownValues feeds every argument from a terraform_data output,
// unknown at plan time, through create, an in-place update and a replacement.
func TestAccImageAlias_unknownValues(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("aunk")})
		fp := acctest.SHA256(t, file)
		first, second := acctest.Name("aunk"), acctest.Name("aunk")
		config := func(name, desc string) string {
			return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "one" {
  file = %q
}
resource "terraform_data" "in" {
  input = { name = %q, description = %q, endpoint = %q, target = imagefleet_image.one.fingerprint }
}
resource "imagefleet_image_alias" "test" {
  endpoint    = terraform_data.in.output.endpoint
  name        = terraform_data.in.output.name
  target      = terraform_data.in.output.target
  description = terraform_data.in.output.description
}
`, file, name, desc, b.Endpoint)
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: config(first, "a"),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("target"), knownvalue.StringExact(fp)),
					},
				},
				{
					// Every argument unknown, the endpoint among them: replaced.
					Config: config(first, "b"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("b")),
					},
				},
				{
					Config: config(second, "c"),
					Check: func(*terraform.State) error {
						if got := aliasTarget(t, b, second); got == "" || !strings.HasPrefix(fp, got) {
							return fmt.Errorf("alias %s points at %q, want %s", second, got, fp)
						}
						if got := aliasTarget(t, b, first); got != "" {
							return fmt.Errorf("the replaced alias %s still points at %s", first, got)
						}
						return nil
					},
				},
			},
		})
	})
}
