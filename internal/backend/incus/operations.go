package incus

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// What a create does when its caller's context ends while the server runs the
// operation it started, shared by images and instances.

// outlive makes the context of a request that starts a server operation. Until sent
// reports that the request is out, ctx ending cancels it; once it is out the server
// may have started the operation, so the request gets cleanupTimeout more to return
// it, and the operation can be cleaned up rather than left to finish unseen.
func outlive(ctx context.Context, sent func() bool) (context.Context, context.CancelFunc) {
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if !sent() {
			cancel()
			return
		}
		time.AfterFunc(cleanupTimeout, cancel)
	})
	return reqCtx, func() { stop(); cancel() }
}

// cleanupTimeout bounds what is done after ctx ended to leave nothing behind: waiting
// for a server operation that cannot be cancelled, and removing what it created.
const cleanupTimeout = 60 * time.Second

// afterInterruption is the context for leaving nothing behind once ctx ended: it
// keeps ctx's values, not its cancellation, and is bounded by cleanupTimeout.
func afterInterruption(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// cancelAndWait asks the server to cancel the operation r started (it may refuse:
// uploads, url downloads and instance creates cannot be cancelled) and waits for it
// to end. cancelled says whether the server took the cancellation.
func (c *Client) cancelAndWait(ctx context.Context, r *response) (op *operation, cancelled bool, err error) {
	_, cerr := c.do(ctx, http.MethodDelete, operationPath(r), nil, nil)
	op, err = c.wait(ctx, r)
	return op, cerr == nil, err
}

// operationPath is the path of the operation an async answer started.
func operationPath(r *response) string { return strings.SplitN(r.Operation, "?", 2)[0] }

// operationStart is when the server created the operation, by its own clock; zero
// when the answer does not say.
func operationStart(r *response) time.Time {
	var op struct {
		CreatedAt time.Time `json:"created_at"`
	}
	_ = json.Unmarshal(r.Metadata, &op)
	return op.CreatedAt
}
