package imagemember

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// This file is where the package's diagnostics are made.

func withAdvice(msg, advice string) string { return strings.TrimSpace(msg + " " + advice) }

// memberDiag reports a failed call of the owner's endpoint on a member.
func memberDiag(action, endpoint, imageID, member string, err error) diag.Diagnostic {
	advice := backend.Advice(err)
	switch {
	case errors.Is(err, backend.ErrConflict):
		advice = fmt.Sprintf("Project %q is a member of the image already: adopt it with an import block "+
			"(import { to = <this resource's address>, id = \"%s:%s\" }), or remove it, then apply again.", member, endpoint, memberID(imageID, member))
	case errors.Is(err, backend.ErrNotFound):
		advice = "Check that the image exists and that the endpoint is authenticated as the project that owns it."
	case errors.Is(err, backend.ErrForbidden):
		advice = "Glance lets only the image's owner manage its members: check that the endpoint is authenticated as the project that owns the image."
	}
	return diag.NewErrorDiagnostic(fmt.Sprintf("Could not %s image member", action),
		withAdvice(fmt.Sprintf("Endpoint %q, image %q, member %q: %s.", endpoint, imageID, member, err), advice))
}

// visibilityDiag refuses a member for an image that is not shared. atPlan adds what
// to do when the plan itself makes the image shared: the check saw the image as it
// is before the apply.
func visibilityDiag(endpoint, imageID, visibility string, atPlan bool) diag.Diagnostic {
	msg := fmt.Sprintf("Endpoint %q, image %q has visibility %q, and Glance gives members only to images whose visibility is \"shared\". "+
		"Set openstack = { visibility = \"shared\" } on the imagefleet_image that manages it (or run openstack image set --shared %s).",
		endpoint, imageID, visibility, imageID)
	if atPlan {
		msg += " If this configuration sets it already, the image becomes shared only when that change is applied: " +
			"apply the image first (terraform apply -target=<its address>)."
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("image"), "Image not shared", msg)
}

// imageDiag reports an image that could not be read at plan time.
func imageDiag(endpoint, imageID string, err error) diag.Diagnostic {
	if errors.Is(err, backend.ErrNotFound) {
		return diag.NewAttributeErrorDiagnostic(path.Root("image"), "Image not found",
			fmt.Sprintf("Endpoint %q sees no image %q: check the image ID, and that the endpoint is authenticated as the project that owns it.", endpoint, imageID))
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("image"), "Could not check the image to share",
		withAdvice(fmt.Sprintf("Endpoint %q, image %q: %s.", endpoint, imageID, err), backend.Advice(err)))
}

func statusWithoutMemberEndpointDiag(member types.String) diag.Diagnostic {
	who := "the member project"
	if !member.IsNull() && !member.IsUnknown() {
		who = fmt.Sprintf("project %q, the member", member.ValueString())
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("status"), "status needs member_endpoint",
		fmt.Sprintf("Glance lets only the member project (or an owner with the admin role) set a membership's status, so the owner's endpoint cannot be trusted to set it. "+
			"Add member_endpoint, naming a provider endpoint authenticated as %s, or remove status to leave the answer to the member. "+
			"If the owner's endpoint has the admin role, name it as member_endpoint.", who))
}

// statusDiag reports a status the member endpoint could not set.
func statusDiag(endpoint, imageID, member, status string, err error) diag.Diagnostic {
	advice := backend.Advice(err)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		advice = fmt.Sprintf("The endpoint cannot see this membership: member_endpoint must be authenticated as project %q, the member (or as an admin).", member)
	case errors.Is(err, backend.ErrForbidden):
		advice = fmt.Sprintf("Glance lets only the member project (or an admin) set the status: member_endpoint must be authenticated as project %q, not as the image's owner.", member)
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("status"), "Could not set image member status",
		withAdvice(fmt.Sprintf("Member endpoint %q, image %q, member %q, status %q: %s.", endpoint, imageID, member, status, err), advice))
}

func importDiag(id string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Invalid import ID",
		fmt.Sprintf("%q is not [endpoint:]image_id/member_id[/member_endpoint]: give the image ID and the member project's ID separated by \"/\", "+
			"optionally after an endpoint name and a colon, and optionally followed by \"/\" and the name of the endpoint that sets the status.", id))
}
