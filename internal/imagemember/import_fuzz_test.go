package imagemember

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/fmtcheck"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/importtest"
)

// FuzzImportID imports arbitrary IDs: [endpoint:]image/member[/member_endpoint] with
// no empty part is read into the state part for part, and the ID the state then
// carries is image/member; anything else is refused with the diagnostic quoting it.
func FuzzImportID(f *testing.F) {
	for _, s := range []string{"", "img/proj", "owner:img/proj", "other:img/proj/partner", "img", "img/", "/proj", "img/proj/", "img/proj/a/b", "owner:", ":img/proj", "a:b:c/d"} {
		f.Add(s)
	}
	ctx := context.Background()
	r := &imageMemberResource{reg: importtest.Registry(f, "owner", []endpoints.Config{
		{Name: "owner", Kind: backend.KindOpenStack},
		{Name: "other", Kind: backend.KindOpenStack},
	})}
	importID := importtest.Importer(r)
	f.Fuzz(func(t *testing.T, id string) {
		if !utf8.ValidString(id) {
			return
		}
		resp := importID(id)
		endpoint, rest := endpoints.SplitID(id)
		parts := strings.Split(rest, "/")
		valid := (len(parts) == 2 || len(parts) == 3) && !slices.Contains(parts, "")
		if !valid {
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
		var m imageMemberResourceModel
		if d := resp.State.Get(ctx, &m); d.HasError() {
			t.Fatalf("%q: %v", id, d)
		}
		wantEndpoint, memberEndpoint := endpoint, ""
		if endpoint == "owner" {
			wantEndpoint = ""
		}
		if len(parts) == 3 {
			memberEndpoint = parts[2]
		}
		got := [5]string{m.ID.ValueString(), m.Endpoint.ValueString(), m.Image.ValueString(), m.Member.ValueString(), m.MemberEndpoint.ValueString()}
		want := [5]string{parts[0] + "/" + parts[1], wantEndpoint, parts[0], parts[1], memberEndpoint}
		if got != want {
			t.Fatalf("%q: id, endpoint, image, member, member_endpoint = %q; want %q", id, got, want)
		}
	})
}
