package image_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
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

// glanceImage is an image as `openstack image show -f json` prints it.
type glanceImage struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Status     string         `json:"status"`
	Visibility string         `json:"visibility"`
	Protected  bool           `json:"protected"`
	Hidden     bool           `json:"os_hidden"`
	MinDisk    int            `json:"min_disk"`
	MinRAM     int            `json:"min_ram"`
	Tags       []string       `json:"tags"`
	DiskFormat string         `json:"disk_format"`
	Checksum   string         `json:"checksum"`
	Properties map[string]any `json:"properties"`
}

func glanceShow(t *testing.T, c acctest.Cloud, id string) glanceImage {
	t.Helper()
	var img glanceImage
	if err := json.Unmarshal([]byte(c.Run(t, "image", "show", "-f", "json", id)), &img); err != nil {
		t.Fatal(err)
	}
	sort.Strings(img.Tags)
	// The CLI prints os_hidden among the properties.
	if h, ok := img.Properties["os_hidden"].(bool); ok {
		img.Hidden = h
	}
	return img
}

// checkGlanceGone asks Glance that the image is gone after destroy.
func checkGlanceGone(ids ...*string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, id := range ids {
			if *id == "" {
				return fmt.Errorf("the test never recorded the image's id")
			}
			if out, err := acctest.Owner.Try("image", "show", "-f", "value", "-c", "status", *id); err == nil && out != "deleted" {
				return fmt.Errorf("image %s is still on Glance after destroy (status %s)", *id, out)
			}
		}
		return nil
	}
}

