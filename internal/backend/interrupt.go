package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"sync/atomic"
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

// OutliveRequest is Outlive for one HTTP request that creates something, made with
// the context it returns: the request is out once it was written whole, and sent
// says whether it was.
func OutliveRequest(ctx context.Context) (reqCtx context.Context, sent func() bool, done context.CancelFunc) {
	var wrote atomic.Bool
	reqCtx, done = Outlive(ctx, wrote.Load)
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	return reqCtx, wrote.Load, done
}

// AfterInterruption is the context for leaving nothing behind once ctx ended: it
// keeps ctx's values, not its cancellation, and is bounded by CleanupTimeout.
func AfterInterruption(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
}

// Abandon reports err, a failure after the image id came to exist. When ctx ended
// (the run was interrupted or timed out) it removes the image with remove, bounded by
// CleanupTimeout, and reports the image kept, as a CreatedError, only when that
// fails; any other failure leaves the image to the caller to record and replace.
func Abandon(ctx context.Context, id string, err error, remove func(ctx context.Context, id string) error) error {
	if ctx.Err() == nil {
		return Created(id, err)
	}
	cctx, cancel := AfterInterruption(ctx)
	defer cancel()
	if derr := remove(cctx, id); derr != nil && !errors.Is(derr, ErrNotFound) {
		return Created(id, fmt.Errorf("%w; removing the unfinished image %s failed too: %v", err, id, derr))
	}
	return fmt.Errorf("%w; the unfinished image %s was removed", err, id)
}
