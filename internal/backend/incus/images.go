package incus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// apiImage is the /1.0/images/{fp} object of both Incus and LXD.
type apiImage struct {
	AutoUpdate   bool              `json:"auto_update"`
	Properties   map[string]string `json:"properties"`
	Public       bool              `json:"public"`
	ExpiresAt    time.Time         `json:"expires_at"`
	Profiles     []string          `json:"profiles"`
	Aliases      []apiAlias        `json:"aliases"`
	Architecture string            `json:"architecture"`
	Fingerprint  string            `json:"fingerprint"`
	Filename     string            `json:"filename"`
	Size         int64             `json:"size"`
	Type         string            `json:"type"`
	CreatedAt    time.Time         `json:"created_at"`
	UploadedAt   time.Time         `json:"uploaded_at"`
}

// apiImagePut is what PUT /1.0/images/{fp} replaces.
type apiImagePut struct {
	AutoUpdate bool              `json:"auto_update"`
	Properties map[string]string `json:"properties"`
	Public     bool              `json:"public"`
	ExpiresAt  time.Time         `json:"expires_at"`
	Profiles   []string          `json:"profiles"`
}

type apiAlias struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Target      string `json:"target,omitempty"`
	Type        string `json:"type,omitempty"`
}

func (a apiImage) toBackend() *backend.Image {
	img := &backend.Image{
		ID: a.Fingerprint, Fingerprint: a.Fingerprint, Name: a.Properties[nameProperty], SHA256: a.Fingerprint, Type: a.Type,
		Architecture: a.Architecture, Size: a.Size, Public: a.Public, AutoUpdate: a.AutoUpdate,
		Properties: a.Properties, Profiles: a.Profiles, CreatedAt: a.CreatedAt, UploadedAt: a.UploadedAt,
		Status: "active",
	}
	if !neverExpires(a.ExpiresAt) {
		img.ExpiresAt = a.ExpiresAt
	}
	for _, al := range a.Aliases {
		img.Aliases = append(img.Aliases, backend.ImageAlias{Name: al.Name, Description: al.Description})
	}
	if sha, ok := a.Properties[sha256Property]; ok {
		img.SHA256 = sha
	}
	img.Properties = map[string]string{}
	for k, v := range a.Properties {
		if k != nameProperty && !ReservedProperty(k) {
			img.Properties[k] = v
		}
	}
	return img
}

// Incus and LXD images have no name of their own, and their fingerprint covers the
// metadata the provider generates for a bare disk: these properties hold the name
// and the disk's sha256. creationProperty marks an image while CreateImage makes it
// (see imageUpload). None is among the properties the user manages.
const (
	nameProperty     = "name"
	sha256Property   = "imagefleet_sha256"
	creationProperty = "imagefleet_creation"
)

// ReservedProperty reports the image properties the provider keeps for itself:
// hidden from reads, never drift, and refused in a configuration.
func ReservedProperty(key string) bool { return key == sha256Property || key == creationProperty }

// neverExpires spots the API's "no expiry": Incus reports the zero time (sometimes in
// an odd zone) and, once an expiry was cleared, the Unix epoch, as LXD always does.
func neverExpires(t time.Time) bool { return t.Unix() <= 0 }

// GetImage finds an image by fingerprint or any unique fingerprint prefix.
func (c *Client) GetImage(ctx context.Context, id string) (*backend.Image, error) {
	var a apiImage
	if err := c.get(ctx, "/1.0/images/"+url.PathEscape(id), &a); err != nil {
		return nil, err
	}
	return a.toBackend(), nil
}

// ListImages lists every image of the endpoint's project; the filter is left to the caller, as the
// API filters on nothing this provider needs.
func (c *Client) ListImages(ctx context.Context, _ backend.ImageFilter) ([]backend.Image, error) {
	var as []apiImage
	if err := c.get(ctx, "/1.0/images?recursion=1", &as); err != nil {
		return nil, err
	}
	out := make([]backend.Image, 0, len(as))
	for _, a := range as {
		out = append(out, *a.toBackend())
	}
	return out, nil
}

