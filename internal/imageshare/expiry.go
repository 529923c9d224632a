package imageshare

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// parseTime reads a known RFC 3339 value (fractional seconds allowed).
func parseTime(v types.String) (time.Time, bool) {
	if v.IsNull() || v.IsUnknown() {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v.ValueString())
	return t, err == nil
}

// sameInstant compares times as precisely as Air keeps them: to the microsecond.
func sameInstant(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// expiry writes an expiry as exactly as the server holds it (tfvalue.Time keeps
// whole seconds), so a time given with a fraction reads back as the same time and
// an import of it plans no change. Whole seconds read as tfvalue.Time writes them.
func expiry(t time.Time) types.String {
	if t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339Nano))
}

// replaceIfOtherInstant replaces the share when expires_at names another time, or
// one not known until apply; the same time written another way is no change to Air.
type replaceIfOtherInstant struct{}

func (replaceIfOtherInstant) Description(context.Context) string {
	return "replaces the share when the expiry is another time"
}

func (m replaceIfOtherInstant) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (replaceIfOtherInstant) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || req.PlanValue.Equal(req.StateValue) {
		return
	}
	planned, okPlan := parseTime(req.PlanValue)
	was, okState := parseTime(req.StateValue)
	resp.RequiresReplace = !okPlan || !okState || !sameInstant(planned, was)
}

// rfc3339Validator refuses an expiry that is not an RFC 3339 time.
type rfc3339Validator struct{}

func (rfc3339Validator) Description(context.Context) string {
	return "must be an RFC 3339 time, such as 2030-01-02T15:04:05Z"
}

func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v rfc3339Validator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if _, ok := parseTime(req.ConfigValue); ok || req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	resp.Diagnostics.Append(timeDiag(req.Path, req.ConfigValue.ValueString(), v.Description(ctx)))
}
