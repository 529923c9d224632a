// Package importtest runs a resource's import without Terraform, for the fuzz
// targets of the import-ID parsers.
package importtest

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
)

// Registry is the registry of cfgs whose default endpoint is def; a registry that
// cannot be made stops the test.
func Registry(tb testing.TB, def string, cfgs []endpoints.Config) *endpoints.Registry {
	tb.Helper()
	reg, err := endpoints.NewRegistry(def, cfgs)
	if err != nil {
		tb.Fatal(err)
	}
	return reg
}

// Importer imports an ID into r as Terraform's import does: from an empty state of
// r's schema.
func Importer(r resource.ResourceWithImportState) func(id string) *resource.ImportStateResponse {
	ctx := context.Background()
	var sch resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sch)
	return func(id string) *resource.ImportStateResponse {
		resp := &resource.ImportStateResponse{State: tfsdk.State{Schema: sch.Schema, Raw: tftypes.NewValue(sch.Schema.Type().TerraformType(ctx), nil)}}
		r.ImportState(ctx, resource.ImportStateRequest{ID: id}, resp)
		return resp
	}
}
