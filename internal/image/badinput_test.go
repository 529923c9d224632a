package image_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

func planError(t *testing.T, b acctest.Backend, config string, want *regexp.Regexp) {
	t.Helper()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, b) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps:                    []resource.TestStep{{Config: config, PlanOnly: true, ExpectError: want}},
	})
}

// TestAccImage_badInput checks each kind of bad input gets its own clear diagnostic,
// at plan time wherever it can be known then.
func TestAccImage_badInput(t *testing.T) {
	b := acctest.Backends[0]
	dir := acctest.TempDir(t)
	notImage := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notImage, []byte("just some text, not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noMeta, err := acctest.BuildWithoutMetadata(dir)
	if err != nil {
		t.Fatal(err)
	}
	noArch, err := acctest.BuildWithoutArchitecture(dir)
	if err != nil {
		t.Fatal(err)
	}
	good := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("bad")})
	missing := filepath.Join(dir, "missing.tar.gz")
	cfg := acctest.ProviderConfig(b.Endpoint)
	cases := map[string]struct {
		config string
		want   *regexp.Regexp
	}{
		"missing file": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" { file = %q }`, missing),
			acctest.Diagnostic("Error: Invalid image source", missing+" does not exist. Check the path"),
		},
		"not an image": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" { file = %q }`, notImage),
			acctest.Diagnostic("Error: Source is not an image", notImage+" is not an image this provider knows: expected a unified Incus tarball (metadata.yaml and rootfs/) or a disk image (qcow2, raw, vmdk, vhd, vhdx, vdi, iso)"),
		},
		"no metadata.yaml": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" { file = %q }`, noMeta),
			acctest.Diagnostic("Error: Image tarball without metadata.yaml", noMeta+" holds no metadata.yaml at its top level."),
		},
		"split rootfs not an image": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" { split = { metadata_file = %q, rootfs_file = %q } }`, good, notImage),
			acctest.Diagnostic("Error: Source is not an image", notImage+" is not an image this provider knows: the rootfs of a split image is a squashfs, a tarball or a qcow2 disk image"),
		},
		"metadata.yaml without architecture": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" { file = %q }`, noArch),
			acctest.Diagnostic("Error: Image metadata without architecture", noArch+": its metadata.yaml names no architecture."),
		},
		"empty property key": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file       = %q
  properties = { "" = "x" }
}`, good),
			acctest.Diagnostic("Error: Invalid Attribute Value", `properties`),
		},
		"property the provider keeps": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file       = %q
  properties = { imagefleet_creation = "x" }
}`, good),
			acctest.Diagnostic("Error: Property owned by the server", `Endpoint "incus" (incus): the property "imagefleet_creation" is set by the server itself`),
		},
		"two sources": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file = %q
  url  = "https://example.invalid/image.tar.gz"
}`, good),
			acctest.Diagnostic("Error: Invalid Attribute Combination", `These attributes cannot be configured together: [file,split,url,remote,copy_from,claim]`),
		},
		"no source": {
			cfg + `resource "imagefleet_image" "x" { properties = { a = "b" } }`,
			acctest.Diagnostic("Error: Image source missing", "A new image needs exactly one source: file, split, url, remote, copy_from or claim."),
		},
		"alias name with a slash": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file    = %q
  incus   = { aliases = [{ name = "debian/12" }] }
}`, good),
			acctest.Diagnostic("Error: Invalid Attribute Value Match", `must be non-empty and hold no slash, colon or white space (write "debian-12", not "debian/12"), got: debian/12`),
		},
		"alias resource name with a slash": {
			cfg + `resource "imagefleet_image_alias" "x" {
  name   = "os/debian"
  target = "abc"
}`,
			acctest.Diagnostic("Error: Invalid Attribute Value Match", `Attribute name must be non-empty and hold no slash, colon or white space`, "got: os/debian"),
		},
		"alias name with a colon": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file    = %q
  incus   = { aliases = [{ name = "remote:name" }] }
}`, good),
			acctest.Diagnostic("Error: Invalid Attribute Value Match", "hold no slash, colon or white space", "got: remote:name"),
		},
		"alias resource name with white space": {
			cfg + `resource "imagefleet_image_alias" "x" {
  name   = "two words"
  target = "abc"
}`,
			acctest.Diagnostic("Error: Invalid Attribute Value Match", `hold no slash, colon or white space`, "got: two words"),
		},
		"endpoint not configured": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  endpoint = "nowhere"
  file     = %q
}`, good),
			acctest.Diagnostic("Error: Unusable endpoint", `endpoint "nowhere" is not configured in the provider's endpoints (configured: incus, lxd): name one of these, or add "nowhere" to the provider's endpoints.`),
		},
		"data source endpoint not configured": {
			cfg + `data "imagefleet_images" "x" { endpoint = "nowhere" }`,
			acctest.Diagnostic("Error: Unusable endpoint", `endpoint "nowhere" is not configured in the provider's endpoints (configured: incus, lxd): name one of these, or add "nowhere" to the provider's endpoints.`),
		},
		"expiry in the past": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file       = %q
  incus      = { expires_at = %q }
}`, good, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)),
			acctest.Diagnostic("Error: Expiry in the past", "is not in the future: the server would remove the image at once."),
		},
		"expiry not a time": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file       = %q
  incus      = { expires_at = "tomorrow" }
}`, good),
			acctest.Diagnostic("Error: Invalid time", `"tomorrow" must be an RFC 3339 time such as 2030-01-02T15:04:05Z.`),
		},
		"incus protocol on an lxd endpoint": {
			cfg + `resource "imagefleet_image" "x" {
  endpoint = "lxd"
  remote   = { server = "https://images.example.invalid", protocol = "incus", alias = "debian/12" }
}`,
			acctest.Diagnostic("Error: Unsupported remote protocol", `Endpoint "lxd" is of type lxd, which cannot pull with the incus protocol: use simplestreams or lxd, or an endpoint of type incus.`),
		},
		"bad TLS material": {
			`provider "imagefleet" {
  endpoints = { remote = { incus = { address = "https://127.0.0.1:1", client_cert = "not a certificate", client_key = "not a key" } } }
}
data "imagefleet_images" "x" {}`,
			acctest.Diagnostic("Error: Invalid endpoint configuration", `Endpoint "remote" (incus): the client certificate is not in PEM form (no -----BEGIN CERTIFICATE----- line): give client_cert`),
		},
		"bad server certificate": {
			`provider "imagefleet" {
  endpoints = { remote = { incus = { address = "https://127.0.0.1:1", server_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" } } }
}
data "imagefleet_images" "x" {}`,
			acctest.Diagnostic("Error: Invalid endpoint configuration", `Endpoint "remote" (incus): server_cert holds a PEM certificate block that is not a valid certificate: give the server's own certificate`),
		},
		"endpoint of the wrong kind": {
			`provider "imagefleet" {
  endpoints = { wrong = { incus = { address = "unix:///var/lib/lxd/unix.socket" } } }
}
data "imagefleet_images" "x" {}`,
			acctest.Diagnostic("Error: Could not read images", `connecting to endpoint "wrong" (incus): unix:///var/lib/lxd/unix.socket is a lxd server (version`, "but the endpoint is configured as incus: use the lxd kind for it."),
		},
		"endpoint with two backends": {
			`provider "imagefleet" {
  endpoints = { both = { incus = {}, lxd = {} } }
}
data "imagefleet_images" "x" {}`,
			acctest.Diagnostic("Error: Invalid endpoint", `Endpoint "both" must have exactly one backend block: one of`, "`incus = {...}`, `lxd = {...}`"),
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			planError(t, b, c.config, c.want)
		})
	}
}

