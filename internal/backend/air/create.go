package air

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// CreateImage makes an image from a bare disk image sent in parts, or claims one
// another organisation shared. A failure once the image exists returns its ID in a
// backend.CreatedError (an image whose upload failed is left READY and empty),
// except when the caller's context ended: the half-made image is then deleted, and
// only kept (as a CreatedError) when that fails.
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
	case src.Content.Disk == nil && src.Content.At == nil:
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
	img, err := c.post(ctx, "images/", body, "creating the image")
	if err != nil {
		return nil, c.existing(ctx, err, body)
	}
	tflog.Debug(ctx, "air image created", map[string]any{"id": img.ID, "server": c.Server()})
	done, err := c.upload(ctx, img.ID, content, spec.Progress)
	if err == nil {
		done, err = c.finishCreate(ctx, done, spec.Attrs)
	}
	if err != nil {
		return &backend.Image{ID: img.ID}, c.abandon(ctx, img.ID, err)
	}
	return done.toBackend(), nil
}

// createBody is the body of POST images/: the fields the API requires and those
// attrs sets. published is not among them: an image is published once it has
// content (finishCreate).
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

// post sends a request that creates an image and returns the image. When ctx ends
// once the request is out, the API may have made the image: the request gets
// backend.CleanupTimeout more to answer, so that the caller can delete the image
// rather than leave it unseen.
func (c *Client) post(ctx context.Context, path string, body map[string]any, what string) (*image, error) {
	var wrote atomic.Bool
	reqCtx, done := backend.Outlive(ctx, wrote.Load)
	defer done()
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	var img image
	err := c.do(reqCtx, http.MethodPost, path, body, &img)
	switch {
	case err == nil && img.ID == "":
		return nil, fmt.Errorf("%s on %s: the API answered without the image's id", what, c.Server())
	case err == nil:
		return &img, nil
	case ctx.Err() != nil && !wrote.Load():
		return nil, fmt.Errorf("%s on %s was stopped before the request went out: %w", what, c.Server(), backend.Interrupted(ctx))
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s on %s was interrupted (%w), and the API did not answer within %s: it may hold a new image named %q (%v)",
			what, c.Server(), backend.Interrupted(ctx), backend.CleanupTimeout, body["name"], err)
	}
	return nil, fmt.Errorf("%s on %s: %w", what, c.Server(), err)
}

// existing turns the API's refusal of a new image whose name and version another
// image has into a backend.ExistsError naming that image. The API answers a clash
// with a plain 400, as it does other invalid input, so the image is looked for.
func (c *Client) existing(ctx context.Context, err error, body map[string]any) error {
	var apiErr *backend.APIError
	name, _ := body["name"].(string)
	version, _ := body["version"].(string)
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || name == "" || version == "" {
		return err
	}
	img, lerr := c.findByNameVersion(ctx, name, version)
	if lerr != nil || img == nil {
		return err
	}
	return fmt.Errorf("NVIDIA Air at %s has an image named %q with version %q already (%s), and a name and version name one image: %w",
		c.Server(), name, version, img.ID, &backend.ExistsError{ID: img.ID})
}

// finishCreate publishes a new image when asked, and returns it as it is then.
func (c *Client) finishCreate(ctx context.Context, img *image, attrs backend.ImageAttrs) (*image, error) {
	if a := attrs.Air; a != nil && a.Published != nil && *a.Published {
		if err := c.setPublished(ctx, img.ID, true); err != nil {
			return nil, err
		}
		return c.get(ctx, img.ID)
	}
	return img, nil
}

// claim takes a share into the caller's organisation as a new image, under the name
// and version the claim or the attributes give (else the shared image's), waits for
// the copy, then applies the other attributes.
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
	img, err := c.post(ctx, "images/claim-image-share/", body, "claiming share "+cl.ShareID)
	if err != nil {
		return nil, c.existing(ctx, err, body)
	}
	tflog.Debug(ctx, "air image share claimed", map[string]any{"share": cl.ShareID, "id": img.ID, "server": c.Server()})
	done, err := c.finishClaim(ctx, img.ID, spec.Attrs)
	if err != nil {
		return &backend.Image{ID: img.ID}, c.abandon(ctx, img.ID, err)
	}
	return done, nil
}

func (c *Client) finishClaim(ctx context.Context, id string, attrs backend.ImageAttrs) (*backend.Image, error) {
	img, err := c.wait(ctx, id, "be copied from the share", statusCopying)
	if err != nil {
		return nil, err
	}
	if img.UploadStatus != statusComplete {
		return nil, fmt.Errorf("the copy of the shared image into image %s ended %s, not %s", id, img.UploadStatus, statusComplete)
	}
	if err := c.update(ctx, img, attrs); err != nil {
		return nil, err
	}
	return c.GetImage(ctx, id)
}

// abandon is backend.Abandon with this client's delete.
func (c *Client) abandon(ctx context.Context, id string, err error) error {
	return backend.Abandon(ctx, id, err, c.DeleteImage)
}
