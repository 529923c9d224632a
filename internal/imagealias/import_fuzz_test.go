package imagealias

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/fmtcheck"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/importtest"
)

// FuzzImportID imports arbitrary IDs: an ID without a name is refused with the
// diagnostic that quotes it; any other puts the name (colons and all, after the
// first) into id and name, and a named endpoint other than the default into
// endpoint, as SplitID splits it.
func FuzzImportID(f *testing.F) {
	for _, s := range []string{"", ":", "web", "incus:web", "lxd:web", ":web", "incus:", "lxd:a:b", "a/b"} {
		f.Add(s)
	}
	ctx := context.Background()
	r := &imageAliasResource{reg: importtest.Registry(f, "incus", []endpoints.Config{
		{Name: "incus", Kind: backend.KindIncus},
		{Name: "lxd", Kind: backend.KindLXD},
	})}
	importID := importtest.Importer(r)
	f.Fuzz(func(t *testing.T, id string) {
		if !utf8.ValidString(id) {
			return
		}
		resp := importID(id)
		endpoint, name := endpoints.SplitID(id)
		if name == "" {
			if resp.Diagnostics.ErrorsCount() != 1 || !resp.Diagnostics.Errors()[0].Equal(importDiag(id)) {
				t.Fatalf("%q: %v; want the invalid import ID diagnostic", id, resp.Diagnostics)
			}
			if fmtcheck.Bad(importDiag(id).Detail(), id) {
				t.Fatalf("%q: badly formatted: %s", id, importDiag(id).Detail())
			}
			return
		}
		if resp.Diagnostics.HasError() {
			t.Fatalf("%q refused: %v", id, resp.Diagnostics)
		}
		var m imageAliasResourceModel
		if d := resp.State.Get(ctx, &m); d.HasError() {
			t.Fatalf("%q: %v", id, d)
		}
		wantEndpoint := endpoint
		if endpoint == "incus" {
			wantEndpoint = ""
		}
		if m.ID.ValueString() != name || m.Name.ValueString() != name || m.Endpoint.ValueString() != wantEndpoint {
			t.Fatalf("%q: id %q, name %q, endpoint %q; want %q, %q, %q", id, m.ID.ValueString(), m.Name.ValueString(), m.Endpoint.ValueString(), name, name, wantEndpoint)
		}
	})
}
