package image_test

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
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

// imageWebServer serves a unified image the way the daemons' url source expects:
// the first request gets headers naming the image's hash and where to download it.
func imageWebServer(t *testing.T, file, sha string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/image.tar.gz" {
			http.ServeFile(w, r, file)
			return
		}
		url := "http://" + r.Host + "/image.tar.gz"
		for _, prefix := range []string{"Incus", "LXD"} {
			w.Header().Set(prefix+"-Image-Hash", sha)
			w.Header().Set(prefix+"-Image-URL", url)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAccImage_url has the daemon download an image from a web server.
func TestAccImage_url(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("url")})
		want := acctest.SHA256(t, file)
		srv := imageWebServer(t, file, want)
		fp := want
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &fp),
			Steps: []resource.TestStep{
				{
					Config: acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  url        = "%s/latest"
  properties = { from = "url" }
}`, srv.URL),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.StringExact(want)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("source_sha256"), knownvalue.StringExact(want)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("properties"), knownvalue.MapExact(map[string]knownvalue.Check{"from": knownvalue.StringExact("url")})),
					},
				},
				{
					ResourceName:            addr,
					ImportState:             true,
					ImportStateVerify:       true,
					ImportStateVerifyIgnore: []string{"url"},
				},
			},
		})
	})
}

// TestAccImage_remote has each daemon pull a public image from its own HTTPS API
// into another project, over the daemon's own image protocol (incus or lxd), with
// the server's certificate given since no CA vouches for it.
func TestAccImage_remote(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("remote")})
		want := acctest.SHA256(t, file)
		server, cert := b.HTTPSAddress(t), b.ServerCert(t)
		project := b.Project(t, "imagefleet-pull", true)
		alias := acctest.Name("published")
		protocol := string(b.Kind)
		fp := want
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &fp),
			Steps: []resource.TestStep{{
				Config: fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "publisher"
  endpoints = {
    publisher = { %[1]s = {} }
    puller    = { %[1]s = { project = %[2]q } }
  }
}
resource "imagefleet_image" "published" {
  file    = %[3]q
  incus = {
    public  = true
    aliases = [{ name = %[4]q }]
  }
}
resource "imagefleet_image" "test" {
  endpoint = "puller"
  remote = {
    server       = %[5]q
    protocol     = %[6]q
    alias        = %[4]q
    architecture = %[7]q
    certificate  = %[8]q
  }
  depends_on = [imagefleet_image.published]
}`, b.Kind, project, file, alias, server, protocol, acctest.Arch(), strings.TrimSpace(cert)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.StringExact(want)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("architecture"), knownvalue.StringExact(acctest.Arch())),
				},
				Check: func(*terraform.State) error {
					if _, err := b.Try("image", "info", want, "--project", project); err != nil {
						return fmt.Errorf("pulled image not in project %s: %v", project, err)
					}
					return nil
				},
			}},
		})
	})
}

// simplestreamsServer serves a split image as a simplestreams image server (the
// protocol of public image servers), over HTTPS with its own certificate.
func simplestreamsServer(t *testing.T, meta, rootfs, alias string) (url, certPEM string) {
	t.Helper()
	item := func(ftype, name, path string) map[string]any {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"ftype": ftype, "path": "images/" + name, "size": fi.Size(), "sha256": acctest.SHA256(t, path)}
	}
	combined := acctest.SHA256(t, meta, rootfs)
	items := map[string]any{"root.tar.xz": item("root.tar.xz", "rootfs", rootfs)}
	// Incus reads incus.tar.xz and LXD lxd.tar.xz: list the metadata under both.
	for _, ftype := range []string{"incus.tar.xz", "lxd.tar.xz"} {
		m := item(ftype, "meta", meta)
		m["combined_rootxz_sha256"], m["combined_sha256"] = combined, combined
		items[ftype] = m
	}
	product := "busybox:1:" + map[string]string{"x86_64": "amd64", "aarch64": "arm64"}[acctest.Arch()] + ":default"
	images, _ := json.Marshal(map[string]any{
		"content_id": "images", "datatype": "image-downloads", "format": "products:1.0",
		"products": map[string]any{product: map[string]any{
			"aliases": alias, "arch": map[string]string{"x86_64": "amd64", "aarch64": "arm64"}[acctest.Arch()],
			"os": "Busybox", "release": "1", "release_title": "1", "variant": "default",
			"versions": map[string]any{"20261123_00:00": map[string]any{"items": items}},
		}},
	})
	index, _ := json.Marshal(map[string]any{"format": "index:1.0", "index": map[string]any{"images": map[string]any{
		"datatype": "image-downloads", "path": "streams/v1/images.json", "format": "products:1.0", "products": []string{product},
	}}})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/streams/v1/index.json":
			_, _ = w.Write(index)
		case "/streams/v1/images.json":
			_, _ = w.Write(images)
		case "/images/meta":
			http.ServeFile(w, r, meta)
		case "/images/rootfs":
			http.ServeFile(w, r, rootfs)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

// TestAccImage_simplestreams pulls an image from a simplestreams server by alias.
func TestAccImage_simplestreams(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		meta, rootfs, err := acctest.BuildSplit(dir, acctest.ImageOpts{Variant: acctest.Name("streams")}, false)
		if err != nil {
			t.Fatal(err)
		}
		alias := "busybox/" + acctest.Name("v")
		server, cert := simplestreamsServer(t, meta, rootfs, alias)
		fp := acctest.SHA256(t, meta, rootfs)
		config := func(arch string) string {
			return acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "test" {
  remote = {
    server       = %q
    alias        = %q
    architecture = %q
    certificate  = %q
  }
}`, server, alias, arch, strings.TrimSpace(cert))
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, &fp),
			Steps: []resource.TestStep{
				{
					// The server picks its own architecture's variant; asking for
					// another fails the apply after the pull, and the pulled image is
					// recorded (tainted) rather than orphaned.
					Config:      config("riscv64"),
					ExpectError: acctest.Diagnostic("Error: Could not create image", fmt.Sprintf("resolved alias %q to a %s image, not riscv64", alias, acctest.Arch())),
				},
				{
					Config: config(acctest.Arch()),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("fingerprint"), knownvalue.StringExact(fp)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("remote").AtMapKey("protocol"), knownvalue.StringExact("simplestreams")),
					},
				},
			},
		})
	})
}
