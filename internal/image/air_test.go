package image_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
)

// airDisk is a qcow2 of a little over 10 MiB: three parts of the emulator's 5 MiB.
func airDisk(t *testing.T, dir, variant string) string {
	t.Helper()
	return acctest.DiskOfSize(t, dir, "qcow2", variant, 11<<20)
}

// airPatch changes an image behind Terraform's back, as another Air client would.
func airPatch(t *testing.T, s *airemu.Server, id, action string, body map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	u := s.APIURL() + "images/" + id + "/"
	if action != "" {
		u += action + "/"
	}
	req, _ := http.NewRequest(http.MethodPatch, u, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.Token(acctest.AirOwner))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("PATCH %s: %s", u, resp.Status)
	}
}

// airSettled waits until the emulator has finished a publish or unpublish of the
// image, which Air does in the background.
func airSettled(t *testing.T, s *airemu.Server, id string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if img, ok := s.Image(id); ok && img.UploadStatus == airemu.StatusComplete {
			return
		}
	}
	img, _ := s.Image(id)
	t.Fatalf("image %s did not settle: %+v", id, img)
}

// checkAirGone asks the emulator that the images are gone after destroy.
func checkAirGone(s *airemu.Server, ids ...*string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, id := range ids {
			if *id == "" {
				return fmt.Errorf("the test never recorded the image's id")
			}
			if img, ok := s.Image(*id); ok {
				return fmt.Errorf("image %s is still on Air after destroy (%s)", *id, img.UploadStatus)
			}
		}
		return nil
	}
}

