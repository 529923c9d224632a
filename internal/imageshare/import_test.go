package imageshare

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
)

// TestImportState reads each form of the import ID into the state, and refuses
// malformed ones.
func TestImportState(t *testing.T) {
	ctx := context.Background()
	reg, err := endpoints.NewRegistry("a", []endpoints.Config{
		{Name: "a", Kind: backend.KindAir},
		{Name: "b", Kind: backend.KindAir},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &imageShareResource{reg: reg}
	var sch resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sch)
	imp := func(id string) (imageShareResourceModel, bool) {
		resp := &resource.ImportStateResponse{State: tfsdk.State{Schema: sch.Schema, Raw: tftypes.NewValue(sch.Schema.Type().TerraformType(ctx), nil)}}
		r.ImportState(ctx, resource.ImportStateRequest{ID: id}, resp)
		var m imageShareResourceModel
		if resp.Diagnostics.HasError() {
			return m, false
		}
		if d := resp.State.Get(ctx, &m); d.HasError() {
			t.Fatalf("%s: %v", id, d)
		}
		return m, true
	}
	const share = "3f6d2a1e-8c4b-4e2f-9a7d-5b1c0e9f8a26"
	for id, want := range map[string]string{
		share:        "",
		"a:" + share: "", // the default endpoint stays implicit
		"b:" + share: "b",
	} {
		m, ok := imp(id)
		if !ok {
			t.Errorf("%s: refused", id)
			continue
		}
		if m.Endpoint.ValueString() != want || m.ID.ValueString() != share {
			t.Errorf("%s: endpoint %q, id %q; want %q, %q", id, m.Endpoint.ValueString(), m.ID.ValueString(), want, share)
		}
	}
	for _, id := range []string{"", "b:", ":" + share} {
		if _, ok := imp(id); ok {
			t.Errorf("%q: accepted", id)
		}
	}
}

// TestReplaceIfOtherInstant: only another time (or one unknown) replaces the share.
func TestReplaceIfOtherInstant(t *testing.T) {
	ctx := context.Background()
	notNull := tftypes.NewValue(tftypes.Object{}, map[string]tftypes.Value{})
	for _, c := range []struct {
		state, plan types.String
		replace     bool
	}{
		{types.StringValue("2030-01-02T03:04:05Z"), types.StringValue("2030-01-02T03:04:05Z"), false},
		{types.StringValue("2030-01-02T03:04:05Z"), types.StringValue("2030-01-02T05:04:05+02:00"), false},
		{types.StringValue("2030-01-02T03:04:05.5Z"), types.StringValue("2030-01-02T03:04:05.500000Z"), false},
		{types.StringValue("2030-01-02T03:04:05Z"), types.StringValue("2030-01-02T03:04:06Z"), true},
		{types.StringValue("2030-01-02T03:04:05Z"), types.StringUnknown(), true},
	} {
		req := planmodifier.StringRequest{StateValue: c.state, PlanValue: c.plan,
			State: tfsdk.State{Raw: notNull}, Plan: tfsdk.Plan{Raw: notNull}}
		var resp planmodifier.StringResponse
		replaceIfOtherInstant{}.PlanModifyString(ctx, req, &resp)
		if resp.RequiresReplace != c.replace {
			t.Errorf("%s -> %s: replace %t, want %t", c.state, c.plan, resp.RequiresReplace, c.replace)
		}
	}
}

// TestExpiryKeptAsWritten: the server's expiry is recorded as the model wrote it
// when it is the same time, else as the server holds it, to the microsecond.
func TestExpiryKeptAsWritten(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	for _, c := range []struct {
		was  types.String
		want string
	}{
		{types.StringNull(), "2030-01-02T03:04:05.123456Z"},
		{types.StringUnknown(), "2030-01-02T03:04:05.123456Z"},
		{types.StringValue("2030-01-02T05:04:05.123456+02:00"), "2030-01-02T05:04:05.123456+02:00"},
		{types.StringValue("2030-01-02T03:04:05Z"), "2030-01-02T03:04:05.123456Z"},
	} {
		m := imageShareResourceModel{ExpiresAt: c.was}
		m.fromBackend(&backend.Share{ID: "s", ExpiresAt: at, State: "ACTIVE"})
		if m.ExpiresAt.ValueString() != c.want {
			t.Errorf("was %s: got %s, want %s", c.was, m.ExpiresAt, c.want)
		}
		if !m.ClaimedBy.IsNull() {
			t.Errorf("unclaimed share: claimed_by %s, want null", m.ClaimedBy)
		}
	}
}
