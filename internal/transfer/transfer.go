// Package transfer moves image content: it inspects and stamps files, reads them
// with a check that they do not change, and builds multipart bodies without buffering. It knows nothing of HTTP servers or
// Terraform.
package transfer

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
)

// bufSize is the copy buffer: large enough for throughput, small enough that memory
// stays flat whatever the image size.
const bufSize = 1 << 20

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

// ContextReader stops reads from r once ctx is done.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }
