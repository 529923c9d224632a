// Package tfendpoints is what every resource and data source repeats to use the
// provider's endpoints: the registry taken from the provider data, and the
// diagnostics for an endpoint that cannot be used or reached. One place, so each
// says the same thing the same way.
package tfendpoints

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
)

// Registry recovers the endpoint registry from a Configure request's provider data.
// It is nil, without error, before the provider is configured.
func Registry(providerData any) (*endpoints.Registry, diag.Diagnostics) {
	reg, err := endpoints.From(providerData)
	if err != nil {
		return nil, diag.Diagnostics{diag.NewErrorDiagnostic("Unexpected provider data", err.Error())}
	}
	return reg, nil
}

// ConnectDiag reports an endpoint that could not be connected or resolved while
// doing action ("create instance"); the error names the endpoint.
func ConnectDiag(action string, err error) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Could not "+action, strings.TrimSpace(fmt.Sprintf("%s. %s", err, backend.Advice(err))))
}

// EndpointDiag reports, on the attribute that names it, an endpoint that is not
// configured or whose kind cannot do what is asked.
func EndpointDiag(p path.Path, err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, "Unusable endpoint", err.Error()+".")
}
