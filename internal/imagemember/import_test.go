package imagemember

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
)

// TestImportState reads each form of the import ID into the state, and refuses
// malformed ones.
func TestImportState(t *testing.T) {
	ctx := context.Background()
	reg, err := endpoints.NewRegistry("owner", []endpoints.Config{
		{Name: "owner", Kind: backend.KindOpenStack},
		{Name: "other", Kind: backend.KindOpenStack},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &imageMemberResource{reg: reg}
	var sch resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sch)
	imp := func(id string) (imageMemberResourceModel, bool) {
		resp := &resource.ImportStateResponse{State: tfsdk.State{Schema: sch.Schema, Raw: tftypes.NewValue(sch.Schema.Type().TerraformType(ctx), nil)}}
		r.ImportState(ctx, resource.ImportStateRequest{ID: id}, resp)
		var m imageMemberResourceModel
		if resp.Diagnostics.HasError() {
			return m, false
		}
		if d := resp.State.Get(ctx, &m); d.HasError() {
			t.Fatalf("%s: %v", id, d)
		}
		return m, true
	}
	for id, want := range map[string][4]string{
		"img/proj":               {"", "img", "proj", ""},
		"owner:img/proj":         {"", "img", "proj", ""}, // the default endpoint stays implicit
		"other:img/proj":         {"other", "img", "proj", ""},
		"other:img/proj/partner": {"other", "img", "proj", "partner"},
	} {
		m, ok := imp(id)
		if !ok {
			t.Errorf("%s: refused", id)
			continue
		}
		got := [4]string{m.Endpoint.ValueString(), m.Image.ValueString(), m.Member.ValueString(), m.MemberEndpoint.ValueString()}
		if got != want || m.ID.ValueString() != "img/proj" {
			t.Errorf("%s: endpoint, image, member, member_endpoint = %q, id %q; want %q, id img/proj", id, got, m.ID.ValueString(), want)
		}
	}
	for _, id := range []string{"", "img", "owner:img", "img/", "/proj", "img/proj/", "img/proj/partner/x", "owner:"} {
		if _, ok := imp(id); ok {
			t.Errorf("%q: accepted", id)
		}
	}
}
