package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"strings"
	"sync/atomic"

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
	id, err := c.post(ctx, createBody(spec, diskFormat))
	if err != nil {
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

// post creates the image record. When ctx ends once the request is out, Glance may
// have made the image: the request gets backend.CleanupTimeout more to return its ID, so
// that abandon can delete it rather than leave it unseen.
func (c *Client) post(ctx context.Context, body createOpts) (string, error) {
	var wrote atomic.Bool
	reqCtx, done := backend.Outlive(ctx, wrote.Load)
	defer done()
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	img, err := images.Create(reqCtx, c.image, body).Extract()
	switch {
	case err == nil:
		return img.ID, nil
	case ctx.Err() != nil && !wrote.Load():
		return "", fmt.Errorf("creating the image on %s was stopped before the request went out: %w", c.Server(), backend.Interrupted(ctx))
	case ctx.Err() != nil:
		return "", fmt.Errorf("creating the image on %s was interrupted (%w), and Glance did not answer within %s: it may hold a new image named %q in status queued (%v)",
			c.Server(), backend.Interrupted(ctx), backend.CleanupTimeout, body["name"], err)
	}
	return "", fmt.Errorf("creating the image on %s: %w", c.Server(), c.fail(ctx, err))
}

// finishCreate records the verified sha256 and protects the image in one patch,
// deactivates it if asked, and reads it back.
func (c *Client) finishCreate(ctx context.Context, id, sha string, o *backend.OpenStackAttrs) (*backend.Image, error) {
	cur, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	var attrs backend.ImageAttrs
	if o != nil {
		attrs.OpenStack = &backend.OpenStackAttrs{Protected: o.Protected}
	}
	ops, err := patch(cur, attrs)
	if err != nil {
		return nil, err
	}
	if have, _ := cur.Properties[SHA256Property].(string); sha != "" && have != sha {
		ops = append(ops, patchOp{op: "add", key: SHA256Property, value: sha})
	}
	if len(ops) > 0 {
		if cur, err = images.Update(ctx, c.image, id, images.UpdateOpts(ops)).Extract(); err != nil {
			return nil, fmt.Errorf("setting the attributes of image %s: %w", id, c.fail(ctx, err))
		}
	}
	if o != nil && o.Deactivated != nil {
		if err := c.setDeactivated(ctx, id, string(cur.Status), *o.Deactivated); err != nil {
			return nil, err
		}
	}
	return c.GetImage(ctx, id)
}

// abandon is backend.Abandon with this client's delete.
func (c *Client) abandon(ctx context.Context, id string, err error) error {
	return backend.Abandon(ctx, id, err, c.DeleteImage)
}
