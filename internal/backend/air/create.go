package air

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// CreateImage makes an image from a bare disk image sent in parts, or claims one
// another organisation shared. A failure once the image exists returns its ID in a
// backend.CreatedError (an image whose upload failed is left READY and empty),
// except when the caller's context ended: the half-made image is then deleted, and
// only kept (as a CreatedError) when that fails.
//
// A new image carries a backend.Creation's mark in its notes until its create
// returns, so that the create can tell its image from any other of the same name
// and version (the API allows one per organisation): after a POST whose answer was
// lost, the image found with this create's mark is the one it made; before the
// POST, an image with the mark of a run that was killed is taken when its upload
// completed with this content, and deleted otherwise. An image of the name and
// version without such a mark is refused as before, with its ID to import.
func (c *Client) CreateImage(ctx context.Context, spec backend.ImageCreate) (*backend.Image, error) {
	src := spec.Source
	switch {
	case src.Claim != nil:
		return c.claim(ctx, spec)
	case src.URL != "":
		return nil, errors.New("NVIDIA Air cannot download an image from a URL: give a file, or copy_from another endpoint")
	case src.Remote != nil:
		return nil, errors.New("NVIDIA Air cannot pull an image from an image server: give a file, or copy_from another endpoint")
	case src.Content == nil:
		return nil, errors.New("image source: nothing to create the image from")
	case src.Content.Disk == nil && (src.Content.At == nil || src.Content.Metadata != nil):
		return nil, errors.New("NVIDIA Air stores bare disk images (qcow2, raw, ...), not Incus image tarballs")
	}
	body, err := createBody(spec.Attrs)
	if err != nil {
		return nil, err
	}
	content, err := c.measure(ctx, src.Content)
	if err != nil {
		return nil, err
	}
	// createBody made sure both are set.
	name, version := *spec.Attrs.Name, *spec.Attrs.Air.Version
	cr := backend.NewCreation("air", c.Server(), c.keyScope(), name, version)
	defer cr.Done()
	body["notes"] = markPrefix + cr.Mark()

	img, err := c.makeWay(ctx, cr, name, version, content)
	if err != nil {
		return nil, err
	}
	// What is left to set: everything on an image taken over, only published on
	// one this create made with the other settings.
	rest := spec.Attrs
	if img == nil {
		made, err := c.postImage(ctx, cr, body, name, version)
		if err != nil {
			return nil, err
		}
		tflog.Debug(ctx, "air image created", map[string]any{"id": made.ID, "server": c.Server()})
		if img, err = c.upload(ctx, made.ID, content, spec.Progress); err != nil {
			return &backend.Image{ID: made.ID}, c.giveUp(ctx, made.ID, err)
		}
		rest = backend.ImageAttrs{}
		if a := spec.Attrs.Air; a != nil {
			rest.Air = &backend.AirAttrs{Published: a.Published}
		}
	}
	// The mark goes before the image is published, so that no other organisation
	// ever sees it.
	done, err := c.update(ctx, img, rest, unmarked)
	if err != nil {
		return &backend.Image{ID: img.ID}, c.giveUp(ctx, img.ID, err)
	}
	return done.toBackend(), nil
}

// keyScope names the API key in a creation's identity without showing it: the key
// belongs to one organisation, where an image's name and version are unique, and
// an image another key's run left is that run's user's to clean.
func (c *Client) keyScope() string {
	sum := sha256.Sum256([]byte(c.cfg.APIKey))
	return "key " + hex.EncodeToString(sum[:])
}

// makeWay looks for the image of the name and version before one is made. None, or
// only another organisation's published one: there is nothing in the way (nil).
// One an interrupted run left, as its mark says: returned to be taken over when its
// upload completed with this content (it is waited for while it is being validated
// or published), else deleted, its upload aborted first. Any other is refused with
// an ExistsError.
func (c *Client) makeWay(ctx context.Context, cr *backend.Creation, name, version string, ct *content) (*image, error) {
	img, err := c.findByNameVersion(ctx, name, version)
	switch {
	case err != nil:
		return nil, fmt.Errorf("looking for an image named %q with version %q before creating it: %w", name, version, err)
	case img == nil || !img.IsOwnedByClient:
		return nil, nil
	case !cr.Orphan(img.mark()):
		return nil, c.existsError(name, version, img.ID)
	}
	if busy := []string{statusValidating, statusPublishing, statusUnpublishing}; slices.Contains(busy, img.UploadStatus) {
		if img, err = c.wait(ctx, img.ID, "settle", busy...); err != nil {
			return nil, err
		}
	}
	if img.UploadStatus == statusComplete && strings.EqualFold(img.Hash, ct.sha256) && img.Size == ct.size {
		tflog.Info(ctx, "air: taking over the image an interrupted run uploaded", map[string]any{"id": img.ID, "name": name, "version": version})
		return img, nil
	}
	tflog.Info(ctx, "air: deleting the image an interrupted run left unfinished", map[string]any{
		"id": img.ID, "name": name, "version": version, "upload_status": img.UploadStatus,
	})
	if img.UploadStatus == statusUploading {
		// The parts it holds go with the upload; the image is deleted all the same.
		if err := c.do(ctx, http.MethodPatch, imagePath(img.ID, "abort-upload"), map[string]any{}, nil); err != nil {
			tflog.Warn(ctx, "air: aborting the interrupted run's upload failed", map[string]any{"id": img.ID, "error": err.Error()})
		}
	}
	if err := c.DeleteImage(ctx, img.ID); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return nil, fmt.Errorf("image %s named %q with version %q was left %s by an interrupted run, and deleting it before creating the image again failed: %w",
			img.ID, name, version, img.UploadStatus, err)
	}
	return nil, nil
}