func airConfig(s *airemu.Server, name, file, block string) string {
	return acctest.ProviderConfigAir("air", s) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  name = %q
  file = %q
  air = {
%s
  }
}
`, name, file, block)
}

// TestAccImageAir_lifecycle uploads a disk in parallel parts, changes every setting
// in place, publishes and unpublishes, repairs drift made through the API, replaces
// an image whose content Air lost, imports, and checks destroy on the emulator. The
// write-only password never reaches the state.
func TestAccImageAir_lifecycle(t *testing.T) {
	s := acctest.StartAir(t)
	dir := acctest.TempDir(t)
	disk := airDisk(t, dir, acctest.Name("air"))
	sha := acctest.SHA256(t, disk)
	var id string
	first := `    version          = "1.0"
    default_username = "cumulus"
    default_password = "s3cret-first"`
	second := `    version                  = "1.1"
    default_username         = "root"
    default_password         = "s3cret-second"
    default_password_version = 2
    cpu_arch                 = "ARM"
    provider                 = "CONTAINER"
    emulation_type           = ["NVUE"]
    emulation_version        = "5.9"
    mountpoint               = "/mnt"
    minimum_resources        = { cpu = 2, memory = 2048, storage = 20 }
    includes_air_agent       = true
    published                = true`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkAirGone(s, &id),
		Steps: []resource.TestStep{
			{
				Config: airConfig(s, "cumulus-vx", disk, first),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("air").AtMapKey("upload_status"), knownvalue.StringExact("COMPLETE")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("air").AtMapKey("default_password"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("air").AtMapKey("published"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("openstack"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("incus"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					func(*terraform.State) error {
						img, ok := s.Image(id)
						if !ok || img.UploadStatus != airemu.StatusComplete || img.Hash != sha || img.Name != "cumulus-vx" || img.Version != "1.0" {
							return fmt.Errorf("the emulator holds %+v", img)
						}
						if n := s.PartRequests(id); n != 3 {
							return fmt.Errorf("%d part requests, want 3", n)
						}
						return nil
					},
				),
			},
			{
				// Every setting changes in place, and the image is published.
				Config: airConfig(s, "cumulus-vx-renamed", disk, second),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("air").AtMapKey("minimum_resources"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"cpu": knownvalue.Int64Exact(2), "memory": knownvalue.Int64Exact(2048), "storage": knownvalue.Int64Exact(20),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("air").AtMapKey("emulation_type"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("NVUE")})),
				},
				Check: func(*terraform.State) error {
					img, _ := s.Image(id)
					if img.Name != "cumulus-vx-renamed" || img.Version != "1.1" || !img.Published {
						return fmt.Errorf("the emulator holds %+v", img)
					}
					return nil
				},
			},
			{
				// Drift made through the API shows in the plan and is repaired.
				PreConfig: func() {
					airPatch(t, s, id, "unpublish", map[string]any{})
					airSettled(t, s, id)
					airPatch(t, s, id, "", map[string]any{"mountpoint": "/elsewhere", "cpu_arch": "x86"})
				},
				Config: airConfig(s, "cumulus-vx-renamed", disk, second),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if img, _ := s.Image(id); !img.Published {
						return fmt.Errorf("not published again: %+v", img)
					}
					return nil
				},
			},
			{
				// Content Air no longer has (the upload cleared) replaces the image.
				PreConfig: func() {
					airPatch(t, s, id, "unpublish", map[string]any{})
					airSettled(t, s, id)
					airPatch(t, s, id, "clear-upload", map[string]any{})
				},
				Config: airConfig(s, "cumulus-vx-renamed", disk, second),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
			},
		},
	})
}

// TestAccImageAir_parts: a part that fails twice is retried; a part that never
// succeeds aborts the upload (nothing is left UPLOADING) and fails the apply; a
// validation failure says why; each failed image is recorded tainted and the next
// apply replaces it.
func TestAccImageAir_parts(t *testing.T) {
	s := acctest.StartAir(t)
	dir := acctest.TempDir(t)
	disk := airDisk(t, dir, acctest.Name("parts"))
	config := airConfig(s, "parts", disk, `    version          = "1"
    default_username = "root"
    default_password = "pw"`)
	var id string
	noneUploading := func() error {
		for _, img := range s.Images(acctest.AirOwner) {
			if img.UploadStatus == airemu.StatusUploading {
				return fmt.Errorf("image %s is left UPLOADING", img.ID)
			}
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkAirGone(s, &id),
		Steps: []resource.TestStep{
			{
				PreConfig:   func() { s.FailPart("*", 2, 100, airemu.FailUnavailable) },
				Config:      config,
				ExpectError: acctest.FirstDiagnostic("Error: Could not create image", "part 2", "503"),
			},
			{
				// The failed upload was aborted and its image recorded: it is replaced.
				PreConfig: func() {
					if err := noneUploading(); err != nil {
						t.Fatal(err)
					}
					s.FailPart("*", 2, 0, airemu.FailUnavailable)
					s.FailPart("*", 3, 2, airemu.FailReset)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
			},
			{
				PreConfig: func() {
					s.FailValidation("the disk is not bootable")
					airPatch(t, s, id, "clear-upload", map[string]any{})
				},
				Config:      config,
				ExpectError: acctest.FirstDiagnostic("Error: Could not create image", "the disk is not bootable"),
			},
			{
				PreConfig: func() { s.FailValidation("") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
					func(*terraform.State) error {
						if n := len(s.Images(acctest.AirOwner)); n != 1 {
							return fmt.Errorf("the emulator holds %d images, want 1: %+v", n, s.Images(acctest.AirOwner))
						}
						return noneUploading()
					},
				),
			},
		},
	})
}

// TestAccImageAir_fanOut publishes one qcow2 to all four kinds with one for_each, and
// copies into Air from Incus and from Glance.
func TestAccImageAir_fanOut(t *testing.T) {
	incus, lxd := acctest.Backends[0], acctest.Backends[1]
	s := acctest.StartAir(t)
	dir := acctest.TempDir(t)
	disk := airDisk(t, dir, acctest.Name("fan4"))
	other := acctest.Disk(t, dir, "qcow2", acctest.Name("fan4-glance"))
	sha := acctest.SHA256(t, disk)
	config := acctest.ProviderConfigAir("incus", s) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  for_each   = toset(["incus", "lxd", "cloud", "air"])
  endpoint   = each.key
  name       = "base-2026.11"
  file       = %q
  properties = { os_distro = "debian" }
  incus      = { public = true }
  openstack  = { visibility = "shared" }
  air        = { version = "1.0", default_username = "root", default_password = "pw" }
}
resource "imagefleet_image" "glance" {
  endpoint = "cloud"
  file     = %q
}
resource "imagefleet_image" "from_incus" {
  endpoint  = "air"
  name      = "from-incus"
  copy_from = { endpoint = "incus", image = imagefleet_image.base["incus"].id }
  air       = { version = "1.0", default_username = "root", default_password = "pw" }
}
resource "imagefleet_image" "from_glance" {
  endpoint  = "air"
  name      = "from-glance"
  copy_from = { endpoint = "cloud", image = imagefleet_image.glance.id }
  air       = { version = "1.0", default_username = "root", default_password = "pw" }
}
`, disk, other)
	base := func(k string) string { return fmt.Sprintf("imagefleet_image.base[%q]", k) }
	ids := map[string]*string{"incus": new(string), "lxd": new(string), "cloud": new(string), "air": new(string),
		"glance": new(string), "from_incus": new(string), "from_glance": new(string)}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t, incus); acctest.PreCheck(t, lxd); acctest.PreCheckOpenStack(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(base("air"), tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha)),
					statecheck.ExpectKnownValue(base("cloud"), tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha)),
					statecheck.ExpectKnownValue(base("incus"), tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha)),
					statecheck.ExpectKnownValue(base("air"), tfjsonpath.New("air").AtMapKey("upload_status"), knownvalue.StringExact("COMPLETE")),
					statecheck.ExpectKnownValue("imagefleet_image.from_incus", tfjsonpath.New("source_sha256"), knownvalue.StringExact(sha)),
					statecheck.ExpectKnownValue("imagefleet_image.from_glance", tfjsonpath.New("source_sha256"), knownvalue.StringExact(acctest.SHA256(t, other))),
					acctest.Record(base("incus"), "id", ids["incus"]),
					acctest.Record(base("lxd"), "id", ids["lxd"]),
					acctest.Record(base("cloud"), "id", ids["cloud"]),
					acctest.Record(base("air"), "id", ids["air"]),
					acctest.Record("imagefleet_image.glance", "id", ids["glance"]),
					acctest.Record("imagefleet_image.from_incus", "id", ids["from_incus"]),
					acctest.Record("imagefleet_image.from_glance", "id", ids["from_glance"]),
				},
			},
			{
				Config: acctest.ProviderConfigAir("incus", s),
				Check: resource.ComposeTestCheckFunc(checkGone(incus, ids["incus"]), checkGone(lxd, ids["lxd"]),
					checkGlanceGone(ids["cloud"], ids["glance"]), checkAirGone(s, ids["air"], ids["from_incus"], ids["from_glance"])),
			},
		},
	})
}

