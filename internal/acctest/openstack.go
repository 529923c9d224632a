package acctest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Keystone + Glance rig scripts/backends.sh starts writes these files: clouds.yaml
// with one cloud per test project, and the projects' IDs.
const (
	CloudsFile = "/etc/imagefleet/openstack/clouds.yaml"
	idsFile    = "/etc/imagefleet/openstack/ids.env"
	// WebDownloadPort is the one port Glance's web-download filter lets through
	// on 127.0.0.1, for tests that serve an image over HTTP.
	WebDownloadPort = 18089
)

// Cloud is one OpenStack project of the test rig, as an endpoint and as the
// openstack CLI sees it.
type Cloud struct {
	// Endpoint is its name in ProviderConfigAll.
	Endpoint string
	// Name is its entry in clouds.yaml.
	Name string
	// IDVar names its project ID in ids.env.
	IDVar string
}

// Owner is the project the OpenStack tests make images in; Partner the one they
// share them with.
var (
	Owner   = Cloud{Endpoint: "cloud", Name: "imagefleet-a", IDVar: "FLEET_A_PROJECT_ID"}
	Partner = Cloud{Endpoint: "partner", Name: "imagefleet-b", IDVar: "FLEET_B_PROJECT_ID"}
)

// ProviderConfigAll is a provider block with the Incus and LXD daemons and both
// OpenStack projects as endpoints, and def as the default endpoint.
func ProviderConfigAll(def string) string {
	return fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = %q
  endpoints = {
    incus   = { incus = {} }
    lxd     = { lxd = {} }
    cloud   = { openstack = { cloud = %q, clouds_file = %q } }
    partner = { openstack = { cloud = %q, clouds_file = %q } }
  }
}
`, def, Owner.Name, CloudsFile, Partner.Name, CloudsFile)
}

var openstackOnce sync.Once
var openstackErr error

// PreCheckOpenStack fails the test when the Keystone + Glance rig is not running,
// for the same reason PreCheck does.
func PreCheckOpenStack(t *testing.T) {
	t.Helper()
	openstackOnce.Do(func() {
		if _, err := os.Stat(CloudsFile); err != nil {
			openstackErr = err
			return
		}
		_, openstackErr = Owner.Try("token", "issue", "-f", "value", "-c", "id")
	})
	if openstackErr != nil {
		t.Fatalf("the Keystone + Glance test rig is not usable (%v): start it with scripts/backends.sh openstack", openstackErr)
	}
}

// Run runs the openstack CLI as the cloud's project and fails the test on error.
func (c Cloud) Run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.Try(args...)
	if err != nil {
		t.Fatalf("openstack --os-cloud %s %s: %v: %s", c.Name, strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs the openstack CLI as the cloud's project. Debian's python3 is named
// explicitly: another python3 may be first on PATH and lack the client's modules.
func (c Cloud) Try(args ...string) (string, error) {
	cmd := exec.Command("/usr/bin/python3", append([]string{"/usr/bin/openstack", "--os-cloud", c.Name}, args...)...)
	cmd.Env = append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+CloudsFile)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// ProjectID is the cloud's project ID, from the rig's ids.env.
func (c Cloud) ProjectID(t *testing.T) string {
	t.Helper()
	f, err := os.Open(idsFile)
	if err != nil {
		t.Fatalf("reading the test projects' IDs: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k == c.IDVar {
			return strings.Trim(v, `"'`)
		}
	}
	t.Fatalf("%s has no %s", idsFile, c.IDVar)
	return ""
}

// WebDownloadListener listens on the web-download test port. Tests of other packages
// may hold it for a while (go test runs packages side by side), so it waits for it,
// up to two minutes.
func WebDownloadListener(t *testing.T) net.Listener {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", WebDownloadPort)
	var l net.Listener
	var err error
	for end := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if l, err = net.Listen("tcp", addr); err == nil || time.Now().After(end) {
			break
		}
	}
	if err != nil {
		t.Fatalf("the web-download tests need %s: %v", addr, err)
	}
	return l
}
