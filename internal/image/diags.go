package image

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// This file is where the package's diagnostics are made, so every message says what
// failed, on which endpoint and object, and what the user can do.

func withAdvice(endpoint, msg string, err error) string {
	advice := backend.Advice(err)
	var exists *backend.ExistsError
	switch {
	case errors.As(err, &exists):
		advice = fmt.Sprintf("Image %s is this image already (on Incus and LXD the same content, on Air the same name and version; left by an earlier interrupted apply, or made outside Terraform): "+
			"adopt it with an import block (import { to = <this resource's address>, id = \"%s:%s\" }) or delete it, then apply again.", exists.ID, endpoint, exists.ID)
	case errors.Is(err, backend.ErrConflict):
		advice = "The image exists already: import it (terraform import) instead of creating it again."
	}
	if advice == "" {
		return msg
	}
	return msg + " " + advice
}

// apiDiag reports a failed call on an object of an endpoint.
func apiDiag(action, endpoint, object string, err error) diag.Diagnostic {
	return diag.NewErrorDiagnostic(fmt.Sprintf("Could not %s", action),
		withAdvice(endpoint, fmt.Sprintf("Endpoint %q, %s: %s.", endpoint, object, err), err))
}

// sourceDiag reports a local source file that cannot be used, with what to do
// about it.
func sourceDiag(p path.Path, err error) diag.Diagnostic {
	summary, advice := "Invalid image source", backend.Advice(err)
	switch {
	case errors.Is(err, transfer.ErrNotImage):
		summary, advice = "Source is not an image", "Check that the path names the image you built: a file is recognised by its first bytes, never by its name."
	case errors.Is(err, transfer.ErrNoMetadata):
		summary = "Image tarball without metadata.yaml"
		advice = "A unified Incus image holds metadata.yaml and rootfs/ at the top of the tarball: build it from inside the directory that holds them " +
			"(tar -C <dir> -czf image.tar.gz metadata.yaml rootfs), or give the metadata tarball and the rootfs apart, as split."
	case errors.Is(err, transfer.ErrNoArch):
		summary = "Image metadata without architecture"
		advice = "Add the architecture to its metadata.yaml (such as architecture: x86_64): Incus and LXD refuse an image without one."
	}
	return diag.NewAttributeErrorDiagnostic(p, summary, strings.TrimSpace(err.Error()+". "+advice))
}

func importDiag(id string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Invalid import ID",
		fmt.Sprintf("%q is not [endpoint:]id: give an Incus fingerprint (or a unique prefix of one) or a Glance or Air image UUID, optionally after an endpoint name and a colon.", id))
}

func expiryDiag(value string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("expires_at"), "Expiry in the past",
		fmt.Sprintf("expires_at %s is not in the future: the server would remove the image at once. Give a later time or leave expires_at unset.", value))
}

func timeDiag(p path.Path, value, rule string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, "Invalid time", fmt.Sprintf("%q %s.", value, rule))
}

func protocolDiag(endpoint string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("remote").AtName("protocol"), "Unsupported remote protocol",
		fmt.Sprintf("Endpoint %q is of type lxd, which cannot pull with the incus protocol: use simplestreams or lxd, or an endpoint of type incus.", endpoint))
}

func stampsDiag(err error) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Could not record the source files",
		fmt.Sprintf("Recording the path, size and modification and change times of the source files failed: %s. The next plan will read the files again.", err))
}

// noImageDiag reports that nothing was found: by the filters alone (lookup empty),
// by an id or alias (lookup) that the endpoint does not have, or that it has but
// that does not match the filters (filtered).
func noImageDiag(endpoint, lookup string, filtered bool) diag.Diagnostic {
	// The image is often made by the same configuration: read before it exists.
	const later = "If this configuration makes the image, refer to that resource (such as imagefleet_image.<name>.id) instead of writing the value, so that the image is read once it exists."
	detail := fmt.Sprintf("Endpoint %q has no image matching the filters. Check the filters (the imagefleet_images data source lists what they match). %s", endpoint, later)
	switch {
	case lookup != "" && filtered:
		detail = fmt.Sprintf("Endpoint %q has an image with %s, but it does not match the filters, so it is no match: change the filters or the lookup.", endpoint, lookup)
	case lookup != "":
		detail = fmt.Sprintf("Endpoint %q has no image with %s: check that it is right. %s", endpoint, lookup, later)
	}
	return diag.NewErrorDiagnostic("No image found", detail)
}

