package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// CreateImage makes a Glance image from a bare disk image streamed up (PUT
// /v2/images/{id}/file, verified against Glance's digests), or has Glance download
// one (the web-download import). A failure once Glance has the image returns the
// image's ID with a backend.CreatedError, except when the caller's context ended:
// the half-made image is then deleted, and only kept (as a CreatedError) when that
// fails.
func (c *Client) CreateImage(ctx context.Context, spec backend.ImageCreate) (*backend.Image, error) {
	src := spec.Source
	diskFormat := ""
	if o := spec.Attrs.OpenStack; o != nil {
		diskFormat = o.DiskFormat
	}
	switch {
	case src.Remote != nil:
		return nil, errors.New("an OpenStack image service cannot pull from an image server: give a file, or a URL it downloads itself")
	case src.Content != nil && src.Content.Disk == nil:
		return nil, errors.New("an OpenStack image service stores bare disk images (qcow2, raw, ...), not Incus image tarballs")
	case src.Content != nil:
		diskFormat = first(diskFormat, src.Content.DiskFormat)
	case src.URL != "":
		if err := c.checkWebDownload(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("image source: nothing to create the image from")
	}
	if diskFormat == "" {
		return nil, errors.New("the image's disk format is unknown: Glance needs it before the data")
	}
	if err := checkProperties(spec.Attrs.Properties); err != nil {
		return nil, err
	}
	body := createBody(spec, diskFormat)
	name, _ := body["name"].(string)
	cr := backend.NewCreation("openstack", c.Server(), c.project, name, sourceIdentity(src))
	defer cr.Done()
	body[CreationProperty] = cr.Mark()
	if err := c.removeOrphans(ctx, cr, body); err != nil {
		return nil, err
	}
	id, err := c.createRecord(ctx, cr, body)
	switch {
	case err != nil && id != "":
		// Made, and kept for the caller to record (a CreatedError).
		return &backend.Image{ID: id}, err
	case err != nil:
		return nil, err
	}
	tflog.Debug(ctx, "glance image created", map[string]any{"id": id, "server": c.Server()})
	sha := ""
	if src.URL != "" {
		err = c.importURL(ctx, id, src.URL)
	} else {
		sha, err = c.upload(ctx, id, src.Content, spec.Progress)
	}
	var img *backend.Image
	if err == nil {
		img, err = c.finishCreate(ctx, id, sha, spec.Attrs.OpenStack)
	}
	if err != nil {
		return &backend.Image{ID: id}, c.abandon(ctx, id, err)
	}
	return img, nil
}

// createOpts is the body of POST /v2/images.
type createOpts map[string]any

func (o createOpts) ToImageCreateMap() (map[string]any, error) { return o, nil }

// createBody is the new image's fields and properties. protected is left to
// finishCreate, so that an image whose creation fails half way can be deleted.
func createBody(spec backend.ImageCreate, diskFormat string) createOpts {
	a := spec.Attrs
	b := createOpts{"disk_format": diskFormat, "container_format": "bare"}
	if a.Name != nil {
		b["name"] = *a.Name
	}
	for k, v := range a.Properties {
		b[k] = v
	}
	if o := a.OpenStack; o != nil {
		if o.ContainerFormat != "" {
			b["container_format"] = o.ContainerFormat
		}
		if o.Visibility != nil {
			b["visibility"] = *o.Visibility
		}
		if o.Hidden != nil {
			b["os_hidden"] = *o.Hidden
		}
		if o.MinDiskGB != nil {
			b["min_disk"] = *o.MinDiskGB
		}
		if o.MinRAMMB != nil {
			b["min_ram"] = *o.MinRAMMB
		}
		if o.Tags != nil {
			b["tags"] = dedupe(o.Tags)
		}
	}
	if ct := spec.Source.Content; ct != nil && ct.SHA256 != "" {
		b[SHA256Property] = strings.ToLower(ct.SHA256)
	}
	return b
}

// sourceIdentity is what the image is made from, as the next run would name it.
func sourceIdentity(src backend.ImageSource) string {
	switch {
	case src.Content != nil:
		return "sha256:" + strings.ToLower(src.Content.SHA256)
	case src.URL != "":
		return "url:" + src.URL
	}
	return ""
}

// removeOrphans deletes the images an interrupted create of the same image left
// (marked with body's creation token, by no create this process runs). They are
// deleted rather than adopted even when active: their content was never verified,
// and an image Glance is still receiving cannot be told from one that will never
// be finished.
func (c *Client) removeOrphans(ctx context.Context, cr *backend.Creation, body createOpts) error {
	found, err := c.marked(ctx, body, cr.Orphan)
	if err != nil {
		return fmt.Errorf("looking for images an interrupted run left on %s: %w", c.Server(), err)
	}
	for _, img := range found {
		tflog.Info(ctx, "deleting an unfinished image an interrupted run left", map[string]any{"id": img.ID, "status": img.Status, "server": c.Server()})
		if err := c.DeleteImage(ctx, img.ID); err != nil && !errors.Is(err, backend.ErrNotFound) {
			return fmt.Errorf("deleting image %s, which an interrupted run left unfinished on %s (status %s): %w", img.ID, c.Server(), img.Status, err)
		}
	}
	return nil
}

// marked lists the owner's images that are named as body names them and whose
// creation mark match accepts, hidden ones included.
func (c *Client) marked(ctx context.Context, body createOpts, match func(mark string) bool) ([]images.Image, error) {
	q := url.Values{"limit": {fmt.Sprint(pageSize)}, "owner": {c.project}}
	if name, ok := body["name"].(string); ok {
		q.Set("name", "eq:"+name)
	}
	imgs, err := c.rawList(ctx, q, "either")
	if err != nil {
		return nil, err
	}
	var out []images.Image
	for _, img := range imgs {
		if mark, _ := img.Properties[CreationProperty].(string); match(mark) {
			out = append(out, img)
		}
	}
	return out, nil
}

// createRecord posts the image record. When the answer is lost after the request
// went out (no answer, one cut short, or a gateway's 5xx), Glance may have made the
// image: it is looked for by its mark, and the post is sent again only when it is
// not there. A post is never sent twice without that look, and once a repeat made
// the image, a record the lost post made late is deleted.
func (c *Client) createRecord(ctx context.Context, cr *backend.Creation, body createOpts) (string, error) {
	for wait, attempt := backend.NewBackoff(), 1; ; attempt++ {
		id, sent, err := c.post(ctx, body)
		switch {
		case err == nil && attempt > 1:
			found, lerr := c.marked(ctx, body, cr.Mine)
			if lerr != nil {
				return id, backend.Created(id, fmt.Errorf("looking for a second record of the same create: %w", lerr))
			}
			return id, c.keepOne(ctx, id, found)
		case err == nil || !sent || ctx.Err() != nil || !backend.MaybeDone(err):
			return id, err
		}
		found, lerr := c.marked(ctx, body, cr.Mine)
		switch {
		case lerr != nil:
			return "", fmt.Errorf("%w; looking for the image it may have made failed too: %v", err, lerr)
		case len(found) > 0:
			tflog.Info(ctx, "the answer to the image's creation was lost; found the image by its mark", map[string]any{"id": found[0].ID, "server": c.Server()})
			return found[0].ID, c.keepOne(ctx, found[0].ID, found)
		case attempt >= c.attempts():
			return "", fmt.Errorf("%w; Glance holds no image it made yet: one made late carries a creation mark, and the next apply deletes it", err)
		}
		tflog.Info(ctx, "the answer to the image's creation was lost and Glance holds no such image: creating it again", map[string]any{"error": err.Error()})
		if werr := wait.Sleep(ctx); werr != nil {
			return "", err
		}
	}
}

// attempts is how often a request whose answers are lost is sent: the retry
// setting's attempts, and at least twice.
func (c *Client) attempts() int { return max(c.cfg.Retry.MaxAttempts, 2) }

// keepOne deletes the records other than id among found, those this create's lost
// posts made.
func (c *Client) keepOne(ctx context.Context, id string, found []images.Image) error {
	for _, extra := range found {
		if extra.ID == id {
			continue
		}
		tflog.Info(ctx, "deleting a second record of the same create, which a post whose answer was lost made", map[string]any{"id": extra.ID, "kept": id})
		if derr := c.DeleteImage(ctx, extra.ID); derr != nil && !errors.Is(derr, backend.ErrNotFound) {
			return backend.Created(id, fmt.Errorf("deleting image %s, a second record of the same create: %w", extra.ID, derr))
		}
	}
	return nil
}

// post creates the image record, and reports whether the request went out. When
// ctx ends once the request is out, Glance may have made the image: the request gets
// backend.CleanupTimeout more to return its ID, so that abandon can delete it rather
// than leave it unseen.
func (c *Client) post(ctx context.Context, body createOpts) (string, bool, error) {
	reqCtx, wrote, done := backend.OutliveRequest(ctx)
	defer done()
	img, err := images.Create(reqCtx, c.image, body).Extract()
	switch {
	case err == nil:
		return img.ID, true, nil
	case ctx.Err() != nil && !wrote():
		return "", false, fmt.Errorf("creating the image on %s was stopped before the request went out: %w", c.Server(), backend.Interrupted(ctx))
	case ctx.Err() != nil:
		return "", true, c.removeUnanswered(ctx, body, err)
	}
	return "", wrote(), fmt.Errorf("creating the image on %s: %w", c.Server(), c.fail(ctx, err))
}

// removeUnanswered deletes, after an interruption, the image a create whose answer
// never came may have made, found by its mark.
func (c *Client) removeUnanswered(ctx context.Context, body createOpts, err error) error {
	stopped := fmt.Errorf("creating the image on %s was interrupted (%w), and Glance did not answer within %s", c.Server(), backend.Interrupted(ctx), backend.CleanupTimeout)
	mark, _ := body[CreationProperty].(string)
	cctx, cancel := backend.AfterInterruption(ctx)
	defer cancel()
	found, lerr := c.marked(cctx, body, func(m string) bool { return m == mark })
	if lerr != nil {
		return fmt.Errorf("%w: it may hold a new image named %q in status queued, which the next apply deletes (%v; looking for it: %v)", stopped, body["name"], err, lerr)
	}
	for _, img := range found {
		if derr := c.DeleteImage(cctx, img.ID); derr != nil && !errors.Is(derr, backend.ErrNotFound) {
			return fmt.Errorf("%w: deleting the image %s it made failed, and the next apply deletes it (%v)", stopped, img.ID, derr)
		}
	}
	return stopped
}

// finishCreate records the verified sha256, removes the creation mark and protects
// the image in one patch, deactivates it if asked, and reads it back.
func (c *Client) finishCreate(ctx context.Context, id, sha string, o *backend.OpenStackAttrs) (*backend.Image, error) {
	cur, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	var attrs backend.ImageAttrs
	if o != nil {
		attrs.OpenStack = &backend.OpenStackAttrs{Protected: o.Protected}
	}
	cur, err = c.patchImage(ctx, cur, "setting the attributes of image", func(cur *images.Image) ([]images.Patch, error) {
		ops, err := patch(cur, attrs)
		if err != nil {
			return nil, err
		}
		if have, _ := cur.Properties[SHA256Property].(string); sha != "" && have != sha {
			ops = append(ops, patchOp{op: "add", key: SHA256Property, value: sha})
		}
		if _, marked := cur.Properties[CreationProperty]; marked {
			ops = append(ops, patchOp{op: "remove", key: CreationProperty})
		}
		return ops, nil
	})
	if err != nil {
		return nil, err
	}
	if o != nil && o.Deactivated != nil {
		if err := c.setDeactivated(ctx, id, string(cur.Status), *o.Deactivated); err != nil {
			return nil, err
		}
	}
	return c.GetImage(ctx, id)
}

// abandon is backend.Abandon with this client's delete. An image kept for the
// caller to record (tainted) loses its creation mark: recorded, it is no orphan,
// and another create of the same image must not take it for one.
func (c *Client) abandon(ctx context.Context, id string, err error) error {
	err = backend.Abandon(ctx, id, err, c.DeleteImage)
	var created *backend.CreatedError
	if ctx.Err() != nil || !errors.As(err, &created) {
		return err
	}
	if cur, gerr := c.get(ctx, id); gerr == nil {
		if _, uerr := c.patchImage(ctx, cur, "removing the creation mark of image", func(cur *images.Image) ([]images.Patch, error) {
			if _, marked := cur.Properties[CreationProperty]; !marked {
				return nil, nil
			}
			return []images.Patch{patchOp{op: "remove", key: CreationProperty}}, nil
		}); uerr != nil {
			tflog.Warn(ctx, "removing the creation mark of an image kept after a failed create failed", map[string]any{"id": id, "error": uerr.Error()})
		}
	}
	return err
}
