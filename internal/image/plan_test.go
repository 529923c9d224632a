package image_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// TestAccImage_unknownValues feeds every argument from a terraform_data output, so it is
// unknown at plan time, through create, in-place update and replacement: each apply
// must succeed and the next plan be empty.
func TestAccImage_unknownValues(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		first := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("unk1")})
		second := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("unk2")})
		alias := acctest.Name("unk")
		// src feeds the content and where it goes, in the rest of the arguments.
		config := func(file, srcTrigger, tier string) string {
			return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "terraform_data" "src" {
  input            = { file = %q, endpoint = %q }
  triggers_replace = %q
}
resource "terraform_data" "in" {
  input = { tier = %q, alias = %q, public = true, expires = "2040-01-02T03:04:05Z", profile = "default" }
}
resource "imagefleet_image" "test" {
  endpoint    = terraform_data.src.output.endpoint
  file        = terraform_data.src.output.file
  properties  = { tier = terraform_data.in.output.tier }
  incus = {
    public      = terraform_data.in.output.public
    auto_update = terraform_data.in.output.public
    expires_at  = terraform_data.in.output.expires
    profiles    = [terraform_data.in.output.profile]
    aliases     = [{ name = terraform_data.in.output.alias, description = terraform_data.in.output.tier }]
  }
}
`, file, b.Endpoint, srcTrigger, tier, alias)
		}
		fp1, fp2 := acctest.SHA256(t, first), acctest.SHA256(t, second)
		var last string
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &last),
			Steps: []resource.TestStep{
				{
					Config: config(first, "1", "a"),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.StringExact(fp1)),
					},
				},
				{
					// The file and endpoint unknown, same values: an unknown path replaces.
					Config: config(first, "2", "a"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
				},
				{
					// Every other argument unknown: in place.
					Config: config(first, "2", "b"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
				},
				{
					// An unknown new file with other content.
					Config: config(second, "3", "c"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("fingerprint")),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.StringExact(fp2)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("incus").AtMapKey("aliases"), knownvalue.SetExact([]knownvalue.Check{
							knownvalue.ObjectExact(map[string]knownvalue.Check{"name": knownvalue.StringExact(alias), "description": knownvalue.StringExact("c")}),
						})),
					},
					Check: func(*terraform.State) error {
						last = fp2
						if out := b.Run(t, "image", "alias", "list", "-f", "csv"); !strings.Contains(out, alias+","+fp2[:12]) {
							return fmt.Errorf("alias %s does not point at %s:\n%s", alias, fp2[:12], out)
						}
						return nil
					},
				},
			},
		})
	})
}

// TestAccImage_aliasOwnership checks an image never takes over an alias it does not
// own, and never deletes one: not another image's, not a hand-made one, not one made
// by imagefleet_image_alias, including after an import.
func TestAccImage_aliasOwnership(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		mine := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("own1")})
		other := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("own2")})
		third := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("own3")})
		fpMine, fpOther := acctest.SHA256(t, mine), acctest.SHA256(t, other)
		hand, byRes, inline, shared := acctest.Name("hand"), acctest.Name("byres"), acctest.Name("inline"), acctest.Name("shared")
		b.Run(t, "image", "import", other)
		b.Run(t, "image", "alias", "create", hand, fpOther)
		t.Cleanup(func() { _, _ = b.Try("image", "delete", fpOther) })
		image := func(aliases string) string {
			return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  file    = %q
  incus = {
    aliases = %s
  }
}
resource "imagefleet_image_alias" "res" {
  name   = %q
  target = imagefleet_image.test.fingerprint
}
`, mine, aliases, byRes)
		}
		fp := fpMine
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &fp),
			Steps: []resource.TestStep{
				{
					// A hand-made alias of another image: a new image is refused when it
					// is created (it is then tainted, and replaced by the next apply).
					Config:      image(fmt.Sprintf(`[{ name = %q }]`, hand)),
					ExpectError: regexp.MustCompile(`(?s)Alias already exists.*` + regexp.QuoteMeta(hand) + `.*already points at image\s+` + fpOther),
				},
				{
					Config: image(fmt.Sprintf(`[{ name = %q }]`, inline)),
				},
				{
					// An existing image is refused at plan time.
					Config:      image(fmt.Sprintf(`[{ name = %q }, { name = %q }]`, inline, hand)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`(?s)Alias already exists.*` + regexp.QuoteMeta(hand) + `.*already points at image\s+` + fpOther),
				},
				{
					// Another image listing the same name: refused, the alias stays.
					Config: image(fmt.Sprintf(`[{ name = %q }]`, inline)) + fmt.Sprintf(`
resource "imagefleet_image" "second" {
  file    = %q
  incus = {
    aliases = [{ name = %q }]
  }
}`, third, inline),
					ExpectError: regexp.MustCompile(`Alias already exists`),
				},
				{
					// Terraform forgets both objects, keeping them on the server.
					PreConfig: func() { b.Run(t, "image", "alias", "create", shared, fpMine) },
					Config: acctest.ProviderConfig(b.Endpoint) + `
removed {
  from = imagefleet_image.test
  lifecycle { destroy = false }
}
removed {
  from = imagefleet_image_alias.res
  lifecycle { destroy = false }
}`,
				},
				{
					// Imported again, the image owns no alias: an apply that lists only
					// another name deletes neither the hand-made alias on it nor the one
					// imagefleet_image_alias manages.
					Config: image(fmt.Sprintf(`[{ name = %q }]`, inline)) + fmt.Sprintf(`
import {
  to = imagefleet_image.test
  id = "%s:%s"
}
import {
  to = imagefleet_image_alias.res
  id = "%s:%s"
}`, b.Endpoint, fpMine, b.Endpoint, byRes),
					Check: func(*terraform.State) error {
						out := b.Run(t, "image", "alias", "list", "-f", "csv")
						for _, name := range []string{hand + "," + fpOther[:12], inline + "," + fpMine[:12], byRes + "," + fpMine[:12], shared + "," + fpMine[:12]} {
							if !strings.Contains(out, name) {
								return fmt.Errorf("alias %s is gone or moved:\n%s", name, out)
							}
						}
						return nil
					},
				},
			},
		})
	})
}

