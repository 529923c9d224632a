package acctest

import (
	"archive/tar"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BusyboxPath is the static busybox the test rootfs is made of (Debian's
// busybox-static, installed by scripts/backends.sh).
const BusyboxPath = "/bin/busybox"

// ImageOpts describes a test image. Variant goes into metadata.yaml, so images of
// different variants have different fingerprints and tests never collide.
type ImageOpts struct {
	Variant string
	// PadBytes adds a file of random (incompressible) bytes of this size to the
	// rootfs, for benchmarks of large uploads.
	PadBytes int64
	// Created is the creation_date in metadata.yaml; zero means now.
	Created time.Time
}

// Arch is the architecture name Incus and LXD use for this machine.
func Arch() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64"
	}
	return "x86_64"
}

func metadataYAML(o ImageOpts) []byte {
	created := o.Created
	if created.IsZero() {
		created = time.Now()
	}
	variant := o.Variant
	return []byte(fmt.Sprintf(`architecture: %s
creation_date: %d
properties:
  description: imagefleet test image %s
  os: busybox
  release: "1"
  variant: %s
templates: {}
`, Arch(), created.Unix(), variant, variant))
}

type tarball struct {
	f  *os.File
	gz *gzip.Writer
	tw *tar.Writer
}

func newTarball(path string, level int) (*tarball, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	gz, _ := gzip.NewWriterLevel(f, level)
	return &tarball{f: f, gz: gz, tw: tar.NewWriter(gz)}, nil
}

func (t *tarball) file(name string, mode int64, body []byte) error {
	if err := t.tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := t.tw.Write(body)
	return err
}

func (t *tarball) dir(name string) error {
	return t.tw.WriteHeader(&tar.Header{Name: name + "/", Mode: 0o755, ModTime: time.Now(), Typeflag: tar.TypeDir})
}

func (t *tarball) link(name, target string) error {
	return t.tw.WriteHeader(&tar.Header{Name: name, Linkname: target, Mode: 0o777, ModTime: time.Now(), Typeflag: tar.TypeSymlink})
}

func (t *tarball) close() error {
	if err := t.tw.Close(); err != nil {
		return err
	}
	if err := t.gz.Close(); err != nil {
		return err
	}
	return t.f.Close()
}

