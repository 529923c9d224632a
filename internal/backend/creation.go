package backend

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
)

// A Creation marks an object while a create makes it, so that the object can be
// found again when the create's answer is lost, or when the run that made it was
// killed before Terraform could record it. Terraform keeps nothing of a create that
// did not return, so the mark cannot be a secret kept before the call: its Token is
// derived from what the object is (its server, kind, name and content), and the next
// run's create of the same object derives the same one. Its Nonce tells this call's
// object from another call's of the same Token.
//
// The mark is written with the object (a property, a config key or a note, per
// kind), is hidden from what a backend reads back, and is removed once the create
// finished. A marked object is either this call's (Mine: its answer was lost), or
// an Orphan: left by an interrupted run, since no create of this process is making
// it, and adopted when complete or deleted when half made.
type Creation struct {
	Token string
	Nonce string
}

// creationSeparator parts a mark's Token from its Nonce.
const creationSeparator = "/"

var inFlight = struct {
	sync.Mutex
	nonces map[string]bool
}{nonces: map[string]bool{}}

// NewCreation starts a create of the object that identity describes; Done must be
// called when it returns.
func NewCreation(identity ...string) *Creation {
	sum := sha256.Sum256([]byte(strings.Join(identity, "\x00")))
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	c := &Creation{Token: hex.EncodeToString(sum[:12]), Nonce: hex.EncodeToString(nonce)}
	inFlight.Lock()
	inFlight.nonces[c.Nonce] = true
	inFlight.Unlock()
	return c
}

// Done ends the create: its objects are no longer being made by this process.
func (c *Creation) Done() {
	inFlight.Lock()
	delete(inFlight.nonces, c.Nonce)
	inFlight.Unlock()
}

// Mark is the value written on the object.
func (c *Creation) Mark() string { return c.Token + creationSeparator + c.Nonce }

// Mine reports whether mark is this create's.
func (c *Creation) Mine(mark string) bool { return mark == c.Mark() }

// Orphan reports whether mark is another create's of the same object that no
// create of this process is running: one an interrupted run left.
func (c *Creation) Orphan(mark string) bool {
	token, nonce, ok := strings.Cut(mark, creationSeparator)
	if !ok || token != c.Token || nonce == c.Nonce {
		return false
	}
	inFlight.Lock()
	defer inFlight.Unlock()
	return !inFlight.nonces[nonce]
}

// Ours reports whether mark is this create's or an orphan of the same object.
func (c *Creation) Ours(mark string) bool { return c.Mine(mark) || c.Orphan(mark) }

// MaybeDone reports whether a create whose request went out and that failed with
// err may still have been carried out: its answer was lost (none came, or it was cut
// short) or a gateway answered 5xx in the server's place. A refusal (4xx) was not.
func MaybeDone(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status >= 500
	}
	return err != nil
}