// TestAccImageAir_importAndBadInput: an image imported by id plans clean; a second
// image of the same name and version is refused naming the first and how to import
// it; what Air cannot take is refused at plan time.
func TestAccImageAir_importAndBadInput(t *testing.T) {
	s := acctest.StartAir(t)
	dir := acctest.TempDir(t)
	disk := airDisk(t, dir, acctest.Name("imp"))
	tarball := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("ctr")})
	block := `    version          = "2.0"
    default_username = "root"
    default_password = "pw"`
	config := airConfig(s, "imported", disk, block)
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkAirGone(s, &id),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  resource.TestCheckResourceAttrWith(addr, "id", record(&id)),
			},
			{
				Config:          config,
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateIdFunc: func(*terraform.State) (string, error) {
					return "air:" + id, nil
				},
				// The file is not something Air can report: recorded in place.
				ExpectNonEmptyPlan: true,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
			},
			{
				Config: config + fmt.Sprintf(`
resource "imagefleet_image" "twin" {
  name = "imported"
  file = %q
  air  = { version = "2.0", default_username = "root", default_password = "pw" }
}`, disk),
				ExpectError: acctest.Diagnostic("Error: Could not create image", "is this image already", "import"),
			},
			{
				Config: config + fmt.Sprintf(`
resource "imagefleet_image" "ctr" {
  file = %q
  air  = { version = "1", default_username = "root", default_password = "pw" }
}`, tarball),
				ExpectError: acctest.Diagnostic("Error: Incus image tarball on an endpoint of type air"),
			},
			{
				Config: config + fmt.Sprintf(`
resource "imagefleet_image" "noblock" {
  file = %q
}`, disk),
				ExpectError: acctest.Diagnostic("Error: Air settings needed"),
			},
			{
				Config: config + fmt.Sprintf(`
resource "imagefleet_image" "nopassword" {
  file = %q
  air  = { version = "3", default_username = "root" }
}`, disk),
				ExpectError: acctest.Diagnostic("Error: Air password needed", "air.default_password"),
			},
		},
	})
}

// TestAccImageAir_claimFromWrongOrg: a share claimed by an organisation it was not
// made for fails the apply, naming the share, and leaves nothing behind.
func TestAccImageAir_claimFromWrongOrg(t *testing.T) {
	s := acctest.StartAir(t)
	dir := acctest.TempDir(t)
	disk := acctest.Disk(t, dir, "qcow2", acctest.Name("claim"))
	base := acctest.ProviderConfigAir("air", s) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  name = "shared"
  file = %q
  air  = { version = "1", default_username = "root", default_password = "pw" }
}
resource "imagefleet_image_share" "to_b" {
  image      = imagefleet_image.test.id
  target_org = %q
}
`, disk, acctest.AirPartner)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: base},
			{
				Config: base + `
resource "imagefleet_image" "wrong" {
  endpoint = "air"
  name     = "stolen"
  claim    = { share = imagefleet_image_share.to_b.id }
  air      = { version = "1", default_username = "root" }
}`,
				ExpectError: acctest.Diagnostic("Error: Could not create image", `Endpoint "air", share`, "not found for your organization"),
			},
			{
				Config: base,
				Check: func(*terraform.State) error {
					for _, img := range s.Images("") {
						if img.Name == "stolen" {
							return fmt.Errorf("the refused claim left image %+v", img)
						}
					}
					return nil
				},
			},
		},
	})
}
