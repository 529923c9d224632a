package provider_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// osVariables are the variables the openstack backend reads besides OS_* ones the
// environment happens to hold (cleared too): where clouds.yaml is looked for.
var osVariables = []string{
	"OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_AUTH_URL", "OS_AUTH_TYPE", "OS_USERNAME", "OS_USER_ID", "OS_PASSWORD",
	"OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID", "OS_PROJECT_NAME", "OS_TENANT_NAME", "OS_PROJECT_ID", "OS_TENANT_ID",
	"OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_NAME", "OS_DOMAIN_ID", "OS_DEFAULT_DOMAIN",
	"OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME", "OS_APPLICATION_CREDENTIAL_SECRET",
	"OS_TOKEN", "OS_AUTH_TOKEN", "OS_REGION_NAME", "OS_INTERFACE", "OS_ENDPOINT_TYPE", "OS_CACERT", "OS_INSECURE",
}

// isolateOpenStack leaves the provider nothing to authenticate with but its
// configuration: no OS_* variables, and a home and config directory without a
// clouds.yaml.
func isolateOpenStack(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OS_") {
			t.Setenv(k, "")
		}
	}
	for _, k := range osVariables {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "")
	if _, err := os.Stat("/etc/openstack"); err == nil {
		t.Fatal("/etc/openstack exists: its clouds.yaml would be read, and these tests need none")
	}
	if _, err := os.Stat("clouds.yaml"); err == nil {
		t.Fatal("the test's working directory holds a clouds.yaml, which the provider would read")
	}
}

// openstackEndpoint is a provider block with one openstack endpoint, bad, configured
// with settings, and a data source that reads it at plan time.
func openstackEndpoint(settings string) string {
	return fmt.Sprintf(`
provider "imagefleet" {
  endpoints = {
    bad = { openstack = {
%s
    } }
  }
}
data "imagefleet_images" "bad" {
  endpoint = "bad"
}
`, settings)
}

// TestAccProviderOpenStack_badEndpoint: an openstack endpoint that cannot be used
// gets a diagnostic that names it and says what to set or check.
func TestAccProviderOpenStack_badEndpoint(t *testing.T) {
	acctest.PreCheckOpenStack(t)
	isolateOpenStack(t)
	cases := map[string]struct {
		settings string
		want     *regexp.Regexp
	}{
		"no settings": {
			"",
			acctest.Diagnostic("Error: Invalid endpoint configuration",
				`Endpoint "bad" (openstack): no OpenStack authentication settings: set cloud, or auth_url with username/password or application credentials or token, `+
					"or OS_* variables (OS_CLOUD, or OS_AUTH_URL with OS_USERNAME/OS_PASSWORD, OS_APPLICATION_CREDENTIAL_ID/OS_APPLICATION_CREDENTIAL_SECRET or OS_TOKEN)."),
		},
		"wrong password": {
			`auth_url            = "http://127.0.0.1:5000/v3"
      username            = "fleet-a"
      password            = "not-fleet-a-pass"
      user_domain_name    = "Default"
      project_name        = "fleet-a"
      project_domain_name = "Default"`,
			acctest.Diagnostic("Error: Could not read images",
				`connecting to endpoint "bad" (openstack): authenticating with Keystone at http://127.0.0.1:5000/v3: it refused the password of user "fleet-a"; `+
					"check the credentials, and the user's and project's domains (POST http://127.0.0.1:5000/v3/auth/tokens: 401: The request you have made requires authentication.).",
				"Check the endpoint's credentials (on Incus and LXD, that the server trusts the client certificate) and what they allow."),
		},
		"unknown cloud": {
			fmt.Sprintf(`cloud = "imagefleet-nowhere"
      clouds_file = %q`, acctest.CloudsFile),
			acctest.Diagnostic("Error: Invalid endpoint configuration",
				fmt.Sprintf(`Endpoint "bad" (openstack): cloud is "imagefleet-nowhere", but %s has no such cloud (it defines imagefleet-a, imagefleet-admin, imagefleet-b). `+
					"Name one of its clouds, or point clouds_file to the file that defines this one.", acctest.CloudsFile)),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: openstackEndpoint(tc.settings), PlanOnly: true, ExpectError: tc.want}},
			})
		})
	}
}

// TestAccProviderOpenStack_unreachableEndpoint: an openstack endpoint whose Keystone
// does not answer fails only the objects on it; an image on another endpoint in the
// same apply is created, and recorded.
func TestAccProviderOpenStack_unreachableEndpoint(t *testing.T) {
	acctest.PreCheckOpenStack(t)
	dir := acctest.TempDir(t)
	disk := acctest.Disk(t, dir, "raw", acctest.Name("reach"))
	name := acctest.Name("reach")
	endpoints := fmt.Sprintf(`
provider "imagefleet" {
  endpoints = {
    cloud = { openstack = { cloud = %q, clouds_file = %q } }
    down  = { openstack = {
      auth_url     = "http://127.0.0.1:1/v3"
      username     = "fleet-a"
      password     = "fleet-a-pass"
      project_name = "fleet-a"
    } }
  }
}
resource "imagefleet_image" "up" {
  endpoint = "cloud"
  name     = %q
  file     = %q
}
`, acctest.Owner.Name, acctest.CloudsFile, name, disk)
	withDown := endpoints + fmt.Sprintf(`
resource "imagefleet_image" "down" {
  endpoint = "down"
  name     = %q
  file     = %q
}
`, name, disk)
	up := "imagefleet_image.up"
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if out, err := acctest.Owner.Try("image", "show", "-f", "value", "-c", "status", id); err == nil && out != "deleted" {
				return fmt.Errorf("image %s is still on Glance after destroy (status %s)", id, out)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: withDown,
				ExpectError: acctest.Diagnostic("Error: Could not create image", "with imagefleet_image.down",
					`connecting to endpoint "down" (openstack): authenticating with Keystone at http://127.0.0.1:1/v3: POST http://127.0.0.1:1/v3/auth/tokens: endpoint unreachable:`,
					"nothing listens at 127.0.0.1:1 (connection refused). Check that the endpoint's server is running and its address is right."),
			},
			{
				// The image on the good endpoint was made by the failed apply: it
				// is in state and plans no change; the other was never recorded.
				Config: endpoints,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(up, "id", func(v string) error { id = v; return nil }),
					func(*terraform.State) error {
						var img struct{ Name, Status string }
						out := acctest.Owner.Run(t, "image", "show", "-f", "json", "-c", "name", "-c", "status", id)
						if err := json.Unmarshal([]byte(out), &img); err != nil || img.Name != name || img.Status != "active" {
							return fmt.Errorf("Glance shows image %s as %s", id, out)
						}
						return nil
					},
				),
			},
		},
	})
}
