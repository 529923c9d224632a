package imageshare

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/fmtcheck"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/importtest"
)

// FuzzImportID imports arbitrary IDs: [endpoint:]share_id with a share ID and, when
// there is a colon, an endpoint name before it, puts the share ID (colons after the
// first kept) into id; anything else is refused with the diagnostic quoting it.
func FuzzImportID(f *testing.F) {
	for _, s := range []string{"", ":", "abc", "air:abc", "other:abc", ":abc", "air:", "a:b:c"} {
		f.Add(s)
	}
	ctx := context.Background()
	r := &imageShareResource{reg: importtest.Registry(f, "air", []endpoints.Config{
		{Name: "air", Kind: backend.KindAir},
		{Name: "other", Kind: backend.KindAir},
	})}
	importID := importtest.Importer(r)
	f.Fuzz(func(t *testing.T, id string) {
		if !utf8.ValidString(id) {
			return
		}
		resp := importID(id)
		endpoint, share := endpoints.SplitID(id)
		if share == "" || strings.HasPrefix(id, ":") {
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
		var m imageShareResourceModel
		if d := resp.State.Get(ctx, &m); d.HasError() {
			t.Fatalf("%q: %v", id, d)
		}
		wantEndpoint := endpoint
		if endpoint == "air" {
			wantEndpoint = ""
		}
		if m.ID.ValueString() != share || m.Endpoint.ValueString() != wantEndpoint {
			t.Fatalf("%q: id %q, endpoint %q; want %q, %q", id, m.ID.ValueString(), m.Endpoint.ValueString(), share, wantEndpoint)
		}
	})
}
