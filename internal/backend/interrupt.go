package backend

import (
	"context"
	"time"
)

// CleanupTimeout bounds what a backend does after its caller's context ended to leave
// nothing behind: waiting for the answer to a create that went out, and removing
// what it made.
const CleanupTimeout = 60 * time.Second

// Outlive makes the context of a request that creates something. Until sent reports
// that the request is out, ctx ending cancels it; once it is out the server may have
// made the object, so the request gets CleanupTimeout more to say which, and the
// object can be removed or recorded rather than left behind unseen.
func Outlive(ctx context.Context, sent func() bool) (context.Context, context.CancelFunc) {
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if !sent() {
			cancel()
			return
		}
		time.AfterFunc(CleanupTimeout, cancel)
	})
	return reqCtx, func() { stop(); cancel() }
}

// AfterInterruption is the context for leaving nothing behind once ctx ended: it
// keeps ctx's values, not its cancellation, and is bounded by CleanupTimeout.
func AfterInterruption(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
}
