package air

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// Upload statuses of an image.
const (
	statusReady        = "READY"
	statusUploading    = "UPLOADING"
	statusValidating   = "VALIDATING"
	statusComplete     = "COMPLETE"
	statusPublishing   = "PUBLISHING"
	statusUnpublishing = "UNPUBLISHING"
	statusCopying      = "COPYING_FROM_IMAGE_SHARE"
)

// image is an image as the API returns it. default_password is left out: the
// provider only sends it, and what is not decoded cannot leak.
type image struct {
	ID                string        `json:"id"`
	Name              string        `json:"name"`
	Version           string        `json:"version"`
	Created           apiTime       `json:"created"`
	Modified          apiTime       `json:"modified"`
	Creator           string        `json:"creator"`
	Published         bool          `json:"published"`
	PubliclyPublished bool          `json:"publicly_published"`
	IncludesAirAgent  bool          `json:"includes_air_agent"`
	CPUArch           string        `json:"cpu_arch"`
	DefaultUsername   string        `json:"default_username"`
	EmulationType     []string      `json:"emulation_type"`
	EmulationVersion  string        `json:"emulation_version"`
	Provider          string        `json:"provider"`
	MinimumResources  *apiResources `json:"minimum_resources"`
	Mountpoint        string        `json:"mountpoint"`
	IsOwnedByClient   bool          `json:"is_owned_by_client"`
	UploadStatus      string        `json:"upload_status"`
	LastUploadedAt    apiTime       `json:"last_uploaded_at"`
	Size              int64         `json:"size"`
	Hash              string        `json:"hash"`
	// Notes is read for a creation mark alone (see mark) and never passed on: the
	// provider does not manage notes, so a mark can never read as a change.
	Notes string `json:"notes"`
}

// markPrefix starts the notes of an image while a create makes it: the rest is the
// backend.Creation's mark. The API has no other free field on an image, and the
// provider manages none of the notes.
const markPrefix = "imagefleet-creation:"

// mark is the creation mark the image's notes carry, "" when they carry none.
func (img *image) mark() string {
	m, ok := strings.CutPrefix(img.Notes, markPrefix)
	if !ok {
		return ""
	}
	return m
}

// unmarked is the PATCH field that removes a creation mark: the notes a new image
// has.
var unmarked = map[string]any{"notes": ""}

type apiResources struct {
	CPU     int64 `json:"cpu"`
	Memory  int64 `json:"memory"`
	Storage int64 `json:"storage"`
}

func (img *image) toBackend() *backend.Image {
	out := &backend.Image{
		ID: img.ID, Name: img.Name, Size: img.Size, Status: img.UploadStatus, SHA256: img.Hash,
		CreatedAt: img.Created.Time, UploadedAt: img.LastUploadedAt.Time,
		Air: &backend.AirImage{
			Version: img.Version, DefaultUsername: img.DefaultUsername, CPUArch: img.CPUArch, Provider: img.Provider,
			EmulationType: slices.Clone(img.EmulationType), EmulationVersion: img.EmulationVersion, Mountpoint: img.Mountpoint,
			IncludesAirAgent: img.IncludesAirAgent, Published: img.Published, UploadStatus: img.UploadStatus, Creator: img.Creator,
		},
	}
	if r := img.MinimumResources; r != nil {
		out.Air.MinimumResources = backend.AirResources{CPU: r.CPU, Memory: r.Memory, Storage: r.Storage}
	}
	return out
}

func (c *Client) get(ctx context.Context, id string) (*image, error) {
	var img image
	if err := c.do(ctx, http.MethodGet, imagePath(id), nil, &img); err != nil {
		return nil, err
	}
	return &img, nil
}

// GetImage reads an image by ID.
func (c *Client) GetImage(ctx context.Context, id string) (*backend.Image, error) {
	img, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return img.toBackend(), nil
}

// pageSize is how many images one listing request asks for (a variable so tests can
// make listings take several pages).
var pageSize = 200