// rootfs writes a minimal bootable busybox system under prefix.
func (t *tarball) rootfs(prefix string, opts ImageOpts) error {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return fmt.Errorf("test images need busybox-static (%w): run scripts/backends.sh", err)
	}
	for _, d := range []string{"", "bin", "sbin", "etc", "dev", "proc", "sys", "tmp", "root", "run", "var"} {
		if err := t.dir(filepath.Join(prefix, d)); err != nil {
			return err
		}
	}
	if err := t.file(prefix+"/bin/busybox", 0o755, bb); err != nil {
		return err
	}
	for _, l := range []string{"bin/sh", "bin/ls", "bin/cat", "bin/echo", "bin/sleep", "bin/hostname", "bin/id", "bin/stat"} {
		if err := t.link(prefix+"/"+l, "/bin/busybox"); err != nil {
			return err
		}
	}
	if err := t.file(prefix+"/etc/imagefleet-variant", 0o644, []byte(opts.Variant+"\n")); err != nil {
		return err
	}
	// busybox's own init ignores SIGPWR, the signal Incus and LXD send for a graceful
	// stop; this one exits on it, so stops are quick and need no force.
	if err := t.file(prefix+"/sbin/init", 0o755, []byte("#!/bin/sh\ntrap 'exit 0' PWR TERM USR2 INT\nwhile :; do sleep 1; done\n")); err != nil {
		return err
	}
	if opts.PadBytes > 0 {
		if err := t.tw.WriteHeader(&tar.Header{Name: prefix + "/pad.bin", Mode: 0o644, Size: opts.PadBytes, ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := io.CopyN(t.tw, rand.Reader, opts.PadBytes); err != nil {
			return err
		}
	}
	return nil
}

// level keeps big padded images fast to build: random bytes do not compress.
func (o ImageOpts) level() int {
	if o.PadBytes > 0 {
		return gzip.NoCompression
	}
	return gzip.DefaultCompression
}

// BuildUnified writes a unified image tarball (metadata.yaml + rootfs/) into dir.
func BuildUnified(dir string, opts ImageOpts) (string, error) {
	p := filepath.Join(dir, "image-"+opts.Variant+".tar.gz")
	t, err := newTarball(p, opts.level())
	if err != nil {
		return "", err
	}
	if err := t.file("metadata.yaml", 0o644, metadataYAML(opts)); err != nil {
		return "", err
	}
	if err := t.rootfs("rootfs", opts); err != nil {
		return "", err
	}
	return p, t.close()
}

// Unified is BuildUnified for tests: it fails the test when the image cannot be built.
func Unified(t *testing.T, dir string, opts ImageOpts) string {
	t.Helper()
	p, err := BuildUnified(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// BuildSplit writes a split image into dir: a metadata tarball, and a rootfs tarball
// for a container or a small qcow2 disk (qemu-img) for a virtual machine.
func BuildSplit(dir string, opts ImageOpts, vm bool) (metadata, rootfs string, err error) {
	metadata = filepath.Join(dir, "meta-"+opts.Variant+".tar.gz")
	t, err := newTarball(metadata, opts.level())
	if err != nil {
		return "", "", err
	}
	if err := t.file("metadata.yaml", 0o644, metadataYAML(opts)); err != nil {
		return "", "", err
	}
	if err := t.close(); err != nil {
		return "", "", err
	}
	if vm {
		rootfs = filepath.Join(dir, "disk-"+opts.Variant+".qcow2")
		if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", rootfs, "16M").CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("qemu-img (qemu-utils, installed by scripts/backends.sh): %v: %s", err, out)
		}
		return metadata, rootfs, nil
	}
	rootfs = filepath.Join(dir, "rootfs-"+opts.Variant+".tar.gz")
	t, err = newTarball(rootfs, opts.level())
	if err != nil {
		return "", "", err
	}
	if err := t.rootfs(".", opts); err != nil {
		return "", "", err
	}
	return metadata, rootfs, t.close()
}

// BuildWithoutMetadata writes a tarball that has a rootfs but no metadata.yaml.
func BuildWithoutMetadata(dir string) (string, error) {
	p := filepath.Join(dir, "no-metadata.tar.gz")
	t, err := newTarball(p, gzip.DefaultCompression)
	if err != nil {
		return "", err
	}
	if err := t.file("rootfs/etc/hostname", 0o644, []byte("x\n")); err != nil {
		return "", err
	}
	return p, t.close()
}

// BuildWithoutArchitecture writes a tarball whose metadata.yaml names no architecture.
func BuildWithoutArchitecture(dir string) (string, error) {
	p := filepath.Join(dir, "no-arch.tar.gz")
	t, err := newTarball(p, gzip.DefaultCompression)
	if err != nil {
		return "", err
	}
	if err := t.file("metadata.yaml", 0o644, []byte("creation_date: 1700000000\nproperties:\n  os: busybox\n")); err != nil {
		return "", err
	}
	return p, t.close()
}

// SHA256 is the sha256 of the files' concatenation: the fingerprint Incus and LXD give
// a unified image (one file) or a split one (metadata, then rootfs).
func SHA256(t *testing.T, paths ...string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Disk writes a small bare disk image of the given format (raw, qcow2, vmdk, vpc
// for vhd, vhdx, vdi: what qemu-img writes) into dir. Its content is unique to the
// variant, so no two tests share a digest, and it starts with an MBR boot signature
// so that a raw disk is recognised as one.
func Disk(t *testing.T, dir, format, variant string) string {
	t.Helper()
	raw := make([]byte, 1<<20)
	copy(raw[16:], "imagefleet test disk "+variant)
	raw[510], raw[511] = 0x55, 0xaa
	if _, err := rand.Read(raw[4096:8192]); err != nil {
		t.Fatal(err)
	}
	rawPath := filepath.Join(dir, "disk-"+variant+".raw")
	if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if format == "raw" {
		return rawPath
	}
	out := filepath.Join(dir, "disk-"+variant+"."+format)
	if msg, err := exec.Command("qemu-img", "convert", "-q", "-f", "raw", "-O", format, rawPath, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img (qemu-utils, installed by scripts/backends.sh) convert to %s: %v: %s", format, err, msg)
	}
	return out
}

// DiskOfSize is Disk with a raw disk of size bytes (a multiple of 512): its first
// MiB as Disk writes it, the rest random, so no format can shrink it.
func DiskOfSize(t *testing.T, dir, format, variant string, size int64) string {
	t.Helper()
	raw := Disk(t, dir, "raw", variant+"-base")
	f, err := os.OpenFile(raw, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size-(1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if format == "raw" {
		return raw
	}
	out := filepath.Join(dir, "disk-"+variant+"."+format)
	if msg, err := exec.Command("qemu-img", "convert", "-q", "-f", "raw", "-O", format, raw, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert to %s: %v: %s", format, err, msg)
	}
	return out
}
