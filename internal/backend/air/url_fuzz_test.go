package air

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/fmtcheck"
)

// FuzzResolveURL resolves arbitrary api_url values. An accepted one becomes an
// http(s) URL with a host, no credentials, query or fragment, ending in /api/v3/,
// that resolves to itself; a refused one is quoted in an error that names api_url.
func FuzzResolveURL(f *testing.F) {
	for _, s := range []string{"", "https://air.nvidia.com", "https://air.nvidia.com/", "https://air.nvidia.com/api/v3", "https://air.nvidia.com/api/v3/", "http://127.0.0.1:8080/api/v3/",
		"https://air.nvidia.com/api/v2/", "https://air.nvidia.com/simulations", "air.nvidia.com", "https://", "https://u:p@air", "https://air/?x=1", "https://air/#f", "ftp://air", "%zz",
		"https://air/a%2Fb/api/v3", "https://air/x/api/v3/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !utf8.ValidString(raw) {
			return
		}
		c, err := Config{APIURL: raw, APIKey: "nvapi-fuzz"}.Resolve()
		if err != nil {
			if !strings.Contains(err.Error(), "api_url") || fmtcheck.Bad(err.Error(), raw) {
				t.Fatalf("%q: the error does not name api_url: %v", raw, err)
			}
			return
		}
		base := c.APIURL
		if !strings.HasSuffix(base, "/api/v3/") {
			t.Fatalf("%q became %q, which does not end in /api/v3/", raw, base)
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("%q became %q, which is not a URL: %v", raw, base, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("%q became %q", raw, base)
		}
		again, err := Config{APIURL: base, APIKey: "nvapi-fuzz"}.Resolve()
		if err != nil || again.APIURL != base {
			t.Fatalf("%q became %q, which resolves to %q, %v", raw, base, again.APIURL, err)
		}
		if err := c.check(); err != nil {
			t.Fatalf("%q resolved to a Config New refuses: %v", raw, err)
		}
	})
}
