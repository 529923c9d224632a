package image_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

const addr = "imagefleet_image.test"

// checkGone asks the server that the image is gone after destroy.
func checkGone(b acctest.Backend, fp *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if *fp == "" {
			return fmt.Errorf("the test never recorded the image's fingerprint")
		}
		if out, err := b.Try("image", "info", *fp); err == nil {
			return fmt.Errorf("image %s still exists on %s after destroy: %s", *fp, b.Kind, out)
		}
		return nil
	}
}

func record(v *string) resource.CheckResourceAttrWithFunc {
	return func(s string) error { *v = s; return nil }
}

func fileImageConfig(b acctest.Backend, file, tier, aliasName, aliasDesc string) string {
	return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  file       = %q
  properties = { os = "busybox", tier = %q }
  incus = {
    public  = false
    aliases = [{ name = %q, description = %q }]
  }
}
`, file, tier, aliasName, aliasDesc)
}

// TestAccImage_lifecycle covers create, in-place update, import, drift on properties
// and on the image itself, content changes, the digest cache and destroy.
func TestAccImage_lifecycle(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		variant := acctest.Name("life")
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: variant})
		want := acctest.SHA256(t, file)
		alias := acctest.Name("life")
		var fp string
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &fp),
			Steps: []resource.TestStep{
				{
					Config: fileImageConfig(b, file, "test", alias, "first"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
						// On create the file is only checked at plan time; the server's
						// fingerprint of what was uploaded becomes the digest.
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("source_sha256")),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.StringExact(want)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(want)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("architecture"), knownvalue.StringExact(acctest.Arch())),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("type"), knownvalue.StringExact("container")),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("properties"), knownvalue.MapExact(map[string]knownvalue.Check{
							"os": knownvalue.StringExact("busybox"), "tier": knownvalue.StringExact("test"),
						})),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("incus").AtMapKey("aliases"), knownvalue.SetExact([]knownvalue.Check{
							knownvalue.ObjectExact(map[string]knownvalue.Check{"name": knownvalue.StringExact(alias), "description": knownvalue.StringExact("first")}),
						})),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("incus").AtMapKey("profiles"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("default")})),
					},
					Check: resource.ComposeTestCheckFunc(
						resource.TestCheckResourceAttrWith(addr, "fingerprint", record(&fp)),
						resource.TestCheckResourceAttrWith(addr, "size", func(v string) error {
							fi, _ := os.Stat(file)
							if v != fmt.Sprint(fi.Size()) {
								return fmt.Errorf("size %s, file has %d bytes", v, fi.Size())
							}
							return nil
						}),
						func(*terraform.State) error {
							if got := b.Run(t, "image", "get-property", alias, "tier"); got != "test" {
								return fmt.Errorf("server has tier=%q", got)
							}
							return nil
						},
					),
				},
				{
					// Properties, public and the alias description change in place.
					Config: fileImageConfig(b, file, "prod", alias, "second"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.StringExact(want)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("properties").AtMapKey("tier"), knownvalue.StringExact("prod")),
					},
					Check: func(*terraform.State) error {
						if got := b.Run(t, "image", "get-property", alias, "tier"); got != "prod" {
							return fmt.Errorf("server has tier=%q after the update", got)
						}
						if out := b.Run(t, "image", "alias", "list", alias, "-f", "csv"); !strings.Contains(out, "second") {
							return fmt.Errorf("alias description not updated on the server: %s", out)
						}
						return nil
					},
				},
				{
					// Import by endpoint and a fingerprint prefix.
					ResourceName:      addr,
					ImportState:       true,
					ImportStateIdFunc: func(*terraform.State) (string, error) { return b.Endpoint + ":" + fp[:12], nil },
					ImportStateVerify: true,
					// The local path is not something the server can know, and an
					// imported image owns no alias until the configuration lists it.
					ImportStateVerifyIgnore: []string{"file", "incus.aliases"},
				},
				{
					// A property changed outside Terraform shows in the plan and is repaired.
					PreConfig: func() { b.Run(t, "image", "set-property", fp, "tier", "tampered") },
					Config:    fileImageConfig(b, file, "prod", alias, "second"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("properties").AtMapKey("tier"), knownvalue.StringExact("prod")),
					}},
					Check: func(*terraform.State) error {
						if got := b.Run(t, "image", "get-property", fp, "tier"); got != "prod" {
							return fmt.Errorf("apply did not repair the property: tier=%q", got)
						}
						return nil
					},
				},
				{
					// An inline alias deleted outside Terraform is recreated in place.
					PreConfig: func() { b.Run(t, "image", "alias", "delete", alias) },
					Config:    fileImageConfig(b, file, "prod", alias, "second"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
					Check: func(*terraform.State) error {
						b.Run(t, "image", "alias", "list", alias)
						if out := b.Run(t, "image", "alias", "list", "-f", "csv"); !strings.Contains(out, alias) {
							return fmt.Errorf("alias %s not recreated: %s", alias, out)
						}
						return nil
					},
				},
				{
					// An image deleted outside Terraform is planned for creation again.
					PreConfig: func() { b.Run(t, "image", "delete", fp) },
					Config:    fileImageConfig(b, file, "prod", alias, "second"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.StringExact(want)),
					},
				},
				{
					// Same size and mtime, but a new status change time: the recorded
					// digest is not trusted, the file is read and the change is seen.
					PreConfig:          func() { rewriteKeepingStamp(t, file) },
					Config:             fileImageConfig(b, file, "prod", alias, "second"),
					PlanOnly:           true,
					ExpectNonEmptyPlan: true,
				},
				{
					PreConfig: func() {
						if _, err := acctest.BuildUnified(dir, acctest.ImageOpts{Variant: variant}); err != nil {
							t.Fatal(err)
						}
						want = acctest.SHA256(t, file)
					},
					Config: fileImageConfig(b, file, "prod", alias, "second"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
					Check: resource.ComposeTestCheckFunc(
						resource.TestCheckResourceAttrWith(addr, "fingerprint", record(&fp)),
						func(*terraform.State) error {
							if fp != want {
								return fmt.Errorf("new image has fingerprint %s, file has %s", fp, want)
							}
							return nil
						},
					),
				},
			},
		})
	})
}

// rewriteKeepingStamp flips one byte in the gzip trailer-free middle of the file and
// restores its modification time, so size and mtime are unchanged.
func rewriteKeepingStamp(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, fi.Mode()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// TestAccImage_launch checks interop: the daemon's own CLI launches a container from
// an image the provider uploaded, and the container holds the image's content.
func TestAccImage_launch(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		variant := acctest.Name("launch")
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: variant})
		var fp string
		instance := acctest.Name("launch")
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &fp),
			Steps: []resource.TestStep{{
				Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  file = %q
}`, file),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "fingerprint", record(&fp)),
					func(*terraform.State) error {
						defer func() { _, _ = b.Try("delete", "--force", instance) }()
						b.Run(t, "launch", fp, instance)
						var (
							got string
							err error
						)
						for i := 0; i < 30; i++ {
							if got, err = b.Try("exec", instance, "--", "cat", "/etc/imagefleet-variant"); err == nil {
								break
							}
							time.Sleep(time.Second)
						}
						if strings.TrimSpace(got) != variant {
							return fmt.Errorf("container from the uploaded image reads %q, want %q (err %v)", got, variant, err)
						}
						return nil
					},
				),
			}},
		})
	})
}

