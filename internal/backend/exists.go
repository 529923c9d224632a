package backend

import "fmt"

// ExistsError reports that the server refused to create an object because one with
// the same identity (for an Incus or LXD image, the same content) exists already. ID
// is how the API addresses that object, so a resource can name it and offer the
// import command.
type ExistsError struct {
	ID string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s %s", e.ID, ErrConflict)
}

func (e *ExistsError) Unwrap() error { return ErrConflict }

// CreatedError is how every backend reports a create that failed after the server
// object came to exist (an upload that failed verification, an attribute that could
// not be set, an interrupted wait): ID addresses that object, so the resource records
// it (tainted, replaced by the next apply) instead of leaving an orphan behind.
type CreatedError struct {
	ID  string
	Err error
}

func (e *CreatedError) Error() string { return e.Err.Error() }
func (e *CreatedError) Unwrap() error { return e.Err }

// Created wraps err, a failure after the object id came to exist, as a CreatedError.
func Created(id string, err error) error { return &CreatedError{ID: id, Err: err} }
