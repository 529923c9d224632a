package image_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
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
	forEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file, err := acctest.BuildUnified(dir, acctest.ImageOpts{Variant: acctest.Name("url")})
		if err != nil {
			t.Fatal(err)
		}
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
	forEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file, err := acctest.BuildUnified(dir, acctest.ImageOpts{Variant: acctest.Name("remote")})
		if err != nil {
			t.Fatal(err)
		}
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
  public  = true
  aliases = [{ name = %[4]q }]
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
