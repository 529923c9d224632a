package backend

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocalFile(t *testing.T) {
	dir := t.TempDir()
	_, missing := os.ReadFile(filepath.Join(dir, "missing.pem"))
	_, isDir := os.ReadFile(dir)
	denied := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrPermission}
	for _, tc := range []struct {
		what, path string
		err        error
		want       string
		advice     string
	}{
		{"cacert_file", filepath.Join(dir, "missing.pem"), missing, "cacert_file " + filepath.Join(dir, "missing.pem") + " does not exist", "Check the path"},
		{"", dir, isDir, dir + " is a directory, not a file", "Give the path of a file"},
		{"client_key_file", "/x", denied, "client_key_file /x cannot be read: the user running Terraform is not allowed to", "readable by the user"},
	} {
		err := LocalFile(tc.what, tc.path, tc.err)
		if err.Error() != tc.want {
			t.Errorf("LocalFile(%q, %q, %v) = %q, want %q", tc.what, tc.path, tc.err, err, tc.want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v does not wrap %v", err, tc.err)
		}
		if got := Advice(err); !strings.Contains(got, tc.advice) {
			t.Errorf("Advice(%v) = %q, want it to say %q", err, got, tc.advice)
		}
	}
	if LocalFile("x", "y", nil) != nil {
		t.Error("no error is no LocalFileError")
	}
}