func fileDigests(t *testing.T, p string) (md5sum, sha512sum string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, s := md5.Sum(b), sha512.Sum512(b)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

func glanceConfig(name, file, extra string) string {
	return acctest.ProviderConfigAll("cloud") + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  name       = %q
  file       = %q
  properties = { os_distro = "debian", tier = "test" }
%s
}
`, name, file, extra)
}

// TestAccImageOpenStack_lifecycle uploads a qcow2 to Glance, changes every setting in
// place, repairs drift made with the openstack CLI (property, visibility, tag,
// deactivation, deletion) and checks destroy on the server.
func TestAccImageOpenStack_lifecycle(t *testing.T) {
	dir := acctest.TempDir(t)
	disk := acctest.Disk(t, dir, "qcow2", acctest.Name("glance"))
	md5sum, sha512sum := fileDigests(t, disk)
	name := acctest.Name("life")
	var id string
	first := `  openstack = { visibility = "private", tags = ["a"], min_disk_gb = 1 }`
	second := `  openstack = {
    visibility  = "shared"
    protected   = true
    hidden      = true
    min_disk_gb = 2
    min_ram_mb  = 128
    tags        = ["b", "c"]
    deactivated = true
  }`
	settled := `  openstack = { visibility = "shared", tags = ["b", "c"] }`
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheckOpenStack(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkGlanceGone(&id),
		Steps: []resource.TestStep{
			{
				Config: glanceConfig(name, disk, first),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("openstack").AtMapKey("disk_format"), knownvalue.StringExact("qcow2")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("openstack").AtMapKey("container_format"), knownvalue.StringExact("bare")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("checksum"), knownvalue.StringExact(md5sum)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("os_hash_algo"), knownvalue.StringExact("sha512")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("os_hash_value"), knownvalue.StringExact(sha512sum)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(acctest.SHA256(t, disk))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("incus"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("properties"), knownvalue.MapExact(map[string]knownvalue.Check{
						"os_distro": knownvalue.StringExact("debian"), "tier": knownvalue.StringExact("test"),
					})),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					func(*terraform.State) error {
						img := glanceShow(t, acctest.Owner, id)
						if img.Name != name || img.Visibility != "private" || img.Status != "active" || img.MinDisk != 1 ||
							fmt.Sprint(img.Tags) != "[a]" || img.Properties["tier"] != "test" {
							return fmt.Errorf("Glance holds %+v", img)
						}
						return nil
					},
				),
			},
			{
				// Everything changes in place.
				Config: glanceConfig(name+"-renamed", disk, second),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					img := glanceShow(t, acctest.Owner, id)
					if img.Name != name+"-renamed" || img.Visibility != "shared" || !img.Protected || !img.Hidden || img.MinDisk != 2 ||
						img.MinRAM != 128 || fmt.Sprint(img.Tags) != "[b c]" || img.Status != "deactivated" {
						return fmt.Errorf("Glance holds %+v", img)
					}
					return nil
				},
			},
			{
				// Settings left out of the block go back to their defaults.
				Config: glanceConfig(name, disk, settled),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if img := glanceShow(t, acctest.Owner, id); img.Protected || img.Hidden || img.Status != "active" || img.MinDisk != 0 {
						return fmt.Errorf("Glance holds %+v", img)
					}
					return nil
				},
			},
			{
				// Drift made with the CLI shows in the plan and is repaired.
				PreConfig: func() {
					acctest.Owner.Run(t, "image", "set", "--property", "tier=tampered", "--private", "--tag", "x", id)
					acctest.Owner.Run(t, "image", "set", "--deactivate", id)
				},
				Config: glanceConfig(name, disk, settled),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("openstack").AtMapKey("visibility"), knownvalue.StringExact("shared")),
				}},
				Check: func(*terraform.State) error {
					img := glanceShow(t, acctest.Owner, id)
					if img.Properties["tier"] != "test" || img.Visibility != "shared" || fmt.Sprint(img.Tags) != "[b c]" || img.Status != "active" {
						return fmt.Errorf("drift not repaired: Glance holds %+v", img)
					}
					return nil
				},
			},
			{
				// An image deleted outside Terraform is made again.
				PreConfig: func() { acctest.Owner.Run(t, "image", "delete", id) },
				Config:    glanceConfig(name, disk, settled),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
				}},
				Check: resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
			},
		},
	})
}

// TestAccImageOpenStack_interop: what the provider uploads, `openstack image save`
// downloads byte for byte; an image made with `openstack image create --file` (a
// raw disk here) is imported with an import block, recorded without a replacement,
// and plans clean afterwards.
func TestAccImageOpenStack_interop(t *testing.T) {
	acctest.PreCheckOpenStack(t)
	dir := acctest.TempDir(t)
	disk := acctest.Disk(t, dir, "raw", acctest.Name("interop"))
	made := acctest.Disk(t, dir, "raw", acctest.Name("cli"))
	cliName := acctest.Name("cli")
	cliID := acctest.Owner.Run(t, "image", "create", "--file", made, "--disk-format", "raw", "--container-format", "bare",
		"--property", "os_distro=debian", "-f", "value", "-c", "id", cliName)
	var id string
	config := acctest.ProviderConfigAll("cloud") + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  name = "interop"
  file = %q
}
resource "imagefleet_image" "cli" {
  name       = %q
  file       = %q
  properties = { os_distro = "debian" }
}
`, disk, cliName, made)
	cliAddr := "imagefleet_image.cli"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkGlanceGone(&id, &cliID),
		Steps: []resource.TestStep{
			{
				Config: acctest.ProviderConfigAll("cloud") + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  name = "interop"
  file = %q
}`, disk),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("openstack").AtMapKey("disk_format"), knownvalue.StringExact("raw")),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					func(*terraform.State) error {
						out := filepath.Join(dir, "saved")
						acctest.Owner.Run(t, "image", "save", "--file", out, id)
						a, _ := os.ReadFile(disk)
						b, _ := os.ReadFile(out)
						if !bytes.Equal(a, b) {
							return fmt.Errorf("openstack image save gave %d bytes that differ from the %d uploaded", len(b), len(a))
						}
						return nil
					},
				),
			},
			{
				// An import block in the configuration. The server cannot know the
				// file, so the import records it in place: the same md5 as Glance's
				// checksum, no replacement and no change on the server.
				Config: config + fmt.Sprintf(`
import {
  to = %s
  id = "cloud:%s"
}`, cliAddr, cliID),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(cliAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(cliAddr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(acctest.SHA256(t, made))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(cliAddr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(acctest.SHA256(t, made))),
				},
			},
		},
	})
}

// TestAccImageOpenStack_url imports an image with web-download from a local HTTP
// server; a URL that fails fails the apply at once, naming it, and a URL Glance's
// filter refuses gets Glance's message.
func TestAccImageOpenStack_url(t *testing.T) {
	acctest.PreCheckOpenStack(t)
	dir := acctest.TempDir(t)
	disk := acctest.Disk(t, dir, "qcow2", acctest.Name("web"))
	ln := acctest.WebDownloadListener(t)
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := fmt.Sprintf("http://127.0.0.1:%d/", acctest.WebDownloadPort)
	md5sum, _ := fileDigests(t, disk)
	urlConfig := func(u string) string {
		return acctest.ProviderConfigAll("cloud") + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  name      = "from-url"
  url       = %q
  openstack = { disk_format = "qcow2" }
}`, u)
	}
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkGlanceGone(&id),
		Steps: []resource.TestStep{
			{
				Config: urlConfig(base + filepath.Base(disk)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("checksum"), knownvalue.StringExact(md5sum)),
				},
				Check: resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
			},
			{
				Config:      urlConfig(base + "missing.qcow2"),
				ExpectError: regexp.MustCompile(`(?s)missing\.qcow2.*404`),
			},
			{
				Config:      urlConfig("http://127.0.0.1:8000/image.qcow2"),
				ExpectError: regexp.MustCompile(`(?s)does not pass filtering`),
			},
		},
	})
}