// postImage sends the POST that makes the image of the name and version that body
// gives. When its answer is lost, the
// image it may have made is looked for: the one with this create's mark is it.
// None means the POST was not carried out, and it is sent again, up to the retry
// setting's attempts.
func (c *Client) postImage(ctx context.Context, cr *backend.Creation, body map[string]any, name, version string) (*image, error) {
	for attempt := 1; ; attempt++ {
		var img image
		err := c.send(ctx, "images/", body, &img, "creating the image on "+c.Server())
		if err == nil && img.ID == "" {
			err = &lostAnswer{fmt.Errorf("creating the image on %s: the API answered without the image's id", c.Server())}
		}
		var lost *lostAnswer
		switch {
		case err == nil:
			return &img, nil
		case !errors.As(err, &lost):
			return c.existing(ctx, err, name, version, func(img *image) bool { return cr.Mine(img.mark()) })
		}
		mine, ferr := c.findMine(ctx, cr, name, version)
		switch {
		case ferr != nil:
			return nil, fmt.Errorf("%w; looking for the image it may have made failed too (%v): %s", err, ferr, afterLoss)
		case mine != nil:
			tflog.Warn(ctx, "air: the answer to the image's create was lost; the image it made was found", map[string]any{"id": mine.ID, "error": err.Error()})
			return mine, nil
		case attempt >= c.attempts() || ctx.Err() != nil:
			return nil, fmt.Errorf("%w; no image it made was found: %s", err, afterLoss)
		}
		tflog.Warn(ctx, "air: the answer to the image's create was lost, and no image was made; sending it again", map[string]any{"error": err.Error()})
		if err := c.pause(ctx); err != nil {
			return nil, fmt.Errorf("creating the image on %s: %w", c.Server(), err)
		}
	}
}

// afterLoss says what becomes of an image whose create's answer was lost and that
// could not be found.
const afterLoss = "if the API made one all the same, it carries a creation mark in its notes, and the next apply deletes it, or takes it over when its upload completed"

// findMine is the image of the name and version that cr's mark names, nil when
// there is none. When ctx ended it looks all the same, for CleanupTimeout: an
// image found is then removed rather than left unseen.
func (c *Client) findMine(ctx context.Context, cr *backend.Creation, name, version string) (*image, error) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = backend.AfterInterruption(ctx)
		defer cancel()
	}
	img, err := c.findByNameVersion(ctx, name, version)
	if err != nil || img == nil || !img.IsOwnedByClient || !cr.Mine(img.mark()) {
		return nil, err
	}
	return img, nil
}

// attempts is how often a create whose answers are lost is sent: the retry
// setting's attempts, and at least twice.
func (c *Client) attempts() int { return max(c.cfg.Retry.MaxAttempts, 2) }

// pause waits before a create is sent again, as long as the retry settings'
// shortest wait.
func (c *Client) pause(ctx context.Context) error {
	return backend.Sleep(ctx, c.cfg.Retry.MinWait)
}

// giveUp is abandon, and removes the creation mark of an image kept to be recorded:
// recorded (tainted), it is no orphan, and a later create must not take it for one.
func (c *Client) giveUp(ctx context.Context, id string, err error) error {
	err = c.abandon(ctx, id, err)
	var created *backend.CreatedError
	if ctx.Err() == nil && errors.As(err, &created) {
		if uerr := c.do(ctx, http.MethodPatch, imagePath(id), unmarked, nil); uerr != nil {
			tflog.Warn(ctx, "air: removing the creation mark of an image kept after a failed create failed", map[string]any{"id": id, "error": uerr.Error()})
		}
	}
	return err
}