// TestAccImage_split uploads split images: a container (rootfs tarball) and a virtual
// machine (qcow2 disk). Virtual machines cannot start on this machine (no
// vhost_vsock), so the VM image is checked as stored, not launched.
func TestAccImage_split(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		cMeta, cRootfs, err := acctest.BuildSplit(dir, acctest.ImageOpts{Variant: acctest.Name("splitc")}, false)
		if err != nil {
			t.Fatal(err)
		}
		vMeta, vDisk, err := acctest.BuildSplit(dir, acctest.ImageOpts{Variant: acctest.Name("splitvm")}, true)
		if err != nil {
			t.Fatal(err)
		}
		var fpC, fpV string
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             resource.ComposeTestCheckFunc(checkGone(b, &fpC), checkGone(b, &fpV)),
			Steps: []resource.TestStep{{
				Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "container" {
  split = { metadata_file = %q, rootfs_file = %q }
}
resource "imagefleet_image" "vm" {
  split = { metadata_file = %q, rootfs_file = %q }
}`, cMeta, cRootfs, vMeta, vDisk),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("imagefleet_image.container", tfjsonpath.New("fingerprint"), knownvalue.StringExact(acctest.SHA256(t, cMeta, cRootfs))),
					statecheck.ExpectKnownValue("imagefleet_image.container", tfjsonpath.New("type"), knownvalue.StringExact("container")),
					statecheck.ExpectKnownValue("imagefleet_image.vm", tfjsonpath.New("fingerprint"), knownvalue.StringExact(acctest.SHA256(t, vMeta, vDisk))),
					statecheck.ExpectKnownValue("imagefleet_image.vm", tfjsonpath.New("type"), knownvalue.StringExact("virtual-machine")),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith("imagefleet_image.container", "fingerprint", record(&fpC)),
					resource.TestCheckResourceAttrWith("imagefleet_image.vm", "fingerprint", record(&fpV)),
				),
			}},
		})
	})
}

// TestAccImage_copyBetweenEndpoints streams an image from Incus to LXD and back.
func TestAccImage_copyBetweenEndpoints(t *testing.T) {
	incus, lxd := acctest.Backends[0], acctest.Backends[1]
	dir := acctest.TempDir(t)
	file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("copy")})
	meta, rootfs, err := acctest.BuildSplit(dir, acctest.ImageOpts{Variant: acctest.Name("copysplit")}, false)
	if err != nil {
		t.Fatal(err)
	}
	want, wantSplit := acctest.SHA256(t, file), acctest.SHA256(t, meta, rootfs)
	var fpSrc, fpCopy, fpSplit, fpSplitCopy string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, incus); acctest.PreCheck(t, lxd) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(checkGone(incus, &fpSrc), checkGone(lxd, &fpCopy),
			checkGone(lxd, &fpSplit), checkGone(incus, &fpSplitCopy)),
		Steps: []resource.TestStep{{
			Config: acctest.ProviderConfig("incus") + fmt.Sprintf(`
resource "imagefleet_image" "src" {
  file = %q
}
resource "imagefleet_image" "copy" {
  endpoint   = "lxd"
  copy_from  = { endpoint = "incus", image = imagefleet_image.src.fingerprint }
  properties = { copied = "yes" }
}
resource "imagefleet_image" "split" {
  endpoint = "lxd"
  split    = { metadata_file = %q, rootfs_file = %q }
}
resource "imagefleet_image" "split_copy" {
  copy_from = { endpoint = "lxd", image = imagefleet_image.split.fingerprint }
}`, file, meta, rootfs),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("imagefleet_image.copy", tfjsonpath.New("fingerprint"), knownvalue.StringExact(want)),
				statecheck.ExpectKnownValue("imagefleet_image.copy", tfjsonpath.New("properties"), knownvalue.MapExact(map[string]knownvalue.Check{"copied": knownvalue.StringExact("yes")})),
				statecheck.ExpectKnownValue("imagefleet_image.split_copy", tfjsonpath.New("fingerprint"), knownvalue.StringExact(wantSplit)),
			},
			Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttrWith("imagefleet_image.src", "fingerprint", record(&fpSrc)),
				resource.TestCheckResourceAttrWith("imagefleet_image.copy", "fingerprint", record(&fpCopy)),
				resource.TestCheckResourceAttrWith("imagefleet_image.split", "fingerprint", record(&fpSplit)),
				resource.TestCheckResourceAttrWith("imagefleet_image.split_copy", "fingerprint", record(&fpSplitCopy)),
				func(*terraform.State) error {
					if got := lxd.Run(t, "image", "get-property", want, "copied"); got != "yes" {
						return fmt.Errorf("copy on lxd has copied=%q", got)
					}
					return nil
				},
			),
		}},
	})
}

// TestAccImage_copySourceGone: a copy of an image the source endpoint does not have
// is refused at plan time, but a source deleted once the copy exists is no error:
// the copy is kept and the plan is clean.
func TestAccImage_copySourceGone(t *testing.T) {
	incus, lxd := acctest.Backends[0], acctest.Backends[1]
	dir := acctest.TempDir(t)
	file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("copygone")})
	fp := acctest.SHA256(t, file)
	config := acctest.ProviderConfig("incus") + fmt.Sprintf(`
resource "imagefleet_image" "copy" {
  endpoint  = "lxd"
  copy_from = { endpoint = "incus", image = %q }
}`, fp)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, incus); acctest.PreCheck(t, lxd) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkGone(lxd, &fp),
		Steps: []resource.TestStep{
			{
				Config:      config,
				PlanOnly:    true,
				ExpectError: acctest.Diagnostic("Image to copy not found", fmt.Sprintf(`Endpoint "incus" (incus) has no image %q to copy.`, fp)),
			},
			{
				PreConfig: func() { incus.Run(t, "image", "import", file) },
				Config:    config,
			},
			{
				PreConfig: func() { incus.Run(t, "image", "delete", fp) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
		},
	})
}

var _ = regexp.MustCompile

// TestAccImage_adopt imports an image uploaded with the daemon's CLI and brings it
// under a configuration with a file source: the first plan records the path in place
// (the content is the same, so nothing is replaced), and the next is clean.
func TestAccImage_adopt(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("adopt")})
		fp := acctest.SHA256(t, file)
		config := acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  file = %q
}`, file)
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b); b.Run(t, "image", "import", file) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &fp),
			Steps: []resource.TestStep{
				{
					Config:             config,
					ResourceName:       addr,
					ImportState:        true,
					ImportStatePersist: true,
					ImportStateId:      fp[:16],
				},
				{
					Config: config,
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(fp)),
					}},
				},
			},
		})
	})
}

