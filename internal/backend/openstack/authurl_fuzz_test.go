package openstack

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/fmtcheck"
)

// FuzzNewAuthURL builds clients from arbitrary auth_url values. A refused one is
// quoted in an error naming auth_url; an accepted one is an http(s) URL with a
// host, so authentication has somewhere to go rather than failing with net/http's
// own words.
func FuzzNewAuthURL(f *testing.F) {
	for _, s := range []string{"https://keystone:5000/v3", "http://127.0.0.1:5000/v3/", "keystone:5000", "https://", "%zz", "ftp://keystone/v3", "https://keystone/v3?x=1", "/v3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !utf8.ValidString(raw) || raw == "" {
			// "" is "no auth_url", which check reports; tested elsewhere.
			return
		}
		_, err := New(Config{AuthURL: raw, Username: "u", Password: "p", ProjectName: "p", Interface: "public"})
		if err != nil {
			if !strings.Contains(err.Error(), "auth_url") || fmtcheck.Bad(err.Error(), raw) {
				t.Fatalf("%q: the error does not name auth_url: %v", raw, err)
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			t.Fatalf("auth_url %q accepted, but it is not an http(s) URL with a host (%v)", raw, err)
		}
	})
}
