package incus

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

func (a apiAlias) toBackend() *backend.Alias {
	return &backend.Alias{Name: a.Name, Description: a.Description, Target: a.Target, Type: a.Type}
}

// GetAlias reads one alias.
func (c *Client) GetAlias(ctx context.Context, name string) (*backend.Alias, error) {
	var a apiAlias
	if err := c.get(ctx, "/1.0/images/aliases/"+url.PathEscape(name), &a); err != nil {
		return nil, err
	}
	return a.toBackend(), nil
}

// ListAliases lists every alias of the endpoint's project.
func (c *Client) ListAliases(ctx context.Context) ([]backend.Alias, error) {
	var as []apiAlias
	if err := c.get(ctx, "/1.0/images/aliases?recursion=1", &as); err != nil {
		return nil, err
	}
	out := make([]backend.Alias, 0, len(as))
	for _, a := range as {
		out = append(out, *a.toBackend())
	}
	return out, nil
}

// CreateAlias adds an alias; ErrConflict when the name is taken.
//
// When the answer is lost, or a gateway answers in the server's place, or the name
// is taken (a repeat of this request found the first one's alias), the alias the
// server holds decides: one that points at the same image with the same description
// is the alias asked for, whoever made it, and is taken as made. No mark is needed,
// unlike images and instances: the name is an alias's whole identity on its server,
// and an alias holds nothing but its target and description, so an alias of that
// name that is alike is the very object this create would have made; one that
// differs is someone else's, and the name is taken.
func (c *Client) CreateAlias(ctx context.Context, a backend.Alias) error {
	_, err := c.do(ctx, http.MethodPost, "/1.0/images/aliases", apiAlias{Name: a.Name, Description: a.Description, Target: a.Target}, nil)
	var api *backend.APIError
	if _, gateway := fromGateway(err); err == nil || ctx.Err() != nil || (errors.As(err, &api) && !gateway && !errors.Is(err, backend.ErrConflict)) {
		return err
	}
	cur, gerr := c.GetAlias(ctx, a.Name)
	if gerr == nil && cur.Description == a.Description && sameTarget(cur.Target, a.Target) {
		return nil
	}
	return err
}

// sameTarget reports whether an alias's target (a full fingerprint) is the image that
// target (a fingerprint or a unique prefix of one, as the create took it) names.
func sameTarget(got, target string) bool {
	return target != "" && strings.HasPrefix(got, target)
}

// UpdateAlias points an existing alias at a.Target with a.Description.
func (c *Client) UpdateAlias(ctx context.Context, a backend.Alias) error {
	_, err := c.do(ctx, http.MethodPut, "/1.0/images/aliases/"+url.PathEscape(a.Name),
		map[string]string{"description": a.Description, "target": a.Target}, nil)
	return err
}

// DeleteAlias removes an alias.
func (c *Client) DeleteAlias(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/1.0/images/aliases/"+url.PathEscape(name), nil, nil)
	return err
}
