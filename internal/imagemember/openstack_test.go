package imagemember_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// What scripts/backends.sh openstack sets up: Keystone and Glance with two projects,
// fleet-a (the owner here) and fleet-b (the member), each with a non-admin user.
const (
	cloudsFile  = "/etc/imagefleet/openstack/clouds.yaml"
	idsFile     = "/etc/imagefleet/openstack/ids.env"
	ownerCloud  = "imagefleet-a"
	memberCloud = "imagefleet-b"
)

// providerConfig names the owner's and the member's clouds as the endpoints owner
// (the default) and partner.
var providerConfig = fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "owner"
  endpoints = {
    owner   = { openstack = { cloud = %[1]q, clouds_file = %[3]q } }
    partner = { openstack = { cloud = %[2]q, clouds_file = %[3]q } }
  }
}
`, ownerCloud, memberCloud, cloudsFile)

var (
	checkOnce sync.Once
	checkErr  error
)

// preCheck skips the test outside the acceptance suite, as resource.Test does, since
// it is called before resource.Test to set up the servers. In the suite, it fails the
// test when Keystone and Glance are not running: the suite runs after
// scripts/backends.sh has started them, and a silent skip would hide that nothing was
// tested.
func preCheck(t *testing.T) {
	t.Helper()
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance test: set %s=1 to run it against Keystone and Glance", resource.EnvTfAcc)
	}
	checkOnce.Do(func() {
		if _, err := os.Stat(cloudsFile); err != nil {
			checkErr = err
			return
		}
		_, checkErr = osTry(ownerCloud, "image", "list", "--limit", "1")
	})
	if checkErr != nil {
		t.Fatalf("Keystone and Glance are not usable (%v): start them with scripts/backends.sh openstack", checkErr)
	}
}

// osTry runs the openstack CLI as cloud.
func osTry(cloud string, args ...string) (string, error) {
	cmd := exec.Command("/usr/bin/openstack", append([]string{"--os-cloud", cloud}, args...)...)
	cmd.Env = append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+cloudsFile)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// osRun runs the openstack CLI as cloud and fails the test on error.
func osRun(t *testing.T, cloud string, args ...string) string {
	t.Helper()
	out, err := osTry(cloud, args...)
	if err != nil {
		t.Fatalf("openstack --os-cloud %s %s: %v: %s", cloud, strings.Join(args, " "), err, out)
	}
	return out
}

// projectID reads a project's ID (FLEET_B_PROJECT_ID...) from ids.env.
func projectID(t *testing.T, key string) string {
	t.Helper()
	f, err := os.Open(idsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok && k == key {
			return strings.Trim(v, `"'`)
		}
	}
	t.Fatalf("%s names no %s", idsFile, key)
	return ""
}

// ownerImage uploads a small raw image as the owner, with the given visibility
// (shared or private), and deletes it when the test ends.
func ownerImage(t *testing.T, visibility string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(file, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	id := osRun(t, ownerCloud, "image", "create", "--file", file, "--disk-format", "raw", "--container-format", "bare",
		"--"+visibility, "-f", "value", "-c", "id", acctest.Name("imagefleet-member"))
	t.Cleanup(func() { _, _ = osTry(ownerCloud, "image", "delete", id) })
	return id
}

// memberStatus is the status of project's membership of the image as the owner
// sees it, empty when the project is not a member.
func memberStatus(t *testing.T, imageID, project string) string {
	t.Helper()
	var members []struct {
		MemberID string `json:"Member ID"`
		Status   string `json:"Status"`
	}
	if err := json.Unmarshal([]byte(osRun(t, ownerCloud, "image", "member", "list", "-f", "json", imageID)), &members); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.MemberID == project {
			return m.Status
		}
	}
	return ""
}
