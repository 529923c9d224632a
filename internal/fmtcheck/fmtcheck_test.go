package fmtcheck

import "testing"

func TestBad(t *testing.T) {
	for _, tc := range []struct {
		msg, input string
		want       bool
	}{
		{"name %!s(MISSING)", "web", true},
		{"size %!d(string=x)", "x", true},
		{"done%!(EXTRA string=x)", "x", true},
		{`address "%!0" is not a URL`, "%!0", false},
		{`id "%!s(MISSING)" is not valid`, "%!s(MISSING)", false},
	} {
		if got := Bad(tc.msg, tc.input); got != tc.want {
			t.Errorf("Bad(%q, %q) = %v, want %v", tc.msg, tc.input, got, tc.want)
		}
	}
}