// TestAccImage_sourceFileGone checks a deleted source file blocks neither a plan nor a
// destroy once the image exists.
func TestAccImage_sourceFileGone(t *testing.T) {
	b := acctest.Backends[0]
	dir := acctest.TempDir(t)
	file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("gone")})
	fp := acctest.SHA256(t, file)
	config := acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  file = %q
}`, file)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, b) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkGone(b, &fp),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					if err := os.Remove(file); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
		},
	})
}

// TestAccImage_generatedConfig imports an image with `terraform plan
// -generate-config-out`: the generated configuration (no source, no aliases) must plan
// the import as a no-op.
func TestAccImage_generatedConfig(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("gen")})
		fp := acctest.SHA256(t, file)
		alias := acctest.Name("gen")
		resource.Test(t, resource.TestCase{
			PreCheck: func() {
				acctest.PreCheck(t, b)
				b.Run(t, "image", "import", file, "--alias", alias)
				t.Cleanup(func() { _, _ = b.Try("image", "delete", fp) })
			},
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:          acctest.ProviderConfig(b.Endpoint),
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   b.Endpoint + ":" + fp,
				GenerateConfig:  true,
			}},
		})
	})
}

// TestAccImage_contentExists: uploading a file whose image is on the server already
// (an interrupted apply, an upload by hand) names that image and the import block.
func TestAccImage_contentExists(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("exists")})
		fp := acctest.SHA256(t, file)
		resource.Test(t, resource.TestCase{
			PreCheck: func() {
				acctest.PreCheck(t, b)
				b.Run(t, "image", "import", file)
				t.Cleanup(func() { _, _ = b.Try("image", "delete", fp) })
			},
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  file = %q
}`, file),
				ExpectError: acctest.Diagnostic("Error: Could not create image", "Image "+fp+" is this image already (on Incus and LXD the same content",
					fmt.Sprintf(`id = "%s:%s"`, b.Endpoint, fp)),
			}},
		})
	})
}

// TestAccImage_sourceKindChange: moving an image from one kind of source to another
// replaces it (the server cannot change where an image came from in place).
func TestAccImage_sourceKindChange(t *testing.T) {
	b := acctest.Backends[0]
	dir := acctest.TempDir(t)
	file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("kind")})
	fp := acctest.SHA256(t, file)
	srv := imageWebServer(t, file, fp)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, b) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkGone(b, &fp),
		Steps: []resource.TestStep{
			{Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  file = %q
}`, file)},
			{
				Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  url = "%s/latest"
}`, srv.URL),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
			},
		},
	})
}