// createBody is the body of POST images/: the fields the API requires and those
// attrs sets. published is not among them: an image is published once it has
// content.
func createBody(a backend.ImageAttrs) (map[string]any, error) {
	air := a.Air
	if air == nil {
		air = &backend.AirAttrs{}
	}
	var missing []string
	need := func(field string, v *string) {
		if v == nil || *v == "" {
			missing = append(missing, field)
		}
	}
	need("name", a.Name)
	need("air.version", air.Version)
	need("air.default_username", air.DefaultUsername)
	need("air.default_password", air.DefaultPassword)
	if len(missing) > 0 {
		return nil, fmt.Errorf("NVIDIA Air needs a name, a version, a default username and a default password for a new image: %v not set", missing)
	}
	body := changes(&image{}, backend.ImageAttrs{Name: a.Name, Air: &backend.AirAttrs{
		Version: air.Version, DefaultUsername: air.DefaultUsername, DefaultPassword: air.DefaultPassword,
		CPUArch: air.CPUArch, Provider: air.Provider, EmulationType: air.EmulationType, EmulationVersion: air.EmulationVersion,
		MinimumResources: air.MinimumResources, IncludesAirAgent: air.IncludesAirAgent,
	}})
	// Sent even when it is the zero value the comparison above skips.
	if air.IncludesAirAgent != nil {
		body["includes_air_agent"] = *air.IncludesAirAgent
	}
	if air.Mountpoint != nil {
		body["mountpoint"] = mountpoint(*air.Mountpoint)
	}
	return body, nil
}

// lostAnswer is a request that makes something, which went out and got no answer
// saying whether the API carried it out: the connection failed, the answer was cut
// or unreadable, or a gateway answered 5xx, which it may do after the server acted.
type lostAnswer struct{ err error }

func (e *lostAnswer) Error() string { return e.err.Error() }
func (e *lostAnswer) Unwrap() error { return e.err }

// send sends a POST that makes something and decodes the answer into out; an
// answer that was lost is a *lostAnswer. When ctx ends once the request is out, the
// API may have made the object: the request gets backend.CleanupTimeout more to
// answer, so that the caller can remove the object rather than leave it unseen.
// what names the request and the server for errors.
func (c *Client) send(ctx context.Context, path string, body map[string]any, out any, what string) error {
	reqCtx, wrote, done := backend.OutliveRequest(ctx)
	defer done()
	err := c.do(reqCtx, http.MethodPost, path, body, out)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && !wrote():
		return fmt.Errorf("%s was stopped before the request went out: %w", what, backend.Interrupted(ctx))
	case !wrote() || !backend.MaybeDone(err):
		return fmt.Errorf("%s: %w", what, err)
	case ctx.Err() != nil:
		return &lostAnswer{fmt.Errorf("%s was interrupted (%w), and the API did not answer within %s (%v)",
			what, backend.Interrupted(ctx), backend.CleanupTimeout, err)}
	}
	return &lostAnswer{fmt.Errorf("%s: the request went out, and its answer was lost (%w)", what, err)}
}

// existing turns the API's refusal of a new image whose name and version an image
// of the organisation has into a backend.ExistsError naming that image, unless ours
// says the image is the one the create made. The API answers a clash with a plain
// 400, as it does other invalid input, so the image is looked for.
func (c *Client) existing(ctx context.Context, err error, name, version string, ours func(*image) bool) (*image, error) {
	var apiErr *backend.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || name == "" || version == "" {
		return nil, err
	}
	img, lerr := c.findByNameVersion(ctx, name, version)
	switch {
	case lerr != nil || img == nil || !img.IsOwnedByClient:
		return nil, err
	case ours != nil && ours(img):
		return img, nil
	}
	return nil, c.existsError(name, version, img.ID)
}

// existsError refuses a new image whose name and version image id has.
func (c *Client) existsError(name, version, id string) error {
	return fmt.Errorf("NVIDIA Air at %s has an image named %q with version %q already (%s), and a name and version name one image: %w",
		c.Server(), name, version, id, &backend.ExistsError{ID: id})
}

