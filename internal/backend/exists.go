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
