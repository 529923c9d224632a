package instance_test

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestAccInstance_exec launches from an alias and runs commands: output captured, a
// failure that is allowed, an on_change command that reruns on every change, and a
// failure that fails the apply (leaving the instance tainted, not orphaned).
func TestAccInstance_exec(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("exec")})
		name, alias := acctest.Name("exec"), acctest.Name("exec-alias")
		config := func(role, failing string) string {
			return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file    = %q
  incus = {
    aliases = [{ name = %q }]
  }
}
resource "imagefleet_instance" "test" {
  name   = %q
  image  = %q
  config = { "user.role" = %q }
  exec = [
    { command = ["sh", "-c", "echo $GREETING; exit 3"], environment = { GREETING = "hi" }, allow_failure = true },
    { command = ["sh", "-c", "date +%%s%%N"], trigger = "on_change" },
    %s
  ]
  depends_on = [imagefleet_image.base]
}
`, file, alias, name, alias, role, failing)
		}
		var firstRun string
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{
					Config: config("a", ""),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(0).AtMapKey("exit_code"), knownvalue.Int64Exact(3)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(0).AtMapKey("stdout"), knownvalue.StringExact("hi\n")),
					},
					Check: resource.TestCheckResourceAttrWith(addr, "exec.1.stdout", func(v string) error { firstRun = v; return nil }),
				},
				{
					// A change: the on_change command runs again, the once command does not.
					Config: config("b", ""),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("exec").AtSliceIndex(1).AtMapKey("stdout")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(0).AtMapKey("exit_code"), knownvalue.Int64Exact(3)),
					}},
					Check: resource.TestCheckResourceAttrWith(addr, "exec.1.stdout", func(v string) error {
						if v == firstRun {
							return fmt.Errorf("the on_change command did not run again (output %q)", v)
						}
						return nil
					}),
				},
				{
					Config: config("b", `{ command = ["sh", "-c", "echo broken >&2; exit 7"] },`),
					ExpectError: acctest.Diagnostic("Error: Command failed in instance",
						fmt.Sprintf(`Endpoint %q, instance %q: "sh -c echo broken >&2; exit 7" exited with 7. stderr: broken`, b.Endpoint, name),
						"Set allow_failure = true on the exec entry to accept a non-zero exit."),
				},
			},
		})
	})
}

// TestAccInstance_vm plans a virtual machine from a split qcow2 image and creates it
// stopped. Where the daemon cannot run VMs (no vhost_vsock, as on this project's
// build machines) it refuses even to create one: the test then checks that the plan
// and validation pass and that the apply fails with the server's own reason, leaving
// nothing behind.
func TestAccInstance_vm(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		acctest.PreCheck(t, b)
		dir := acctest.TempDir(t)
		meta, disk, err := acctest.BuildSplit(dir, acctest.ImageOpts{Variant: acctest.Name("vm")}, true)
		if err != nil {
			t.Fatal(err)
		}
		name := acctest.Name("vm")
		config := acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "vm" {
  split = { metadata_file = %q, rootfs_file = %q }
}
resource "imagefleet_instance" "test" {
  name   = %q
  image  = imagefleet_image.vm.fingerprint
  type   = "virtual-machine"
  state  = "stopped"
  config = { "limits.cpu" = "1", "limits.memory" = "256MiB", "security.secureboot" = "false" }
}`, meta, disk, name)
		steps := []resource.TestStep{{
			Config:   config,
			PlanOnly: true, ExpectNonEmptyPlan: true,
		}}
		if b.SupportsVMs(t) {
			steps = append(steps, resource.TestStep{
				Config: config + `
data "imagefleet_instance" "test" {
  name = imagefleet_instance.test.name
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("type"), knownvalue.StringExact("virtual-machine")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("Stopped")),
					statecheck.ExpectKnownValue("data.imagefleet_instance.test", tfjsonpath.New("state"), knownvalue.StringExact("stopped")),
					statecheck.CompareValuePairs(addr, tfjsonpath.New("image_fingerprint"), "imagefleet_image.vm", tfjsonpath.New("fingerprint"), compare.ValuesSame()),
				},
				Check: func(*terraform.State) error { return expectStatus(t, b, name, "STOPPED") },
			})
		} else {
			steps = append(steps, resource.TestStep{
				Config: config,
				ExpectError: acctest.Diagnostic("Error: Could not create instance", fmt.Sprintf(`Endpoint %q, instance %q:`, b.Endpoint, name),
					`Instance type "virtual-machine" is not supported on this server`),
			})
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps:                    steps,
		})
	})
}

// TestAccInstance_filesAndProfiles pushes a local source file and pushes it again when
// the file changes, and adds a profile in place.
func TestAccInstance_filesAndProfiles(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("files")})
		src := filepath.Join(dir, "app.conf")
		if err := os.WriteFile(src, []byte("version=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		name, profile := acctest.Name("files"), acctest.Name("prof")
		b.Run(t, "profile", "create", profile)
		t.Cleanup(func() { _, _ = b.Try("profile", "delete", profile) })
		config := func(profiles string) string {
			return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file = %q
}
resource "imagefleet_instance" "test" {
  name     = %q
  image    = imagefleet_image.base.fingerprint
  profiles = %s
  files    = [{ target_path = "/etc/app.conf", source_file = %q, uid = 1000, gid = 1000, mode = "0600" }]
}`, file, name, profiles, src)
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{
					Config: config(`["default"]`),
					Check: func(*terraform.State) error {
						if got := b.Run(t, "exec", name, "--", "stat", "-c", "%u:%g %a", "/etc/app.conf"); got != "1000:1000 600" {
							return fmt.Errorf("/etc/app.conf is %s", got)
						}
						return nil
					},
				},
				{
					PreConfig: func() {
						if err := os.WriteFile(src, []byte("version=2\n"), 0o644); err != nil {
							t.Fatal(err)
						}
					},
					Config: config(fmt.Sprintf(`["default", %q]`, profile)),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
					Check: func(*terraform.State) error {
						if got := b.Run(t, "exec", name, "--", "cat", "/etc/app.conf"); got != "version=2" {
							return fmt.Errorf("/etc/app.conf reads %q after the source changed", got)
						}
						if got := b.Run(t, "list", name, "-f", "csv", "-c", "P"); !strings.Contains(got, profile) {
							return fmt.Errorf("profiles on the server: %s", got)
						}
						return nil
					},
				},
			},
		})
	})
}

