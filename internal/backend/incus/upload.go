package incus

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"gopkg.in/yaml.v3"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// An image is content-addressed: the server keeps one image per fingerprint (the
// sha256 of what was sent) and refuses a second upload of the same content as
// "already exists". So an upload whose answer is lost cannot leave a duplicate, and
// sending it again cannot make one; what is left to settle is whose the image is.
// An upload tells that in one of two ways.
//
// Marked: the upload's own properties header carries the Mark of the create's
// backend.Creation in creationProperty, so the image bears it from the moment it
// exists, before any answer. This call's image is the one with its mark; an image
// whose mark is an orphan's of the same create (a killed run) is adopted, an image
// without a mark of ours is someone else's. The finishing write of the attributes
// removes the mark.
//
// Unmarked: both daemons write the header's properties into the map they decoded
// from metadata.yaml without making it first, and a metadata.yaml without
// properties makes them panic and exit (Incus 6.0.4 and LXD 5.0.2 here; upstream
// still as of this writing). So the mark is sent only when a look at the start of
// the content found every metadata.yaml the daemon will read with a properties
// mapping; never for a bare disk, whose generated metadata has no properties to
// keep its fingerprint as it is. Such an upload is told apart by what the server
// held before: the image with the fingerprint the upload must have (known
// beforehand, or computed again from the content) is this call's if it was not
// there before the upload.
type imageUpload struct {
	c        *Client
	content  *backend.ImageContent
	progress func(int64)
	cr       *backend.Creation
	// want is the fingerprint the image must have, when known before the upload.
	want string
	// meta is the metadata generated for a bare disk.
	meta []byte
	// marked says the upload carries cr's mark.
	marked bool
	// absent says the server held no image want before the upload.
	absent bool
	// before lists the fingerprints the server held before an unmarked upload of a
	// bare disk; nil when not listed.
	before map[string]bool
	// sum and diskSum are the fingerprint and the disk's sha256, computed again from
	// a bare disk once needed.
	sum, diskSum string
	disk         *transfer.DigestReader
	sent         *transfer.Counter
}

// uploaded is what an upload made: the image's fingerprint, the sha256 of a bare
// disk as sent, and whether the image may carry a mark for the finish to remove.
type uploaded struct {
	fp, diskSHA256 string
	marked         bool
}

