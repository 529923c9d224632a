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
	"syscall"

	"gopkg.in/yaml.v3"
)

// Errors Inspect returns, wrapped with the file's path.
var (
	ErrNotImage   = errors.New("is not an image this provider knows")
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
		return FileStamp{}, &os.PathError{Op: "stat", Path: p, Err: syscall.EISDIR}
	}
	return StampOf(p, fi), nil
}

type compression int

const (
	compNone compression = iota
	compGzip
	compBzip2
	// compOpaque is a compression Go's standard library cannot read (xz, zstd,
	// lzma): the file is accepted on its magic and the server checks the rest.
	compOpaque
)

// sniffed is what a file's first bytes say it is: a tarball (with its compression),
// a squashfs, a disk image, or none of these.
type sniffed struct {
	tarball  bool
	comp     compression
	squashfs bool
	disk     DiskFormat
}

func sniff(head, tail []byte) sniffed {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return sniffed{tarball: true, comp: compGzip}
	case bytes.HasPrefix(head, []byte("BZh")):
		return sniffed{tarball: true, comp: compBzip2}
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}),
		bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}),
		bytes.HasPrefix(head, []byte{0x5d, 0, 0}):
		return sniffed{tarball: true, comp: compOpaque}
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return sniffed{tarball: true, comp: compNone}
	case bytes.HasPrefix(head, []byte("hsqs")):
		return sniffed{squashfs: true}
	}
	disk, _ := detectDisk(head, tail)
	return sniffed{disk: disk}
}

// ImageKind is how an image's files are laid out.
type ImageKind string

const (
	// ImageUnified is one Incus tarball holding metadata.yaml and rootfs/.
	ImageUnified ImageKind = "unified"
	// ImageSplit is an Incus metadata tarball and a separate rootfs (squashfs,
	// tarball, or a qcow2 disk for a virtual machine).
	ImageSplit ImageKind = "split"
	// ImageDisk is a bare disk image; Inspected.DiskFormat names its format.
	ImageDisk ImageKind = "disk"
)

// Inspected is what Inspect learned of an image's files.
type Inspected struct {
	Kind ImageKind
	// DiskFormat is the format of a bare disk image (Kind ImageDisk), else empty.
	DiskFormat DiskFormat
	// SHA256 is the sha256 of the file, or of the metadata file then the rootfs of a
	// split image (the Incus fingerprint of an uploaded Incus image); empty when
	// Inspect was asked only to check the files.
	SHA256 string
	// VM is true when the image is a virtual-machine image as far as the files
	// tell: a bare disk, or a split image whose rootfs is a qcow2 disk. A unified
	// tarball is whatever its metadata says, reported as false.
	VM bool
	// Size is the size of the file, or the sum of both files of a split image.
	Size int64
}

// part is the role a file plays in an image.
type part int

const (
	partWhole part = iota // the image's only file: a unified tarball or a bare disk
	partMetadata
	partRootfs
)

