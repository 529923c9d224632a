package image

import (
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// This file is where the package's diagnostics are made, so every message says what
// failed, on which endpoint and object, and what the user can do.

func apiDiag(action, endpoint, object string, err error) diag.Diagnostic {
	hint := ""
	switch {
	case errors.Is(err, backend.ErrUnreachable):
		hint = " Check that the endpoint's server is running and its address is right."
	case errors.Is(err, backend.ErrForbidden):
		hint = " Check the endpoint's credentials and that the client is trusted."
	case errors.Is(err, backend.ErrConflict):
		hint = " The image exists already: import it (terraform import) instead of creating it again."
	case errors.Is(err, backend.ErrDigest):
		hint = " The content changed or was damaged on the way; run the apply again."
	}
	return diag.NewErrorDiagnostic(
		fmt.Sprintf("Could not %s", action),
		fmt.Sprintf("Endpoint %q, %s: %s.%s", endpoint, object, err, hint))
}

func sourceDiag(p path.Path, err error) diag.Diagnostic {
	summary := "Invalid image source"
	switch {
	case errors.Is(err, transfer.ErrNotImage):
		summary = "Source is not an image"
	case errors.Is(err, transfer.ErrNoMetadata):
		summary = "Image tarball without metadata.yaml"
	}
	return diag.NewAttributeErrorDiagnostic(p, summary, err.Error()+".")
}

func endpointDiag(p path.Path, err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, "Unusable endpoint", err.Error()+".")
}

func importDiag(id string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Invalid import ID",
		fmt.Sprintf("%q is not [endpoint:]fingerprint: give a fingerprint or a unique prefix of one, optionally after an endpoint name and a colon.", id))
}
