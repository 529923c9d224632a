package backend

import "testing"

func TestCreation(t *testing.T) {
	a := NewCreation("incus", "https://h:8443", "web")
	b := NewCreation("incus", "https://h:8443", "web")
	other := NewCreation("incus", "https://h:8443", "db")
	defer other.Done()
	if a.Token != b.Token || a.Nonce == b.Nonce {
		t.Fatalf("same identity: tokens %s %s, nonces %s %s", a.Token, b.Token, a.Nonce, b.Nonce)
	}
	if a.Token == other.Token {
		t.Fatal("different identities share a token")
	}
	if !a.Mine(a.Mark()) || a.Mine(b.Mark()) {
		t.Error("Mine must hold for the create's own mark only")
	}
	if a.Orphan(b.Mark()) {
		t.Error("a mark of a create still running in this process is not an orphan")
	}
	if a.Orphan(other.Mark()) || a.Orphan("garbage") || a.Orphan(a.Mark()) {
		t.Error("only another create's mark of the same object can be an orphan")
	}
	b.Done()
	if !a.Orphan(b.Mark()) || !a.Ours(b.Mark()) {
		t.Error("the mark of a create that ended without removing it is an orphan")
	}
	// A later run of the same object derives the same token.
	later := NewCreation("incus", "https://h:8443", "web")
	defer later.Done()
	a.Done()
	if !later.Orphan(a.Mark()) {
		t.Error("a later create does not find the interrupted one's object")
	}
}
