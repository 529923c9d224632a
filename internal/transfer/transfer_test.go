package transfer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTar(t *testing.T, p string, gz bool, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sum(t *testing.T, paths ...string) string {
	h := sha256.New()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeTar(t, p("unified.tar.gz"), true, map[string]string{"metadata.yaml": "architecture: x86_64\n", "rootfs/etc/hostname": "x\n"})
	writeTar(t, p("plain.tar"), false, map[string]string{"./metadata.yaml": "architecture: x86_64\n"})
	writeTar(t, p("nometa.tar.gz"), true, map[string]string{"rootfs/etc/hostname": "x\n"})
	writeTar(t, p("rootfs.tar.gz"), true, map[string]string{"etc/hostname": "x\n"})
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(p("text"), []byte("hello, not an image"), 0o644))
	must(os.WriteFile(p("meta.tar.xz"), append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, make([]byte, 100)...), 0o644))
	must(os.WriteFile(p("root.squashfs"), append([]byte("hsqs"), make([]byte, 100)...), 0o644))
	must(os.WriteFile(p("disk.qcow2"), append([]byte("QFI\xfb\x00\x00\x00\x03"), make([]byte, 100)...), 0o644))

	ctx := context.Background()
	tests := []struct {
		name, meta, rootfs string
		wantErr            error
		wantVM             bool
	}{
		{name: "unified gzip", meta: "unified.tar.gz"},
		{name: "plain tar with ./ prefix", meta: "plain.tar"},
		{name: "xz is accepted on its magic", meta: "meta.tar.xz"},
		{name: "split with tarball rootfs", meta: "unified.tar.gz", rootfs: "rootfs.tar.gz"},
		{name: "split with squashfs", meta: "unified.tar.gz", rootfs: "root.squashfs"},
		{name: "split with qcow2 is a VM", meta: "unified.tar.gz", rootfs: "disk.qcow2", wantVM: true},
		{name: "text file", meta: "text", wantErr: ErrNotImage},
		{name: "tarball without metadata.yaml", meta: "nometa.tar.gz", wantErr: ErrNoMetadata},
		{name: "text as rootfs", meta: "unified.tar.gz", rootfs: "text", wantErr: ErrNotImage},
		{name: "missing file", meta: "nope.tar.gz", wantErr: os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := ""
			files := []string{p(tc.meta)}
			if tc.rootfs != "" {
				rootfs = p(tc.rootfs)
				files = append(files, rootfs)
			}
			got, err := Inspect(ctx, p(tc.meta), rootfs, true)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				var fe *FileError
				if errors.As(err, &fe) && !strings.HasPrefix(fe.Path, dir) {
					t.Fatalf("FileError names %q", fe.Path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := sum(t, files...); got.SHA256 != want {
				t.Fatalf("sha256 %s, want %s", got.SHA256, want)
			}
			if got.VM != tc.wantVM {
				t.Fatalf("VM %v, want %v", got.VM, tc.wantVM)
			}
			checkOnly, err := Inspect(ctx, p(tc.meta), rootfs, false)
			if err != nil || checkOnly.SHA256 != "" {
				t.Fatalf("check-only inspect: %+v, %v", checkOnly, err)
			}
		})
	}
}

// TestSplitMultipart streams two parts into one multipart body, each whole and in
// order, as the daemons read a split image.
func TestSplitMultipart(t *testing.T) {
	meta := bytes.Repeat([]byte("m"), 3<<20+7)
	rootfs := bytes.Repeat([]byte("r"), 5<<20+3)
	ct, body := Multipart(context.Background(), []Part{
		{Field: "metadata", FileName: "meta", Body: bytes.NewReader(meta)},
		{Field: "rootfs", FileName: "rootfs", Body: bytes.NewReader(rootfs)},
	})
	_, params, err := mime.ParseMediaType(ct)
	if err != nil || params["boundary"] == "" {
		t.Fatalf("content type %q: %v", ct, err)
	}
	mr := multipart.NewReader(body, params["boundary"])
	for _, want := range []struct {
		field string
		data  []byte
	}{{"metadata", meta}, {"rootfs", rootfs}} {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		if part.FormName() != want.field || !bytes.Equal(got, want.data) {
			t.Fatalf("part %q has %d bytes, want %q with %d", part.FormName(), len(got), want.field, len(want.data))
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("after the two parts: %v", err)
	}
}

func TestMultipartStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, body := Multipart(ctx, []Part{{Field: "rootfs", FileName: "x", Body: strings.NewReader(strings.Repeat("x", 4<<20))}})
	cancel()
	if _, err := io.Copy(io.Discard, body); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
