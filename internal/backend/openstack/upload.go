package openstack

import (
	"context"
	"crypto/md5"  //nolint:gosec // Glance's checksum is md5; it is compared, not trusted alone
	"crypto/sha1" //nolint:gosec // a cloud may set hashing_algorithm = sha1
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// hashes are the algorithms a cloud's os_hash_algo may name (Glance's
// hashing_algorithm is any of Python's hashlib names; these are those Go has).
var hashes = map[string]func() hash.Hash{
	"sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New, "sha384": sha512.New384, "sha512": sha512.New,
	"sha3_224": func() hash.Hash { return sha3.New224() }, "sha3_256": func() hash.Hash { return sha3.New256() },
	"sha3_384": func() hash.Hash { return sha3.New384() }, "sha3_512": func() hash.Hash { return sha3.New512() },
}

// defaultHashAlgo is Glance's default hashing_algorithm.
const defaultHashAlgo = "sha512"

// digests hashes what is uploaded, in the same single read: md5 (Glance's
// checksum), the cloud's os_hash_algo, and sha256 (SHA256Property). Each hash runs
// in its own goroutine beside the send (transfer.PipeHash): the three cost about
// as much CPU as Glance spends storing the data.
type digests struct {
	algo               string
	md5, sha256, multi hash.Hash
	*transfer.PipeHash
}

func newDigests(algo string) *digests {
	d := &digests{algo: algo, md5: md5.New(), sha256: sha256.New()} //nolint:gosec // see the import
	d.multi = d.sha256
	hs := []hash.Hash{d.md5, d.sha256}
	if algo != "sha256" {
		d.multi = hashes[algo]()
		hs = append(hs, d.multi)
	}
	d.PipeHash = transfer.NewPipeHash(hs...)
	return d
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// hashAlgorithm is the os_hash_algo of the cloud's most recent active image, which
// Glance sets from its hashing_algorithm when it stores data; Glance's default when
// no image shows one. An image's algorithm is only known once its data is stored,
// and the upload is hashed as it is read, so the cloud's is learnt beforehand.
func (c *Client) hashAlgorithm(ctx context.Context) string {
	c.hashOnce.Do(func() {
		c.hashAlgo = defaultHashAlgo
		q := url.Values{"limit": {"1"}, "status": {"active"}, "sort": {"created_at:desc"}}
		_ = images.List(c.image, listQuery(q)).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
			imgs, err := images.ExtractImages(p)
			if err == nil && len(imgs) > 0 {
				if algo, _ := imgs[0].Properties["os_hash_algo"].(string); hashes[algo] != nil {
					c.hashAlgo = algo
				}
			}
			return false, nil
		})
	})
	return c.hashAlgo
}

// tokenMargin is how long the token must still be valid when an upload starts.
// Glance checks the token when the request arrives: a token that expires while the
// body streams does no harm, but one that expires on the way gets a 401 after Glance
// has read part of the body, which cannot be sent again. Renewing a token that
// expires within minutes closes that gap; 10 minutes leaves room for a slow start.
const tokenMargin = 10 * time.Minute

// freshToken renews the token before an upload when it expires within tokenMargin.
// A token given by the user cannot be renewed: the upload goes ahead while it is
// valid for another minute, else the error says what to use instead.
func (c *Client) freshToken(ctx context.Context) error {
	expires := c.tokenExpiry()
	if expires.IsZero() || time.Until(expires) > tokenMargin {
		return nil
	}
	if c.provider.ReauthFunc == nil {
		if time.Until(expires) > time.Minute {
			return nil
		}
		return fmt.Errorf("the token expires at %s, too soon to start an upload, and a token given as it is cannot be renewed: give a password or an application credential, or a token scoped by project", expires.Format(time.RFC3339))
	}
	tflog.Debug(ctx, "renewing the token before an upload", map[string]any{"expires_at": expires})
	if err := c.provider.Reauthenticate(ctx, c.provider.Token()); err != nil {
		return fmt.Errorf("renewing the token before the upload: %w", c.fail(ctx, err))
	}
	return nil
}

// tokenExpiry is when the current token expires; zero when Keystone did not say.
func (c *Client) tokenExpiry() time.Time {
	if tok, err := c.authResult().ExtractToken(); err == nil && tok != nil {
		return tok.ExpiresAt
	}
	return time.Time{}
}

