package provider

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
)

// providerConfig builds a provider block of the provider's own schema: attrs are the
// top-level values set, the rest null.
type providerConfig struct {
	schema provider.SchemaResponse
	typ    tftypes.Object
}

func newProviderConfig(t *testing.T) providerConfig {
	t.Helper()
	var c providerConfig
	(&imagefleetProvider{}).Schema(context.Background(), provider.SchemaRequest{}, &c.schema)
	typ, ok := c.schema.Schema.Type().TerraformType(context.Background()).(tftypes.Object)
	if !ok {
		t.Fatal("the provider schema is not an object type")
	}
	c.typ = typ
	return c
}

// object fills the attributes of typ that vals leaves out with nulls.
func object(typ tftypes.Type, vals map[string]tftypes.Value) tftypes.Value {
	o, _ := typ.(tftypes.Object)
	all := map[string]tftypes.Value{}
	for name, at := range o.AttributeTypes {
		all[name] = tftypes.NewValue(at, nil)
		if v, ok := vals[name]; ok {
			all[name] = v
		}
	}
	return tftypes.NewValue(o, all)
}

// endpointType is the object type of one endpoint (the schema is known, so the
// assertions hold; a zero type would fail the tests that use it).
func (c providerConfig) endpointType() tftypes.Object {
	m, _ := c.typ.AttributeTypes["endpoints"].(tftypes.Map)
	et, _ := m.ElementType.(tftypes.Object)
	return et
}

// endpoint is one endpoint of kind with the given backend settings.
func (c providerConfig) endpoint(kind string, settings map[string]tftypes.Value) tftypes.Value {
	et := c.endpointType()
	return object(et, map[string]tftypes.Value{kind: object(et.AttributeTypes[kind], settings)})
}

func (c providerConfig) endpoints(eps map[string]tftypes.Value) tftypes.Value {
	return tftypes.NewValue(c.typ.AttributeTypes["endpoints"], eps)
}

func (c providerConfig) configure(t *testing.T, top map[string]tftypes.Value) (*endpoints.Registry, diag.Diagnostics) {
	t.Helper()
	cfg := tfsdk.Config{Raw: object(c.typ, top), Schema: c.schema.Schema}
	p := &imagefleetProvider{}
	var vresp provider.ValidateConfigResponse
	p.ValidateConfig(context.Background(), provider.ValidateConfigRequest{Config: cfg}, &vresp)
	if vresp.Diagnostics.HasError() {
		t.Fatalf("validation of a configuration with unknowns failed: %v", vresp.Diagnostics)
	}
	var resp provider.ConfigureResponse
	p.Configure(context.Background(), provider.ConfigureRequest{Config: cfg}, &resp)
	if resp.Diagnostics.HasError() {
		return nil, resp.Diagnostics
	}
	reg, err := endpoints.From(resp.ResourceData)
	if err != nil {
		t.Fatal(err)
	}
	return reg, resp.Diagnostics
}

var unknown = tftypes.NewValue(tftypes.String, tftypes.UnknownValue)

// Endpoint settings not known at plan time are never read as empty: the endpoint
// resolves, but using it fails naming the settings, without contacting anything.
func TestConfigureUnknownEndpointSettings(t *testing.T) {
	c := newProviderConfig(t)
	tests := map[string]struct {
		top  map[string]tftypes.Value
		name string
		kind backend.Kind
		want []string
	}{
		"project": {
			top: map[string]tftypes.Value{"endpoints": c.endpoints(map[string]tftypes.Value{
				"lab":   c.endpoint("incus", map[string]tftypes.Value{"project": unknown}),
				"local": c.endpoint("lxd", nil),
			}), "default_endpoint": tftypes.NewValue(tftypes.String, "local")},
			name: "lab", kind: backend.KindIncus, want: []string{`endpoints["lab"].incus.project`},
		},
		"address and certificates": {
			top: map[string]tftypes.Value{"endpoints": c.endpoints(map[string]tftypes.Value{
				"far": c.endpoint("lxd", map[string]tftypes.Value{"address": unknown, "client_cert": unknown, "client_key": unknown,
					"server_cert": unknown, "trust_token": unknown}),
			})},
			name: "", kind: backend.KindLXD,
			want: []string{`endpoints["far"].lxd.address`, `endpoints["far"].lxd.client_cert`, `endpoints["far"].lxd.client_key`,
				`endpoints["far"].lxd.server_cert`, `endpoints["far"].lxd.trust_token`},
		},
		"retry applies to every endpoint": {
			top: map[string]tftypes.Value{"retry": object(c.typ.AttributeTypes["retry"], map[string]tftypes.Value{
				"max_attempts": tftypes.NewValue(tftypes.Number, tftypes.UnknownValue),
			})},
			name: "local", kind: backend.KindIncus, want: []string{`retry.max_attempts`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reg, diags := c.configure(t, tc.top)
			if diags.HasError() {
				t.Fatalf("configure: %v", diags)
			}
			got, kind, err := reg.Resolve(tc.name)
			if err != nil || kind != tc.kind {
				t.Fatalf("resolve: %s %s %v", got, kind, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // nothing may be contacted
			_, err = reg.Get(ctx, tc.name)
			var uerr *endpoints.UnknownConfigError
			if !errors.As(err, &uerr) || strings.Join(uerr.Settings, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("Get: %v, want an UnknownConfigError naming %v", err, tc.want)
			}
			for _, part := range []string{`endpoint "` + got + `"`, "known only after apply", "-target"} {
				if !strings.Contains(err.Error(), part) {
					t.Fatalf("%q does not say %q", err, part)
				}
			}
		})
	}
}

// What names the endpoints and their types must be known at plan time.
func TestConfigureUnknownEndpoints(t *testing.T) {
	c := newProviderConfig(t)
	tests := map[string]struct {
		top      map[string]tftypes.Value
		wantPath string
	}{
		"endpoints map": {map[string]tftypes.Value{"endpoints": tftypes.NewValue(c.typ.AttributeTypes["endpoints"], tftypes.UnknownValue)}, "endpoints"},
		"default_endpoint": {map[string]tftypes.Value{"default_endpoint": unknown, "endpoints": c.endpoints(map[string]tftypes.Value{
			"a": c.endpoint("incus", nil), "b": c.endpoint("lxd", nil)})}, "default_endpoint"},
		"one endpoint": {map[string]tftypes.Value{"endpoints": c.endpoints(map[string]tftypes.Value{
			"a": tftypes.NewValue(c.endpointType(), tftypes.UnknownValue)})}, `endpoints["a"]`},
		"backend block": {map[string]tftypes.Value{"endpoints": c.endpoints(map[string]tftypes.Value{
			"a": object(c.endpointType(), map[string]tftypes.Value{"incus": tftypes.NewValue(c.endpointType().AttributeTypes["incus"], tftypes.UnknownValue)})})}, `endpoints["a"]`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := c.configure(t, tc.top)
			if !diags.HasError() {
				t.Fatal("configured with unknown endpoints")
			}
			d := diags.Errors()[0]
			if d.Summary() != "Provider configuration not known at plan time" || !strings.HasPrefix(d.Detail(), tc.wantPath+" in the provider block is known only after apply") {
				t.Fatalf("diagnostic %q: %q", d.Summary(), d.Detail())
			}
		})
	}
}
