package image_test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
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

// glanceByName lists the IDs of the owner's images named name.
func glanceByName(t *testing.T, name string) []string {
	t.Helper()
	return strings.Fields(acctest.Owner.Run(t, "image", "list", "--name", name, "-f", "value", "-c", "ID"))
}

// TestAccImageOpenStack_digestMismatch damages an upload on its way to Glance (one
// byte flipped by a proxy, the length kept): the apply fails naming the digest the
// provider computed and the one Glance reports, the damaged image is kept in state
// tainted, and once the way is clean the next apply replaces it.
func TestAccImageOpenStack_digestMismatch(t *testing.T) {
	acctest.PreCheckOpenStack(t)
	dir := acctest.TempDir(t)
	disk := acctest.Disk(t, dir, "raw", acctest.Name("damaged"))
	// Within the disk's random bytes, so the damage cannot make it another file's.
	const flipAt = 5000
	content, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	sent := md5.Sum(content)
	content[flipAt] ^= 0xff
	stored := md5.Sum(content)
	sentMD5, storedMD5 := hex.EncodeToString(sent[:]), hex.EncodeToString(stored[:])

	proxy := acctest.StartOpenStackProxy(t)
	name := acctest.Name("digest")
	t.Cleanup(func() {
		for _, id := range glanceByName(t, name) {
			_, _ = acctest.Owner.Try("image", "delete", id)
		}
	})
	config := fmt.Sprintf(`
provider "imagefleet" {
  endpoints = {
    proxied = { openstack = {
      auth_url            = %q
      username            = "fleet-a"
      password            = "fleet-a-pass"
      user_domain_name    = "Default"
      project_name        = "fleet-a"
      project_domain_name = "Default"
    } }
  }
}
resource "imagefleet_image" "test" {
  endpoint = "proxied"
  name     = %q
  file     = %q
}
`, proxy.AuthURL, name, disk)
	var damaged, id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if left := glanceByName(t, name); len(left) > 0 {
				return fmt.Errorf("images %v named %s are still on Glance after destroy", left, name)
			}
			return checkGlanceGone(&damaged, &id)(s)
		},
		Steps: []resource.TestStep{
			{
				PreConfig: func() { proxy.CorruptUploads(flipAt) },
				Config:    config,
				ExpectError: acctest.Diagnostic("Error: Could not create image", fmt.Sprintf(`Endpoint "proxied", file %s: image`, disk),
					fmt.Sprintf("md5 digest mismatch: local content has %s, server reports %s.", sentMD5, storedMD5),
					"The content changed or was damaged on the way; run the apply again."),
			},
			{
				PreConfig: func() {
					if n := proxy.Corrupted(); n != 1 {
						t.Fatalf("the proxy altered %d uploads, not 1", n)
					}
					proxy.CorruptUploads(-1)
					ids := glanceByName(t, name)
					if len(ids) != 1 {
						t.Fatalf("Glance holds %d images named %s after the failed apply, not the 1 damaged: %v", len(ids), name, ids)
					}
					damaged = ids[0]
					if img := glanceShow(t, acctest.Owner, damaged); img.Checksum != storedMD5 {
						t.Fatalf("the image left by the failed apply has checksum %s, not the damaged content's %s", img.Checksum, storedMD5)
					}
				},
				Config: config,
				// Nothing changed in the configuration: the replacement is the taint.
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("checksum"), knownvalue.StringExact(sentMD5)),
				},
				Check: resource.ComposeTestCheckFunc(resource.TestCheckResourceAttrWith(addr, "id", record(&id)), func(*terraform.State) error {
					if ids := glanceByName(t, name); len(ids) != 1 || ids[0] != id {
						return fmt.Errorf("after the replacement Glance holds %v named %s, not only the new image %s", ids, name, id)
					}
					return nil
				}),
			},
		},
	})
}