// UpdateImage changes the in-place attributes, keeping what attrs leaves nil.
func (c *Client) UpdateImage(ctx context.Context, id string, attrs backend.ImageAttrs) error {
	return c.updateImage(ctx, id, attrs, "")
}

// updateImage is UpdateImage that also records diskSHA256, when set, in
// sha256Property: one read and one write for a new image.
func (c *Client) updateImage(ctx context.Context, id string, attrs backend.ImageAttrs, diskSHA256 string) error {
	var cur apiImage
	r, err := c.do(ctx, http.MethodGet, "/1.0/images/"+url.PathEscape(id), nil, &cur)
	if err != nil {
		return err
	}
	put := apiImagePut{AutoUpdate: cur.AutoUpdate, Properties: cur.Properties, Public: cur.Public, ExpiresAt: cur.ExpiresAt, Profiles: cur.Profiles}
	if attrs.Public != nil {
		put.Public = *attrs.Public
	}
	if attrs.AutoUpdate != nil {
		put.AutoUpdate = *attrs.AutoUpdate
	}
	if attrs.Properties != nil {
		// The name and the digest live among the properties: replacing them keeps both.
		put.Properties = maps.Clone(attrs.Properties)
		for _, k := range []string{nameProperty, sha256Property} {
			if v, ok := cur.Properties[k]; ok {
				put.Properties[k] = v
			}
		}
	}
	if put.Properties == nil {
		put.Properties = map[string]string{}
	}
	if attrs.Name != nil {
		put.Properties[nameProperty] = *attrs.Name
	}
	// Written once the image is recorded or about to be: no create is making it.
	delete(put.Properties, creationProperty)
	if diskSHA256 != "" {
		put.Properties[sha256Property] = diskSHA256
	}
	if attrs.Profiles != nil {
		put.Profiles = attrs.Profiles
	}
	if attrs.ExpiresAt != nil {
		put.ExpiresAt = *attrs.ExpiresAt
		if attrs.ExpiresAt.IsZero() {
			// Both daemons keep the old expiry when sent the zero time; the Unix
			// epoch is what clears it.
			put.ExpiresAt = time.Unix(0, 0).UTC()
		}
	}
	return c.putImage(ctx, cur.Fingerprint, r.etag, put)
}

// putImage replaces what PUT /1.0/images/{fp} replaces, only if the image is still as
// read (its ETag), so a concurrent change is refused rather than overwritten.
func (c *Client) putImage(ctx context.Context, fp, etag string, put apiImagePut) error {
	req, err := c.jsonRequest(ctx, http.MethodPut, c.url("/1.0/images/"+url.PathEscape(fp)), put)
	if err != nil {
		return err
	}
	if etag != "" {
		req.Header.Set("If-Match", etag)
	}
	_, err = c.finish(req, nil, c.http.Do)
	return err
}

// DeleteImage removes an image and waits until it is gone.
func (c *Client) DeleteImage(ctx context.Context, id string) error {
	r, err := c.do(ctx, http.MethodDelete, "/1.0/images/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return err
	}
	_, err = c.wait(ctx, r)
	return err
}

// CreateImage uploads content, or asks the server to fetch a URL or pull from an
// image server; then it applies the attributes.
func (c *Client) CreateImage(ctx context.Context, spec backend.ImageCreate) (*backend.Image, error) {
	var fp, diskSHA256 string
	var marked bool
	var err error
	switch src := spec.Source; {
	case src.Content != nil:
		name := ""
		if spec.Attrs.Name != nil {
			name = *spec.Attrs.Name
		}
		// The same create in a later run (the same image name on the same server)
		// derives the same token; the content is the fingerprint's to tell.
		cr := backend.NewCreation(string(c.cfg.Kind), c.endpoint, c.DefaultProject(), "image", name)
		defer cr.Done()
		var up uploaded
		up, err = c.upload(ctx, src.Content, spec.Progress, cr)
		fp, diskSHA256, marked = up.fp, up.diskSHA256, up.marked
	case src.URL != "":
		fp, err = c.pull(ctx, map[string]any{"type": "url", "url": src.URL})
	case src.Remote != nil:
		fp, err = c.pull(ctx, map[string]any{
			"type": "image", "mode": "pull", "server": src.Remote.Server, "protocol": src.Remote.Protocol,
			"alias": src.Remote.Alias, "image_type": src.Remote.Type, "certificate": src.Remote.Certificate,
		})
	default:
		return nil, errors.New("image source: nothing to create the image from")
	}
	if err != nil {
		return nil, err
	}
	// The fingerprint covers the generated metadata too: a disk's own digest is
	// recorded as a property, so an import can compare it with the file.
	img, err := c.finishCreate(ctx, fp, spec, diskSHA256, marked)
	if err != nil {
		return nil, backend.Created(fp, err)
	}
	if r := spec.Source.Remote; r != nil && r.Architecture != "" && img.Architecture != r.Architecture {
		return nil, backend.Created(fp, fmt.Errorf("%s resolved alias %q to a %s image, not %s", r.Server, r.Alias, img.Architecture, r.Architecture))
	}
	return img, nil
}

