package incus

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/fmtcheck"
)

// FuzzNewAddress builds clients from arbitrary addresses that pass the schema's
// check (they start with unix:// or https://). A refused address is quoted in the
// error; an accepted one is unix:// with a socket path or https://
// with a host, so the first request has somewhere to go rather than failing with
// net/http's own words.
func FuzzNewAddress(f *testing.F) {
	for _, s := range []string{"", "unix:///var/lib/incus/unix.socket", "unix://", "unix:relative.sock", "https://lab:8443", "https://[::1]:8443", "https://", "https:///1.0",
		"http://lab:8443", "lab:8443", "https://lab:8443/path?q=1", "https://user:pw@lab", "%", " https://lab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		if !utf8.ValidString(addr) || !strings.HasPrefix(addr, "unix://") && !strings.HasPrefix(addr, "https://") {
			// Terraform strings are UTF-8, and the schema refuses any other start
			// (or none: "" is the local socket).
			return
		}
		c, err := New(Config{Kind: backend.KindIncus, Address: addr})
		if err != nil {
			if !strings.Contains(err.Error(), "address") || fmtcheck.Bad(err.Error(), addr) {
				t.Fatalf("%q: the error does not name the address setting: %v", addr, err)
			}
			return
		}
		u, perr := url.Parse(addr)
		if perr != nil {
			t.Fatalf("%q accepted, but it is not a URL: %v", addr, perr)
		}
		switch u.Scheme {
		case "unix":
			if u.Host+u.Path == "" {
				t.Fatalf("%q accepted with no socket path", addr)
			}
		case "https":
			if u.Hostname() == "" {
				t.Fatalf("%q accepted with no host (base %q)", addr, c.base)
			}
		default:
			t.Fatalf("%q accepted with scheme %q", addr, u.Scheme)
		}
	})
}
