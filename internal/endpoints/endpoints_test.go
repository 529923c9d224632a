package endpoints

import (
	"context"
	"errors"
	"testing"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
)

func TestResolveAndRequire(t *testing.T) {
	reg, err := NewRegistry("local", []Config{
		{Name: "local", Kind: backend.KindIncus, Settings: &incus.Config{Kind: backend.KindIncus}},
		{Name: "cloud", Kind: backend.KindOpenStack},
	})
	if err != nil {
		t.Fatal(err)
	}
	if name, kind, err := reg.Resolve(""); err != nil || name != "local" || kind != backend.KindIncus {
		t.Fatalf("default: %s %s %v", name, kind, err)
	}
	if _, _, err := reg.Resolve("nope"); err == nil || err.Error() != `endpoint "nope" is not configured in the provider's endpoints (configured: cloud, local): name one of these, or add "nope" to the provider's endpoints` {
		t.Fatalf("unknown endpoint: %v", err)
	}
	_, _, err = reg.Require("cloud", backend.CapImageAliases)
	if err == nil || err.Error() != `endpoint "cloud" is of type openstack, which does not support image aliases; use an endpoint of type incus or lxd` {
		t.Fatalf("capability: %v", err)
	}
	_, _, err = reg.Require("cloud", backend.CapInstances)
	if err == nil || err.Error() != `endpoint "cloud" is of type openstack, which does not support instances; use an endpoint of type incus or lxd` {
		t.Fatalf("instances: %v", err)
	}
	if _, _, err := reg.Require("cloud", backend.CapImages); err != nil {
		t.Fatalf("openstack holds images: %v", err)
	}
	if !reg.Same("", "local") || reg.Same("", "cloud") || !reg.IsDefault("local") {
		t.Fatal("Same/IsDefault do not treat empty as the default")
	}
}

func TestDefaults(t *testing.T) {
	if _, err := NewRegistry("missing", nil); err == nil {
		t.Fatal("a default_endpoint that is not configured was accepted")
	}
	one, err := NewRegistry("", []Config{{Name: "only", Kind: backend.KindLXD, Settings: &incus.Config{Kind: backend.KindLXD}}})
	if err != nil {
		t.Fatal(err)
	}
	if name, _, err := one.Resolve(""); err != nil || name != "only" {
		t.Fatalf("a single endpoint is the default: %s %v", name, err)
	}
	two, _ := NewRegistry("", []Config{{Name: "a", Kind: backend.KindIncus}, {Name: "b", Kind: backend.KindIncus}})
	if _, _, err := two.Resolve(""); err == nil {
		t.Fatal("no default among two endpoints was accepted")
	}
}

// A failed connection is remembered for the run, so a down endpoint costs its
// timeout once, not once per object.
func TestConnectFailureIsCached(t *testing.T) {
	reg, _ := NewRegistry("down", []Config{{Name: "down", Kind: backend.KindIncus,
		Settings: &incus.Config{Kind: backend.KindIncus, Address: "unix:///nonexistent/imagefleet.socket"}}})
	_, err1 := reg.Get(context.Background(), "")
	_, err2 := reg.Get(context.Background(), "down")
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("errors: %v / %v", err1, err2)
	}
	if !errors.Is(err1, backend.ErrUnreachable) {
		t.Fatalf("error %v is not ErrUnreachable", err1)
	}
}
