package incus

import (
	"context"
	"net/http"
	"net/url"

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
func (c *Client) CreateAlias(ctx context.Context, a backend.Alias) error {
	_, err := c.do(ctx, http.MethodPost, "/1.0/images/aliases", apiAlias{Name: a.Name, Description: a.Description, Target: a.Target}, nil)
	return err
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
