package air

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// shareActive is the state of a share that can be claimed.
const shareActive = "ACTIVE"

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

// defaultShareLife is how long a share made without an expiry is offered, by
// Air's default.
const defaultShareLife = 24 * time.Hour

// CreateShare offers an image to another organisation until s.ExpiresAt (the API's
// default, 24 hours, when zero). The image must be COMPLETE, unpublished and the
// caller's.
//
// Air makes a new share for every POST, even of the same image to the same
// organisation, and a share has no field a mark could go in. So a share is known by
// what it offers: one of the image to the organisation, ACTIVE, unclaimed and not
// expired, that expires at s.ExpiresAt (to the microsecond Air keeps), or without
// an expiry, one that Air's default made (expiring 24 hours after it was made, to
// within a minute). Such a share is taken instead of making another, both before
// the POST (a run killed before it recorded its share left it) and after a POST
// whose answer was lost (it is the share that POST made). When the lost POST made
// none, it is sent again, up to the retry setting's attempts.
func (c *Client) CreateShare(ctx context.Context, s backend.Share) (*backend.Share, error) {
	if s.ImageID == "" || s.TargetOrg == "" {
		return nil, errors.New("a share needs an image and a target organisation")
	}
	body := map[string]any{"image": s.ImageID, "target_org": s.TargetOrg}
	if !s.ExpiresAt.IsZero() {
		body["expires_at"] = formatTime(s.ExpiresAt)
	}
	what := fmt.Sprintf("sharing image %s with organisation %q", s.ImageID, s.TargetOrg)
	found, err := c.findShare(ctx, s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: looking for a share of it first: %w", what, err)
	case found != nil:
		tflog.Info(ctx, "air: taking the share an interrupted run made", map[string]any{"id": found.ID, "image": s.ImageID, "target_org": s.TargetOrg})
		return found.toBackend(), nil
	}
	for attempt := 1; ; attempt++ {
		var out share
		err := c.send(ctx, "images/shares/", body, &out, what)
		if err == nil && out.ID == "" {
			err = &lostAnswer{fmt.Errorf("%s on %s: the API answered without the share's id", what, c.Server())}
		}
		var lost *lostAnswer
		switch {
		case err == nil && attempt > 1:
			c.dropLate(ctx, s, out.ID)
			return out.toBackend(), nil
		case err == nil:
			return out.toBackend(), nil
		case !errors.As(err, &lost):
			return nil, err
		}
		lctx, cancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			lctx, cancel = backend.AfterInterruption(ctx)
		}
		found, ferr := c.findShare(lctx, s)
		cancel()
		switch {
		case ferr != nil:
			return nil, fmt.Errorf("%w; looking for the share it may have made failed too (%v): if it was made, the next apply takes it, or Air removes it once it expires unclaimed", err, ferr)
		case found != nil:
			tflog.Warn(ctx, "air: the answer to the share's create was lost; the share it made was found", map[string]any{"id": found.ID, "error": err.Error()})
			return found.toBackend(), nil
		case attempt >= c.attempts() || ctx.Err() != nil:
			return nil, err
		}
		tflog.Warn(ctx, "air: the answer to the share's create was lost, and no share was made; sending it again", map[string]any{"error": err.Error()})
		if err := c.pause(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
}

// dropLate deletes the shares like s other than keep that appeared while a POST
// whose answer was lost was sent again: none was there before, so they are that
// POST's, carried out late. Their IDs were never given to anyone.
func (c *Client) dropLate(ctx context.Context, s backend.Share, keep string) {
	shares, err := c.matchingShares(ctx, s)
	if err != nil {
		tflog.Warn(ctx, "air: looking for a share made twice failed", map[string]any{"error": err.Error()})
		return
	}
	for _, sh := range shares {
		if sh.ID == keep {
			continue
		}
		tflog.Warn(ctx, "air: deleting a share the lost POST made late", map[string]any{"id": sh.ID, "kept": keep})
		if err := c.DeleteShare(ctx, sh.ID); err != nil && !errors.Is(err, backend.ErrNotFound) {
			tflog.Warn(ctx, "air: deleting a share made twice failed", map[string]any{"id": sh.ID, "error": err.Error()})
		}
	}
}

// findShare is the share that offers what s asks for (see CreateShare), the latest
// made when there are several; nil when there is none.
func (c *Client) findShare(ctx context.Context, s backend.Share) (*share, error) {
	shares, err := c.matchingShares(ctx, s)
	if err != nil {
		return nil, err
	}
	var found *share
	for i := range shares {
		if sh := &shares[i]; found == nil || sh.Created.After(found.Created.Time) {
			found = sh
		}
	}
	return found, nil
}

// matchingShares are the shares that offer what s asks for (see CreateShare).
func (c *Client) matchingShares(ctx context.Context, s backend.Share) ([]share, error) {
	q := url.Values{"image": {s.ImageID}, "target_org": {s.TargetOrg}, "state": {shareActive}, "limit": {fmt.Sprint(pageSize)}}
	shares, err := listAll[share](ctx, c, "images/shares/?"+q.Encode(), "image shares")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return slices.DeleteFunc(shares, func(sh share) bool {
		switch {
		case sh.Image != s.ImageID || sh.TargetOrg != s.TargetOrg || sh.State != shareActive || sh.ClaimedBy != "" || !sh.ExpiresAt.After(now):
			return true
		case s.ExpiresAt.IsZero():
			return (sh.ExpiresAt.Sub(sh.Created.Time) - defaultShareLife).Abs() > time.Minute
		}
		return !sh.ExpiresAt.Equal(s.ExpiresAt.Truncate(time.Microsecond))
	}), nil
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
