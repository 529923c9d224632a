package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/fmtcheck"
)

// minBytes is how much of a file each format's detection must have seen before it
// may name that format: its magic number (and, for qcow2, the version after it).
var minBytes = map[DiskFormat]int{
	DiskQCOW2: 8,
	DiskVHDX:  len("vhdxfile"),
	DiskVMDK:  len("KDMV"),
	DiskVDI:   0x44,
	DiskISO:   0x8001 + len("CD001"),
	DiskRaw:   512,
}

// FuzzDetectDisk feeds arbitrary heads and tails to the detection: it names only
// formats it knows, never from fewer bytes than the format's magic, names the same
// format whatever follows the bytes it looked at, and sniff agrees with it
// whenever the bytes are not a tarball or a squashfs.
func FuzzDetectDisk(f *testing.F) {
	f.Add([]byte("QFI\xfb\x00\x00\x00\x03"), []byte(nil))
	f.Add([]byte("QFI\xfb\x00\x00\x00\x01"), []byte(nil))
	f.Add([]byte("QFI\xfb"), []byte(nil))
	f.Add([]byte("vhdxfile"), []byte(nil))
	f.Add([]byte("conectix"), []byte(nil))
	f.Add([]byte("KDMV"), []byte(nil))
	f.Add([]byte("# Disk DescriptorFile\n"), []byte(nil))
	f.Add(append([]byte("<<< Oracle VM VirtualBox Disk Image >>>\n"), make([]byte, 0x40)...), []byte(nil))
	f.Add(bytes.Repeat([]byte{0x55, 0xaa}, 256), []byte(nil))
	f.Add(make([]byte, 600), append([]byte("conectix"), make([]byte, 504)...))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, head, tail []byte) {
		if len(head) > headSize {
			head = head[:headSize]
		}
		format, ok := detectDisk(head, tail)
		if ok != (format != "") {
			t.Fatalf("detectDisk = %q, %v: ok must say whether a format was named", format, ok)
		}
		if !ok {
			return
		}
		if !slices.Contains(DiskFormats, format) {
			t.Fatalf("detectDisk named %q, which is not in DiskFormats", format)
		}
		fromTail := format == DiskVHD && len(tail) == tailSize && string(tail[:8]) == "conectix"
		if n, ok := minBytes[format]; ok && len(head) < n {
			t.Fatalf("detectDisk named %s from %d bytes, fewer than its magic needs (%d)", format, len(head), n)
		}
		if format == DiskVHD && !fromTail && len(head) < len("conectix") {
			t.Fatalf("detectDisk named vhd from %d bytes and no footer", len(head))
		}
		if again, _ := detectDisk(append(slices.Clip(head), 0xff), tail); len(head) < headSize && again != format && format != DiskISO {
			t.Fatalf("one more byte after a %s head made it %q", format, again)
		}
		if s := sniff(head, tail); !s.tarball && !s.squashfs && s.disk != format {
			t.Fatalf("sniff says %q, detectDisk %q", s.disk, format)
		}
	})
}

// FuzzInspect writes arbitrary bytes to a file and inspects it as a whole image and
// as each part of a split one. Whatever the content, the answer is an image or a
// *FileError naming the file in words (no "%!" of a bad format verb); an image
// carries the file's real size and sha256, and what it is does not depend on
// whether the digest was asked for.
func FuzzInspect(f *testing.F) {
	var meta bytes.Buffer
	tw := tar.NewWriter(&meta)
	body := "architecture: x86_64\ncreation_date: 1\n"
	_ = tw.WriteHeader(&tar.Header{Name: "metadata.yaml", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte(body))
	_ = tw.Close()
	f.Add(meta.Bytes())
	f.Add(meta.Bytes()[:600])
	f.Add([]byte("QFI\xfb\x00\x00\x00\x03"))
	f.Add([]byte("hsqs"))
	f.Add([]byte{0x1f, 0x8b, 0x08})
	f.Add([]byte("BZh9"))
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0})
	f.Add([]byte("not an image\n"))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte) {
		p := filepath.Join(dir, "image")
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		for _, role := range []struct {
			name         string
			file, rootfs string
		}{{"whole", p, ""}, {"metadata", p, os.DevNull}, {"rootfs", os.DevNull, p}} {
			got, err := Inspect(context.Background(), role.file, role.rootfs, true)
			quick, qerr := Inspect(context.Background(), role.file, role.rootfs, false)
			if (err == nil) != (qerr == nil) {
				t.Fatalf("%s: with a digest: %v; without: %v", role.name, err, qerr)
			}
			if err != nil {
				var fe *FileError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), fe.Path) {
					t.Fatalf("%s: %v is not a *FileError naming the file", role.name, err)
				}
				if fmtcheck.Bad(err.Error(), string(content)) {
					t.Fatalf("%s: badly formatted message: %v", role.name, err)
				}
				continue
			}
			if got.Kind != quick.Kind || got.DiskFormat != quick.DiskFormat || got.VM != quick.VM || got.Size != quick.Size {
				t.Fatalf("%s: %+v with a digest, %+v without", role.name, got, quick)
			}
			if role.rootfs == "" {
				if got.Size != int64(len(content)) || got.SHA256 != hex.EncodeToString(sum[:]) {
					t.Fatalf("whole: size %d sha256 %s for %d bytes of sha256 %x", got.Size, got.SHA256, len(content), sum)
				}
				if got.Kind == ImageDisk && got.DiskFormat == "" {
					t.Fatal("whole: a disk image without a format")
				}
			}
		}
	})
}

