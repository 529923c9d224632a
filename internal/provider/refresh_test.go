package provider_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// TestAccRefreshOnlyExitCode runs the Terraform CLI on the provider binary built from
// this tree, as a drift-check job does: right after an apply, `terraform plan
// -refresh-only -detailed-exitcode` must exit 0, and 2 once the server changed. The
// configuration has numbers both in a resource and in an output fed by a data source.
func TestAccRefreshOnlyExitCode(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 and start the daemons (scripts/backends.sh)")
	}
	b := acctest.Backends[0]
	acctest.PreCheck(t, b)
	dir := acctest.TempDir(t)
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-imagefleet"), "../..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	rc := filepath.Join(dir, "terraformrc")
	mustWrite(t, rc, fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"imagefleet/imagefleet\" = %q\n  }\n  direct {}\n}\n", bin))
	file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("refresh")})
	fp := acctest.SHA256(t, file)
	work := filepath.Join(dir, "work")
	mustWrite(t, filepath.Join(work, "main.tf"), fmt.Sprintf(`
terraform {
  required_providers {
    imagefleet = { source = "imagefleet/imagefleet" }
  }
}
provider "imagefleet" {
  endpoints = { local = { incus = {} } }
}
resource "imagefleet_image" "test" {
  file       = %q
  properties = { tier = "refresh" }
}
data "imagefleet_image" "test" {
  fingerprint = imagefleet_image.test.fingerprint
}
output "size" {
  value = data.imagefleet_image.test.size
}
`, file))
	terraform := func(args ...string) (int, string) {
		cmd := exec.Command("terraform", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
		}
		return 0, string(out)
	}
	if code, out := terraform("apply", "-auto-approve", "-no-color"); code != 0 {
		t.Fatalf("apply exited %d:\n%s", code, out)
	}
	t.Cleanup(func() { terraform("destroy", "-auto-approve", "-no-color") })
	if code, out := terraform("plan", "-refresh-only", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Fatalf("refresh-only plan on a clean state exited %d, want 0:\n%s", code, out)
	}
	b.Run(t, "image", "set-property", fp, "tier", "changed")
	if code, out := terraform("plan", "-refresh-only", "-detailed-exitcode", "-no-color"); code != 2 {
		t.Fatalf("refresh-only plan after a change on the server exited %d, want 2:\n%s", code, out)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
