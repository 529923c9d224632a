package tfendpoints

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
)

func TestRegistry(t *testing.T) {
	if reg, diags := Registry(nil); reg != nil || diags.HasError() {
		t.Errorf("nil provider data: got %v, %v; want no registry and no error", reg, diags)
	}
	want, err := endpoints.NewRegistry("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if reg, diags := Registry(want); reg != want || diags.HasError() {
		t.Errorf("registry: got %v, %v", reg, diags)
	}
	_, diags := Registry("not a registry")
	if !diags.HasError() || diags[0].Summary() != "Unexpected provider data" || !strings.Contains(diags[0].Detail(), "bug in the provider") {
		t.Errorf("wrong provider data: got %v", diags)
	}
}

func TestConnectDiag(t *testing.T) {
	cancelled := fmt.Errorf("connecting to endpoint %q: %w: %w", "lab", backend.ErrCancelled, context.Canceled)
	d := ConnectDiag("create instance", cancelled)
	if d.Summary() != "Could not create instance" || !strings.Contains(d.Detail(), `endpoint "lab"`) || !strings.Contains(d.Detail(), backend.Advice(cancelled)) {
		t.Errorf("got %q: %q", d.Summary(), d.Detail())
	}
}
