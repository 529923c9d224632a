package image

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
// so nothing is contacted: a malformed ID is refused with the diagnostic that quotes
// it, and a well-formed one gets as far as the endpoint, whose diagnostic names it.
func FuzzImportID(f *testing.F) {
	for _, s := range []string{"", ":", "abc", "local:abc", "other:0123abcd", ":abc", "local:", "a/b", "local:a b", "nope:abc", "a:b:c"} {
		f.Add(s)
	}
	ctx := context.Background()
	r := &imageResource{reg: importtest.Registry(f, "local", []endpoints.Config{
		{Name: "local", Kind: backend.KindIncus, Unknown: []string{"endpoints.local.incus.address"}},
		{Name: "other", Kind: backend.KindAir, Unknown: []string{"endpoints.other.air.api_key"}},
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
		endpoint, fp := endpoints.SplitID(id)
		if fp == "" || strings.ContainsAny(fp, "/ ") {
			if !got.Equal(importDiag(id)) {
				t.Fatalf("%q: %s: %s; want the invalid import ID diagnostic", id, got.Summary(), got.Detail())
			}
			return
		}
		if name := cmp.Or(endpoint, "local"); !strings.Contains(got.Detail(), fmt.Sprintf("%q", name)) {
			t.Fatalf("%q: %s does not name endpoint %q", id, got.Detail(), name)
		}
		_, getErr := r.reg.Get(ctx, endpoint)
		if want := tfendpoints.ConnectDiag("import image", getErr); !got.Equal(want) {
			t.Fatalf("%q: %s: %s; want %s: %s", id, got.Summary(), got.Detail(), want.Summary(), want.Detail())
		}
	})
}