// ListImages lists the images the filter matches, filtering on the server by name
// and upload status; callers check the results again. The API lists the caller's
// organisation's images and the images published to it.
func (c *Client) ListImages(ctx context.Context, f backend.ImageFilter) ([]backend.Image, error) {
	q := url.Values{"limit": {fmt.Sprint(pageSize)}}
	if f.Name != "" {
		q.Set("name", f.Name)
	}
	if f.Status != "" {
		q.Set("upload_status", f.Status)
	}
	imgs, err := c.list(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]backend.Image, 0, len(imgs))
	for i := range imgs {
		out = append(out, *imgs[i].toBackend())
	}
	return out, nil
}

// list reads every page of an image listing.
func (c *Client) list(ctx context.Context, q url.Values) ([]image, error) {
	return listAll[image](ctx, c, "images/?"+q.Encode(), "images")
}

// listAll reads every page of a listing from its first page's path, following each
// page's next link as the API gives it. what names the list for errors.
func listAll[T any](ctx context.Context, c *Client, first, what string) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	for next := first; next != ""; {
		if seen[next] {
			return nil, fmt.Errorf("listing %s on %s: the API's next page is one already read (%s)", what, c.Server(), next)
		}
		seen[next] = true
		var page struct {
			Next    *string `json:"next"`
			Results []T     `json:"results"`
		}
		if err := c.do(ctx, http.MethodGet, next, nil, &page); err != nil {
			return nil, fmt.Errorf("listing %s on %s: %w", what, c.Server(), err)
		}
		out = append(out, page.Results...)
		next = ""
		if page.Next != nil {
			next = *page.Next
		}
	}
	return out, nil
}

// findByNameVersion is the image of the caller's organisation with exactly that
// name and version (the pair is unique), else one published to it; nil when none.
func (c *Client) findByNameVersion(ctx context.Context, name, version string) (*image, error) {
	imgs, err := c.list(ctx, url.Values{"name": {name}, "version": {version}, "limit": {fmt.Sprint(pageSize)}})
	if err != nil {
		return nil, err
	}
	var found *image
	for i := range imgs {
		if img := &imgs[i]; img.Name == name && img.Version == version && (found == nil || img.IsOwnedByClient && !found.IsOwnedByClient) {
			found = img
		}
	}
	return found, nil
}

// changes is the body of a PATCH that makes cur what attrs asks for; empty when it
// is. The password cannot be compared (it is write-only here): it is sent whenever
// attrs holds one.
func changes(cur *image, attrs backend.ImageAttrs) map[string]any {
	body := map[string]any{}
	if attrs.Name != nil && *attrs.Name != cur.Name {
		body["name"] = *attrs.Name
	}
	a := attrs.Air
	if a == nil {
		return body
	}
	str := func(key string, want *string, have string) {
		if want != nil && *want != have {
			body[key] = *want
		}
	}
	str("version", a.Version, cur.Version)
	str("default_username", a.DefaultUsername, cur.DefaultUsername)
	str("cpu_arch", a.CPUArch, cur.CPUArch)
	str("provider", a.Provider, cur.Provider)
	str("emulation_version", a.EmulationVersion, cur.EmulationVersion)
	if a.DefaultPassword != nil {
		body["default_password"] = *a.DefaultPassword
	}
	if a.Mountpoint != nil && *a.Mountpoint != cur.Mountpoint {
		body["mountpoint"] = mountpoint(*a.Mountpoint)
	}
	if a.EmulationType != nil && !slices.Equal(a.EmulationType, cur.EmulationType) {
		body["emulation_type"] = a.EmulationType
	}
	if r := a.MinimumResources; r != nil && (cur.MinimumResources == nil || *cur.MinimumResources != apiResources(*r)) {
		body["minimum_resources"] = apiResources(*r)
	}
	if a.IncludesAirAgent != nil && *a.IncludesAirAgent != cur.IncludesAirAgent {
		body["includes_air_agent"] = *a.IncludesAirAgent
	}
	return body
}

// mountpoint is how a mountpoint is sent: the API's null for none.
func mountpoint(m string) any {
	if m == "" {
		return nil
	}
	return m
}