// TestAccInstance_failedCreateIsTainted: a create that fails after the instance
// exists (here, its command fails) records the instance, so the next apply replaces
// it instead of leaving an orphan or failing on a name that is taken.
func TestAccInstance_failedCreateIsTainted(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("taint")})
		name := acctest.Name("taint")
		config := func(exit int) string {
			return onImage(b, file, name, fmt.Sprintf(`exec = [{ command = ["sh", "-c", "exit %d"] }]`, exit))
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{
					Config:      config(1),
					ExpectError: acctest.Diagnostic("Error: Command failed in instance", `"sh -c exit 1" exited with 1.`),
				},
				{
					PreConfig: func() {
						if err := expectStatus(t, b, name, "RUNNING"); err != nil {
							t.Fatalf("the instance should exist after the failed create: %v", err)
						}
					},
					Config: config(0),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
				},
			},
		})
	})
}

// TestAccInstance_project puts an instance in another project than the endpoint's
// and imports it with the [endpoint:][project/]name form.
func TestAccInstance_project(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("proj")})
		project := b.Project(t, "imagefleet-instances", false)
		name := acctest.Name("proj")
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy: func(*terraform.State) error {
				if out, err := b.Try("info", name, "--project", project); err == nil {
					return fmt.Errorf("instance %s still exists in project %s: %s", name, project, out)
				}
				return nil
			},
			Steps: []resource.TestStep{
				{
					Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file = %q
}
resource "imagefleet_instance" "test" {
  name    = %q
  project = %q
  image   = imagefleet_image.base.fingerprint
}`, file, name, project),
					Check: func(*terraform.State) error {
						if got := b.Run(t, "list", name, "--project", project, "-f", "csv", "-c", "s"); got != "RUNNING" {
							return fmt.Errorf("instance in project %s is %q", project, got)
						}
						return nil
					},
				},
				{
					ResourceName:            addr,
					ImportState:             true,
					ImportStateId:           b.Endpoint + ":" + project + "/" + name,
					ImportStateVerify:       true,
					ImportStateVerifyIgnore: []string{"image", "timeouts"},
				},
			},
		})
	})
}

// TestAccInstance_failedExecRunsAgain: a command that fails during an update, and
// those after it, are not recorded as done: the next plan shows them and the next
// apply runs them.
func TestAccInstance_failedExecRunsAgain(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("rerun")})
		name := acctest.Name("rerun")
		config := func(exec string) string { return onImage(b, file, name, "exec = ["+exec+"]") }
		first := `{ command = ["sh", "-c", "true"] }`
		more := first + `,
    { command = ["sh", "-c", "test -e /ready || { echo not ready >&2; exit 5; }"] },
    { command = ["sh", "-c", ": > /after"] },`
		pending := func(i int) plancheck.PlanCheck {
			return plancheck.ExpectUnknownValue(addr, tfjsonpath.New("exec").AtSliceIndex(i).AtMapKey("exit_code"))
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{Config: config(first)},
				{
					Config:      config(more),
					ExpectError: acctest.Diagnostic("Error: Command failed in instance", "exited with 5. stderr: not ready"),
				},
				{
					PreConfig: func() { b.Run(t, "exec", name, "--", "sh", "-c", ": > /ready") },
					Config:    config(more),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(0).AtMapKey("exit_code"), knownvalue.Int64Exact(0)),
						pending(1), pending(2),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(1).AtMapKey("exit_code"), knownvalue.Int64Exact(0)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("exec").AtSliceIndex(2).AtMapKey("exit_code"), knownvalue.Int64Exact(0)),
					},
					Check: func(*terraform.State) error {
						if _, err := b.Try("exec", name, "--", "sh", "-c", "test -e /after"); err != nil {
							return fmt.Errorf("the command after the failed one never ran: %v", err)
						}
						return nil
					},
				},
			},
		})
	})
}

// TestAccInstance_fileDigests: the state and the plan hold no digest of inline
// content (a digest of a short secret gives it away); a source file's digest is
// kept, as a sensitive value. Changes of either are still pushed.
func TestAccInstance_fileDigests(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("digest")})
		src := filepath.Join(dir, "app.conf")
		if err := os.WriteFile(src, []byte("version=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		name := acctest.Name("digest")
		config := func(secret string) string {
			return onImage(b, file, name, fmt.Sprintf(`files = [
    { target_path = "/etc/secret", content = %q, mode = "0600" },
    { target_path = "/etc/app.conf", source_file = %q },
  ]`, secret, src))
		}
		digest := func(i int) tfjsonpath.Path { return tfjsonpath.New("files").AtSliceIndex(i).AtMapKey("content_sha256") }
		reads := func(path, want string) func(*terraform.State) error {
			return func(*terraform.State) error { return fileReads(t, b, name, path, want) }
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{
					Config: config("pin=1234"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectKnownValue(addr, digest(0), knownvalue.Null()),
						plancheck.ExpectSensitiveValue(addr, digest(1)),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, digest(0), knownvalue.Null()),
						statecheck.ExpectKnownValue(addr, digest(1), knownvalue.StringExact(acctest.SHA256(t, src))),
					},
					Check: reads("/etc/secret", "pin=1234"),
				},
				{
					Config: config("pin=9876"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, digest(0), knownvalue.Null()),
					}},
					Check: reads("/etc/secret", "pin=9876"),
				},
				{
					PreConfig: func() {
						if err := os.WriteFile(src, []byte("version=2\n"), 0o644); err != nil {
							t.Fatal(err)
						}
					},
					Config: config("pin=9876"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectSensitiveValue(addr, digest(1)),
					}},
					Check: reads("/etc/app.conf", "version=2"),
				},
			},
		})
	})
}

// TestAccInstance_failedPushIsRetried: a file whose push fails during an update (here,
// its directory is missing in the instance) is not recorded as pushed: once the
// directory exists, the next plan shows the file again and the apply pushes it. Both a
// changed file and a new one are covered.
func TestAccInstance_failedPushIsRetried(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("push")})
		name := acctest.Name("push")
		config := func(files string) string { return onImage(b, file, name, "files = "+files) }
		both := `[{ target_path = "/srv/app/conf", content = "two" }, { target_path = "/srv/new/file", content = "new" }]`
		reads := func(path, want string) error { return fileReads(t, b, name, path, want) }
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{Config: config("[]")},
				{
					PreConfig: func() { b.Run(t, "exec", name, "--", "/bin/busybox", "mkdir", "-p", "/srv/app") },
					Config:    config(`[{ target_path = "/srv/app/conf", content = "one" }]`),
					Check:     func(*terraform.State) error { return reads("/srv/app/conf", "one") },
				},
				{
					PreConfig:   func() { b.Run(t, "exec", name, "--", "/bin/busybox", "rm", "-r", "/srv/app") },
					Config:      config(both),
					ExpectError: acctest.Diagnostic("Error: Could not push /srv/app/conf into instance"),
				},
				{
					PreConfig: func() { b.Run(t, "exec", name, "--", "/bin/busybox", "mkdir", "-p", "/srv/app", "/srv/new") },
					Config:    config(both),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
					Check: func(*terraform.State) error {
						if err := reads("/srv/app/conf", "two"); err != nil {
							return err
						}
						return reads("/srv/new/file", "new")
					},
				},
			},
		})
	})
}
