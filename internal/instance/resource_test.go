package instance_test

import (
	"fmt"
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

const addr = "imagefleet_instance.test"

// checkGone asks the server that the instance is gone after destroy.
func checkGone(b acctest.Backend, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if out, err := b.Try("info", name); err == nil {
			return fmt.Errorf("instance %s still exists on %s after destroy: %s", name, b.Kind, out)
		}
		return nil
	}
}

// onImage is a configuration of an image uploaded from file and the instance under
// test, named name and built from that image; attrs are the instance's other
// arguments, one per line.
func onImage(b acctest.Backend, file, name, attrs string) string {
	return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file = %q
}
resource "imagefleet_instance" "test" {
  name  = %q
  image = imagefleet_image.base.fingerprint
  %s
}`, file, name, attrs)
}

// fileReads checks what a file in the instance holds.
func fileReads(t *testing.T, b acctest.Backend, name, path, want string) error {
	if got := b.Run(t, "exec", name, "--", "cat", path); got != want {
		return fmt.Errorf("%s reads %q in the instance, want %q", path, got, want)
	}
	return nil
}

func status(t *testing.T, b acctest.Backend, name string) string {
	return strings.TrimSpace(b.Run(t, "list", name, "-f", "csv", "-c", "s"))
}

type instanceArgs struct {
	image, state, role, motd string
	device                   bool
}

func instanceConfig(b acctest.Backend, file, name, dir string, a instanceArgs) string {
	device := ""
	if a.device {
		device = fmt.Sprintf(`devices = { host = { type = "disk", properties = { source = %q, path = "/mnt/host" } } }`, dir)
	}
	return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file    = %q
  incus = {
    aliases = [{ name = "%s-img" }]
  }
}
resource "imagefleet_instance" "test" {
  name   = %q
  image  = %s
  state  = %q
  config = { "user.role" = %q }
  %s
  files = [{ target_path = "/etc/motd", content = %q, mode = "0640", uid = 0, gid = 0 }]
  exec = [
    { command = ["cat", "/etc/motd"] },
    { command = ["sh", "-c", "echo to-stderr >&2; exit 0"] },
  ]
  stop_timeout = 10
}
`, file, name, name, a.image, a.state, a.role, device, a.motd)
}

// TestAccInstance_lifecycle launches from a provider-managed image and covers config
// and device edits in place, file updates, state changes, import, drift made with the
// daemon's CLI, and destroy.
func TestAccInstance_lifecycle(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("inst")})
		name := acctest.Name("inst")
		byFP := instanceArgs{image: "imagefleet_image.base.fingerprint", state: "running", role: "web", motd: "hello\n"}
		cfg := func(a instanceArgs) string { return instanceConfig(b, file, name, dir, a) }
		edited := byFP
		edited.role, edited.device, edited.motd = "db", true, "changed\n"
		stopped, frozen := edited, edited
		stopped.state, frozen.state = "stopped", "frozen"
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{
					Config: cfg(byFP),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("Running")),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(0).AtMapKey("stdout"), knownvalue.StringExact("hello\n")),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(0).AtMapKey("exit_code"), knownvalue.Int64Exact(0)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(1).AtMapKey("stderr"), knownvalue.StringExact("to-stderr\n")),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("config"), knownvalue.MapExact(map[string]knownvalue.Check{"user.role": knownvalue.StringExact("web")})),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("profiles"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("default")})),
					},
					Check: func(*terraform.State) error {
						if got := b.Run(t, "exec", name, "--", "stat", "-c", "%a", "/etc/motd"); got != "640" {
							return fmt.Errorf("/etc/motd has mode %s in the instance", got)
						}
						return nil
					},
				},
				{
					// Config, a new device and the file's content change in place.
					Config: cfg(edited),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
					Check: func(*terraform.State) error {
						if got := b.Run(t, "config", "get", name, "user.role"); got != "db" {
							return fmt.Errorf("user.role=%q on the server", got)
						}
						if got := b.Run(t, "exec", name, "--", "cat", "/etc/motd"); got != "changed" {
							return fmt.Errorf("/etc/motd reads %q after the update", got)
						}
						if !strings.Contains(b.Run(t, "exec", name, "--", "ls", "/mnt/host"), "image-") {
							return fmt.Errorf("the disk device is not mounted in the instance")
						}
						return nil
					},
				},
				{
					Config: cfg(frozen),
					Check:  func(*terraform.State) error { return expectStatus(t, b, name, "FROZEN") },
				},
				{
					Config: cfg(stopped),
					Check:  func(*terraform.State) error { return expectStatus(t, b, name, "STOPPED") },
				},
				{
					Config: cfg(edited),
					Check:  func(*terraform.State) error { return expectStatus(t, b, name, "RUNNING") },
				},
				{
					ResourceName:      addr,
					ImportState:       true,
					ImportStateId:     b.Endpoint + ":" + name,
					ImportStateVerify: true,
					// What was pushed or run, and Terraform-side settings, are not
					// something the server reports.
					ImportStateVerifyIgnore: []string{"files", "exec", "image", "timeouts", "stop_timeout"},
				},
				{
					// Stopped behind Terraform's back: seen and started again.
					PreConfig: func() { b.Run(t, "stop", name, "--force") },
					Config:    cfg(edited),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("state"), knownvalue.StringExact("running")),
					}},
					Check: func(*terraform.State) error { return expectStatus(t, b, name, "RUNNING") },
				},
				{
					// A config key changed and one added behind Terraform's back: both repaired.
					PreConfig: func() {
						b.Run(t, "config", "set", name, "user.role=tampered")
						b.Run(t, "config", "set", name, "user.extra=1")
					},
					Config: cfg(edited),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
					Check: func(*terraform.State) error {
						if got := b.Run(t, "config", "get", name, "user.role"); got != "db" {
							return fmt.Errorf("user.role=%q after repair", got)
						}
						if got := b.Run(t, "config", "get", name, "user.extra"); got != "" {
							return fmt.Errorf("user.extra=%q survived the repair", got)
						}
						return nil
					},
				},
				{
					// Deleted behind Terraform's back: created again.
					PreConfig: func() { b.Run(t, "delete", name, "--force") },
					Config:    cfg(edited),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
					}},
					Check: func(*terraform.State) error { return expectStatus(t, b, name, "RUNNING") },
				},
				{
					// Naming the same image by its alias is not a replacement.
					Config: cfg(instanceArgs{image: fmt.Sprintf("%q", name+"-img"), state: "running", role: "db", device: true, motd: "changed\n"}),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
				},
			},
		})
	})
}

func expectStatus(t *testing.T, b acctest.Backend, name, want string) error {
	if got := status(t, b, name); got != want {
		return fmt.Errorf("instance %s is %s on %s, want %s", name, got, b.Kind, want)
	}
	return nil
}
