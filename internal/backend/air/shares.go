package air

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// share is an image share as the API returns it.
type share struct {
	ID           string  `json:"id"`
	Created      apiTime `json:"created"`
	Image        string  `json:"image"`
	ImageName    string  `json:"image_name"`
	ImageVersion string  `json:"image_version"`
	TargetOrg    string  `json:"target_org"`
	ExpiresAt    apiTime `json:"expires_at"`
	ClaimedBy    string  `json:"claimed_by"`
	State        string  `json:"state"`
}

func (s *share) toBackend() *backend.Share {
	return &backend.Share{
		ID: s.ID, ImageID: s.Image, TargetOrg: s.TargetOrg, ExpiresAt: s.ExpiresAt.Time, State: s.State,
		ClaimedBy: s.ClaimedBy, ImageName: s.ImageName, ImageVersion: s.ImageVersion, CreatedAt: s.Created.Time,
	}
}

func sharePath(id string) string { return "images/shares/" + url.PathEscape(id) + "/" }

// CreateShare offers an image to another organisation until s.ExpiresAt (the API's
// default, 24 hours, when zero). The image must be COMPLETE, unpublished and the
// caller's.
func (c *Client) CreateShare(ctx context.Context, s backend.Share) (*backend.Share, error) {
	if s.ImageID == "" || s.TargetOrg == "" {
		return nil, errors.New("a share needs an image and a target organisation")
	}
	body := map[string]any{"image": s.ImageID, "target_org": s.TargetOrg}
	if !s.ExpiresAt.IsZero() {
		body["expires_at"] = formatTime(s.ExpiresAt)
	}
	var out share
	if err := c.do(ctx, http.MethodPost, "images/shares/", body, &out); err != nil {
		return nil, fmt.Errorf("sharing image %s with organisation %q: %w", s.ImageID, s.TargetOrg, err)
	}
	if out.ID == "" {
		return nil, fmt.Errorf("sharing image %s on %s: the API answered without the share's id", s.ImageID, c.Server())
	}
	return out.toBackend(), nil
}

// GetShare reads a share; the organisation that offers it and the one it is
// offered to can both read it.
func (c *Client) GetShare(ctx context.Context, id string) (*backend.Share, error) {
	var out share
	if err := c.do(ctx, http.MethodGet, sharePath(id), nil, &out); err != nil {
		return nil, err
	}
	return out.toBackend(), nil
}

// DeleteShare withdraws a share. An image claimed from it is not affected.
func (c *Client) DeleteShare(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, sharePath(id), map[string]any{}, nil)
}