// upload streams content to PUT /v2/images/{id}/file and verifies what Glance
// stored; it returns the content's sha256. A send that failed in a way a repeat can
// mend (a 429, 502, 503 or 504, or the connection lost) is sent again from the
// start when the content is a local file, up to the retry setting's attempts:
// Glance puts an image whose upload broke back in queued, and takes a new upload
// then. When the image turns out active, the lost answer was to an upload that went
// through, and the file is read again for its digests instead.
func (c *Client) upload(ctx context.Context, id string, content *backend.ImageContent, progress func(int64)) (string, error) {
	for attempt := 1; ; attempt++ {
		sha, err := c.uploadOnce(ctx, id, content, progress)
		if err == nil || !c.canResend(ctx, err, content, attempt) {
			return sha, err
		}
		tflog.Info(ctx, "the upload failed and is sent again", map[string]any{"id": id, "attempt": attempt, "error": err.Error()})
		img, werr := c.waitSettled(ctx, id)
		if werr != nil {
			return "", fmt.Errorf("%w; waiting for Glance to take the upload again: %v", err, werr)
		}
		if string(img.Status) == statusActive {
			return c.verifyFile(ctx, id, content)
		}
	}
}

// canResend reports whether a failed upload may be sent again.
func (c *Client) canResend(ctx context.Context, err error, content *backend.ImageContent, attempt int) bool {
	if ctx.Err() != nil || content.At == nil || content.Size <= 0 || attempt >= c.cfg.Retry.MaxAttempts {
		return false
	}
	var apiErr *backend.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		case http.StatusConflict, http.StatusGone:
			// A repeat that met the broken upload still in Glance's hands: 409 while
			// it is saving, 410 when Glance put the image back in queued under it.
			// waitSettled tells these from an image really gone.
			return attempt > 1
		}
		return false
	}
	return errors.Is(err, backend.ErrUnreachable)
}

// waitSettled waits until a broken upload has settled: the image back in queued,
// or active when the upload went through.
func (c *Client) waitSettled(ctx context.Context, id string) (*images.Image, error) {
	for wait := backend.NewBackoff(); ; {
		img, err := c.get(ctx, id)
		if err != nil {
			return nil, err
		}
		switch string(img.Status) {
		case statusQueued, statusActive:
			return img, nil
		case statusKilled:
			return nil, fmt.Errorf("image %s is %s", id, img.Status)
		}
		if err := wait.Sleep(ctx); err != nil {
			return nil, err
		}
	}
}

// verifyFile verifies an image whose upload's answer was lost against the file.
func (c *Client) verifyFile(ctx context.Context, id string, content *backend.ImageContent) (string, error) {
	d := newDigests(c.hashAlgorithm(ctx))
	defer d.Wait()
	n, err := io.Copy(d, transfer.ContextReader(ctx, io.NewSectionReader(content.At, 0, content.Size)))
	if err != nil {
		return "", fmt.Errorf("reading the image file again to verify image %s: %w", id, err)
	}
	d.Wait()
	return c.verify(ctx, id, d, n, content.SHA256)
}

