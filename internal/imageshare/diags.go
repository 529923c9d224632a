package imageshare

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// This file is where the package's diagnostics are made.

func withAdvice(msg, advice string) string { return strings.TrimSpace(msg + " " + advice) }

// text is an error's message without a final period, which the sentence adds.
func text(err error) string { return strings.TrimSuffix(err.Error(), ".") }

// shareDiag reports a failed call of the owner's endpoint; object names what was
// asked for ("share <id>", "image <id>").
func shareDiag(action, endpoint, object string, err error) diag.Diagnostic {
	advice := backend.Advice(err)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		advice = "Check that the image exists and that the endpoint's API key belongs to the organisation that owns it: Air shows a share only to that organisation."
	case errors.Is(err, backend.ErrForbidden):
		advice = "Air lets only a key with the air:image_sharing scope (role air_image_sharer) manage image shares: check the endpoint's api_key and its roles."
	}
	return diag.NewErrorDiagnostic(fmt.Sprintf("Could not %s image share", action),
		withAdvice(fmt.Sprintf("Endpoint %q, %s: %s.", endpoint, object, text(err)), advice))
}

// imageDiag reports an image that could not be read at plan time.
func imageDiag(endpoint, imageID string, err error) diag.Diagnostic {
	if errors.Is(err, backend.ErrNotFound) {
		return diag.NewAttributeErrorDiagnostic(path.Root("image"), "Image not found",
			fmt.Sprintf("Endpoint %q sees no image %q: check the image ID, and that the endpoint's API key belongs to the organisation that owns it.", endpoint, imageID))
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("image"), "Could not check the image to share",
		withAdvice(fmt.Sprintf("Endpoint %q, image %q: %s.", endpoint, imageID, text(err)), backend.Advice(err)))
}

// describe names an image as its owner knows it: id, name and version.
func describe(img *backend.Image) string {
	if img.Air == nil {
		return fmt.Sprintf("%q (%s)", img.ID, img.Name)
	}
	return fmt.Sprintf("%q (%s %s)", img.ID, img.Name, img.Air.Version)
}

// notShareableDiag refuses an image Air will not share: one whose upload is not
// COMPLETE, or a published one; nil for an image Air shares. atPlan says the plan
// saw the image as it is before the apply, and what to do when the same
// configuration is about to fix it.
func notShareableDiag(endpoint string, img *backend.Image, atPlan bool) diag.Diagnostic {
	if img.Air == nil {
		return nil
	}
	again := "apply again"
	if atPlan {
		again = "plan again"
	}
	var msg string
	switch status := img.Air.UploadStatus; {
	case status == "READY":
		msg = fmt.Sprintf("Endpoint %q, image %s has no content (upload_status READY), and Air shares only images whose upload is COMPLETE. "+
			"Upload its content first (an imagefleet_image with a file or copy_from source does), then %s.", endpoint, describe(img), again)
	case status != "COMPLETE":
		msg = fmt.Sprintf("Endpoint %q, image %s is %s, and Air shares only images whose upload is COMPLETE. "+
			"Wait until it is COMPLETE, then %s.", endpoint, describe(img), status, again)
	case img.Air.Published:
		msg = fmt.Sprintf("Endpoint %q, image %s is published, and Air shares only unpublished images. "+
			"Unpublish it: set air = { published = false } on the imagefleet_image that manages it.", endpoint, describe(img))
		if atPlan {
			msg += " If this configuration sets it already, the image is unpublished only when that change is applied: " +
				"apply the image first (terraform apply -target=<its address>)."
		}
	default:
		return nil
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("image"), "Image not shareable", msg)
}

// refusedDiag explains a share Air refused for a shareable image: the target
// organisation is the image owner's own, or one Air does not know.
func refusedDiag(endpoint string, img *backend.Image, want backend.Share, err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("target_org"), "Image share refused",
		fmt.Sprintf("Endpoint %q, image %s, target_org %q: %s. "+
			"Air shares an image only with an organisation it knows, other than the image's owner: target_org must name the organisation that will claim the image, "+
			"not the one endpoint %q's API key belongs to.", endpoint, describe(img), want.TargetOrg, text(err), endpoint))
}

func pastExpiryDiag(value string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("expires_at"), "Expiry in the past",
		fmt.Sprintf("expires_at %s is not in the future: Air would refuse the share, which could never be claimed. "+
			"Give a later time, or leave expires_at unset for Air's default (24 hours).", value))
}

// expiredDiag refuses to make again a share that expired unclaimed with the expiry
// it had.
func expiredDiag(id, value string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("expires_at"), "Image share expired",
		fmt.Sprintf("Share %q expired at %s before it was claimed, so it has to be made again, and the configured expires_at has passed. "+
			"Give a later time, or remove expires_at for Air's default (24 hours).", id, value))
}

// claimedKeptDiag warns that a claimed share was only removed from the state.
func claimedKeptDiag(endpoint string, s *backend.Share) diag.Diagnostic {
	by := s.ClaimedBy
	if by == "" {
		by = "the target organisation"
	}
	return diag.NewWarningDiagnostic("Claimed image share kept on Air",
		fmt.Sprintf("Endpoint %q, share %q of image %q was claimed by %s, and Air keeps a claimed share as the record of the sharing: it cannot be deleted. "+
			"It is removed from the Terraform state only; the claimed copy belongs to organisation %q.", endpoint, s.ID, s.ImageID, by, s.TargetOrg))
}

func importDiag(id string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Invalid import ID",
		fmt.Sprintf("%q is not [endpoint:]share_id: give the share's ID (its claim code), optionally after an endpoint name and a colon.", id))
}

func timeDiag(p path.Path, value, rule string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, "Invalid time", fmt.Sprintf("%q %s.", value, rule))
}