// FuzzCheckMetadata compares the quick check of metadata.yaml with a YAML parser, as
// the servers read the file: a file whose top level names an architecture must
// never be refused before its upload, and what is accepted has an architecture line.
func FuzzCheckMetadata(f *testing.F) {
	for _, s := range []string{
		"architecture: x86_64\ncreation_date: 1\n",
		"architecture: \"aarch64\"\n",
		"architecture: ''\n",
		"properties:\n  architecture: x86_64\n",
		"creation_date: 1\n",
		"architecture:\n",
		"architecture: x86_64\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := checkMetadata(bytes.NewReader(raw))
		if err != nil && !errors.Is(err, ErrNoArch) {
			t.Fatalf("checkMetadata: %v, not ErrNoArch", err)
		}
		var doc struct {
			Architecture any `yaml:"architecture"`
		}
		if yaml.Unmarshal(raw, &doc) != nil {
			return
		}
		if arch, ok := doc.Architecture.(string); ok && strings.TrimSpace(arch) != "" && err != nil {
			t.Fatalf("checkMetadata refused a metadata.yaml whose architecture is %q:\n%s", arch, raw)
		}
	})
}

// FuzzVMMetadata builds the metadata of a disk image from arbitrary inputs and reads
// it back as the servers do: a ustar archive with one metadata.yaml whose
// architecture, creation_date and property read back exactly as given, which the
// provider's own check accepts.
func FuzzVMMetadata(f *testing.F) {
	f.Add("amd64", int64(1764322215), "description", "Debian \"bookworm\"")
	f.Add("arm64", int64(0), "key: colon", "# not a comment")
	f.Add("x86_64", int64(1), "multi", "line one\nline two\ttab")
	f.Add("sparc", int64(1), "k", "v")
	f.Add("amd64", int64(-1), "k", "v")
	f.Add("amd64", int64(1), "unicode", "é ✓ \u2028")
	f.Fuzz(func(t *testing.T, arch string, unix int64, key, value string) {
		if !utf8.ValidString(key) || !utf8.ValidString(value) {
			// Terraform strings are UTF-8; nothing else reaches VMMetadata.
			return
		}
		created := time.Unix(unix, 0)
		out, err := VMMetadata(arch, created, map[string]string{key: value})
		name, known := IncusArchitecture(arch)
		switch {
		case !known || unix < 0:
			if err == nil {
				t.Fatalf("VMMetadata(%q, %d) accepted what it must refuse", arch, unix)
			}
			return
		case err != nil:
			t.Fatalf("VMMetadata(%q, %d, %q=%q): %v", arch, unix, key, value, err)
		}
		if s := sniff(out, nil); !s.tarball || s.comp != compNone {
			t.Fatalf("the metadata is not sniffed as a plain tarball: %+v", s)
		}
		tr := tar.NewReader(bytes.NewReader(out))
		hdr, err := tr.Next()
		if err != nil || hdr.Name != "metadata.yaml" {
			t.Fatalf("first entry: %v, %v", hdr, err)
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Next(); err != io.EOF {
			t.Fatalf("more than metadata.yaml in the tarball: %v", err)
		}
		var doc struct {
			Architecture string            `yaml:"architecture"`
			CreationDate int64             `yaml:"creation_date"`
			Properties   map[string]string `yaml:"properties"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("metadata.yaml does not parse: %v\n%s", err, raw)
		}
		if doc.Architecture != name || doc.CreationDate != unix || doc.Properties[key] != value || len(doc.Properties) != 1 {
			t.Fatalf("read back %+v, want %s, %d, %q=%q\n%s", doc, name, unix, key, value, raw)
		}
		if err := checkMetadata(bytes.NewReader(raw)); err != nil {
			t.Fatalf("checkMetadata refused the provider's own metadata: %v", err)
		}
	})
}
