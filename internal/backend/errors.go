package backend

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors that backends wrap, so resources can act on the kind of failure
// without knowing the API that produced it.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("already exists")
	ErrForbidden   = errors.New("forbidden")
	ErrUnreachable = errors.New("endpoint unreachable")
	// ErrUntrustedServer is a server whose TLS certificate the client does not
	// trust: reachable, but not to be talked to as configured.
	ErrUntrustedServer = errors.New("server certificate not trusted")
	ErrDigest          = errors.New("digest mismatch")
	// ErrProtected is a delete the object's own protection refuses: the
	// credentials are fine, so ErrForbidden's advice would mislead.
	ErrProtected = errors.New("protected")
	// ErrCancelled and ErrTimeout say the caller stopped waiting, so nothing is
	// known about the endpoint itself: they must not read as ErrUnreachable.
	ErrCancelled = errors.New("cancelled")
	ErrTimeout   = errors.New("timed out")
)

// TimeoutError is the cause of a context made by WithTimeout: it names the timeout
// the user configured.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("timed out after %s", e.After) }

// Unwrap keeps the error both ErrTimeout and context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() []error { return []error{ErrTimeout, context.DeadlineExceeded} }

// WithTimeout is context.WithTimeout whose expiry reports the timeout d (see
// Interrupted), so an error can say after how long the operation gave up.
func WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, &TimeoutError{After: d})
}

// Interrupted says why ctx is done, nil while it is not: the cause its maker gave
// (context.WithTimeoutCause, WithCancelCause) when that is one of ours, else
// ErrTimeout for a deadline and ErrCancelled for a cancellation. The context error
// stays in the chain for errors.Is.
func Interrupted(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	cause := context.Cause(ctx)
	switch {
	case cause != err && (errors.Is(cause, ErrTimeout) || errors.Is(cause, ErrCancelled) || errors.Is(cause, ErrUnreachable)):
		return cause
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w (%w)", ErrTimeout, err)
	}
	return fmt.Errorf("%w (%w)", ErrCancelled, err)
}

// APIError is an error the server answered with.
type APIError struct {
	Method string
	URL    string
	Status int
	Msg    string
	kind   error
}

// NewAPIError classifies an HTTP status into one of the sentinel errors.
func NewAPIError(method, url string, status int, msg string) *APIError {
	e := &APIError{Method: method, URL: url, Status: status, Msg: msg}
	switch status {
	case 404:
		e.kind = ErrNotFound
	case 409:
		e.kind = ErrConflict
	case 401, 403:
		e.kind = ErrForbidden
	}
	return e
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d: %s", e.Method, e.URL, e.Status, e.Msg)
}

func (e *APIError) Unwrap() error { return e.kind }

// DigestError reports content whose digest is not what the server computed.
type DigestError struct {
	Algorithm string
	Local     string
	Server    string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s digest mismatch: local content has %s, server reports %s", e.Algorithm, e.Local, e.Server)
}

func (e *DigestError) Unwrap() error { return ErrDigest }

// Advice says what a user can do about an error, by its kind; empty when there is
// nothing general to say.
func Advice(err error) string {
	var file *LocalFileError
	switch {
	case errors.As(err, &file):
		return file.advice()
	// First: an interrupted request may also wrap the transport's error, but says
	// nothing about the server.
	case errors.Is(err, ErrCancelled), errors.Is(err, context.Canceled):
		return "The operation was cancelled, as happens when the run is interrupted; run it again to finish."
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "The operation did not finish within its timeout: if the server is only slow, raise the timeout in the resource's `timeouts` block."
	case errors.Is(err, ErrUntrustedServer):
		return "Give the endpoint what vouches for the server's certificate: server_cert (incus, lxd; or trust_token for a first connection, or accept_server_certificate = true on a trusted network), " +
			"cacert_file (openstack, or OS_CACERT; or insecure = true on a trusted network), ca_cert_file (air)."
	case errors.Is(err, ErrUnreachable):
		return "Check that the endpoint's server is running and its address is right."
	case errors.Is(err, ErrForbidden):
		return "Check the endpoint's credentials (on Incus and LXD, that the server trusts the client certificate) and what they allow."
	case errors.Is(err, ErrProtected):
		return "Set protected = false in the image's openstack block and apply before destroying or replacing it."
	case errors.Is(err, ErrDigest):
		return "The content changed or was damaged on the way; run the apply again."
	}
	return ""
}