// TestAccImage_attributes sets and changes expiry, profiles, auto_update and public
// in place, and checks the server holds them and the plan settles.
func TestAccImage_attributes(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("attrs")})
		profile := acctest.Name("imgprof")
		b.Run(t, "profile", "create", profile)
		t.Cleanup(func() { _, _ = b.Try("profile", "delete", profile) })
		fp := acctest.SHA256(t, file)
		first := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		second := first.Add(24 * time.Hour)
		config := func(expires time.Time, profiles string, flags bool) string {
			return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  file        = %q
  incus = {
    expires_at  = %q
    profiles    = %s
    auto_update = %t
    public      = %t
  }
}`, file, expires.Format(time.RFC3339), profiles, flags, flags)
		}
		show := func() string { return b.Run(t, "image", "show", fp) }
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &fp),
			Steps: []resource.TestStep{
				{
					Config: config(first, `["default"]`, false),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("incus").AtMapKey("expires_at"), knownvalue.StringExact(first.Format(time.RFC3339))),
					},
					Check: func(*terraform.State) error {
						if out := show(); !strings.Contains(out, "expires_at: "+first.Format("2006-01-02T15:04:05")) {
							return fmt.Errorf("expiry not on the server:\n%s", out)
						}
						return nil
					},
				},
				{
					Config: config(second, fmt.Sprintf(`["default", %q]`, profile), true),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					}},
					Check: func(*terraform.State) error {
						out := show()
						for _, want := range []string{"expires_at: " + second.Format("2006-01-02T15:04:05"), "- " + profile, "public: true", "auto_update: true"} {
							if !strings.Contains(out, want) {
								return fmt.Errorf("server lacks %q:\n%s", want, out)
							}
						}
						return nil
					},
				},
			},
		})
	})
}
