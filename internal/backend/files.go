package backend

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// LocalFileError is a local file the configuration names that cannot be used. Its
// message says what is wrong in words (missing, a directory, not readable), never
// the system call's text; the cause stays in the chain for errors.Is.
type LocalFileError struct {
	// What names the argument that gives the path ("client_cert_file"); empty
	// when the diagnostic's attribute names it already.
	What string
	Path string
	Err  error
}

// LocalFile describes err, met reading the file at path that argument what names.
func LocalFile(what, path string, err error) error {
	if err == nil {
		return nil
	}
	return &LocalFileError{What: what, Path: path, Err: err}
}

func (e *LocalFileError) Error() string {
	name := e.Path
	if e.What != "" {
		name = e.What + " " + e.Path
	}
	switch {
	case errors.Is(e.Err, fs.ErrNotExist):
		return name + " does not exist"
	case errors.Is(e.Err, fs.ErrPermission):
		return name + " cannot be read: the user running Terraform is not allowed to"
	case errors.Is(e.Err, syscall.EISDIR):
		return name + " is a directory, not a file"
	}
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		return fmt.Sprintf("%s cannot be read (%s)", name, errno)
	}
	var pe *fs.PathError
	if errors.As(e.Err, &pe) {
		return fmt.Sprintf("%s cannot be read (%s)", name, pe.Err)
	}
	return fmt.Sprintf("%s cannot be read (%s)", name, e.Err)
}

func (e *LocalFileError) Unwrap() error { return e.Err }

// advice says what to do about a file that cannot be used.
func (e *LocalFileError) advice() string {
	switch {
	case errors.Is(e.Err, fs.ErrPermission):
		return "Make the file readable by the user that runs Terraform."
	case errors.Is(e.Err, syscall.EISDIR):
		return "Give the path of a file, not of a directory."
	}
	return "Check the path: a relative path is taken from the directory Terraform runs in (path.module gives the module's own)."
}
