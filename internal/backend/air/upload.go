package air

import (
	"context"
	"crypto/md5" //nolint:gosec // S3's ETag of a part is its md5; it checks transport, not trust
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// content is what an upload sends: its size and sha256, which start-upload needs
// first, and how to read it.
type content struct {
	size   int64
	sha256 string
	// at reads parts at their offsets, several at once, and again when one is
	// retried. Without it, open gives one stream, read once from start to end.
	at   io.ReaderAt
	open func(ctx context.Context) (io.ReadCloser, error)
}

// measure finds the content's size and sha256 before anything is created: from the
// caller when it knows both, else by reading the content once, from its offsets
// when it has them, else as a stream that is then opened again to be sent.
func (c *Client) measure(ctx context.Context, ct *backend.ImageContent) (*content, error) {
	out := &content{size: ct.Size, sha256: strings.ToLower(ct.SHA256), at: ct.At}
	once := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(ct.Disk), nil }
	switch {
	case ct.At != nil:
	case ct.SHA256 != "" && ct.Size > 0 && ct.Disk != nil:
		out.open = once
	case ct.Reopen != nil:
		out.open = ct.Reopen
	default:
		return nil, errors.New("NVIDIA Air needs the content's sha256 and size before it is sent, and this content can be read only once")
	}
	if out.sha256 != "" && out.size > 0 {
		return out, nil
	}
	var r io.Reader
	switch {
	case ct.At != nil:
		r = io.NewSectionReader(ct.At, 0, math.MaxInt64)
	case ct.Disk != nil:
		r = ct.Disk
	default:
		rc, err := ct.Reopen(ctx)
		if err != nil {
			return nil, fmt.Errorf("opening the content to compute its sha256: %w", err)
		}
		defer rc.Close()
		r = rc
	}
	start := time.Now()
	h := sha256.New()
	n, err := io.CopyBuffer(h, transfer.ContextReader(ctx, r), make([]byte, 1<<20))
	if err != nil {
		if stop := backend.Interrupted(ctx); stop != nil {
			return nil, fmt.Errorf("computing the content's sha256: %w", stop)
		}
		return nil, fmt.Errorf("computing the content's sha256: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	tflog.Debug(ctx, "air upload: content measured", map[string]any{"bytes": n, "sha256": sum, "seconds": time.Since(start).Seconds()})
	switch {
	case n == 0:
		return nil, errors.New("the image's content is empty")
	case ct.Size > 0 && n != ct.Size:
		return nil, fmt.Errorf("the content is %d bytes long, not %d as it was when planned: it changed (%w)", n, ct.Size, backend.ErrDigest)
	case out.sha256 != "" && out.sha256 != sum:
		return nil, fmt.Errorf("the content has sha256 %s, not %s as planned: it changed since the plan read it (%w)", sum, out.sha256, backend.ErrDigest)
	}
	out.size, out.sha256 = n, sum
	return out, nil
}

// startAnswer is what start-upload returns: the part URLs in part order, and the
// size of every part but the last.
type startAnswer struct {
	UploadID string `json:"upload_id"`
	PartURLs []struct {
		URL string `json:"url"`
	} `json:"part_urls"`
	ChunkSize int64 `json:"chunk_size"`
}

// defaultChunkSize is the part size the SDK assumes when start-upload names none.
const defaultChunkSize = 100_000_000

// part is one part of an upload.
type part struct {
	num       int
	off, size int64
	url       string
}

// upload sends the content of image id in parts: start-upload declares its sha256
// and size, each part goes to its presigned URL (without the API key) and is
// checked against its ETag, complete-upload hands over the ETags, and the API
// validates the whole; the image returned is COMPLETE. Once the upload has started,
// a failure aborts it (abort-upload), which leaves the image READY and empty.
func (c *Client) upload(ctx context.Context, id string, ct *content, progress func(int64)) (*image, error) {
	start, err := c.start(ctx, id, ct)
	if err != nil {
		return nil, err
	}
	parts, err := c.plan(id, ct.size, start)
	if err == nil {
		var etags []string
		etags, err = c.sendParts(ctx, id, ct, parts, progress)
		if err == nil {
			err = c.complete(ctx, id, etags)
		}
	}
	if err != nil {
		return nil, c.abort(ctx, id, err)
	}
	img, err := c.wait(ctx, id, "be validated", statusUploading, statusValidating)
	if err != nil {
		return nil, err
	}
	switch {
	case img.UploadStatus == statusReady:
		return nil, c.validationFailed(ctx, id, ct)
	case img.UploadStatus != statusComplete:
		return nil, fmt.Errorf("the upload of image %s ended %s, not %s", id, img.UploadStatus, statusComplete)
	case !strings.EqualFold(img.Hash, ct.sha256):
		return nil, fmt.Errorf("image %s: %w", id, &backend.DigestError{Algorithm: "sha256", Local: ct.sha256, Server: img.Hash})
	case img.Size != ct.size:
		return nil, fmt.Errorf("image %s: %d bytes were sent, NVIDIA Air stored %d (%w)", id, ct.size, img.Size, backend.ErrDigest)
	}
	tflog.Debug(ctx, "air image validated", map[string]any{"id": id, "bytes": img.Size, "sha256": img.Hash})
	return img, nil
}

// plan cuts the content into the parts start-upload made room for: part i starts
// at i × chunk_size, and the last takes the rest.
func (c *Client) plan(id string, size int64, start startAnswer) ([]part, error) {
	n := int64(len(start.PartURLs))
	chunk := start.ChunkSize
	if chunk <= 0 {
		chunk = defaultChunkSize
	}
	if start.UploadID == "" || n == 0 || (n-1)*chunk >= size || n*chunk < size {
		return nil, fmt.Errorf("starting the upload of image %s: the API answered an upload of %d parts of %d bytes (upload_id %q) for %d bytes of content",
			id, n, chunk, start.UploadID, size)
	}
	parts := make([]part, n)
	for i := range parts {
		off := int64(i) * chunk
		u, err := c.base.Parse(start.PartURLs[i].URL)
		if err != nil || start.PartURLs[i].URL == "" {
			return nil, fmt.Errorf("starting the upload of image %s: part %d has no usable URL", id, i+1)
		}
		parts[i] = part{num: i + 1, off: off, size: min(chunk, size-off), url: u.String()}
	}
	return parts, nil
}

// start sends start-upload. Its answer holds the part URLs, so one that was lost
// (a gateway's 5xx, the connection lost) cannot be done without: the upload it may
// have started is aborted, which returns the image to READY, and start-upload is
// sent again. (start-upload is a PATCH the API refuses unless the image is READY,
// so the shared client does not repeat it on its own.)
func (c *Client) start(ctx context.Context, id string, ct *content) (startAnswer, error) {
	body := map[string]any{"hash": ct.sha256, "size": ct.size}
	for attempt := 1; ; attempt++ {
		var start startAnswer
		err := c.do(ctx, http.MethodPatch, imagePath(id, "start-upload"), body, &start)
		if err == nil || ctx.Err() != nil || !backend.MaybeDone(err) || attempt >= c.attempts() {
			if err != nil {
				return start, fmt.Errorf("starting the upload of image %s: %w", id, err)
			}
			return start, nil
		}
		tflog.Info(ctx, "air: the answer to start-upload was lost; starting again", map[string]any{"id": id, "error": err.Error()})
		img, gerr := c.get(ctx, id)
		if gerr != nil {
			return start, fmt.Errorf("starting the upload of image %s: %w; reading the image afterwards failed too: %v", id, err, gerr)
		}
		if img.UploadStatus == statusUploading {
			if aerr := c.do(ctx, http.MethodPatch, imagePath(id, "abort-upload"), map[string]any{}, nil); aerr != nil {
				return start, fmt.Errorf("starting the upload of image %s: %w; aborting the upload it may have started failed: %v", id, err, aerr)
			}
		}
	}
}

// complete hands over the parts' ETags, in part order. When the answer is lost,
// the image says whether the API took them: past UPLOADING it did, and the wait for
// validation follows; still UPLOADING, they are handed over again.
func (c *Client) complete(ctx context.Context, id string, etags []string) error {
	list := make([]map[string]any, len(etags))
	for i, e := range etags {
		list[i] = map[string]any{"part_number": i + 1, "etag": e}
	}
	for attempt := 1; ; attempt++ {
		err := c.do(ctx, http.MethodPatch, imagePath(id, "complete-upload"), map[string]any{"parts": list}, nil)
		if err == nil || ctx.Err() != nil || !backend.MaybeDone(err) || attempt >= c.attempts() {
			if err != nil {
				return fmt.Errorf("completing the upload of image %s: %w", id, err)
			}
			return nil
		}
		if img, gerr := c.get(ctx, id); gerr == nil && img.UploadStatus != statusUploading {
			return nil
		}
	}
}

// abort ends an upload that failed, so the API drops the parts it holds, and says
// so in the error. It outlives an interrupted ctx by backend.CleanupTimeout.
func (c *Client) abort(ctx context.Context, id string, err error) error {
	actx, cancel := context.WithCancel(ctx)
	if ctx.Err() != nil {
		actx, cancel = backend.AfterInterruption(ctx)
	}
	defer cancel()
	if aerr := c.do(actx, http.MethodPatch, imagePath(id, "abort-upload"), map[string]any{}, nil); aerr != nil {
		return fmt.Errorf("%w; aborting the upload failed too: %v", err, aerr)
	}
	return fmt.Errorf("%w; the upload was aborted", err)
}

// validationFailed explains an image the API returned to READY after its upload:
// the service found the content's size or sha256 not what start-upload declared.
// The API documents no field for the reason; whatever undocumented field of the
// image names an error or a reason is quoted.
func (c *Client) validationFailed(ctx context.Context, id string, ct *content) error {
	msg := fmt.Sprintf("NVIDIA Air did not accept the content of image %s: its validation returned the image to %s, which happens when the content's size or sha256 is not what was declared (%d bytes, sha256 %s)",
		id, statusReady, ct.size, ct.sha256)
	var fields map[string]any
	if err := c.do(ctx, http.MethodGet, imagePath(id), nil, &fields); err != nil {
		return errors.New(msg)
	}
	var said []string
	for k, v := range fields {
		s, ok := v.(string)
		if lk := strings.ToLower(k); ok && s != "" && !imageFields[k] && (strings.Contains(lk, "error") || strings.Contains(lk, "reason")) {
			said = append(said, k+": "+s)
		}
	}
	if len(said) == 0 {
		return errors.New(msg)
	}
	slices.Sort(said)
	return fmt.Errorf("%s; the API says %s", msg, strings.Join(said, "; "))
}

// imageFields are the fields of an image the API documents.
var imageFields = map[string]bool{
	"id": true, "name": true, "version": true, "created": true, "modified": true, "creator": true, "published": true,
	"publicly_published": true, "includes_air_agent": true, "cpu_arch": true, "default_username": true, "default_password": true,
	"emulation_type": true, "emulation_version": true, "provider": true, "minimum_resources": true, "mountpoint": true,
	"is_owned_by_client": true, "upload_status": true, "last_uploaded_at": true, "size": true, "hash": true,
	"notes": true, "release_notes": true, "user_manual": true,
}

// partAttempts is how often a part is sent before the upload gives up, as in the SDK.
const partAttempts = 5

// partStall is how long a part may go without a byte being taken from it before
// its connection is dropped and the part sent again.
var partStall = 2 * time.Minute

// sendParts sends every part and returns their ETags in part order: with offsets,
// upload_workers parts at a time, each read again when it is retried; from a stream,
// one after the other, a part retried only when none of its bytes had been read.
func (c *Client) sendParts(ctx context.Context, id string, ct *content, parts []part, progress func(int64)) ([]string, error) {
	workers := 1
	if ct.at != nil {
		workers = min(c.cfg.UploadWorkers, len(parts))
	}
	sent := newUploadLog(ctx, id, ct.size, len(parts), workers, progress)
	defer sent.stop()
	var (
		etags []string
		err   error
	)
	if ct.at != nil {
		etags, err = c.sendAt(ctx, ct.at, parts, workers, sent)
	} else {
		etags, err = c.sendStream(ctx, ct, parts, sent)
	}
	if err != nil {
		if stop := backend.Interrupted(ctx); stop != nil {
			return nil, fmt.Errorf("the upload of image %s was stopped after %d of %d parts: %w", id, sent.done.Load(), len(parts), stop)
		}
		return nil, fmt.Errorf("uploading image %s: %w", id, err)
	}
	sent.finish()
	return etags, nil
}

// sendAt sends parts read at their offsets, workers at a time; the first part that
// fails stops the others.
func (c *Client) sendAt(ctx context.Context, at io.ReaderAt, parts []part, workers int, sent *uploadLog) ([]string, error) {
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	etags := make([]string, len(parts))
	jobs := make(chan part)
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failed   error
	)
	for range workers {
		wg.Go(func() {
			for p := range jobs {
				etag, err := c.sendPart(gctx, p, sent, func(int) (io.Reader, error) {
					return io.NewSectionReader(at, p.off, p.size), nil
				})
				if err != nil {
					failOnce.Do(func() { failed = err; cancel(err) })
					return
				}
				etags[p.num-1] = etag
			}
		})
	}
feed:
	for _, p := range parts {
		select {
		case jobs <- p:
		case <-gctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return etags, failed
}

// sendStream sends parts in order from one stream. A part whose bytes were partly
// read cannot be sent again, the stream having moved on: the upload then fails
// (a copy is started again by the next apply).
func (c *Client) sendStream(ctx context.Context, ct *content, parts []part, sent *uploadLog) ([]string, error) {
	stream, err := ct.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening the content: %w", err)
	}
	defer stream.Close()
	etags := make([]string, len(parts))
	for _, p := range parts {
		lr := &io.LimitedReader{R: stream, N: p.size}
		etag, err := c.sendPart(ctx, p, sent, func(attempt int) (io.Reader, error) {
			if attempt > 1 && lr.N != p.size {
				return nil, fmt.Errorf("part %d cannot be sent again: %d of its bytes were read from a stream, which cannot be read again", p.num, p.size-lr.N)
			}
			return lr, nil
		})
		if err != nil {
			return nil, err
		}
		etags[p.num-1] = etag
	}
	if n, _ := io.ReadFull(stream, make([]byte, 1)); n > 0 {
		return nil, fmt.Errorf("the content goes on past the %d bytes declared to start the upload: it changed since it was measured (%w)", ct.size, backend.ErrDigest)
	}
	return etags, nil
}

// errStalled is why a part's attempt was stopped when its connection took no bytes
// for partStall.
var errStalled = errors.New("the connection took no byte of the part for too long")

// sendPart sends one part, retrying what a later attempt can change: a connection
// that failed or stalled, 429, and 5xx. body gives the part's bytes for an attempt
// (counted from 1), or says why they cannot be given again.
func (c *Client) sendPart(ctx context.Context, p part, sent *uploadLog, body func(attempt int) (io.Reader, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		r, err := body(attempt)
		if err != nil {
			return "", err
		}
		etag, again, err := c.putPart(ctx, p, r, sent)
		if err == nil {
			sent.partDone(p)
			return etag, nil
		}
		if !again || attempt == partAttempts {
			if again {
				return "", fmt.Errorf("part %d of %d bytes failed %d times, the last time: %w", p.num, p.size, attempt, err)
			}
			return "", fmt.Errorf("part %d: %w", p.num, err)
		}
		pause := c.partWait(attempt, err)
		tflog.Warn(ctx, "air upload: part failed, sending it again", map[string]any{
			"part": p.num, "attempt": attempt, "of": partAttempts, "retry_in": pause.String(), "error": err.Error(),
		})
		if backend.Sleep(ctx, pause) != nil {
			return "", ctx.Err()
		}
	}
}

// retryAfter is an answer asking to be sent again later.
type retryAfter struct {
	err  error
	wait time.Duration
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

// partWait is the pause before a part's next attempt: what the server asked for,
// else the retry settings' minimum wait doubled at each attempt, up to their
// maximum (1, 2, 4, 8 s by default, as the SDK waits).
func (c *Client) partWait(attempt int, err error) time.Duration {
	d := c.cfg.Retry.MinWait << (attempt - 1)
	var ra *retryAfter
	if errors.As(err, &ra) && ra.wait > 0 {
		d = ra.wait
	}
	if c.cfg.Retry.MaxWait > 0 {
		d = min(d, c.cfg.Retry.MaxWait)
	}
	return d
}

// putPart sends one attempt of a part. It reports whether a failure is worth
// another attempt.
func (c *Client) putPart(ctx context.Context, p part, r io.Reader, sent *uploadLog) (etag string, again bool, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(partStall, func() { cancel(errStalled) })
	defer stall.Stop()
	body := &partBody{r: r, md5: md5.New(), left: p.size, onRead: func(n int, last bool) { //nolint:gosec // see the import
		// Once the last byte is taken, the answer's wait is the transport's
		// ResponseHeaderTimeout.
		if last {
			stall.Stop()
		} else {
			stall.Reset(partStall)
		}
		sent.add(int64(n))
	}}
	req, err := http.NewRequestWithContext(actx, http.MethodPut, p.url, body)
	if err != nil {
		return "", false, err
	}
	// No API key: the URL carries its own authorisation, and goes to the storage
	// service, not the API.
	req.ContentLength = p.size
	resp, err := c.http.Stream(req)
	n, sum, readErr := body.seal()
	if err != nil || resp.StatusCode >= 300 {
		sent.add(-n)
	}
	switch {
	case err != nil && readErr != nil:
		return "", false, fmt.Errorf("reading the content: %w", readErr)
	case err != nil && ctx.Err() != nil:
		return "", false, ctx.Err()
	case err != nil && errors.Is(context.Cause(actx), errStalled):
		return "", true, fmt.Errorf("%w (%s)", errStalled, partStall)
	case err != nil:
		return "", !permanent(err), fmt.Errorf("PUT %s: %w", httpclient.RedactURL(req.URL), err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		apiErr := backend.NewAPIError(req.Method, httpclient.RedactURL(req.URL), resp.StatusCode, apiMessage(msg))
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return "", true, &retryAfter{err: apiErr, wait: retryAfterHeader(resp.Header.Get("Retry-After"))}
		}
		return "", resp.StatusCode >= 500, apiErr
	}
	etag = strings.Trim(resp.Header.Get("ETag"), `"`)
	switch {
	case n != p.size:
		return "", false, fmt.Errorf("the storage service accepted the part after %d of its %d bytes", n, p.size)
	case etag == "":
		return "", false, errors.New("the storage service answered without the part's ETag")
	case !strings.EqualFold(etag, sum):
		return "", false, fmt.Errorf("the storage service reports ETag %s for the part, not the md5 %s of the bytes sent (%w)", etag, sum, backend.ErrDigest)
	}
	return etag, false, nil
}

// retryAfterHeader reads a Retry-After of seconds; 0 when there is none.
func retryAfterHeader(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// permanent spots connection errors no retry can fix: bad TLS material and unknown
// hosts.
func permanent(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		(errors.As(err, &dnsErr) && dnsErr.IsNotFound)
}

// partBody is a part's bytes as the transport reads them, hashed (md5, to check the
// ETag) and counted. The transport may go on reading a body after it answered (it
// closes it in another goroutine), so seal stops the reads the answer made moot
// before the counts are taken, and a stream is never read past what was counted.
type partBody struct {
	mu     sync.Mutex
	r      io.Reader
	md5    hash.Hash
	n      int64
	left   int64
	err    error
	sealed bool
	onRead func(n int, last bool)
}

var errSealed = errors.New("the part's attempt is over")

func (b *partBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.sealed:
		return 0, errSealed
	case b.left == 0:
		return 0, io.EOF
	case int64(len(p)) > b.left:
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.md5.Write(p[:n])
		b.n += int64(n)
		b.left -= int64(n)
		b.onRead(n, b.left == 0)
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	if b.left == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

func (b *partBody) Close() error {
	_, _, _ = b.seal()
	return nil
}

// seal ends the attempt's reads and returns how many bytes were read, their md5,
// and the error reading them failed with, if any.
func (b *partBody) seal() (int64, string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sealed = true
	return b.n, hex.EncodeToString(b.md5.Sum(nil)), b.err
}

// uploadLog counts what an upload sent, tells the caller's progress function, and
// logs the progress every logEvery: bytes, parts and rate.
type uploadLog struct {
	ctx      context.Context
	id       string
	total    int64
	parts    int
	started  time.Time
	progress func(int64)
	ticker   *time.Ticker
	quit     chan struct{}
	wg       sync.WaitGroup

	sent atomic.Int64
	done atomic.Int32

	mu       sync.Mutex
	reported int64
}

const logEvery = 10 * time.Second

func newUploadLog(ctx context.Context, id string, total int64, parts, workers int, progress func(int64)) *uploadLog {
	l := &uploadLog{ctx: ctx, id: id, total: total, parts: parts, started: time.Now(), progress: progress,
		ticker: time.NewTicker(logEvery), quit: make(chan struct{})}
	tflog.Info(ctx, "air upload: sending parts", map[string]any{"image": id, "bytes": total, "parts": parts, "workers": workers})
	l.wg.Go(func() {
		for {
			select {
			case <-l.quit:
				return
			case <-l.ticker.C:
				l.log("air upload: progress")
			}
		}
	})
	return l
}

// add counts n bytes read for a part (negative for an attempt that failed), and
// tells the progress function of a new high.
func (l *uploadLog) add(n int64) {
	sum := l.sent.Add(n)
	if l.progress == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if sum > l.reported {
		l.reported = sum
		l.progress(sum)
	}
}

func (l *uploadLog) partDone(p part) {
	done := l.done.Add(1)
	tflog.Debug(l.ctx, "air upload: part sent", map[string]any{"image": l.id, "part": p.num, "bytes": p.size, "parts_done": done, "parts": l.parts})
}

func (l *uploadLog) log(msg string) {
	secs := time.Since(l.started).Seconds()
	sent := l.sent.Load()
	tflog.Info(l.ctx, msg, map[string]any{
		"image": l.id, "sent_bytes": sent, "total_bytes": l.total, "parts_done": l.done.Load(), "parts": l.parts,
		"seconds": int64(secs), "mib_per_second": float64(sent) / (1 << 20) / max(secs, 1e-3),
	})
}

func (l *uploadLog) finish() { l.log("air upload: all parts sent") }

func (l *uploadLog) stop() {
	l.ticker.Stop()
	close(l.quit)
	l.wg.Wait()
}