// finishCreate writes the attributes of a new image, and removes its mark when it
// may carry one.
func (c *Client) finishCreate(ctx context.Context, fp string, spec backend.ImageCreate, diskSHA256 string, marked bool) (*backend.Image, error) {
	if a := spec.Attrs; marked || diskSHA256 != "" || a.Name != nil || a.Public != nil || a.AutoUpdate != nil || a.Properties != nil || a.Profiles != nil || a.ExpiresAt != nil {
		if err := c.updateImage(ctx, fp, a, diskSHA256); err != nil {
			return nil, fmt.Errorf("setting attributes of image %s: %w", fp, err)
		}
	}
	return c.GetImage(ctx, fp)
}

func (c *Client) pull(ctx context.Context, source map[string]any) (string, error) {
	reqCtx, wrote, done := backend.OutliveRequest(ctx)
	defer done()
	r, err := c.do(reqCtx, http.MethodPost, "/1.0/images", map[string]any{"source": source}, nil)
	switch {
	case err == nil:
		return c.waitCreate(ctx, r, "")
	case ctx.Err() != nil && !wrote():
		return "", fmt.Errorf("asking %s to download the image was stopped before the request went out: %w", c.endpoint, backend.Interrupted(ctx))
	case ctx.Err() != nil:
		return "", fmt.Errorf("asking %s to download the image was interrupted (%w), and the server did not answer within %s: it may still store the image (%v)", c.endpoint, backend.Interrupted(ctx), backend.CleanupTimeout, err)
	}
	return "", err
}

// DiskFormats are the bare disk formats Incus and LXD can make a virtual-machine
// image of. Both unpack a VM image's rootfs.img with qemu-img forced to qcow2 (Incus's
// ImageUnpack: "we only support qcow2 images anyway"); a disk of another format is
// stored at upload, and fails only when an instance is created from it.
var DiskFormats = []string{string(transfer.DiskQCOW2)}

// AcceptsDiskFormat reports whether a bare disk image of format (a Glance
// disk_format name) can be uploaded to Incus or LXD, so a resource can refuse
// another at plan time.
func AcceptsDiskFormat(format string) bool { return slices.Contains(DiskFormats, format) }

// defaultCreated is the creation date of a VM image made from a bare disk whose
// caller gives none. It is fixed, not the upload's time, so the generated metadata
// and with it the fingerprint depend on the disk and the architecture alone, and the
// same disk uploaded again is recognised as the image already there.
var defaultCreated = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// diskMetadata is the metadata part of a VM image made from a bare disk. Its
// properties are left empty: CreateImage sets them right after the upload, as for any
// image, and kept out of the metadata they cannot change the fingerprint.
func (c *Client) diskMetadata(content *backend.ImageContent) ([]byte, error) {
	if !AcceptsDiskFormat(content.DiskFormat) {
		return nil, fmt.Errorf("%s cannot make a virtual-machine image of a %s disk image: it takes %s only (convert it with qemu-img convert -O qcow2)",
			c.endpoint, content.DiskFormat, strings.Join(DiskFormats, ", "))
	}
	arch := content.Architecture
	if arch == "" {
		if len(c.server.Environment.Architectures) == 0 {
			return nil, fmt.Errorf("%s did not report its architecture, so the architecture of the disk image must be given", c.endpoint)
		}
		arch = c.server.Environment.Architectures[0]
	}
	created := content.CreatedAt
	if created.IsZero() {
		created = defaultCreated
	}
	return transfer.VMMetadata(arch, created, nil)
}

