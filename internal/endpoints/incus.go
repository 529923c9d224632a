package endpoints

import (
	"context"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
)

func init() {
	Register(backend.KindIncus, connectIncus)
	Register(backend.KindLXD, connectIncus)
}

// connectIncus connects an Incus or LXD server: one client holds every store.
func connectIncus(ctx context.Context, cfg Config) (*Endpoint, error) {
	c, err := incus.New(*cfg.Incus)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return &Endpoint{Name: cfg.Name, Kind: cfg.Kind, Server: c.Server(), Images: c, Aliases: c, Exporter: c, Instances: c}, nil
}