// upload streams content to POST /1.0/images and returns the image the server
// stored, or the image a lost answer, a repeat of this upload or an interrupted run
// left (see imageUpload).
//
// The client does not hash what it sends. When the caller knows the digest (a file's
// digest from the plan, the source fingerprint of a copy), it goes in the
// X-Incus-fingerprint / X-LXD-fingerprint header, and both daemons refuse an upload
// whose sha256 differs, unified or split, before storing anything. When it does not
// (a file on create: the plan does not read it through), the fingerprint the server
// reports is the sha256 of the bytes it received, and those are the bytes read here:
// the transport has integrity (a unix socket, or TLS, whose records are
// authenticated; no other scheme is accepted), and a body that stops short is
// refused by the server. That the bytes read are the file's content is for the
// reader to ensure (transfer.FileReader fails before the last byte when the file
// changed). A client-side sha256 would only check the transport again, for about a
// second of CPU per GiB taken from the daemon on a small machine.
//
// A bare disk is the exception: its digest is not the image's fingerprint, which
// covers the metadata generated here too, so it is hashed while it is sent, checked
// against the caller's before its last byte goes out, and returned, as nothing else
// records it.
//
// A 429 or a 5xx that a gateway answered in the server's place, after which the
// server turns out to have stored nothing (once its image operations ended), is
// followed by the upload again when the content can be read again (a bare disk from
// a local file or from a copy's source, a unified tarball from a local file).
// Content-addressed, a repeat could not make a duplicate anyway; waiting first keeps
// it from racing the first attempt's operation on the same fingerprint. A split
// image's two streams are read once.
func (c *Client) upload(ctx context.Context, content *backend.ImageContent, progress func(int64), cr *backend.Creation) (uploaded, error) {
	u := &imageUpload{c: c, content: content, progress: progress, cr: cr}
	if u.bareDisk() {
		meta, err := c.diskMetadata(content)
		if err != nil {
			return uploaded{}, err
		}
		u.meta = meta
	} else {
		u.want = content.SHA256
	}
	if u.want != "" {
		// Looked up first: an image already there is adopted or refused without
		// sending it again, and one that appears after a lost answer is this call's.
		var a apiImage
		err := c.get(ctx, "/1.0/images/"+url.PathEscape(u.want), &a)
		switch {
		case err == nil:
			fp, err := u.existing(ctx, a.Fingerprint, fmt.Errorf("%s already holds this image: %w", c.endpoint, &backend.ExistsError{ID: a.Fingerprint}))
			return u.result(fp), err
		case !errors.Is(err, backend.ErrNotFound):
			return uploaded{}, err
		}
		u.absent = true
	}
	if u.rereadable() && u.want == "" {
		fps, err := c.fingerprints(ctx)
		if err != nil {
			return uploaded{}, err
		}
		u.before = fps
	}
	attempts := max(c.cfg.Retry.MaxAttempts, 1)
	for attempt := 1; ; attempt++ {
		r, gateway, err := u.send(ctx, attempt)
		if err == nil {
			fp, err := c.waitCreate(ctx, r, u.want)
			var exists *backend.ExistsError
			if errors.As(err, &exists) {
				fp, err = u.existing(ctx, exists.ID, err)
			}
			return u.result(fp), err
		}
		if !u.unanswered(ctx, err) {
			return u.result(""), u.failed(ctx, err)
		}
		fp, none, err := u.recover(ctx, err)
		if none && gateway != nil && attempt < attempts && u.rereadable() {
			wait := retryablehttp.DefaultBackoff(c.cfg.Retry.MinWait, c.cfg.Retry.MaxWait, attempt-1, gateway)
			tflog.Debug(ctx, "a gateway answered the upload in the server's place, which stored nothing; sending it again", map[string]any{"status": gateway.StatusCode, "wait": wait.String()})
			if serr := backend.Sleep(ctx, wait); serr != nil {
				return u.result(""), fmt.Errorf("%w (and the run was interrupted before sending the upload again: %w)", err, serr)
			}
			continue
		}
		return u.result(fp), err
	}
}

func (u *imageUpload) bareDisk() bool { return u.content.Disk != nil && u.content.Rootfs == nil }

// rereadable reports whether the content can be read again from its start: a bare
// disk with a local file under it, or one that its source can stream again; a
// unified tarball with a local file under it.
func (u *imageUpload) rereadable() bool {
	c := u.content
	local := c.At != nil && c.Size > 0
	return u.bareDisk() && (local || c.Reopen != nil) || u.unified() && local
}

func (u *imageUpload) unified() bool {
	c := u.content
	return c.Metadata != nil && c.Rootfs == nil && c.Disk == nil
}

// reread opens the bare disk or the unified tarball again from its start.
func (u *imageUpload) reread(ctx context.Context) (io.Reader, func(), error) {
	if c := u.content; c.At != nil && c.Size > 0 {
		return io.NewSectionReader(c.At, 0, c.Size), func() {}, nil
	}
	rc, err := u.content.Reopen(ctx)
	if err != nil {
		return nil, nil, err
	}
	return rc, func() { rc.Close() }, nil
}

func (u *imageUpload) result(fp string) uploaded {
	up := uploaded{fp: fp, marked: u.marked}
	if u.disk != nil && fp != "" {
		up.diskSHA256 = u.disk.Sum()
		if up.diskSHA256 == "" {
			up.diskSHA256 = u.diskSum
		}
	}
	return up
}

