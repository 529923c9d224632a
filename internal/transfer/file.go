package transfer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrFileChanged is what a FileReader's error wraps when the file changed while it
// was read.
var ErrFileChanged = errors.New("changed while it was read")

// FileReader reads an open file once, from where it stands to its end, and fails
// rather than end when what it read may not be the file's content: it records the
// file's size, modification time and change time when it is made, and before it
// returns the last bytes it checks that exactly that many bytes were read and that
// the three are unchanged. Any write to the file updates its modification and change
// times (a tool that puts the modification time back still moves the change time),
// so a reader that ends cleanly returned one version of the file, and a consumer
// that stops on the error never receives a whole body. The change time also moves
// when the file is renamed over or its mode changes: the reader then fails though
// what it read may be whole, which is the safe side (running again is cheap, and the
// file under the name is no longer what was read). The check is as fine as the file
// system's timestamps (since Linux 6.13 the common file systems give a change right
// after a stat a new timestamp).
type FileReader struct {
	f     *os.File
	start FileStamp
	left  int64
	done  bool
}

// NewFileReader stats f; the reader returns the bytes from f's current offset to
// its end.
func NewFileReader(f *os.File) (*FileReader, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", f.Name())
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	return &FileReader{f: f, start: StampOf(f.Name(), fi), left: fi.Size() - off}, nil
}

// Size is the file's size when the reader was made.
func (r *FileReader) Size() int64 { return r.start.Size }

// Stamp is the file's stamp when the reader was made, under the name it was opened
// by: what a reader that ended cleanly vouches for.
func (r *FileReader) Stamp() FileStamp { return r.start }

func (r *FileReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		if !r.done {
			if err := r.check(); err != nil {
				return 0, err
			}
			r.done = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.Read(p)
	r.left -= int64(n)
	switch {
	case err == io.EOF:
		return 0, r.changed(fmt.Sprintf("it ended %d bytes short of its size", r.left))
	case err != nil:
		return n, err
	case r.left == 0:
		// The last bytes stay here until the file is known to be unchanged, so a
		// changed file never yields a complete body.
		if err := r.check(); err != nil {
			return 0, err
		}
		r.done = true
	}
	return n, nil
}

// ReadAt reads the file at an offset, for parts sent in parallel, with the same
// guarantee as Read: a read that reaches the file's end checks that the file is
// unchanged before it returns, so the part that carries the last bytes (and any
// pass over the whole file) fails on a changed file. Offsets are from the file's
// start.
func (r *FileReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.start.Size {
		p = p[:max(0, r.start.Size-off)]
	}
	n, err := r.f.ReadAt(p, off)
	switch {
	case err == io.EOF && off+int64(n) < r.start.Size:
		return n, r.changed(fmt.Sprintf("it ended %d bytes short of its size", r.start.Size-off-int64(n)))
	case err != nil && err != io.EOF:
		return n, err
	case off+int64(n) == r.start.Size:
		if err := r.check(); err != nil {
			return 0, err
		}
		return n, io.EOF
	}
	return n, nil
}

func (r *FileReader) check() error {
	fi, err := r.f.Stat()
	if err != nil {
		return err
	}
	switch now := StampOf(r.f.Name(), fi); {
	case now.Size != r.start.Size:
		return r.changed(fmt.Sprintf("its size went from %d to %d bytes", r.start.Size, now.Size))
	case now != r.start:
		return r.changed("it was written to or replaced")
	}
	return nil
}

func (r *FileReader) changed(how string) error {
	return &FileError{Path: r.f.Name(), Err: fmt.Errorf("%s %w: %s", r.f.Name(), ErrFileChanged, how)}
}

// Counter passes a reader through, counting its bytes and telling progress (when not
// nil) the running total. Another goroutine may ask how far it got, or Cut it.
type Counter struct {
	r        io.Reader
	total    int64
	progress func(int64)
	n        atomic.Int64

	mu    sync.Mutex
	whole bool
	cut   error
}

// NewCounter counts what is read from r; total is r's length when known, else 0.
func NewCounter(r io.Reader, total int64, progress func(int64)) *Counter {
	return &Counter{r: r, total: total, progress: progress}
}

func (c *Counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	sum := c.n.Load() + int64(n)
	if err == io.EOF || (c.total > 0 && sum >= c.total) {
		c.mu.Lock()
		cut := c.cut
		c.whole = cut == nil
		c.mu.Unlock()
		if cut != nil {
			return 0, cut
		}
	}
	c.n.Store(sum)
	if n > 0 && c.progress != nil {
		c.progress(sum)
	}
	return n, err
}

// N is the number of bytes read so far.
func (c *Counter) N() int64 { return c.n.Load() }

// Whole reports whether everything has been read: the known total, or up to EOF.
func (c *Counter) Whole() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.whole
}

// Cut keeps the stream from completing if it has not yet: the Read that would return
// its last byte (or EOF) returns err instead. It reports whether the stream was
// already whole, in which case nothing changes. Completion and Cut exclude each other,
// so a consumer either has received the whole stream or never will.
func (c *Counter) Cut(err error) (whole bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.whole {
		c.cut = err
	}
	return c.whole
}

// DigestError is what a DigestReader fails with when the content's sha256 is not the
// one expected.
type DigestError struct {
	Want, Got string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("the content read has sha256 %s, not %s as expected", e.Got, e.Want)
}

// DigestReader passes a reader through and computes its sha256. When a digest is
// expected and the content's differs, it fails with a *DigestError instead of
// returning the last bytes, so a body built from it is never complete and a server
// that receives it keeps nothing.
type DigestReader struct {
	br   *bufio.Reader
	h    hash.Hash
	want string
	sum  string
}

// NewDigestReader reads r; want is the sha256 (hex) r's content must have, or empty
// to compute it without a check.
func NewDigestReader(r io.Reader, want string) *DigestReader {
	return &DigestReader{br: bufio.NewReaderSize(r, bufSize), h: sha256.New(), want: strings.ToLower(want)}
}

func (d *DigestReader) Read(p []byte) (int, error) {
	if d.sum != "" {
		return 0, io.EOF
	}
	n, err := d.br.Read(p)
	d.h.Write(p[:n])
	if err == nil {
		// Whether these are the last bytes is known only by looking ahead; an error
		// other than the end is left to the next Read.
		if _, perr := d.br.Peek(1); perr != io.EOF {
			return n, nil
		}
	} else if err != io.EOF {
		return n, err
	}
	sum := hex.EncodeToString(d.h.Sum(nil))
	if d.want != "" && sum != d.want {
		return 0, &DigestError{Want: d.want, Got: sum}
	}
	d.sum = sum
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Sum is the sha256 (hex) of the content once it has been read to its end, else "".
func (d *DigestReader) Sum() string { return d.sum }
