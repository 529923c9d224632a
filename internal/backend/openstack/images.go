package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// SHA256Property is the image property the provider records the sha256 of the
// content it uploaded in, once Glance's own digests of it are verified: Glance
// computes md5 and its os_hash_algo (sha512 by default), never sha256, which is the
// digest the provider's other backends and its file state use.
const SHA256Property = "imagefleet_sha256"

// CreationProperty holds a backend.Creation's mark while the provider creates the
// image; finishCreate removes it.
const CreationProperty = "imagefleet_creation"

// coreFields are the keys of a Glance image that are not properties: its own
// fields, what the API shows beside them, and the keys Glance reserves.
var coreFields = map[string]bool{
	"id": true, "name": true, "status": true, "visibility": true, "protected": true, "os_hidden": true,
	"owner": true, "size": true, "virtual_size": true, "checksum": true, "os_hash_algo": true, "os_hash_value": true,
	"container_format": true, "disk_format": true, "min_disk": true, "min_ram": true, "tags": true,
	"created_at": true, "updated_at": true, "self": true, "file": true, "schema": true,
	"direct_url": true, "locations": true, "location": true, "stores": true, "deleted": true, "deleted_at": true,
}

// ReservedProperty reports whether key is not a user property of a Glance image: a
// core field, a key in Glance's own os_glance namespace (os_glance_import_task,
// os_glance_importing_to_stores, os_glance_failed_import, os_glance_stage_host, ...,
// which imports set and clear), or the provider's SHA256Property and
// CreationProperty. Such keys are neither set by users nor drift. Glance 25's import plugins add no fixed key of
// their own beyond these: image_conversion changes disk_format and virtual_size,
// and inject_image_metadata adds whatever keys the operator configured, which
// cannot be told from a user's.
func ReservedProperty(key string) bool {
	return coreFields[key] || strings.HasPrefix(key, "os_glance") || key == SHA256Property || key == CreationProperty
}

// Statuses the provider acts on.
const (
	statusQueued        = "queued"
	statusActive        = "active"
	statusKilled        = "killed"
	statusDeactivated   = "deactivated"
	statusDeleted       = "deleted"
	statusPendingDelete = "pending_delete"
)

// toBackend converts a Glance image. A killed image (its upload failed) is reported
// as it is, not as gone: it exists until deleted, and a resource that holds it must
// replace it.
func toBackend(img *images.Image) *backend.Image {
	str := func(k string) string {
		s, _ := img.Properties[k].(string)
		return s
	}
	out := &backend.Image{
		ID: img.ID, Name: img.Name, Size: img.SizeBytes, Status: string(img.Status),
		Public: img.Visibility == images.ImageVisibilityPublic, CreatedAt: img.CreatedAt,
		Architecture: str("architecture"), SHA256: str(SHA256Property),
		Properties: map[string]string{},
	}
	for k, v := range img.Properties {
		if s, ok := v.(string); ok && !ReservedProperty(k) {
			out.Properties[k] = s
		}
	}
	tags := append([]string{}, img.Tags...)
	sort.Strings(tags)
	out.OpenStack = &backend.OpenStackImage{
		DiskFormat: img.DiskFormat, ContainerFormat: img.ContainerFormat, Visibility: string(img.Visibility),
		Protected: img.Protected, Hidden: img.Hidden, MinDiskGB: int64(img.MinDiskGigabytes), MinRAMMB: int64(img.MinRAMMegabytes),
		Tags: tags, Owner: img.Owner, Checksum: img.Checksum, OSHashAlgo: str("os_hash_algo"), OSHashValue: str("os_hash_value"),
	}
	return out
}

// get reads an image; an image deleted (or waiting to be, with delayed_delete) is
// not found.
func (c *Client) get(ctx context.Context, id string) (*images.Image, error) {
	img, err := images.Get(ctx, c.image, id).Extract()
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	if s := string(img.Status); s == statusDeleted || s == statusPendingDelete {
		return nil, fmt.Errorf("image %s is %s: %w", id, s, backend.ErrNotFound)
	}
	return img, nil
}

// GetImage reads an image by ID.
func (c *Client) GetImage(ctx context.Context, id string) (*backend.Image, error) {
	img, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return toBackend(img), nil
}

// pageSize is how many images one listing request asks for (a variable so tests can
// make listings take several pages).
var pageSize = 200

// listQuery is a Glance listing's query string.
type listQuery url.Values

func (q listQuery) ToImageListQuery() (string, error) { return "?" + url.Values(q).Encode(), nil }

// listParams are the query parameters Glance's listing reads itself; a property
// with one of these names (or ending in _min or _max) cannot be filtered on.
var listParams = map[string]bool{
	"limit": true, "marker": true, "sort": true, "sort_key": true, "sort_dir": true, "member_status": true,
	"tag": true, "changes-since": true,
}

