// Package transfer moves image content: it streams files, hashes them while reading,
// and builds multipart bodies without buffering. It knows nothing of HTTP servers or
// Terraform.
package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/textproto"
	"sync"
)

// bufSize is the copy buffer: large enough for throughput, small enough that memory
// stays flat whatever the image size.
const bufSize = 1 << 20

// Digest hashes with sha256 and counts the bytes read through its readers. Hashing runs
// on its own goroutine, fed copies of what is read, so it overlaps the I/O instead of
// adding to it; at most hashQueue buffers wait, so memory stays bounded. The readers
// of one Digest are read one after the other, never at once, so that the digest is
// that of their concatenation (the fingerprint of a split image).
type Digest struct {
	h        hash.Hash
	n        int64
	progress func(int64)

	mu     sync.Mutex
	queue  chan []byte
	free   chan []byte
	done   chan struct{}
	closed bool
}

const hashQueue = 8

// NewDigest starts a digest; progress, when not nil, is told the running byte count.
func NewDigest(progress func(int64)) *Digest {
	d := &Digest{h: sha256.New(), progress: progress, queue: make(chan []byte, hashQueue),
		free: make(chan []byte, hashQueue+1), done: make(chan struct{})}
	go func() {
		for b := range d.queue {
			d.h.Write(b)
			select {
			case d.free <- b[:0]:
			default:
			}
		}
		close(d.done)
	}()
	return d
}

// Reader passes r through, feeding the digest.
func (d *Digest) Reader(r io.Reader) io.Reader { return digestReader{d, r} }

type digestReader struct {
	d *Digest
	r io.Reader
}

var errDigestClosed = errors.New("read after the digest was taken")

func (dr digestReader) Read(p []byte) (int, error) {
	n, err := dr.r.Read(p)
	if n > 0 {
		d := dr.d
		var buf []byte
		select {
		case buf = <-d.free:
		default:
		}
		buf = append(buf, p[:n]...)
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return 0, errDigestClosed
		}
		d.queue <- buf
		d.n += int64(n)
		total := d.n
		d.mu.Unlock()
		if d.progress != nil {
			d.progress(total)
		}
	}
	return n, err
}

// SHA256 is the hex digest of everything read; no more can be read afterwards.
func (d *Digest) SHA256() string {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()
	<-d.done
	return hex.EncodeToString(d.h.Sum(nil))
}

// ctxReader stops a long copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Part is one part of a multipart body.
type Part struct {
	Field    string
	FileName string
	Body     io.Reader
}

// Multipart streams parts as a multipart/form-data body through a pipe, so nothing
// is buffered beyond one copy buffer. The returned body must be closed by whoever
// consumes it; closing it early stops the producer.
func Multipart(ctx context.Context, parts []Part) (contentType string, body io.ReadCloser) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		buf := make([]byte, bufSize)
		for _, p := range parts {
			h := make(textproto.MIMEHeader)
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.Field, p.FileName))
			h.Set("Content-Type", "application/octet-stream")
			w, err := mw.CreatePart(h)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.CopyBuffer(w, ctxReader{ctx, p.Body}, buf); err != nil {
				pw.CloseWithError(fmt.Errorf("streaming %s: %w", p.Field, err))
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	return mw.FormDataContentType(), pr
}
