package instance_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// TestAccInstance_badInput gives each kind of bad input its own exact diagnostic:
// at plan time where it can be known, else the server's own message at apply.
func TestAccInstance_badInput(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("bad")})
		image := fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file = %q
}
`, file)
		name := acctest.Name("bad")
		instance := func(body string) string {
			return acctest.ProviderConfig(b.Endpoint) + image + fmt.Sprintf(`
resource "imagefleet_instance" "x" {
  image = imagefleet_image.base.fingerprint
  %s
}`, body)
		}
		cases := []struct {
			name, config string
			want         *regexp.Regexp
		}{
			{"unknown state", instance(fmt.Sprintf("name = %q\n  state = \"paused\"", name)),
				acctest.Diagnostic("Error: Invalid Attribute Value Match", `Attribute state value must be one of: ["running" "stopped" "frozen"], got: "paused"`)},
			{"device without type", instance(fmt.Sprintf("name = %q\n  devices = { data = { properties = { path = \"/mnt\" } } }", name)),
				acctest.Diagnostic("Error: Incorrect attribute value type", `attribute "type" is required`)},
			{"name that is not a host name", instance(`name = "web_1"`),
				acctest.Diagnostic("Error: Invalid Attribute Value Match", "Attribute name must be a valid host name: letters, digits and '-', starting with a letter, at most 63 characters, got: web_1")},
			{"commands on a stopped instance", instance(fmt.Sprintf("name = %q\n  state = \"stopped\"\n  exec = [{ command = [\"true\"] }]", name)),
				acctest.Diagnostic("Error: Commands need a running instance", `exec runs commands in the instance, but state is "stopped": set state = "running", or remove exec.`)},
			{"config key the server rejects", instance(fmt.Sprintf("name = %q\n  config = { \"limits.bogus\" = \"1\" }", name)),
				acctest.Diagnostic("Error: Could not create instance", fmt.Sprintf(`Endpoint %q, instance %q:`, b.Endpoint, name), `Unknown configuration key: limits.bogus`)},
			{"image that does not exist", acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_instance" "x" {
  name  = %q
  image = "no-such-image"
}`, name),
				acctest.Diagnostic("Error: Could not create instance", fmt.Sprintf(`Endpoint %q, instance %q: image "no-such-image": the endpoint has no alias of that name and no image whose fingerprint starts so:`, b.Endpoint, name))},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resource.Test(t, resource.TestCase{
					PreCheck:                 func() { acctest.PreCheck(t, b) },
					ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
					CheckDestroy:             checkGone(b, name),
					Steps:                    []resource.TestStep{{Config: tc.config, ExpectError: tc.want}},
				})
			})
		}
	})
}

// TestAccInstanceDataSource reads a running container made by the resource. No
// bridge network can be made here, so the container gets a point-to-point NIC and a
// command sets its addresses: what the server then reports must reach the resource's
// and the data source's address attributes.
func TestAccInstanceDataSource(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("ds")})
		name := acctest.Name("ds")
		addresses := func(address string) []statecheck.StateCheck {
			return []statecheck.StateCheck{
				statecheck.ExpectKnownValue(address, tfjsonpath.New("ipv4_address"), knownvalue.StringExact("198.51.100.10")),
				statecheck.ExpectKnownValue(address, tfjsonpath.New("ipv6_address"), knownvalue.StringExact("2001:db8::10")),
				statecheck.ExpectKnownValue(address, tfjsonpath.New("mac_address"), knownvalue.StringExact("00:16:3e:00:00:01")),
			}
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{{
				Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file = %q
}
resource "imagefleet_instance" "test" {
  name        = %q
  image       = imagefleet_image.base.fingerprint
  description = "read me"
  config      = { "user.team" = "images" }
  devices = {
    eth0 = { type = "nic", properties = { nictype = "p2p", name = "eth0", hwaddr = "00:16:3e:00:00:01" } }
  }
  exec = [
    { command = ["/bin/busybox", "ip", "addr", "add", "198.51.100.10/24", "dev", "eth0"] },
    { command = ["/bin/busybox", "ip", "-6", "addr", "add", "2001:db8::10/64", "dev", "eth0"] },
  ]
}
data "imagefleet_instance" "test" {
  name = imagefleet_instance.test.name
}`, file, name),
				ConfigStateChecks: append(append([]statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.imagefleet_instance.test", tfjsonpath.New("state"), knownvalue.StringExact("running")),
					statecheck.ExpectKnownValue("data.imagefleet_instance.test", tfjsonpath.New("description"), knownvalue.StringExact("read me")),
					statecheck.ExpectKnownValue("data.imagefleet_instance.test", tfjsonpath.New("config"), knownvalue.MapExact(map[string]knownvalue.Check{"user.team": knownvalue.StringExact("images")})),
					statecheck.ExpectKnownValue("data.imagefleet_instance.test", tfjsonpath.New("expanded_config").AtMapKey("image.variant"), knownvalue.NotNull()),
				}, addresses(addr)...), addresses("data.imagefleet_instance.test")...),
			}},
		})
	})
}