// Inspect checks that the files make an image: one file alone (rootfs empty), which is
// a unified Incus tarball or a bare disk image, or a metadata tarball then a rootfs.
// What a file is comes from its first bytes (and, for a fixed VHD, its last 512),
// never from its name. With digest set it also computes the sha256 of the files in
// the same single pass over each file; without, it reads only as far as the checks
// need (up to metadata.yaml of a tarball, the head and footer of a disk), which is
// cheap whatever the size. A failed check is a *FileError naming the file, worded for
// the user.
func Inspect(ctx context.Context, file, rootfs string, digest bool) (*Inspected, error) {
	out := &Inspected{Kind: ImageUnified}
	var h hash.Hash
	if digest {
		h = sha256.New()
	}
	role := partWhole
	if rootfs != "" {
		role, out.Kind = partMetadata, ImageSplit
	}
	got, size, err := inspectFile(ctx, h, file, role)
	if err != nil {
		return nil, err
	}
	out.Size = size
	if got.disk != "" {
		out.Kind, out.DiskFormat, out.VM = ImageDisk, got.disk, true
	}
	if rootfs != "" {
		got, size, err := inspectFile(ctx, h, rootfs, partRootfs)
		if err != nil {
			return nil, err
		}
		out.Size += size
		out.VM = got.disk == DiskQCOW2
	}
	if digest {
		out.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

func inspectFile(ctx context.Context, h hash.Hash, p string, role part) (sniffed, int64, error) {
	got, size, err := inspectOne(ctx, h, p, role)
	if err != nil {
		return got, 0, &FileError{Path: p, Err: err}
	}
	return got, size, nil
}

// refuse says why a file cannot play its role in an image; nil when it can.
func refuse(p string, got sniffed, head []byte, role part) error {
	switch role {
	case partWhole:
		switch {
		case got.tarball, got.disk != "":
			return nil
		case got.squashfs:
			return fmt.Errorf("%s is a squashfs, which is only the rootfs of a split image: give it together with its metadata tarball, or give a unified Incus tarball or a disk image alone", p)
		}
		return fmt.Errorf("%s %w: expected a unified Incus tarball (metadata.yaml and rootfs/) or a disk image (%s); %s", p, ErrNotImage, diskFormatList(), firstBytes(head))
	case partMetadata:
		switch {
		case got.tarball:
			return nil
		case got.disk != "":
			return fmt.Errorf("%s is a %s disk image, not the metadata tarball of a split image: a disk image is a whole image: give it alone, as file", p, got.disk)
		}
		return fmt.Errorf("%s %w: the metadata of a split image is a tarball (tar, gzip, bzip2, xz or zstd) holding metadata.yaml; %s", p, ErrNotImage, firstBytes(head))
	default:
		switch {
		case got.tarball, got.squashfs, got.disk == DiskQCOW2:
			return nil
		case got.disk != "":
			return fmt.Errorf("%s is a %s disk image: the rootfs of a split image is a squashfs, a tarball or a qcow2 disk image (convert it with qemu-img convert -O qcow2, or give it alone as a disk image)", p, got.disk)
		}
		return fmt.Errorf("%s %w: the rootfs of a split image is a squashfs, a tarball or a qcow2 disk image; %s", p, ErrNotImage, firstBytes(head))
	}
}

func inspectOne(ctx context.Context, h hash.Hash, p string, role part) (sniffed, int64, error) {
	st, err := Stamp(p)
	if err != nil {
		return sniffed{}, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return sniffed{}, 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(ctxReader{ctx, f}, bufSize)
	head, err := br.Peek(headSize)
	if err != nil && err != io.EOF {
		return sniffed{}, 0, fmt.Errorf("reading %s: %w", p, err)
	}
	var tail []byte
	if st.Size >= tailSize {
		tail = make([]byte, tailSize)
		if _, err := f.ReadAt(tail, st.Size-tailSize); err != nil {
			return sniffed{}, 0, fmt.Errorf("reading %s: %w", p, err)
		}
	}
	got := sniff(head, tail)
	if err := refuse(p, got, head, role); err != nil {
		return got, 0, err
	}
	var tee io.Reader = br
	if h != nil {
		tee = io.TeeReader(br, h)
	}
	if got.tarball && role != partRootfs && got.comp != compOpaque {
		found, err := hasMetadata(tee, got.comp)
		if errors.Is(err, ErrNoArch) {
			return got, 0, fmt.Errorf("%s: its %w", p, err)
		}
		if err != nil {
			return got, 0, fmt.Errorf("%s %w: it starts as a tarball but cannot be read as one (%v)", p, ErrNotImage, err)
		}
		if !found {
			return got, 0, fmt.Errorf("%s %w at its top level", p, ErrNoMetadata)
		}
	}
	if h == nil {
		return got, st.Size, nil
	}
	if _, err := io.CopyBuffer(io.Discard, tee, make([]byte, bufSize)); err != nil {
		return got, 0, fmt.Errorf("reading %s: %w", p, err)
	}
	// A file that changed while it was read has a digest of neither version.
	if again, err := Stamp(p); err != nil || again != st {
		return got, 0, fmt.Errorf("%s changed while it was being read", p)
	}
	return got, st.Size, nil
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
	// Decoded as YAML, as the servers read it: quoted keys, flow mappings and JSON
	// are metadata.yaml too. Only the top level's architecture matters here.
	var top struct {
		Architecture any `yaml:"architecture"`
	}
	if err := yaml.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&top); err != nil {
		return ErrNoArch
	}
	if s, ok := top.Architecture.(string); ok && strings.TrimSpace(s) != "" {
		return nil
	}
	return ErrNoArch
}
