package endpoints

import (
	"strings"
	"testing"
)

// FuzzSplitID checks that an import ID splits at its first colon only, so an object
// name holding colons (an Air or Glance ID never does, an alias may) keeps them, and
// that nothing is lost: the parts join back into the ID.
func FuzzSplitID(f *testing.F) {
	for _, s := range []string{"", ":", "::", "abc", "local:abc", ":abc", "abc:", "a:b:c", "lab:default/web", "e:img/member/ep", "é:ü", "a\x00:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		endpoint, rest := SplitID(id)
		if strings.Contains(endpoint, ":") {
			t.Fatalf("SplitID(%q): endpoint %q holds a colon", id, endpoint)
		}
		if !strings.Contains(id, ":") {
			if endpoint != "" || rest != id {
				t.Fatalf("SplitID(%q) = %q, %q: an ID without a colon is all name", id, endpoint, rest)
			}
			return
		}
		if endpoint+":"+rest != id {
			t.Fatalf("SplitID(%q) = %q, %q: does not join back", id, endpoint, rest)
		}
	})
}
