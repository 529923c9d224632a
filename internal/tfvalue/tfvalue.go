// Package tfvalue holds the conversions from backend values to Terraform values that
// every resource and data source shares, so one rule is applied everywhere.
package tfvalue

import (
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Time is t in RFC 3339 (UTC), or null when the server reported no time: the zero
// time, or the Unix epoch, which both daemons use for "never" and "not yet".
func Time(t time.Time) types.String {
	if t.Unix() <= 0 {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339))
}