// ListImages lists the images the filter matches, filtering on the server what
// Glance can filter (names and statuses exactly, with the eq: operator, so a colon in
// them is not read as one); callers check the results again.
func (c *Client) ListImages(ctx context.Context, f backend.ImageFilter) ([]backend.Image, error) {
	q := url.Values{"limit": {fmt.Sprint(pageSize)}}
	if f.Name != "" {
		q.Set("name", "eq:"+f.Name)
	}
	for _, t := range f.Tags {
		q.Add("tag", t)
	}
	for k, v := range map[string]string{"visibility": f.Visibility, "member_status": f.MemberStatus, "owner": f.Owner} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Status != "" {
		q.Set("status", "eq:"+f.Status)
	}
	for k, v := range f.Properties {
		if !ReservedProperty(k) && !listParams[k] && !strings.HasSuffix(k, "_min") && !strings.HasSuffix(k, "_max") {
			q.Set(k, v)
		}
	}
	imgs, err := c.rawList(ctx, q, f.Hidden)
	if err != nil {
		return nil, err
	}
	out := make([]backend.Image, 0, len(imgs))
	for i := range imgs {
		out = append(out, *toBackend(&imgs[i]))
	}
	return out, nil
}

// rawList reads every page of a listing as Glance has the images. hidden is
// os_hidden's filter: "" for Glance's default (not hidden), "true", "false", or
// "either", which os_hidden does not take: both lists make it.
func (c *Client) rawList(ctx context.Context, q url.Values, hidden string) ([]images.Image, error) {
	var values []string
	switch hidden {
	case "":
		values = []string{""}
	case "either":
		values = []string{"false", "true"}
	default:
		values = []string{hidden}
	}
	var out []images.Image
	seen := map[string]bool{}
	for _, h := range values {
		if h != "" {
			q.Set("os_hidden", h)
		}
		pages, err := images.List(c.image, listQuery(q)).AllPages(ctx)
		if err != nil {
			return nil, c.fail(ctx, err)
		}
		imgs, err := images.ExtractImages(pages)
		if err != nil {
			return nil, fmt.Errorf("reading the image list of %s: %w", c.Server(), err)
		}
		for _, img := range imgs {
			if !seen[img.ID] {
				seen[img.ID] = true
				out = append(out, img)
			}
		}
	}
	return out, nil
}

// patchOp is one JSON-patch operation on an image, its path escaped as a JSON
// pointer (a property name may hold "/" or "~").
type patchOp struct {
	op    string
	key   string
	value any
}