// send makes one attempt. gateway is the answer of a gateway that answered 429 or
// 5xx in the server's place.
func (u *imageUpload) send(ctx context.Context, attempt int) (r *response, gateway *http.Response, err error) {
	c, content := u.c, u.content
	u.sent = nil
	var (
		body        io.Reader
		contentType string
		size        int64
	)
	switch {
	case content.Rootfs != nil:
		// The fingerprint of a split image is the sha256 of metadata then rootfs.
		meta, err := u.look(content.Metadata, false)
		if err != nil {
			return nil, nil, err
		}
		rootfsField := "rootfs"
		if content.VM {
			rootfsField = "rootfs.img"
		}
		var mp io.ReadCloser
		contentType, mp = transfer.Multipart(ctx, []transfer.Part{
			{Field: "metadata", FileName: content.MetadataName, Body: meta},
			{Field: rootfsField, FileName: content.RootfsName, Body: content.Rootfs},
		})
		defer mp.Close()
		body = mp
	case content.Disk != nil:
		disk := content.Disk
		if attempt > 1 {
			again, done, err := u.reread(ctx)
			if err != nil {
				return nil, nil, err
			}
			defer done()
			disk = again
		}
		u.disk = transfer.NewDigestReader(disk, content.SHA256)
		var mp io.ReadCloser
		contentType, mp = transfer.Multipart(ctx, []transfer.Part{
			{Field: "metadata", FileName: "metadata.tar", Body: bytes.NewReader(u.meta)},
			{Field: "rootfs.img", FileName: "rootfs.img", Body: u.disk},
		})
		defer mp.Close()
		body = mp
	default:
		tarball := content.Metadata
		if attempt > 1 {
			again, done, err := u.reread(ctx)
			if err != nil {
				return nil, nil, err
			}
			defer done()
			tarball = again
		}
		whole, err := u.look(tarball, true)
		if err != nil {
			return nil, nil, err
		}
		body, contentType, size = whole, "application/octet-stream", content.Size
	}
	u.sent = transfer.NewCounter(body, size, u.progress)
	sent := u.sent
	// The body is out when its last byte is: cutting it otherwise means the server
	// never receives a whole image, so there is no operation to miss.
	reqCtx, done := backend.Outlive(ctx, func() bool { return sent.Cut(ctx.Err()) })
	defer done()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, c.url("/1.0/images"), io.NopCloser(sent))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if size > 0 {
		req.ContentLength = size
	}
	if content.MetadataName != "" && content.Rootfs == nil && content.Disk == nil {
		req.Header.Set(c.header("filename"), content.MetadataName)
	}
	if u.want != "" {
		req.Header.Set(c.header("fingerprint"), u.want)
	}
	if u.marked {
		req.Header.Set(c.header("properties"), url.Values{creationProperty: {u.cr.Mark()}}.Encode())
	}
	var answer *http.Response
	r, err = c.finish(req, nil, func(req *http.Request) (*http.Response, error) {
		resp, err := c.http.Stream(req)
		answer = resp
		return resp, err
	})
	if status, ok := fromGateway(err); ok && (status == http.StatusTooManyRequests || status >= 500) {
		gateway = answer
	}
	return r, gateway, err
}

// look reads the start of r, the metadata of a split image or a unified tarball, to
// decide whether the upload can carry the mark (see propertiesMapped), and returns
// r whole again.
func (u *imageUpload) look(r io.Reader, unified bool) (io.Reader, error) {
	head, err := io.ReadAll(io.LimitReader(r, peekLimit))
	if err != nil {
		return nil, err
	}
	u.marked = propertiesMapped(head, len(head) < peekLimit, unified)
	return io.MultiReader(bytes.NewReader(head), r), nil
}

// unanswered reports whether the server may have carried the upload out though no
// answer of its own came back: the whole body went out and the connection failed,
// or a gateway answered 429 or 5xx in its place. An interruption is left to failed.
func (u *imageUpload) unanswered(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if status, ok := fromGateway(err); ok {
		return status == http.StatusTooManyRequests || status >= 500
	}
	var refused *backend.APIError
	return !errors.As(err, &refused) && u.sent != nil && u.sent.Whole()
}

