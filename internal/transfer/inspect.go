package transfer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
)

// Errors Inspect returns, wrapped with the file's path.
var (
	ErrNotImage   = errors.New("is not an image file")
	ErrNoMetadata = errors.New("holds no metadata.yaml")
	ErrNoArch     = errors.New("metadata.yaml names no architecture")
)

// FileError says which file of an image failed a check.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// FileStamp is what says a file is unchanged without reading it: the key of the
// digest cache.
type FileStamp struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	// ChangeTime catches a rewrite that puts size and mtime back (no user can set
	// it); 0 where the system does not report it.
	ChangeTime int64 `json:"ctime_ns,omitempty"`
}

// StampOf is the stamp of a file at path p as fi describes it.
func StampOf(p string, fi os.FileInfo) FileStamp {
	return FileStamp{Path: p, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), ChangeTime: changeTime(fi)}
}

// Stamp stats a file.
func Stamp(p string) (FileStamp, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return FileStamp{}, err
	}
	if fi.IsDir() {
		return FileStamp{}, fmt.Errorf("%s is a directory, not an image file", p)
	}
	return StampOf(p, fi), nil
}

// Format is what kind of file an image part is.
type Format string

const (
	FormatTarball  Format = "tarball"
	FormatSquashfs Format = "squashfs"
	FormatQCOW2    Format = "qcow2"
)

type compression int

const (
	compNone compression = iota
	compGzip
	compBzip2
	// compOpaque is a compression Go's standard library cannot read (xz, zstd,
	// lzma): the file is accepted on its magic and the server checks the rest.
	compOpaque
)

func sniff(head []byte) (Format, compression, bool) {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return FormatTarball, compGzip, true
	case bytes.HasPrefix(head, []byte("BZh")):
		return FormatTarball, compBzip2, true
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}),
		bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}),
		bytes.HasPrefix(head, []byte{0x5d, 0, 0}):
		return FormatTarball, compOpaque, true
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return FormatTarball, compNone, true
	case bytes.HasPrefix(head, []byte("hsqs")):
		return FormatSquashfs, compNone, true
	case bytes.HasPrefix(head, []byte{'Q', 'F', 'I', 0xfb}):
		return FormatQCOW2, compNone, true
	}
	return "", 0, false
}

// Inspected is what Inspect learned of an image's files.
type Inspected struct {
	// SHA256 is empty when Inspect was asked only to check the files.
	SHA256 string
	// VM is true when the rootfs is a disk image, so the image is a VM image.
	VM bool
}

// Inspect checks that the files make an image, a unified tarball alone or a metadata
// tarball then a rootfs. With digest set it also computes their combined sha256 (the
// Incus fingerprint) in the same single pass over each file; without, it reads only
// as far as the checks need (up to metadata.yaml), which is cheap whatever the size.
func Inspect(ctx context.Context, metadata, rootfs string, digest bool) (*Inspected, error) {
	out := &Inspected{}
	var h hash.Hash
	if digest {
		h = sha256.New()
	}
	if err := inspectFile(ctx, h, metadata, true, nil); err != nil {
		return nil, err
	}
	if rootfs != "" {
		var format Format
		if err := inspectFile(ctx, h, rootfs, false, &format); err != nil {
			return nil, err
		}
		out.VM = format == FormatQCOW2
	}
	if digest {
		out.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

func inspectFile(ctx context.Context, h hash.Hash, p string, wantMetadata bool, format *Format) error {
	if err := inspectOne(ctx, h, p, wantMetadata, format); err != nil {
		return &FileError{Path: p, Err: err}
	}
	return nil
}

func inspectOne(ctx context.Context, h hash.Hash, p string, wantMetadata bool, format *Format) error {
	st, err := Stamp(p)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(ctxReader{ctx, f}, bufSize)
	head, _ := br.Peek(512)
	fmtKind, comp, ok := sniff(head)
	if !ok || (wantMetadata && fmtKind != FormatTarball) {
		want := "a tarball (tar, gzip, bzip2, xz or zstd)"
		if !wantMetadata {
			want = "a squashfs, qcow2 or tarball"
		}
		return fmt.Errorf("%s %w: expected %s", p, ErrNotImage, want)
	}
	if format != nil {
		*format = fmtKind
	}
	var tee io.Reader = br
	if h != nil {
		tee = io.TeeReader(br, h)
	}
	if wantMetadata && comp != compOpaque {
		found, err := hasMetadata(tee, comp)
		if errors.Is(err, ErrNoArch) {
			return fmt.Errorf("%s: its %w", p, err)
		}
		if err != nil {
			return fmt.Errorf("%s %w: %v", p, ErrNotImage, err)
		}
		if !found {
			return fmt.Errorf("%s %w at its top level", p, ErrNoMetadata)
		}
	}
	if h == nil {
		return nil
	}
	if _, err := io.CopyBuffer(io.Discard, tee, make([]byte, bufSize)); err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	// A file that changed while it was read has a digest of neither version.
	if again, err := Stamp(p); err != nil || again != st {
		return fmt.Errorf("%s changed while it was being read", p)
	}
	return nil
}

// hasMetadata walks the tarball until it meets metadata.yaml; it stops there, and the
// caller reads the rest of the file only to finish the digest.
func hasMetadata(r io.Reader, comp compression) (bool, error) {
	switch comp {
	case compGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return false, err
		}
		zr.Multistream(true)
		r = zr
	case compBzip2:
		r = bzip2.NewReader(r)
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if path.Clean(hdr.Name) == "metadata.yaml" {
			return true, checkMetadata(tr)
		}
	}
}

// checkMetadata refuses a metadata.yaml without a top-level architecture, which the
// servers would only refuse after the whole upload ("Architecture isn't supported").
func checkMetadata(r io.Reader) error {
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && key == "architecture" && strings.Trim(strings.TrimSpace(value), `"'`) != "" {
			return nil
		}
	}
	return ErrNoArch
}
