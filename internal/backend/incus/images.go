package incus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
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
		ID: a.Fingerprint, Fingerprint: a.Fingerprint, Name: a.Filename, Type: a.Type,
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
	if img.Properties == nil {
		img.Properties = map[string]string{}
	}
	return img
}

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

// ListImages lists every image of the endpoint's project.
func (c *Client) ListImages(ctx context.Context) ([]backend.Image, error) {
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
		put.Properties = attrs.Properties
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
	req, err := c.jsonRequest(ctx, http.MethodPut, c.url("/1.0/images/"+url.PathEscape(cur.Fingerprint)), put)
	if err != nil {
		return err
	}
	if r.etag != "" {
		req.Header.Set("If-Match", r.etag)
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
// image server; then it applies the attributes and aliases.
func (c *Client) CreateImage(ctx context.Context, spec backend.ImageCreate) (*backend.Image, error) {
	var fp string
	var err error
	switch src := spec.Source; {
	case src.Content != nil:
		fp, err = c.upload(ctx, src.Content, spec.Progress)
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
		var created *CreatedError
		if errors.As(err, &created) {
			return &backend.Image{ID: created.Fingerprint, Fingerprint: created.Fingerprint}, err
		}
		return nil, err
	}
	img, err := c.finishCreate(ctx, fp, spec)
	if err != nil {
		return &backend.Image{ID: fp, Fingerprint: fp}, err
	}
	if r := spec.Source.Remote; r != nil && r.Architecture != "" && img.Architecture != r.Architecture {
		return img, fmt.Errorf("%s resolved alias %q to a %s image, not %s", r.Server, r.Alias, img.Architecture, r.Architecture)
	}
	return img, nil
}

// CreatedError reports a failure that happened after the image was created, so the
// caller can record it and let the next apply replace it rather than orphan it.
type CreatedError struct {
	Fingerprint string
	Err         error
}

func (e *CreatedError) Error() string { return e.Err.Error() }
func (e *CreatedError) Unwrap() error { return e.Err }

func (c *Client) finishCreate(ctx context.Context, fp string, spec backend.ImageCreate) (*backend.Image, error) {
	if a := spec.Attrs; a.Public != nil || a.AutoUpdate != nil || a.Properties != nil || a.Profiles != nil || a.ExpiresAt != nil {
		if err := c.UpdateImage(ctx, fp, a); err != nil {
			return nil, fmt.Errorf("setting attributes of image %s: %w", fp, err)
		}
	}
	for _, al := range spec.Aliases {
		if err := c.PutAlias(ctx, backend.Alias{Name: al.Name, Description: al.Description, Target: fp}); err != nil {
			return nil, fmt.Errorf("creating alias %q for image %s: %w", al.Name, fp, err)
		}
	}
	return c.GetImage(ctx, fp)
}

func (c *Client) pull(ctx context.Context, source map[string]any) (string, error) {
	r, err := c.do(ctx, http.MethodPost, "/1.0/images", map[string]any{"source": source}, nil)
	if err != nil {
		return "", err
	}
	op, err := c.wait(ctx, r)
	if err != nil {
		return "", err
	}
	fp, _ := op.Metadata["fingerprint"].(string)
	if fp == "" {
		return "", fmt.Errorf("%s finished the image download without reporting a fingerprint", c.endpoint)
	}
	return fp, nil
}

// upload streams content to POST /1.0/images, hashing it on the way, and checks the
// digest against the fingerprint the server computed.
func (c *Client) upload(ctx context.Context, content *backend.ImageContent, progress func(int64)) (string, error) {
	var (
		body        io.ReadCloser
		contentType string
	)
	digest := transfer.NewDigest(progress)
	defer digest.SHA256() // ends the hashing goroutine on every path
	if content.Rootfs == nil {
		body, contentType = io.NopCloser(digest.Reader(content.Metadata)), "application/octet-stream"
	} else {
		// The fingerprint of a split image is the sha256 of metadata then rootfs,
		// which is also the order the parts are streamed in.
		rootfsField := "rootfs"
		if content.VM {
			rootfsField = "rootfs.img"
		}
		contentType, body = transfer.Multipart(ctx, []transfer.Part{
			{Field: "metadata", FileName: content.MetadataName, Body: digest.Reader(content.Metadata)},
			{Field: rootfsField, FileName: content.RootfsName, Body: digest.Reader(content.Rootfs)},
		})
	}
	defer body.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/1.0/images"), body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", contentType)
	if content.Rootfs == nil && content.Size > 0 {
		req.ContentLength = content.Size
	}
	if content.MetadataName != "" && content.Rootfs == nil {
		req.Header.Set(c.header("filename"), content.MetadataName)
	}
	if content.SHA256 != "" {
		req.Header.Set(c.header("fingerprint"), content.SHA256)
	}
	r, err := c.finish(req, nil, c.http.Stream)
	if err != nil {
		return "", mapDigestErr(err, content.SHA256, digest)
	}
	op, err := c.wait(ctx, r)
	if err != nil {
		return "", mapDigestErr(err, content.SHA256, digest)
	}
	fp, _ := op.Metadata["fingerprint"].(string)
	local := digest.SHA256()
	if fp != local || (content.SHA256 != "" && content.SHA256 != local) {
		want := content.SHA256
		if want == "" {
			want = local
		}
		derr := &backend.DigestError{Algorithm: "sha256", Local: want, Server: fp}
		if fp != "" {
			if err := c.DeleteImage(ctx, fp); err != nil {
				return "", &CreatedError{Fingerprint: fp, Err: fmt.Errorf("%w (and removing the bad image failed: %v)", derr, err)}
			}
		}
		return "", derr
	}
	return fp, nil
}

// mapDigestErr turns the server's refusal of a fingerprint header into a DigestError.
func mapDigestErr(err error, want string, digest *transfer.Digest) error {
	if want != "" && strings.Contains(strings.ToLower(err.Error()), "fingerprint") {
		return &backend.DigestError{Algorithm: "sha256", Local: want, Server: err.Error()}
	}
	if got := digest.SHA256(); want != "" && got != want {
		return fmt.Errorf("%w (the content read had sha256 %s, not %s: did the file change during the upload?)", err, got, want)
	}
	return err
}

// ExportImage streams an image's content out of the server: one file for a unified
// image, or the metadata and rootfs parts of a split one, read in that order.
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
	exp.Content.VM = img.Type == "virtual-machine"
	exp.Content.RootfsName = "rootfs"
	// The rootfs part can only be reached once the metadata part is read through.
	exp.Content.Rootfs = &nextPart{mr: mr}
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