// waitCreate waits for an operation that creates an image and returns the image's
// fingerprint. want, when known, is the fingerprint the image must have.
func (c *Client) waitCreate(ctx context.Context, r *response, want string) (string, error) {
	op, err := c.wait(ctx, r)
	var failed *backend.APIError
	switch {
	case err == nil:
	case errors.As(err, &failed):
		return "", c.createFailed(ctx, r, op, err, want)
	case ctx.Err() != nil:
		return "", c.abandonCreate(ctx, r, want)
	case want != "":
		// The server may still store the image: recorded, it is replaced by the next
		// apply rather than refused as a duplicate.
		return "", backend.Created(want, err)
	default:
		return "", err
	}
	fp, _ := op.Metadata["fingerprint"].(string)
	if fp == "" {
		return "", fmt.Errorf("%s finished creating the image without reporting its fingerprint", c.endpoint)
	}
	if want != "" && fp != want {
		// Both daemons check the fingerprint header themselves; this guards against a
		// server that ignores it.
		derr := &backend.DigestError{Algorithm: "sha256", Local: want, Server: fp}
		if err := c.DeleteImage(ctx, fp); err != nil {
			return "", backend.Created(fp, fmt.Errorf("%w (and removing the image failed: %v)", derr, err))
		}
		return "", derr
	}
	return fp, nil
}

var serverDigest = regexp.MustCompile(`(?i)fingerprints don't match, got ([0-9a-f]{64})`)

// createFailed types the failure of an image-creating operation.
func (c *Client) createFailed(ctx context.Context, r *response, op *operation, err error, want string) error {
	if m := serverDigest.FindStringSubmatch(err.Error()); m != nil {
		return &backend.DigestError{Algorithm: "sha256", Local: want, Server: m[1]}
	}
	if !strings.Contains(strings.ToLower(err.Error()), "already exists") {
		return err
	}
	// LXD answers the wait with the failed operation; Incus with an error only, but
	// the operation stays readable for a few seconds.
	if op == nil {
		op = &operation{}
		_ = c.get(ctx, operationPath(r), op)
	}
	fp, _ := op.Metadata["fingerprint"].(string)
	if fp == "" {
		fp = want
	}
	if fp == "" {
		return fmt.Errorf("%w (%w)", err, backend.ErrConflict)
	}
	return fmt.Errorf("%s refused to store the image again: %w", c.endpoint, &backend.ExistsError{ID: fp})
}

