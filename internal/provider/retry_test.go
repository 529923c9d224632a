package provider_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
)

// countingSocket serves the daemon's API on a socket of its own and counts the PUTs
// that reach an image (not an alias), so a test can tell how often one was retried.
func countingSocket(t *testing.T, b acctest.Backend) (string, *atomic.Int32) {
	t.Helper()
	daemon := incus.DefaultSocket(b.Kind)
	sock := filepath.Join(acctest.TempDir(t), "api.socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var puts atomic.Int32
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "daemon" },
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", daemon)
		}},
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/1.0/images/") && !strings.HasPrefix(r.URL.Path, "/1.0/images/aliases") {
			puts.Add(1)
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "unix://" + sock, &puts
}

// TestAccProvider_definiteErrorNotRetried: the daemons answer an image update naming
// a missing profile with a 500 and a JSON error. That answer is final, so the update
// is sent once, not once per retry attempt.
func TestAccProvider_definiteErrorNotRetried(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		acctest.PreCheck(t, b)
		address, puts := countingSocket(t, b)
		file := acctest.Unified(t, acctest.TempDir(t), acctest.ImageOpts{Variant: acctest.Name("retry")})
		missing := acctest.Name("missing-profile")
		config := func(profiles string) string {
			return fmt.Sprintf(`
provider "imagefleet" {
  endpoints = { counted = { %s = { address = %q } } }
}
resource "imagefleet_image" "test" {
  file     = %q
  incus = {
    profiles = %s
  }
}
`, b.Kind, address, file, profiles)
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{Config: config(`["default"]`)},
				{
					PreConfig:   func() { puts.Store(0) },
					Config:      config(fmt.Sprintf("[%q]", missing)),
					ExpectError: regexp.MustCompile(`(?s)Could not update image.*` + regexp.QuoteMeta(missing)),
				},
			},
		})
		if n := puts.Load(); n != 1 {
			t.Fatalf("the refused image update was sent %d times, want once", n)
		}
	})
}
