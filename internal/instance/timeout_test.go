package instance_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
)

// withheldWaits serves the daemon's API on a unix socket of its own. While hold is
// set, it lets each operation wait through to the daemon (without its time limit, so
// it returns when the operation ends) but keeps the answer from the client until the
// client gives up. settled waits until the held operations have ended on the server,
// so nothing depends on how fast the machine is.
func withheldWaits(t *testing.T, b acctest.Backend) (socket string, hold *atomic.Bool, settled *sync.WaitGroup) {
	t.Helper()
	daemon := incus.DefaultSocket(b.Kind)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "daemon" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", daemon)
		}},
	}
	hold, settled = &atomic.Bool{}, &sync.WaitGroup{}
	// A unix socket path must fit in 108 bytes; t.TempDir's path, named after the
	// test, does not.
	dir, err := os.MkdirTemp("", "ifproxy") //nolint:usetesting // see above

	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	socket = filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold.Load() && strings.HasPrefix(r.URL.Path, "/1.0/operations/") && strings.HasSuffix(r.URL.Path, "/wait") {
			settled.Add(1)
			go func() {
				defer settled.Done()
				full := r.Clone(context.WithoutCancel(r.Context()))
				q := full.URL.Query()
				q.Del("timeout")
				full.URL.RawQuery = q.Encode()
				proxy.ServeHTTP(httptest.NewRecorder(), full)
			}()
			<-r.Context().Done()
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return socket, hold, settled
}

// TestAccInstance_createTimeout: a create that times out after the server made the
// instance records it (tainted), and the next apply replaces it instead of failing
// on a name that is taken.
func TestAccInstance_createTimeout(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("timeout")})
		name := acctest.Name("timeout")
		socket, hold, settled := withheldWaits(t, b)
		// Only the create that is meant to time out gets a short time-out: the
		// replacement must not depend on how fast this machine is.
		config := func(timeouts string) string {
			return fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "direct"
  endpoints = {
    direct = { %[1]s = {} }
    slow   = { %[1]s = { address = "unix://%[2]s" } }
  }
}
resource "imagefleet_image" "base" {
  file = %[3]q
}
resource "imagefleet_instance" "test" {
  endpoint = "slow"
  name     = %[4]q
  image    = imagefleet_image.base.fingerprint
  %[5]s
}`, b.Kind, socket, file, name, timeouts)
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{
				{
					PreConfig: func() { hold.Store(true) },
					Config:    config(`timeouts = { create = "3s" }`),
					ExpectError: acctest.Diagnostic("Error: Could not create instance", fmt.Sprintf(`Endpoint "slow", instance %q:`, name),
						"timed out after 3s. The operation did not finish within its timeout"),
				},
				{
					PreConfig: func() {
						hold.Store(false)
						settled.Wait()
						if _, err := b.Try("info", name); err != nil {
							t.Fatalf("the timed-out create should have left the instance on the server: %v", err)
						}
					},
					Config: config(""),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
					Check: func(*terraform.State) error { return expectStatus(t, b, name, "RUNNING") },
				},
			},
		})
	})
}

// TestAccInstance_nameTaken: a create that fails because the name is taken records
// nothing, so the instance that has the name is never taken over (and destroyed).
func TestAccInstance_nameTaken(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("taken")})
		name := acctest.Name("taken")
		image := acctest.ProviderConfig(b.Endpoint) + fmt.Sprintf(`
resource "imagefleet_image" "base" {
  file = %q
}`, file)
		t.Cleanup(func() { _, _ = b.Try("delete", "--force", name) })
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{Config: image},
				{
					PreConfig: func() { b.Run(t, "init", acctest.SHA256(t, file), name) },
					Config: image + fmt.Sprintf(`
resource "imagefleet_instance" "test" {
  name  = %q
  image = imagefleet_image.base.fingerprint
}`, name),
					ExpectError: acctest.Diagnostic("Error: Could not create instance", fmt.Sprintf(`Endpoint %q, instance %q: an instance named %q already exists`, b.Endpoint, name, name)),
				},
			},
		})
		if _, err := b.Try("info", name); err != nil {
			t.Errorf("the instance that had the name is gone: %v", err)
		}
	})
}
