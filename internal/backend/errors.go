package backend

import (
	"errors"
	"fmt"
)

// Sentinel errors that backends wrap, so resources can act on the kind of failure
// without knowing the API that produced it.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("already exists")
	ErrForbidden   = errors.New("forbidden")
	ErrUnreachable = errors.New("endpoint unreachable")
	ErrDigest      = errors.New("digest mismatch")
)

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
	switch {
	case errors.Is(err, ErrUnreachable):
		return "Check that the endpoint's server is running and its address is right."
	case errors.Is(err, ErrForbidden):
		return "Check the endpoint's credentials and that the client is trusted."
	case errors.Is(err, ErrDigest):
		return "The content changed or was damaged on the way; run the apply again."
	}
	return ""
}