// abandonCreate leaves nothing behind when ctx ended while the server was creating
// an image. It asks the server to cancel the operation (uploads and url downloads
// refuse on both daemons; pulls may accept while they download), waits for it to
// end with a detached, bounded context, and removes the image it created. The error
// wraps ctx's, so callers tell an interruption from a failure; when the image
// cannot be removed it comes back as a backend.CreatedError, to be recorded and replaced.
func (c *Client) abandonCreate(ctx context.Context, r *response, want string) error {
	stopped := backend.Interrupted(ctx)
	cctx, cancel := backend.AfterInterruption(ctx)
	defer cancel()
	opPath := operationPath(r)
	op, cancelled, err := c.cancelAndWait(cctx, r)
	var failed *backend.APIError
	switch {
	case errors.As(err, &failed) && cancelled:
		return fmt.Errorf("creating the image on %s was interrupted (%w); the server cancelled operation %s, which stored nothing", c.endpoint, stopped, opPath)
	case errors.As(err, &failed):
		return fmt.Errorf("creating the image on %s was interrupted (%w); operation %s failed without storing an image: %s", c.endpoint, stopped, opPath, failed.Msg)
	case err != nil:
		msg := fmt.Errorf("creating the image on %s was interrupted (%w); operation %s did not end within %s (%v), and may still store an image", c.endpoint, stopped, opPath, backend.CleanupTimeout, err)
		if want != "" {
			return backend.Created(want, msg)
		}
		return msg
	}
	fp, _ := op.Metadata["fingerprint"].(string)
	if fp == "" {
		return fmt.Errorf("creating the image on %s was interrupted (%w); operation %s ended without naming an image", c.endpoint, stopped, opPath)
	}
	img, err := c.GetImage(cctx, fp)
	if err != nil {
		return backend.Created(fp, fmt.Errorf("creating the image on %s was interrupted (%w); the server stored image %s, which could not be read to remove it: %v", c.endpoint, stopped, fp, err))
	}
	// A download of an image the server already held reports that image: it is not
	// this operation's to remove.
	switch began := operationStart(r); {
	case began.IsZero():
		return fmt.Errorf("creating the image on %s was interrupted (%w); operation %s ended with image %s, which is kept: the server did not say when the operation began, so the image may have been there before", c.endpoint, stopped, opPath, fp)
	case img.UploadedAt.Before(began):
		return fmt.Errorf("creating the image on %s was interrupted (%w); the server already held image %s before, and keeps it", c.endpoint, stopped, fp)
	}
	if err := c.DeleteImage(cctx, fp); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return backend.Created(fp, fmt.Errorf("creating the image on %s was interrupted (%w); the server finished storing image %s, and removing it failed: %v", c.endpoint, stopped, fp, err))
	}
	return fmt.Errorf("creating the image on %s was interrupted (%w); the server finished storing image %s afterwards, and it was removed", c.endpoint, stopped, fp)
}

// ExportImage streams an image's content out of the server: one file for a unified
// image, or the metadata and rootfs parts of a split one, read in that order.
//
// A virtual-machine image is offered two ways at once, and the consumer reads one:
// as a split image (Metadata, Rootfs, VM), which another Incus or LXD stores with the
// same fingerprint, and as a bare qcow2 disk (Disk, the same reader as Rootfs, with
// DiskFormat, Architecture and CreatedAt) for a platform that takes disk images. Its
// SHA256 is left empty: the fingerprint covers metadata and rootfs, so it is no digest
// of the disk, and a consumer of the disk must not check it against one.
func (c *Client) ExportImage(ctx context.Context, id string) (*backend.ImageExport, error) {
	img, err := c.GetImage(ctx, id)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/1.0/images/"+img.Fingerprint+"/export"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.sendError(req, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, c.failed(req, resp)
	}
	exp := &backend.ImageExport{Close: resp.Body.Close}
	exp.Content.SHA256 = img.Fingerprint
	mediaType, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(mediaType, "multipart/") {
		exp.Content.Metadata = resp.Body
		_, dparams, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
		exp.Content.MetadataName = dparams["filename"]
		return exp, nil
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	meta, err := mr.NextPart()
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("reading the export of image %s: %w", img.Fingerprint, err)
	}
	exp.Content.Metadata, exp.Content.MetadataName = meta, meta.FileName()
	exp.Content.RootfsName = "rootfs"
	// The rootfs part can only be reached once the metadata part is read through
	// (NextPart skips what is left of it).
	rootfs := &nextPart{mr: mr}
	exp.Content.Rootfs = rootfs
	if img.Type == "virtual-machine" {
		exp.Content.VM = true
		exp.Content.Disk, exp.Content.DiskFormat = rootfs, string(transfer.DiskQCOW2)
		exp.Content.Architecture, exp.Content.CreatedAt = img.Architecture, img.CreatedAt
		exp.Content.SHA256 = ""
	}
	return exp, nil
}

// nextPart opens the next multipart part on first read.
type nextPart struct {
	mr   *multipart.Reader
	part *multipart.Part
}

func (n *nextPart) Read(p []byte) (int, error) {
	if n.part == nil {
		part, err := n.mr.NextPart()
		if err != nil {
			return 0, fmt.Errorf("reading the rootfs part of an export: %w", err)
		}
		n.part = part
	}
	return n.part.Read(p)
}
