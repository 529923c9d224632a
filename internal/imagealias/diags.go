package imagealias

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// This file is where the package's diagnostics are made.

// aliasDiag reports a failed call on an alias, with what the user can do about it.
func aliasDiag(action, endpoint string, a backend.Alias, err error) diag.Diagnostic {
	advice := backend.Advice(err)
	switch {
	case errors.Is(err, backend.ErrNotFound) && a.Target != "":
		advice = fmt.Sprintf("Check that an image with fingerprint %q exists on the endpoint.", a.Target)
	case errors.Is(err, backend.ErrNotFound):
		advice = "The alias does not exist."
	case errors.Is(err, backend.ErrConflict):
		advice = "The alias exists already: import it, or choose another name."
	}
	return diag.NewErrorDiagnostic(fmt.Sprintf("Could not %s image alias", action),
		strings.TrimSpace(fmt.Sprintf("Endpoint %q, alias %q: %s. %s", endpoint, a.Name, err, advice)))
}

func importDiag(id string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Invalid import ID", fmt.Sprintf("%q is not [endpoint:]name: give an alias name, optionally after an endpoint name and a colon.", id))
}
