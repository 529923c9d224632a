package tfvalue

import (
	"testing"
	"time"
)

func TestTime(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, "<null>"},
		{time.Unix(0, 0), "<null>"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", -17762)), "<null>"},
		{time.Date(2030, 1, 2, 4, 4, 5, 0, time.FixedZone("", 3600)), `"2030-01-02T03:04:05Z"`},
	} {
		if got := Time(tc.in).String(); got != tc.want {
			t.Errorf("Time(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