// TestAccImageOpenStack_fanOut publishes one qcow2 to Incus, LXD and Glance with one
// for_each, and copies between Incus and Glance both ways.
func TestAccImageOpenStack_fanOut(t *testing.T) {
	incus, lxd := acctest.Backends[0], acctest.Backends[1]
	dir := acctest.TempDir(t)
	disk := acctest.Disk(t, dir, "qcow2", acctest.Name("fan"))
	// The copy from Glance is of another disk: Incus and LXD hold one image per
	// content, and the same disk on the same day makes the same image.
	other := acctest.Disk(t, dir, "qcow2", acctest.Name("other"))
	sha := acctest.SHA256(t, disk)
	md5sum, _ := fileDigests(t, disk)
	config := acctest.ProviderConfigAll("incus") + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  for_each   = toset(["incus", "lxd", "cloud"])
  endpoint   = each.key
  name       = "base-2026.11"
  file       = %q
  properties = { os_distro = "debian", os_version = "12" }
  incus      = { public = true }
  openstack  = { visibility = "shared", min_disk_gb = 4 }
}
resource "imagefleet_image" "to_glance" {
  endpoint  = "cloud"
  name      = "copied-from-incus"
  copy_from = { endpoint = "incus", image = imagefleet_image.base["incus"].id }
}
resource "imagefleet_image" "other" {
  endpoint = "cloud"
  file     = %q
}
resource "imagefleet_image" "from_glance" {
  endpoint  = "lxd"
  copy_from = { endpoint = "cloud", image = imagefleet_image.other.id }
}
`, disk, other)
	ids := map[string]*string{"incus": new(string), "lxd": new(string), "cloud": new(string), "to_glance": new(string), "from_glance": new(string), "other": new(string)}
	base := func(k string) string { return fmt.Sprintf("imagefleet_image.base[%q]", k) }
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, incus); acctest.PreCheck(t, lxd); acctest.PreCheckOpenStack(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(base("incus"), tfjsonpath.New("type"), knownvalue.StringExact("virtual-machine")),
					statecheck.ExpectKnownValue(base("incus"), tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha)),
					statecheck.ExpectKnownValue(base("lxd"), tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha)),
					statecheck.ExpectKnownValue(base("cloud"), tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha)),
					statecheck.ExpectKnownValue(base("incus"), tfjsonpath.New("incus").AtMapKey("public"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(base("cloud"), tfjsonpath.New("openstack").AtMapKey("min_disk_gb"), knownvalue.Int64Exact(4)),
					statecheck.ExpectKnownValue(base("cloud"), tfjsonpath.New("name"), knownvalue.StringExact("base-2026.11")),
					statecheck.ExpectKnownValue(base("lxd"), tfjsonpath.New("name"), knownvalue.StringExact("base-2026.11")),
					statecheck.ExpectKnownValue(base("lxd"), tfjsonpath.New("properties"), knownvalue.MapExact(map[string]knownvalue.Check{
						"os_distro": knownvalue.StringExact("debian"), "os_version": knownvalue.StringExact("12"),
					})),
					// The Incus VM image's disk is the file itself.
					statecheck.ExpectKnownValue("imagefleet_image.to_glance", tfjsonpath.New("checksum"), knownvalue.StringExact(md5sum)),
					statecheck.ExpectKnownValue("imagefleet_image.from_glance", tfjsonpath.New("type"), knownvalue.StringExact("virtual-machine")),
					acctest.Record(base("incus"), "id", ids["incus"]),
					acctest.Record(base("lxd"), "id", ids["lxd"]),
					acctest.Record(base("cloud"), "id", ids["cloud"]),
					acctest.Record("imagefleet_image.to_glance", "id", ids["to_glance"]),
					acctest.Record("imagefleet_image.from_glance", "id", ids["from_glance"]),
					acctest.Record("imagefleet_image.other", "id", ids["other"]),
				},
			},
			{
				// The legacy destroy check cannot read for_each state: destroy by
				// emptying the configuration, then ask every server.
				Config: acctest.ProviderConfigAll("incus"),
				Check: resource.ComposeTestCheckFunc(checkGone(incus, ids["incus"]), checkGone(lxd, ids["lxd"]), checkGone(lxd, ids["from_glance"]),
					checkGlanceGone(ids["cloud"], ids["to_glance"], ids["other"])),
			},
		},
	})
}

// TestAccImageOpenStack_badInput: what cannot work on Glance is refused at plan time.
func TestAccImageOpenStack_badInput(t *testing.T) {
	acctest.PreCheckOpenStack(t)
	dir := acctest.TempDir(t)
	tarball := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("tar")})
	disk := acctest.Disk(t, dir, "qcow2", acctest.Name("bad"))
	cfg := acctest.ProviderConfigAll("cloud")
	tests := map[string]struct {
		config string
		want   *regexp.Regexp
	}{
		"container tarball": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" { file = %q }`, tarball),
			acctest.Diagnostic("Error: Incus image tarball on an endpoint of type openstack", `Endpoint "cloud" is of type openstack, which takes disk images`),
		},
		"invalid visibility": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file      = %q
  openstack = { visibility = "everyone" }
}`, disk),
			acctest.Diagnostic("Error: Invalid Attribute Value Match", `value must be one of: ["private" "shared" "community" "public"], got: "everyone"`),
		},
		"server-owned property": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file       = %q
  properties = { os_hash_value = "abc" }
}`, disk),
			acctest.Diagnostic("Error: Property owned by the server", `Endpoint "cloud" (openstack): the property "os_hash_value" is set by the server itself`),
		},
		"negative min disk": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file      = %q
  openstack = { min_disk_gb = -1 }
}`, disk),
			acctest.Diagnostic("Error: Invalid Attribute Value", "value must be at least 0, got: -1"),
		},
		"name too long": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  file = %q
  name = %q
}`, disk, strings.Repeat("n", 256)),
			acctest.Diagnostic("Error: Invalid Attribute Value Length", "string length must be between 1 and 255, got: 256"),
		},
		"split on openstack": {
			cfg + fmt.Sprintf(`resource "imagefleet_image" "x" {
  split = { metadata_file = %q, rootfs_file = %q }
}`, tarball, disk),
			acctest.Diagnostic("Error: Split image on a non-Incus endpoint", `Endpoint "cloud" is of type openstack: split`),
		},
		"url without disk format": {
			cfg + `resource "imagefleet_image" "x" { url = "http://127.0.0.1:18089/x.qcow2" }`,
			acctest.Diagnostic("Error: Disk format needed", "openstack.disk_format"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: tc.config, PlanOnly: true, ExpectError: tc.want}},
			})
		})
	}
}