func noLookupDiag() diag.Diagnostic {
	return diag.NewErrorDiagnostic("Image lookup missing",
		"imagefleet_image finds one image: set id, fingerprint or alias, or a filter (with most_recent = true to take the newest of several matches). "+
			"To read every image of an endpoint, use the imagefleet_images data source.")
}

// ambiguousDiag lists the images that match, by short ID: a fingerprint's first 12
// digits (Incus and LXD find an image by any unique prefix), else the whole ID
// (Glance and Air need the whole UUID); with names where they have one, and on Air
// versions, since an Air name is unique only with its version.
func ambiguousDiag(endpoint string, found []backend.Image) diag.Diagnostic {
	const shown = 10
	var ids []string
	for i, f := range found {
		if i == shown {
			ids = append(ids, fmt.Sprintf("and %d more", len(found)-shown))
			break
		}
		id := f.ID
		if f.Fingerprint == f.ID && len(id) > 12 {
			id = id[:12]
		}
		if f.Name != "" {
			id += fmt.Sprintf(" %q", f.Name)
		}
		if f.Air != nil {
			id += fmt.Sprintf(" version %q", f.Air.Version)
		}
		ids = append(ids, id)
	}
	return diag.NewErrorDiagnostic("Several images found",
		fmt.Sprintf("Endpoint %q has %d images matching the filters (%s): narrow the filters, or set most_recent = true to take the newest.", endpoint, len(found), strings.Join(ids, ", ")))
}

// familyOnlyDiag reports a lookup or filter that the endpoint's kind does not have.
func familyOnlyDiag(p path.Path, endpoint string, kind backend.Kind, kinds, instead string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, "Not available on this endpoint",
		fmt.Sprintf("Endpoint %q is of type %s, and %s applies to endpoints of type %s only. Instead, %s.", endpoint, kind, p, kinds, instead))
}

// statusFamilyDiag reports a status filter in the vocabulary of another kind (Air's
// upload statuses are not Glance's), which would match nothing.
func statusFamilyDiag(p path.Path, endpoint string, kind backend.Kind, status string, valid []string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, "Status not available on this endpoint",
		fmt.Sprintf("Endpoint %q is of type %s, whose images never have status %q, so it would match nothing. Statuses there: %s.", endpoint, kind, status, strings.Join(valid, ", ")))
}

func aliasTakenDiag(p path.Path, endpoint, name, holder string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, "Alias already exists",
		fmt.Sprintf("Endpoint %q: alias %q already points at image %s, and this image does not own it. "+
			"Remove it from aliases, or delete or retarget the existing alias first (if imagefleet_image_alias manages it, manage the name there only).", endpoint, name, holder))
}

func noSourceDiag() diag.Diagnostic {
	return diag.NewErrorDiagnostic("Image source missing",
		"A new image needs exactly one source: file, split, url, remote, copy_from or claim. An image without one can only be imported, and is then kept as the server holds it.")
}

func sourceGoneDiag(p path.Path, err error) diag.Diagnostic {
	return diag.NewAttributeWarningDiagnostic(p, "Image source file unavailable",
		fmt.Sprintf("%s. The image on the server is kept as it is and its content is not compared with the file; restore the file to detect content changes.", err))
}

func tarballRefusedDiag(endpoint string, kind backend.Kind, file string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("file"), "Incus image tarball on an endpoint of type "+string(kind),
		fmt.Sprintf("Endpoint %q is of type %s, which takes disk images (qcow2, raw, vmdk, vhd, vhdx, vdi, iso), and %s is an Incus image tarball: a container's root file system cannot boot there. "+
			"Build a disk image for this endpoint, or leave the endpoint out of this image's for_each.", endpoint, kind, file))
}

