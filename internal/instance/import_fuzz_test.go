package instance

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/fmtcheck"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/importtest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
)

// FuzzImportID imports arbitrary IDs into endpoints whose settings are not known yet,
// so nothing is contacted: [endpoint:][project/]name whose name (after the first
// "/") is a valid instance name gets as far as the endpoint, whose diagnostic names
// it; anything else is refused with the diagnostic quoting the ID.
func FuzzImportID(f *testing.F) {
	for _, s := range []string{"", "web", "incus:web", "lxd:default/web", "default/web", "/web", "incus:", "web-", "-web", "a/b/c", "incus:web_1", "nope:web", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	ctx := context.Background()
	r := &instanceResource{reg: importtest.Registry(f, "incus", []endpoints.Config{
		{Name: "incus", Kind: backend.KindIncus, Unknown: []string{"endpoints.incus.incus.address"}},
		{Name: "lxd", Kind: backend.KindLXD, Unknown: []string{"endpoints.lxd.lxd.address"}},
	})}
	importID := importtest.Importer(r)
	f.Fuzz(func(t *testing.T, id string) {
		if !utf8.ValidString(id) {
			return
		}
		resp := importID(id)
		if resp.Diagnostics.ErrorsCount() != 1 {
			t.Fatalf("%q: %d errors, want exactly one (nothing can be connected): %v", id, resp.Diagnostics.ErrorsCount(), resp.Diagnostics)
		}
		got := resp.Diagnostics.Errors()[0]
		if fmtcheck.Bad(got.Summary()+got.Detail(), id) {
			t.Fatalf("%q: badly formatted diagnostic: %s: %s", id, got.Summary(), got.Detail())
		}
		endpoint, rest := endpoints.SplitID(id)
		name := rest[strings.Index(rest, "/")+1:]
		if len(name) > 63 || !validName(name) {
			if !got.Equal(importDiag(id)) {
				t.Fatalf("%q: %s: %s; want the invalid import ID diagnostic", id, got.Summary(), got.Detail())
			}
			return
		}
		if want := cmp.Or(endpoint, "incus"); !strings.Contains(got.Detail(), fmt.Sprintf("%q", want)) {
			t.Fatalf("%q: %s does not name endpoint %q", id, got.Detail(), want)
		}
		_, getErr := r.reg.Get(ctx, endpoint)
		if want := tfendpoints.ConnectDiag("import instance", getErr); !got.Equal(want) {
			t.Fatalf("%q: %s: %s; want %s: %s", id, got.Summary(), got.Detail(), want.Summary(), want.Detail())
		}
	})
}

// validName is the rule for an instance name, written out: letters, digits and
// hyphens, starting with a letter and not ending with a hyphen.
func validName(s string) bool {
	if s == "" || !isLetter(s[0]) || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !isLetter(c) && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func isLetter[T byte | rune](c T) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