// TestAccImageOpenStack_copyRefused: a copy whose content the destination cannot hold
// is refused at plan time, naming both ends.
func TestAccImageOpenStack_copyRefused(t *testing.T) {
	incus := acctest.Backends[0]
	dir := acctest.TempDir(t)
	tarball := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("ctr")})
	raw := acctest.Disk(t, dir, "raw", acctest.Name("raw"))
	var fp, id string
	base := acctest.ProviderConfigAll("incus") + fmt.Sprintf(`
resource "imagefleet_image" "container" {
  file = %q
}
resource "imagefleet_image" "raw" {
  endpoint = "cloud"
  file     = %q
}
`, tarball, raw)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, incus); acctest.PreCheckOpenStack(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkGone(incus, &fp), checkGlanceGone(&id)),
		Steps: []resource.TestStep{
			{
				Config: base,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith("imagefleet_image.container", "id", record(&fp)),
					resource.TestCheckResourceAttrWith("imagefleet_image.raw", "id", record(&id)),
				),
			},
			{
				Config: base + `
resource "imagefleet_image" "to_glance" {
  endpoint  = "cloud"
  copy_from = { endpoint = "incus", image = imagefleet_image.container.id }
}`,
				ExpectError: acctest.Diagnostic("Error: Container image cannot be copied there", `of endpoint "incus" is a container image; endpoint "cloud" is of type openstack, which holds disk images only.`),
			},
			{
				Config: base + `
resource "imagefleet_image" "to_lxd" {
  endpoint  = "lxd"
  copy_from = { endpoint = "cloud", image = imagefleet_image.raw.id }
}`,
				ExpectError: acctest.Diagnostic("Error: Disk format not supported by the endpoint", `of endpoint "cloud" is a raw disk; endpoint "lxd" is of type lxd, which takes disks in qcow2 only.`),
			},
		},
	})
}