// uploadOnce sends content once, from its start.
//
// The request does not go through gophercloud, which answers a 401 by
// authenticating again and sending the request again: a streamed body cannot be
// sent twice. freshToken makes a 401 unlikely; one that still comes is an error.
func (c *Client) uploadOnce(ctx context.Context, id string, content *backend.ImageContent, progress func(int64)) (string, error) {
	disk := content.Disk
	if content.At != nil && content.Size > 0 {
		disk = io.NewSectionReader(content.At, 0, content.Size)
	}
	if err := c.freshToken(ctx); err != nil {
		return "", err
	}
	d := newDigests(c.hashAlgorithm(ctx))
	// Waited for on every path, so no hashing goroutine outlives the upload.
	defer d.Wait()
	sent := transfer.NewCounter(io.TeeReader(disk, d), content.Size, progress)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.image.ServiceURL("images", id, "file"), io.NopCloser(sent))
	if err != nil {
		return "", err
	}
	if content.Size > 0 {
		req.ContentLength = content.Size
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.provider.UserAgent.Join())
	req.Header.Set("X-Auth-Token", c.provider.Token())
	resp, err := c.http.Stream(req)
	if err != nil {
		return "", c.uploadFailed(ctx, id, err, sent)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", fmt.Errorf("%s refused the token for the upload of image %s (%d bytes had been read for it), and an upload is not sent twice: run the apply again (%w)",
			c.Server(), id, sent.N(), backend.NewAPIError(req.Method, req.URL.String(), resp.StatusCode, serverMessage(msg)))
	case resp.StatusCode >= 300:
		return "", fmt.Errorf("uploading image %s: %w", id, backend.NewAPIError(req.Method, req.URL.String(), resp.StatusCode, serverMessage(msg)))
	case !sent.Whole():
		return "", fmt.Errorf("%s accepted the upload of image %s after %d bytes, before the content's end", c.Server(), id, sent.N())
	}
	tflog.Debug(ctx, "glance image uploaded", map[string]any{"id": id, "bytes": sent.N()})
	d.Wait()
	return c.verify(ctx, id, d, sent.N(), content.SHA256)
}

// uploadFailed explains an upload that got no answer.
func (c *Client) uploadFailed(ctx context.Context, id string, err error, sent *transfer.Counter) error {
	var changed *transfer.FileError
	switch {
	case errors.As(err, &changed) && errors.Is(err, transfer.ErrFileChanged):
		return fmt.Errorf("%w (%w: the upload of image %s was stopped short)", changed, backend.ErrDigest, id)
	case ctx.Err() != nil:
		return fmt.Errorf("the upload of image %s was stopped after %d bytes: %w", id, sent.N(), backend.Interrupted(ctx))
	}
	return fmt.Errorf("uploading image %s (%d bytes sent): %w", id, sent.N(), c.fail(ctx, err))
}

// verify waits for the image to be active and compares Glance's digests with those
// of what was sent; it returns the content's sha256.
func (c *Client) verify(ctx context.Context, id string, d *digests, n int64, want string) (string, error) {
	img, err := c.waitActive(ctx, id)
	if err != nil {
		return "", err
	}
	if img.SizeBytes != n {
		return "", fmt.Errorf("image %s: %d bytes were sent, Glance stored %d", id, n, img.SizeBytes)
	}
	if got := hexSum(d.md5); img.Checksum != got {
		return "", fmt.Errorf("image %s: %w", id, &backend.DigestError{Algorithm: "md5", Local: got, Server: img.Checksum})
	}
	algo, _ := img.Properties["os_hash_algo"].(string)
	value, _ := img.Properties["os_hash_value"].(string)
	local := ""
	switch algo {
	case d.algo:
		local = hexSum(d.multi)
	case "sha256":
		local = hexSum(d.sha256)
	}
	switch {
	case local == "":
		tflog.Warn(ctx, "the image's multihash algorithm is not one computed: only its md5 checksum was verified",
			map[string]any{"id": id, "os_hash_algo": algo, "computed": d.algo})
	case value != local:
		return "", fmt.Errorf("image %s: %w", id, &backend.DigestError{Algorithm: algo, Local: local, Server: value})
	}
	sha := hexSum(d.sha256)
	if want != "" && !strings.EqualFold(want, sha) {
		return "", fmt.Errorf("image %s: the content sent has sha256 %s, not %s as planned; it changed since the plan read it (%w)", id, sha, strings.ToLower(want), backend.ErrDigest)
	}
	return sha, nil
}

// waitActive polls until the image is active; an image killed or back in queued
// has lost its data.
func (c *Client) waitActive(ctx context.Context, id string) (*images.Image, error) {
	for wait := backend.NewBackoff(); ; {
		img, err := c.get(ctx, id)
		if err != nil {
			return nil, err
		}
		switch string(img.Status) {
		case statusActive:
			return img, nil
		case statusKilled, statusQueued:
			return nil, fmt.Errorf("image %s is %s after its upload: Glance did not keep the data", id, img.Status)
		}
		if err := wait.Sleep(ctx); err != nil {
			return nil, fmt.Errorf("waiting for image %s to become active (it is %s): %w", id, img.Status, err)
		}
	}
}
