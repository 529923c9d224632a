package transfer

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// fileFixture writes size random bytes, with a modification time an hour ago so a
// write during the test moves it whatever the file system's timestamp granularity.
func fileFixture(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "image")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func openReader(t *testing.T, p string) *FileReader {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFileReaderReadsAnUnchangedFile(t *testing.T) {
	p, data := fileFixture(t, 3*bufSize+17)
	r := openReader(t, p)
	var got bytes.Buffer
	if _, err := io.CopyBuffer(&got, r, make([]byte, bufSize)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) || r.Size() != int64(len(data)) {
		t.Fatalf("read %d bytes (size %d), want the file's %d", got.Len(), r.Size(), len(data))
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("after the end: %d, %v", n, err)
	}
}

// TestFileReaderRefusesAChangedFile changes the file in the middle of the read in
// each way a build or a copy can: the reader must fail, and must never have returned
// as many bytes as the file holds, so a body built from it is never complete.
func TestFileReaderRefusesAChangedFile(t *testing.T) {
	const size = 4*bufSize + 5
	for name, change := range map[string]func(t *testing.T, p string){
		"written in place": func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("changed"), size-100); err != nil {
				t.Fatal(err)
			}
		},
		"written with its modification time put back": func(t *testing.T, p string) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("changed"), 10); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		},
		"truncated": func(t *testing.T, p string) {
			if err := os.Truncate(p, size/2); err != nil {
				t.Fatal(err)
			}
		},
		"replaced under its name": func(t *testing.T, p string) {
			if err := os.WriteFile(p+".new", []byte("other"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p+".new", p); err != nil {
				t.Fatal(err)
			}
		},
		"appended to": func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("more")); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := fileFixture(t, size)
			r := openReader(t, p)
			buf := make([]byte, bufSize)
			var total int
			var err error
			for i := 0; err == nil; i++ {
				if i == 1 {
					change(t, p)
				}
				var n int
				n, err = r.Read(buf)
				total += n
			}
			if !errors.Is(err, ErrFileChanged) {
				t.Fatalf("error %v, want ErrFileChanged", err)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != p {
				t.Fatalf("error %v does not name %s", err, p)
			}
			if total >= size {
				t.Fatalf("returned %d bytes of %d: a consumer would have a complete body", total, size)
			}
		})
	}
}

func TestCounter(t *testing.T) {
	var seen int64
	c := NewCounter(bytes.NewReader(make([]byte, 1000)), 1000, func(n int64) { seen = n })
	if _, err := c.Read(make([]byte, 600)); err != nil || c.Whole() {
		t.Fatalf("after 600 of 1000 bytes: %v, whole %t", err, c.Whole())
	}
	if _, err := c.Read(make([]byte, 600)); err != nil || !c.Whole() || c.N() != 1000 || seen != 1000 {
		t.Fatalf("after all 1000 bytes: %v, whole %t, n %d, progress %d", err, c.Whole(), c.N(), seen)
	}
	unknown := NewCounter(bytes.NewReader(make([]byte, 10)), 0, nil)
	if _, err := io.Copy(io.Discard, unknown); err != nil || !unknown.Whole() {
		t.Fatalf("a stream of unknown length is whole at EOF: %v, %t", err, unknown.Whole())
	}
}

// TestCounterCut cuts a stream before and after its end: before, the read that would
// complete it fails, so a consumer never gets it whole; after, nothing changes.
func TestCounterCut(t *testing.T) {
	stop := errors.New("stopped")
	c := NewCounter(bytes.NewReader(make([]byte, 1000)), 1000, nil)
	if _, err := c.Read(make([]byte, 600)); err != nil {
		t.Fatal(err)
	}
	if c.Cut(stop) {
		t.Fatal("600 of 1000 bytes reported whole")
	}
	if n, err := c.Read(make([]byte, 600)); n != 0 || !errors.Is(err, stop) {
		t.Fatalf("the completing read after a cut: %d, %v", n, err)
	}
	c = NewCounter(bytes.NewReader(make([]byte, 10)), 0, nil)
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatal(err)
	}
	if !c.Cut(stop) || !c.Whole() {
		t.Fatal("a cut after EOF must report the stream whole")
	}
}

// TestDigestReader passes content through whole when its digest is the expected one
// (or none is expected), and otherwise never returns all of it.
func TestDigestReader(t *testing.T) {
	data := make([]byte, 3*bufSize+11)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	good := hex.EncodeToString(h[:])
	empty := sha256.Sum256(nil)
	for name, tc := range map[string]struct {
		data []byte
		want string
		fail bool
		r    func(io.Reader) io.Reader
	}{
		"expected digest":                 {data: data, want: good},
		"expected digest, in capitals":    {data: data, want: strings.ToUpper(good)},
		"no digest expected":              {data: data},
		"one byte at a time":              {data: data[:5000], want: hex.EncodeToString(empty[:]), fail: true, r: iotest.OneByteReader},
		"data with its last read at EOF":  {data: data, want: good, r: iotest.DataErrReader},
		"empty":                           {want: hex.EncodeToString(empty[:])},
		"wrong digest":                    {data: data, want: strings.Repeat("0", 64), fail: true},
		"wrong digest, data with its EOF": {data: data, want: strings.Repeat("0", 64), fail: true, r: iotest.DataErrReader},
		"wrong digest of empty content":   {want: good, fail: true},
	} {
		t.Run(name, func(t *testing.T) {
			var src io.Reader = bytes.NewReader(tc.data)
			if tc.r != nil {
				src = tc.r(src)
			}
			d := NewDigestReader(src, tc.want)
			got, err := io.ReadAll(d)
			if tc.fail {
				var derr *DigestError
				sum := sha256.Sum256(tc.data)
				if !errors.As(err, &derr) || derr.Got != hex.EncodeToString(sum[:]) || derr.Want != tc.want {
					t.Fatalf("error %v, want a DigestError expecting %s, reading %x", err, tc.want, sum)
				}
				if len(got) >= len(tc.data) && len(tc.data) > 0 {
					t.Fatalf("returned all %d bytes of content with the wrong digest", len(got))
				}
				if d.Sum() != "" {
					t.Fatalf("Sum %q after a mismatch", d.Sum())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantSum := sha256.Sum256(tc.data)
			if !bytes.Equal(got, tc.data) || d.Sum() != hex.EncodeToString(wantSum[:]) {
				t.Fatalf("read %d bytes, sum %s; want %d bytes, sum %x", len(got), d.Sum(), len(tc.data), wantSum)
			}
		})
	}
}

// ReadAt returns the file's bytes at any offset, and fails the read that reaches the
// end of a file changed since the reader was made.
func TestFileReaderReadAt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disk")
	data := []byte("0123456789abcdef")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if n, err := r.ReadAt(buf, 4); n != 6 || err != nil || string(buf) != "456789" {
		t.Fatalf("middle: %d %v %q", n, err, buf[:n])
	}
	if n, err := r.ReadAt(buf, 12); n != 4 || err != io.EOF || string(buf[:n]) != "cdef" {
		t.Fatalf("end: %d %v %q", n, err, buf[:n])
	}
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(p, []byte("0123456789ABCDEF"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(buf, 10); !errors.Is(err, ErrFileChanged) {
		t.Fatalf("a changed file read to its end gave %v", err)
	}
}