func diskRefusedDiag(endpoint string, kind backend.Kind, file, format string, takes []string) diag.Diagnostic {
	if len(takes) == 0 {
		return diag.NewAttributeErrorDiagnostic(path.Root("file"), "Disk image not supported by the endpoint",
			fmt.Sprintf("%s is a %s disk image; endpoint %q is of type %s, which takes no disk images. Leave this endpoint out.", file, format, endpoint, kind))
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("file"), "Disk format not supported by the endpoint",
		fmt.Sprintf("%s is a %s disk image; endpoint %q is of type %s, which takes disks in %s only. Convert it (qemu-img convert -O %s) or leave this endpoint out.",
			file, format, endpoint, kind, strings.Join(takes, ", "), takes[0]))
}

func containerCopyDiag(from, id, to string, kind backend.Kind) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("copy_from"), "Container image cannot be copied there",
		fmt.Sprintf("Image %s of endpoint %q is a container image; endpoint %q is of type %s, which holds disk images only. Copy a virtual-machine image, or upload a disk image with file.", id, from, to, kind))
}

func copyMissingDiag(from string, kind backend.Kind, id string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("copy_from").AtName("image"), "Image to copy not found",
		fmt.Sprintf("Endpoint %q (%s) has no image %q to copy. Check copy_from.image: %s. If this configuration makes the image, "+
			"refer to that resource (image = imagefleet_image.<name>.id) rather than write its ID, so that it is copied once it exists.", from, kind, id, imageIDWords(kind)))
}

// imageIDWords says what an image ID is on an endpoint of kind.
func imageIDWords(kind backend.Kind) string {
	if k, ok := endpoints.KindOf(kind); ok && k.Family == "incus" {
		return "an image fingerprint, or a unique prefix of one"
	}
	return "the image's UUID"
}

func copyFormatDiag(from, id, format, to string, kind backend.Kind, takes []string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("copy_from"), "Disk format not supported by the endpoint",
		fmt.Sprintf("Image %s of endpoint %q is a %s disk; endpoint %q is of type %s, which takes disks in %s only. Convert the image first, or copy another one.",
			id, from, format, to, kind, strings.Join(takes, ", ")))
}

func architectureDiag(p path.Path, arch string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(p, "Unknown architecture",
		fmt.Sprintf("%s %q is not an architecture Incus and LXD know, so they would refuse the image: use one of %s (or a common alias, such as amd64 or arm64).",
			p, arch, strings.Join(transfer.IncusArchitectures(), ", ")))
}

func splitDiag(endpoint string, kind backend.Kind) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("split"), "Split image on a non-Incus endpoint",
		fmt.Sprintf("Endpoint %q is of type %s: split (a metadata tarball and a rootfs) is an Incus and LXD image format. Use file with a disk image there.", endpoint, kind))
}

func nameProperty() diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("properties"), "Property reserved for the name",
		`The property "name" is the image's name: set the name argument instead.`)
}

func reservedPropertyDiag(endpoint string, kind backend.Kind, key string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("properties"), "Property owned by the server",
		fmt.Sprintf("Endpoint %q (%s): the property %q is set by the server itself (its digests, stores, import state) and cannot be set or changed. Remove it from properties.", endpoint, kind, key))
}

func urlDiskFormatDiag(endpoint string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("openstack").AtName("disk_format"), "Disk format needed",
		fmt.Sprintf("Endpoint %q is of type openstack: an image Glance downloads from url needs openstack.disk_format (qcow2, raw, ...), since the provider does not read what the URL serves.", endpoint))
}

func airBlockDiag() diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("air"), "Air settings needed",
		"An image made on an air endpoint needs an air block: Air requires a version, a default user and its password (air = { version = \"1.0\", default_username = \"root\", default_password = var.password }).")
}

func airPasswordDiag() diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("air").AtName("default_password"), "Air password needed",
		"Air requires a default password to make an image: set air.default_password (it is write-only: sent, never stored in state).")
}
