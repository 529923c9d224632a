package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// This file is where the provider block's diagnostics are made.

func backendBlockDiag(name, kinds string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("endpoints").AtMapKey(name), "Invalid endpoint",
		fmt.Sprintf("Endpoint %q must have exactly one backend block: one of %s.", name, kinds))
}

func endpointConfigDiag(at path.Path, name string, kind backend.Kind, err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(at, "Invalid endpoint configuration",
		strings.TrimSpace(fmt.Sprintf("Endpoint %q (%s): %s. %s", name, kind, err, backend.Advice(err))))
}

func defaultEndpointDiag(err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("default_endpoint"), "Invalid default endpoint", err.Error()+".")
}

// unknownAtPlanDiag reports provider configuration that must be known at plan time
// but comes from something known only after apply.
func unknownAtPlanDiag(at path.Path, what string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(at, "Provider configuration not known at plan time",
		fmt.Sprintf("%s in the provider block is known only after apply (it comes from another resource's output), but the provider needs %s to plan. "+
			"Set it from values known at plan time (literals, variables, data sources), or create what it comes from first: "+
			"terraform apply -target=<that resource>, or a separate configuration.", at, what))
}