func (p patchOp) ToImagePatchMap() map[string]any {
	m := map[string]any{"op": p.op, "path": "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(p.key)}
	if p.op != "remove" {
		m["value"] = p.value
	}
	return m
}

// checkProperties refuses keys that are not user properties.
func checkProperties(props map[string]string) error {
	var bad []string
	for k := range props {
		if ReservedProperty(k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("properties %s are Glance's own fields or keys it reserves (or the provider's %s), not user properties: they are set through their own fields", strings.Join(bad, ", "), SHA256Property)
}

// patch lists the operations that make cur what attrs asks for; nothing when it is.
func patch(cur *images.Image, attrs backend.ImageAttrs) ([]images.Patch, error) {
	var ops []images.Patch
	replace := func(key string, value any) { ops = append(ops, patchOp{op: "replace", key: key, value: value}) }
	if attrs.Name != nil && *attrs.Name != cur.Name {
		replace("name", *attrs.Name)
	}
	if attrs.Properties != nil {
		if err := checkProperties(attrs.Properties); err != nil {
			return nil, err
		}
		have := toBackend(cur).Properties
		keys := make([]string, 0, len(have)+len(attrs.Properties))
		for k := range have {
			keys = append(keys, k)
		}
		for k := range attrs.Properties {
			if _, ok := have[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			want, keep := attrs.Properties[k]
			switch got, ok := have[k]; {
			case !keep:
				ops = append(ops, patchOp{op: "remove", key: k})
			case !ok || got != want:
				// JSON-patch's add replaces a member that exists.
				ops = append(ops, patchOp{op: "add", key: k, value: want})
			}
		}
	}
	o := attrs.OpenStack
	if o == nil {
		return ops, nil
	}
	if o.Visibility != nil && *o.Visibility != string(cur.Visibility) {
		replace("visibility", *o.Visibility)
	}
	if o.Protected != nil && *o.Protected != cur.Protected {
		replace("protected", *o.Protected)
	}
	if o.Hidden != nil && *o.Hidden != cur.Hidden {
		replace("os_hidden", *o.Hidden)
	}
	if o.MinDiskGB != nil && *o.MinDiskGB != int64(cur.MinDiskGigabytes) {
		replace("min_disk", *o.MinDiskGB)
	}
	if o.MinRAMMB != nil && *o.MinRAMMB != int64(cur.MinRAMMegabytes) {
		replace("min_ram", *o.MinRAMMB)
	}
	if o.Tags != nil && !sameSet(o.Tags, cur.Tags) {
		replace("tags", dedupe(o.Tags))
	}
	return ops, nil
}

func sameSet(a, b []string) bool {
	a, b = dedupe(a), dedupe(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// dedupe is the set of s, sorted: Glance keeps tags as a set.
func dedupe(s []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// UpdateImage changes what attrs sets, in one JSON-patch request built from a fresh
// read, then deactivates or reactivates the image when attrs asks for the other.
func (c *Client) UpdateImage(ctx context.Context, id string, attrs backend.ImageAttrs) error {
	cur, err := c.get(ctx, id)
	if err != nil {
		return err
	}
	return c.update(ctx, cur, attrs)
}

func (c *Client) update(ctx context.Context, cur *images.Image, attrs backend.ImageAttrs) error {
	if _, err := c.patchImage(ctx, cur, "updating image", func(cur *images.Image) ([]images.Patch, error) { return patch(cur, attrs) }); err != nil {
		return err
	}
	if o := attrs.OpenStack; o != nil && o.Deactivated != nil {
		return c.setDeactivated(ctx, cur.ID, string(cur.Status), *o.Deactivated)
	}
	return nil
}

// patchImage sends the JSON patch that ops builds from cur, and returns the image
// as Glance answers it (cur when there was nothing to do). A JSON patch is not safe
// to send twice (a "remove" of a key already gone fails), so when the answer is lost
// (a gateway's 5xx, the connection lost) the image is read again and what is still
// to do is sent.
func (c *Client) patchImage(ctx context.Context, cur *images.Image, what string, ops func(*images.Image) ([]images.Patch, error)) (*images.Image, error) {
	for attempt := 1; ; attempt++ {
		todo, err := ops(cur)
		if err != nil || len(todo) == 0 {
			return cur, err
		}
		next, err := images.Update(ctx, c.image, cur.ID, images.UpdateOpts(todo)).Extract()
		if err == nil {
			return next, nil
		}
		err = fmt.Errorf("%s %s: %w", what, cur.ID, c.fail(ctx, err))
		if ctx.Err() != nil || !backend.MaybeDone(err) || attempt >= c.attempts() {
			return nil, err
		}
		tflog.Info(ctx, "the answer to an image's patch was lost; reading the image again", map[string]any{"id": cur.ID, "error": err.Error()})
		if cur, err = c.get(ctx, cur.ID); err != nil {
			return nil, err
		}
	}
}

// setDeactivated deactivates or reactivates an image whose status is status.
func (c *Client) setDeactivated(ctx context.Context, id, status string, deactivated bool) error {
	action := ""
	switch {
	case deactivated && status == statusActive:
		action = "deactivate"
	case deactivated && status != statusDeactivated:
		return fmt.Errorf("image %s is %s: only an active image can be deactivated", id, status)
	case !deactivated && status == statusDeactivated:
		action = "reactivate"
	default:
		return nil
	}
	_, err := c.image.Post(ctx, c.image.ServiceURL("images", id, "actions", action), nil, nil, &gophercloud.RequestOpts{OkCodes: []int{http.StatusNoContent}})
	err = c.fail(ctx, err)
	var apiErr *backend.APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden && strings.Contains(apiErr.Msg, "not authorized") {
		return fmt.Errorf("image %s: Glance's policy rule %q does not let project %s %s images; an operator must allow it in Glance's policy (%w)", id, action, c.project, action, err)
	}
	if err != nil {
		return fmt.Errorf("image %s: %s: %w", id, action, err)
	}
	return nil
}

// protectedError says which image is protected; it is backend.ErrProtected.
type protectedError struct{ id, msg string }

func (e *protectedError) Error() string {
	return fmt.Sprintf("image %s is protected: it must be unprotected before it is deleted (Glance says: %s)", e.id, e.msg)
}

func (e *protectedError) Is(target error) bool { return target == backend.ErrProtected }

// DeleteImage deletes an image and waits until Glance no longer shows it.
func (c *Client) DeleteImage(ctx context.Context, id string) error {
	err := c.fail(ctx, images.Delete(ctx, c.image, id).ExtractErr())
	var apiErr *backend.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden && strings.Contains(apiErr.Msg, "protected"):
		return &protectedError{id: id, msg: apiErr.Msg}
	case err != nil:
		return err
	}
	return c.waitGone(ctx, id)
}

// waitGone polls until the image is not found.
func (c *Client) waitGone(ctx context.Context, id string) error {
	for wait := backend.NewBackoff(); ; {
		_, err := c.get(ctx, id)
		switch {
		case errors.Is(err, backend.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		if err := wait.Sleep(ctx); err != nil {
			return fmt.Errorf("waiting for image %s to be deleted: %w", id, err)
		}
	}
}

// ExportImage streams an image's data out of Glance.
func (c *Client) ExportImage(ctx context.Context, id string) (*backend.ImageExport, error) {
	img, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if string(img.Status) != statusActive {
		return nil, fmt.Errorf("image %s is %s: only an active image's data can be read", id, img.Status)
	}
	body, err := imagedata.Download(ctx, c.image, id).Extract()
	if err != nil {
		return nil, fmt.Errorf("downloading image %s: %w", id, c.fail(ctx, err))
	}
	b := toBackend(img)
	return &backend.ImageExport{
		Content: backend.ImageContent{
			Disk: body, DiskFormat: img.DiskFormat, Size: img.SizeBytes,
			Architecture: b.Architecture, CreatedAt: img.CreatedAt, SHA256: b.SHA256,
		},
		Close: body.Close,
	}, nil
}