// TestAccImage_unreachableEndpoint checks that an endpoint that is down fails only the
// objects that use it, with an error naming it, while the rest of the apply proceeds.
func TestAccImage_unreachableEndpoint(t *testing.T) {
	b := acctest.Backends[0]
	dir := acctest.TempDir(t)
	good := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("reach")})
	sock := filepath.Join(dir, "nobody-listens.socket")
	var fp string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, b) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkGone(b, &fp),
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "up"
  endpoints = {
    up   = { incus = {} }
    down = { incus = { address = "unix://%s" } }
  }
  retry = { max_attempts = 2, min_wait = "10ms", max_wait = "20ms" }
}
resource "imagefleet_image" "up" {
  file = %q
}
resource "imagefleet_image" "down" {
  endpoint = "down"
  file     = %q
}`, sock, good, good),
				ExpectError: acctest.Diagnostic("Error: Could not create image", fmt.Sprintf(`connecting to endpoint "down" (incus): GET unix://%s: endpoint unreachable:`, sock), "there is no socket at "+sock+"."),
			},
			{
				// The image on the endpoint that is up was created despite the other.
				RefreshState: true,
				// The image on the endpoint that is down is still to be created.
				ExpectNonEmptyPlan: true,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith("imagefleet_image.up", "fingerprint", record(&fp)),
					func(*terraform.State) error {
						_, err := b.Try("image", "info", fp)
						return err
					},
				),
			},
		},
	})
}
