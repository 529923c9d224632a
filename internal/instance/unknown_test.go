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

// TestAccInstance_unknownValues feeds each argument from a terraform_data output, so
// that it is unknown at plan time: at create, then at a change that updates or
// replaces the instance. Every apply must succeed (no inconsistent final plan) and
// leave nothing to plan (the test framework plans again after each step). target is
// left out: it needs a clustered daemon, which the test machines are not.
func TestAccInstance_unknownValues(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("unknown")})
		other := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("unknown")})
		project := b.Project(t, "imagefleet-instances", false)
		server, cert := b.HTTPSAddress(t), strings.TrimSpace(b.ServerCert(t))
		alias := acctest.Name("unknown")
		remote := func(c string) string {
			return fmt.Sprintf(`{ server = %q, protocol = %q, certificate = %q }`, server, b.Kind, c)
		}
		update, replace := plancheck.ResourceActionUpdate, plancheck.ResourceActionDestroyBeforeCreate
		cases := []struct {
			arg string
			// first and second are the argument's values, as HCL.
			first, second string
			// extra are more arguments of the instance.
			extra string
			// use places the value (VALUE) when it is not the whole argument.
			use    string
			action plancheck.ResourceActionType
		}{
			{arg: "endpoint", first: `"one"`, second: `"two"`, action: replace},
			{arg: "project", first: `"default"`, second: fmt.Sprintf("%q", project), action: replace},
			{arg: "name", first: `"NAME"`, second: `"NAME-2"`, action: replace},
			{arg: "image", first: "imagefleet_image.base.fingerprint", second: "imagefleet_image.other.fingerprint", action: replace},
			{arg: "remote", first: remote(cert), second: remote(cert + "\n"), extra: fmt.Sprintf(`image = %q`, alias), action: replace},
			{arg: "type", first: `"container"`, second: `"container"`, action: replace},
			{arg: "description", first: `"one"`, second: `"two"`, action: update},
			{arg: "profiles", first: `["default"]`, second: `["default"]`, action: update},
			{arg: "config", first: `{ "user.a" = "1" }`, second: `{ "user.a" = "2" }`, action: update},
			{arg: "devices", first: fmt.Sprintf(`{ host = { type = "disk", properties = { source = %q, path = "/mnt/a" } } }`, dir),
				second: fmt.Sprintf(`{ host = { type = "disk", properties = { source = %q, path = "/mnt/b" } } }`, dir), action: update},
			{arg: "ephemeral", first: "false", second: "false", action: update},
			{arg: "state", first: `"running"`, second: `"stopped"`, action: update},
			{arg: "allow_restart", first: "false", second: "true", action: update},
			{arg: "stop_timeout", first: "10", second: "20", action: update},
			{arg: "files", first: `[{ target_path = "/etc/a", content = "1" }]`, second: `[{ target_path = "/etc/a", content = "2", mode = "0600" }]`, action: update},
			{arg: "exec", first: `[{ command = ["sh", "-c", "echo 1"] }]`, second: `[{ command = ["sh", "-c", "echo 2"], environment = { A = "b" } }]`, action: update},
			{arg: "files content", use: `files = [{ target_path = "/etc/a", content = VALUE }]`, first: `"1"`, second: `"2"`, action: update},
			{arg: "exec command", use: `exec = [{ command = ["sh", "-c", VALUE] }]`, first: `"echo 1"`, second: `"echo 2"`, action: update},
			{arg: "timeouts", first: `{ create = "5m" }`, second: `{ create = "6m", update = "6m" }`, action: update},
		}
		for _, tc := range cases {
			t.Run(tc.arg, func(t *testing.T) {
				name := acctest.Name("unknown")
				value := func(v string) string { return strings.ReplaceAll(v, "NAME", name) }
				config := func(v string, step int) string {
					image := "image = imagefleet_image.base.fingerprint"
					if tc.arg == "image" || tc.extra != "" {
						image = tc.extra
					}
					use := tc.arg + " = VALUE"
					if tc.use != "" {
						use = tc.use
					}
					nameArg := fmt.Sprintf("name = %q", name)
					if tc.arg == "name" {
						nameArg = ""
					}
					return fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "one"
  endpoints = {
    one = { %[1]s = {} }
    two = { %[1]s = {} }
  }
}
resource "terraform_data" "value" {
  input            = %[2]s
  triggers_replace = [%[3]d]
}
resource "imagefleet_image" "base" {
  file    = %[4]q
  incus = {
    public  = true
    aliases = [{ name = %[5]q }]
  }
}
resource "imagefleet_image" "other" {
  file = %[6]q
}
resource "imagefleet_instance" "test" {
  %[7]s
  %[8]s
  %[9]s
  depends_on = [imagefleet_image.base]
}`, b.Kind, value(v), step, file, alias, other, nameArg, image, strings.ReplaceAll(use, "VALUE", "terraform_data.value.output"))
				}
				resource.Test(t, resource.TestCase{
					PreCheck:                 func() { acctest.PreCheck(t, b) },
					ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
					CheckDestroy: func(s *terraform.State) error {
						for _, n := range []string{name, name + "-2"} {
							for _, p := range []string{"default", project} {
								if out, err := b.Try("info", n, "--project", p); err == nil {
									return fmt.Errorf("instance %s still exists in project %s: %s", n, p, out)
								}
							}
						}
						return nil
					},
					Steps: []resource.TestStep{
						{Config: config(tc.first, 1)},
						{
							Config: config(tc.second, 2),
							ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
								plancheck.ExpectResourceAction(addr, tc.action),
							}},
						},
					},
				})
			})
		}
	})
}