// claim takes a share into the caller's organisation as a new image, under the name
// and version the claim or the attributes give (else the shared image's), waits for
// the copy, then applies the other attributes.
//
// A claim carries no free field, so its copy cannot be marked: it is known by its
// name and version, when both are given. An image of them before the claim refuses
// it (ExistsError); after a claim whose answer was lost, an unmarked one is the
// copy it made, and when there is none the claim is sent again. Without both,
// a lost answer is an error: the share may be claimed, and its copy is left to
// import.
func (c *Client) claim(ctx context.Context, spec backend.ImageCreate) (*backend.Image, error) {
	cl := spec.Source.Claim
	if cl.ShareID == "" {
		return nil, errors.New("claim: no share to claim")
	}
	body := map[string]any{"image_share": cl.ShareID}
	name, version := cl.Name, cl.Version
	if name == "" && spec.Attrs.Name != nil {
		name = *spec.Attrs.Name
	}
	if a := spec.Attrs.Air; version == "" && a != nil && a.Version != nil {
		version = *a.Version
	}
	if name != "" {
		body["name"] = name
	}
	if version != "" {
		body["version"] = version
	}
	if name != "" && version != "" {
		img, err := c.findByNameVersion(ctx, name, version)
		switch {
		case err != nil:
			return nil, fmt.Errorf("looking for an image named %q with version %q before claiming share %s: %w", name, version, cl.ShareID, err)
		case img != nil && img.IsOwnedByClient:
			return nil, c.existsError(name, version, img.ID)
		}
	}
	img, err := c.postClaim(ctx, body, cl.ShareID, name, version)
	if err != nil {
		return nil, err
	}
	tflog.Debug(ctx, "air image share claimed", map[string]any{"share": cl.ShareID, "id": img.ID, "server": c.Server()})
	done, err := c.finishClaim(ctx, img.ID, spec.Attrs)
	if err != nil {
		return &backend.Image{ID: img.ID}, c.abandon(ctx, img.ID, err)
	}
	return done, nil
}

// postClaim sends the claim, and finds the copy it made after its answer was lost
// (see claim).
func (c *Client) postClaim(ctx context.Context, body map[string]any, shareID, name, version string) (*image, error) {
	what := fmt.Sprintf("claiming share %s on %s", shareID, c.Server())
	traceable := name != "" && version != ""
	lostBefore := false
	for attempt := 1; ; attempt++ {
		var img image
		err := c.send(ctx, "images/claim-image-share/", body, &img, what)
		if err == nil && img.ID == "" {
			err = &lostAnswer{fmt.Errorf("%s: the API answered without the image's id", what)}
		}
		var lost *lostAnswer
		isLost := errors.As(err, &lost)
		switch {
		case err == nil:
			return &img, nil
		case !isLost && !lostBefore:
			_, err = c.existing(ctx, err, name, version, nil)
			return nil, err
		case !traceable:
			return nil, fmt.Errorf("%w; without both a name and a version for the copy, the provider cannot tell whether the share was claimed: if it was, the copy is an image of this organisation, to import", err)
		}
		cp, ferr := c.findCopy(ctx, name, version)
		switch {
		case ferr != nil:
			return nil, fmt.Errorf("%w; looking for the copy it may have made (named %q with version %q) failed too: %v", err, name, version, ferr)
		case cp != nil:
			tflog.Warn(ctx, "air: the answer to the claim was lost; the copy it made was found", map[string]any{"share": shareID, "id": cp.ID, "error": err.Error()})
			return cp, nil
		case !isLost || attempt >= c.attempts() || ctx.Err() != nil:
			return nil, err
		}
		lostBefore = true
		tflog.Warn(ctx, "air: the answer to the claim was lost, and no copy was made; sending it again", map[string]any{"share": shareID, "error": err.Error()})
		if err := c.pause(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
}

// findCopy is the unmarked image of the organisation with the name and version,
// nil when there is none; when ctx ended it looks for CleanupTimeout all the same.
func (c *Client) findCopy(ctx context.Context, name, version string) (*image, error) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = backend.AfterInterruption(ctx)
		defer cancel()
	}
	img, err := c.findByNameVersion(ctx, name, version)
	if err != nil || img == nil || !img.IsOwnedByClient || img.mark() != "" {
		return nil, err
	}
	return img, nil
}

func (c *Client) finishClaim(ctx context.Context, id string, attrs backend.ImageAttrs) (*backend.Image, error) {
	img, err := c.wait(ctx, id, "be copied from the share", statusCopying)
	if err != nil {
		return nil, err
	}
	if img.UploadStatus != statusComplete {
		return nil, fmt.Errorf("the copy of the shared image into image %s ended %s, not %s", id, img.UploadStatus, statusComplete)
	}
	done, err := c.update(ctx, img, attrs, nil)
	if err != nil {
		return nil, err
	}
	return done.toBackend(), nil
}

// abandon is backend.Abandon with this client's delete.
func (c *Client) abandon(ctx context.Context, id string, err error) error {
	return backend.Abandon(ctx, id, err, c.DeleteImage)
}
