package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

func toMember(m *members.Member) *backend.Member {
	return &backend.Member{ImageID: m.ImageID, MemberID: m.MemberID, Status: m.Status}
}

// forbidden reports whether err is a 403 from Glance.
func forbidden(err error) bool {
	var apiErr *backend.APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden
}

// AddMember shares an image with a project; the membership starts pending, until
// the project accepts it. A membership is one per image and project: when the
// answer to its creation is lost, or Glance says it exists (its answer was lost
// before), the membership is read and taken as made.
func (c *Client) AddMember(ctx context.Context, imageID, memberID string) (*backend.Member, error) {
	m, err := members.Create(ctx, c.image, imageID, memberID).Extract()
	if err == nil {
		return toMember(m), nil
	}
	err = c.fail(ctx, err)
	var apiErr *backend.APIError
	if ctx.Err() == nil && (backend.MaybeDone(err) || errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict) {
		if got, gerr := c.GetMember(ctx, imageID, memberID); gerr == nil {
			return got, nil
		}
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
			if m, rerr := members.Create(ctx, c.image, imageID, memberID).Extract(); rerr == nil {
				return toMember(m), nil
			}
		}
	}
	if forbidden(err) {
		// Glance answers a non-shared image's owner with the same 403 as anyone
		// else: the image says which it is.
		if img, gerr := c.get(ctx, imageID); gerr == nil && img.Visibility != "shared" {
			return nil, fmt.Errorf("adding project %s as a member of image %s: the image's visibility is %q, and only an image whose visibility is \"shared\" has members (%w)",
				memberID, imageID, img.Visibility, err)
		}
		return nil, fmt.Errorf("adding project %s as a member of image %s: only the project that owns the image (or an admin) adds members (%w)", memberID, imageID, err)
	}
	return nil, fmt.Errorf("adding project %s as a member of image %s: %w", memberID, imageID, err)
}

// GetMember reads one membership.
func (c *Client) GetMember(ctx context.Context, imageID, memberID string) (*backend.Member, error) {
	m, err := members.Get(ctx, c.image, imageID, memberID).Extract()
	if err != nil {
		return nil, fmt.Errorf("reading member %s of image %s: %w", memberID, imageID, c.fail(ctx, err))
	}
	return toMember(m), nil
}

// UpdateMember sets a membership's status (pending, accepted, rejected), which is
// the member project's to decide.
func (c *Client) UpdateMember(ctx context.Context, imageID, memberID, status string) (*backend.Member, error) {
	m, err := members.Update(ctx, c.image, imageID, memberID, members.UpdateOpts{Status: status}).Extract()
	if err == nil {
		return toMember(m), nil
	}
	err = c.fail(ctx, err)
	if forbidden(err) && c.project != memberID {
		return nil, fmt.Errorf("setting the status of member %s of image %s to %s: only the member project (or an admin) may set it, and this client is project %s (%w)",
			memberID, imageID, status, c.project, err)
	}
	return nil, fmt.Errorf("setting the status of member %s of image %s to %s: %w", memberID, imageID, status, err)
}

// RemoveMember stops sharing an image with a project.
func (c *Client) RemoveMember(ctx context.Context, imageID, memberID string) error {
	if err := members.Delete(ctx, c.image, imageID, memberID).ExtractErr(); err != nil {
		return fmt.Errorf("removing member %s of image %s: %w", memberID, imageID, c.fail(ctx, err))
	}
	return nil
}
