package instance_test

import (
	"context"
	"encoding/pem"
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

// daemonProxy passes requests to the daemon's unix socket.
func daemonProxy(b acctest.Backend) *httputil.ReverseProxy {
	daemon := incus.DefaultSocket(b.Kind)
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "daemon" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", daemon)
		}},
	}
}

// givesUpOnce serves the daemon's API on a unix socket of its own. It keeps the
// answer to the first operation wait from the client until the client gives up;
// after that it passes everything through, and calls then once the first request
// that follows has been answered. op is the path of the operation whose wait it held.
func givesUpOnce(t *testing.T, b acctest.Backend, then func()) (socket string, op *atomic.Value) {
	t.Helper()
	proxy := daemonProxy(b)
	dir, err := os.MkdirTemp("", "ifproxy") //nolint:usetesting // a unix socket path must fit in 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	socket = filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	var held atomic.Bool
	var once sync.Once
	op = &atomic.Value{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/wait") && held.CompareAndSwap(false, true) {
			op.Store(strings.TrimSuffix(r.URL.Path, "/wait"))
			<-r.Context().Done()
			return
		}
		proxy.ServeHTTP(w, r)
		// The provider makes one request at a time: one after the held wait comes
		// from a client that gave up on it.
		if held.Load() {
			once.Do(then)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return socket, op
}

// ended waits until the operation at path (a givesUpOnce op) has ended on the server.
func ended(t *testing.T, b acctest.Backend, op *atomic.Value) {
	t.Helper()
	path, _ := op.Load().(string)
	if path == "" {
		t.Fatal("the create never waited on an operation")
	}
	// An operation that has ended and is gone answers 404.
	_, _ = b.Try("query", path+"/wait?timeout=120")
}

// TestAccInstance_createTimeout: a create that times out after the server made the
// instance records it (tainted), and the next apply replaces it instead of failing
// on a name that is taken.
func TestAccInstance_createTimeout(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("timeout")})
		name := acctest.Name("timeout")
		socket, op := givesUpOnce(t, b, func() {})
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
					Config: config(`timeouts = { create = "3s" }`),
					ExpectError: acctest.Diagnostic("Error: Could not create instance", fmt.Sprintf(`Endpoint "slow", instance %q:`, name),
						"timed out after 3s", "The operation did not finish within its timeout"),
				},
				{
					PreConfig: func() {
						ended(t, b, op)
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

// slowImageServer is an image server for `remote`: a daemon's API behind TLS, whose
// image downloads wait until release is called. It returns the server's URL and
// certificate (PEM).
func slowImageServer(t *testing.T, b acctest.Backend) (url, cert string, release func()) {
	t.Helper()
	proxy := daemonProxy(b)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/export") {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(release)
	return srv.URL, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})), release
}

// TestAccInstance_createTimeoutDuringPull: a create from an image server that times
// out while the daemon is still downloading the image (so the instance does not exist
// yet) cancels the operation or waits for it to end, and records the instance if it
// made one: the next apply, once the operation has ended on the server, succeeds. It
// used to check for the instance at once, find none, and leave the operation to make
// it, so that the next apply failed on a name that is taken.
func TestAccInstance_createTimeoutDuringPull(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		dir := acctest.TempDir(t)
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("pulltimeout")})
		fp := acctest.SHA256(t, file)
		name, alias := acctest.Name("pulltimeout"), acctest.Name("pulltimeout")
		// A project with its own images, so the daemon downloads the image.
		pulling := b.Project(t, "imagefleet-instances-pull", true)
		t.Cleanup(func() {
			_, _ = b.Try("delete", "--force", name, "--project", pulling)
			_, _ = b.Try("image", "delete", fp, "--project", pulling)
		})
		// The image is served by the other daemon: one that holds the image, in any
		// project, takes it from its own store without downloading it.
		other := acctest.Backends[0]
		if other.Kind == b.Kind {
			other = acctest.Backends[1]
		}
		server, cert, release := slowImageServer(t, other)
		socket, op := givesUpOnce(t, b, release)
		config := func(timeouts string) string {
			return fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "slow"
  endpoints = {
    other  = { %[10]s = {} }
    slow   = { %[1]s = { address = "unix://%[2]s" } }
  }
}
resource "imagefleet_image" "base" {
  endpoint = "other"
  file    = %[3]q
  incus = {
    public  = true
    aliases = [{ name = %[4]q }]
  }
}
resource "imagefleet_instance" "test" {
  endpoint   = "slow"
  project    = %[5]q
  name       = %[6]q
  image      = %[4]q
  remote     = { server = %[7]q, protocol = %[1]q, certificate = %[8]q }
  depends_on = [imagefleet_image.base]
  %[9]s
}`, b.Kind, socket, file, alias, pulling, name, server, cert, timeouts, other.Kind)
		}
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t, b) },
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy: func(*terraform.State) error {
				if out, err := b.Try("info", name, "--project", pulling); err == nil {
					return fmt.Errorf("instance %s still exists: %s", name, out)
				}
				return nil
			},
			Steps: []resource.TestStep{
				{
					Config: config(`timeouts = { create = "3s" }`),
					ExpectError: acctest.Diagnostic("Error: Could not create instance", fmt.Sprintf(`Endpoint "slow", instance %q:`, name),
						"timed out after 3s", "The operation did not finish within its timeout"),
				},
				{
					// Whatever the provider did, the operation ends once the download
					// may go on.
					PreConfig: func() { ended(t, b, op) },
					Config:    config(""),
					Check: func(*terraform.State) error {
						if got := b.Run(t, "list", name, "-f", "csv", "-c", "s", "--project", pulling); got != "RUNNING" {
							return fmt.Errorf("instance %s is %q, want RUNNING", name, got)
						}
						return nil
					},
				},
			},
		})
	})
}