// UpdateImage changes what attrs sets and the server has otherwise, in one PATCH
// built from a fresh read, and publishes or unpublishes the image when attrs asks
// for the other. An image is unpublished before its fields change and published
// after, so a published image is never changed in place.
func (c *Client) UpdateImage(ctx context.Context, id string, attrs backend.ImageAttrs) error {
	cur, err := c.get(ctx, id)
	if err != nil {
		return err
	}
	_, err = c.update(ctx, cur, attrs, nil)
	return err
}

// update makes cur what attrs asks for, sending the fields of also in the same
// PATCH, and returns the image as it is then.
func (c *Client) update(ctx context.Context, cur *image, attrs backend.ImageAttrs, also map[string]any) (*image, error) {
	var publish *bool
	if a := attrs.Air; a != nil && a.Published != nil && *a.Published != cur.Published {
		publish = a.Published
	}
	if publish != nil && !*publish {
		img, err := c.setPublished(ctx, cur.ID, false)
		if err != nil {
			return nil, err
		}
		cur = img
	}
	body := changes(cur, attrs)
	maps.Copy(body, also)
	if len(body) > 0 {
		var next image
		if err := c.do(ctx, http.MethodPatch, imagePath(cur.ID), body, &next); err != nil {
			return nil, fmt.Errorf("updating image %s (%s): %w", cur.ID, keys(body), err)
		}
		if next.ID == "" {
			// The contract answers the image; read it when an answer did not.
			got, err := c.get(ctx, cur.ID)
			if err != nil {
				return nil, err
			}
			next = *got
		}
		cur = &next
	}
	if publish != nil && *publish {
		return c.setPublished(ctx, cur.ID, true)
	}
	return cur, nil
}

// keys names the fields of a PATCH body, for errors (never the values: one may be
// the password).
func keys(body map[string]any) string {
	ks := make([]string, 0, len(body))
	for k := range body {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

// setPublished publishes or unpublishes an image, waits until it is COMPLETE
// again with published as asked, and returns it then.
func (c *Client) setPublished(ctx context.Context, id string, published bool) (*image, error) {
	action, passing := "publish", statusPublishing
	if !published {
		action, passing = "unpublish", statusUnpublishing
	}
	if err := c.do(ctx, http.MethodPatch, imagePath(id, action), map[string]any{}, nil); err != nil {
		return nil, fmt.Errorf("%s image %s: %w", action, id, err)
	}
	img, err := c.wait(ctx, id, action, passing)
	if err != nil {
		return nil, err
	}
	if img.UploadStatus != statusComplete || img.Published != published {
		return nil, fmt.Errorf("%s image %s: it ended %s with published = %t", action, id, img.UploadStatus, img.Published)
	}
	tflog.Debug(ctx, "air image "+action+"ed", map[string]any{"id": id})
	return img, nil
}

// wait polls an image while its upload status is one of passing, and returns it in
// the status it reached. what names the wait for errors.
func (c *Client) wait(ctx context.Context, id, what string, passing ...string) (*image, error) {
	for pace := backend.NewBackoff(); ; {
		img, err := c.get(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("waiting for image %s to %s: %w", id, what, err)
		}
		if !slices.Contains(passing, img.UploadStatus) {
			return img, nil
		}
		if err := pace.Sleep(ctx); err != nil {
			return nil, fmt.Errorf("waiting for image %s to %s (it is %s): %w", id, what, img.UploadStatus, err)
		}
	}
}

// inUseError is an image the API refuses to delete because a simulation uses it.
type inUseError struct {
	id  string
	err error
}

func (e *inUseError) Error() string {
	return fmt.Sprintf("image %s is in use by a simulation, and NVIDIA Air keeps it while it is: delete or stop using it in those simulations, then destroy again (%v)", e.id, e.err)
}

func (e *inUseError) Unwrap() error { return e.err }

// DeleteImage deletes an image.
func (c *Client) DeleteImage(ctx context.Context, id string) error {
	err := c.do(ctx, http.MethodDelete, imagePath(id), map[string]any{}, nil)
	var apiErr *backend.APIError
	// The API's 400s carry a type: PROTECTED for an image in use, VALIDATION else.
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest && strings.Contains(apiErr.Msg, "type: PROTECTED") {
		return &inUseError{id: id, err: err}
	}
	return err
}