// recover finds the image an upload without an answer made, once the server's
// image operations have ended; none says the server stored nothing of it. cause is
// why no answer came.
func (u *imageUpload) recover(ctx context.Context, cause error) (fp string, none bool, err error) {
	c := u.c
	if !u.marked && u.want == "" && u.before == nil {
		return "", false, fmt.Errorf("%w; %s may have stored the image, which nothing here can tell from others: if the next apply says it exists, import it", cause, c.endpoint)
	}
	for settled := false; ; {
		fp, err := u.find(ctx)
		switch {
		case err != nil:
			return "", false, fmt.Errorf("%w; looking for the image the server may have stored failed: %w", cause, err)
		case fp != "":
			tflog.Info(ctx, "the upload's answer was lost, and the server stored the image", map[string]any{"fingerprint": fp})
			return fp, false, nil
		case settled:
			return "", true, fmt.Errorf("%w; %s stored no image from this upload", cause, c.endpoint)
		}
		ran, err := c.waitRunning(ctx, c.cfg.Project, func(op listedOperation) bool { return op.Description == imageOperation })
		if err != nil {
			return "", false, fmt.Errorf("%w; waiting for the server's image operations failed: %w", cause, err)
		}
		settled = !ran
	}
}

// find returns the image this upload made, "" while there is none.
func (u *imageUpload) find(ctx context.Context) (string, error) {
	c := u.c
	fp := u.want
	switch {
	case u.marked && fp == "":
		var as []apiImage
		if err := c.get(ctx, "/1.0/images?recursion=1", &as); err != nil {
			return "", err
		}
		for _, a := range as {
			if u.cr.Mine(a.Properties[creationProperty]) {
				return a.Fingerprint, nil
			}
		}
		return "", nil
	case fp == "":
		sum, err := u.fingerprint(ctx)
		if err != nil {
			return "", err
		}
		fp = sum
	}
	var a apiImage
	switch err := c.get(ctx, "/1.0/images/"+url.PathEscape(fp), &a); {
	case errors.Is(err, backend.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	case u.cr.Mine(a.Properties[creationProperty]):
	case a.Properties[creationProperty] != "" || !u.absentBefore(a.Fingerprint):
		// Another create's (its mark), or there before this upload.
		return "", nil
	}
	return a.Fingerprint, nil
}

// existing decides about image fp that the server holds already: this create's (a
// repeat of this upload found what the first stored, or an interrupted run of the
// same create left it) or someone else's, refused with exists.
func (u *imageUpload) existing(ctx context.Context, fp string, exists error) (string, error) {
	var a apiImage
	if err := u.c.get(ctx, "/1.0/images/"+url.PathEscape(fp), &a); err != nil {
		return "", fmt.Errorf("%w (and reading it failed: %w)", exists, err)
	}
	mark := a.Properties[creationProperty]
	switch {
	case mark != "" && u.cr.Ours(mark):
		tflog.Info(ctx, "adopting the image an earlier attempt or an interrupted run of this create stored", map[string]any{"fingerprint": fp})
		u.marked = true
	case mark == "" && u.absentBefore(fp):
		// Unmarked, and not there before this upload: what it stored.
	default:
		return "", exists
	}
	return fp, nil
}

// absentBefore reports whether the server was seen without image fp before this
// upload.
func (u *imageUpload) absentBefore(fp string) bool {
	return (u.absent && fp == u.want) || (u.before != nil && !u.before[fp])
}

// fingerprint computes the fingerprint of a bare disk's image by reading the disk
// again: the sha256 of the generated metadata, then the disk. The disk's own sha256
// comes with it, for an attempt that sent the disk only in part.
func (u *imageUpload) fingerprint(ctx context.Context) (string, error) {
	if u.sum != "" {
		return u.sum, nil
	}
	disk, done, err := u.reread(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	h, dh := sha256.New(), sha256.New()
	h.Write(u.meta)
	if _, err := io.Copy(io.MultiWriter(h, dh), transfer.ContextReader(ctx, disk)); err != nil {
		return "", fmt.Errorf("reading the disk image again: %w", err)
	}
	u.sum, u.diskSum = hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(dh.Sum(nil))
	return u.sum, nil
}

// fingerprints lists the fingerprints of the images of the endpoint's project.
func (c *Client) fingerprints(ctx context.Context) (map[string]bool, error) {
	var urls []string
	if err := c.get(ctx, "/1.0/images", &urls); err != nil {
		return nil, err
	}
	fps := make(map[string]bool, len(urls))
	for _, u := range urls {
		p := strings.SplitN(u, "?", 2)[0]
		fps[p[strings.LastIndex(p, "/")+1:]] = true
	}
	return fps, nil
}

// failed explains an attempt that got no operation back and left nothing to look for.
func (u *imageUpload) failed(ctx context.Context, err error) error {
	c := u.c
	var changed *transfer.FileError
	var mismatch *transfer.DigestError
	var refused *backend.APIError
	switch {
	case errors.As(err, &changed) && errors.Is(err, transfer.ErrFileChanged):
		return fmt.Errorf("%w (%w: the upload was stopped short, so %s keeps none of it)", changed, backend.ErrDigest, c.endpoint)
	case errors.As(err, &mismatch):
		return fmt.Errorf("the disk image is not the content expected: %w (%w: the upload was stopped short, so %s keeps none of it)", mismatch, backend.ErrDigest, c.endpoint)
	case errors.As(err, &refused):
		return err
	case u.sent == nil:
		return err
	case ctx.Err() != nil && !u.sent.Whole():
		return fmt.Errorf("the upload to %s was stopped after %d bytes, before its end, so the server keeps none of it: %w", c.endpoint, u.sent.N(), backend.Interrupted(ctx))
	case ctx.Err() != nil:
		msg := fmt.Errorf("the upload to %s was interrupted (%w) after the whole image was sent, and the server did not answer within %s: it may store the image", c.endpoint, backend.Interrupted(ctx), backend.CleanupTimeout)
		if u.marked {
			msg = fmt.Errorf("%w, marked as this create's, so that the next apply adopts it", msg)
		}
		if u.want != "" {
			return backend.Created(u.want, msg)
		}
		return msg
	}
	return err
}

// peekLimit bounds how much of the content's start is read to find its metadata.yaml
// before the upload; where metadata.yaml lies further in, the upload goes unmarked.
const peekLimit = 1 << 20

// propertiesMapped reports whether every metadata.yaml that the daemon will decode
// from a tarball whose start is head has a properties mapping: the daemon reads a
// unified tarball up to the entry by which it has met both metadata.yaml and the
// rootfs, a metadata tarball (whole: head is all of it) to its end. It answers no
// to what it cannot read: a compression the standard library does not read (xz,
// zstd), a metadata.yaml past head, YAML it cannot parse.
func propertiesMapped(head []byte, whole, unified bool) bool {
	var r io.Reader = bytes.NewReader(head)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return false
		}
		r = zr
	case bytes.HasPrefix(head, []byte("BZh")):
		r = bzip2.NewReader(r)
	case len(head) >= 262 && string(head[257:262]) == "ustar":
	default:
		return false
	}
	tr := tar.NewReader(r)
	hasMeta, hasRoot := false, false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return whole && hasMeta
		}
		if err != nil {
			return false
		}
		// The daemon's own tests of the names, which it does not clean.
		switch name := hdr.Name; {
		case name == "metadata.yaml" || name == "./metadata.yaml":
			if !hasPropertiesMapping(tr) {
				return false
			}
			hasMeta = true
		case name == "rootfs.img" || name == "./rootfs.img" || strings.HasPrefix(name, "rootfs/") || strings.HasPrefix(name, "./rootfs/"):
			hasRoot = true
		}
		if unified && hasMeta && hasRoot {
			return true
		}
	}
}

// hasPropertiesMapping reports whether the first YAML document of r is a mapping
// with exactly one properties key whose value is a mapping, which the daemon decodes
// into a map that exists (empty or not). Merge keys, aliases and anything else that
// would take a closer reading are answered no.
func hasPropertiesMapping(r io.Reader) bool {
	var doc yaml.Node
	if err := yaml.NewDecoder(io.LimitReader(r, peekLimit)).Decode(&doc); err != nil || len(doc.Content) != 1 {
		return false
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return false
	}
	found := 0
	for i := 0; i+1 < len(top.Content); i += 2 {
		switch key, val := top.Content[i], top.Content[i+1]; key.Value {
		case "<<":
			return false
		case "properties":
			if val.Kind != yaml.MappingNode {
				return false
			}
			found++
		}
	}
	return found == 1
}
