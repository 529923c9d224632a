// Package image is the imagefleet_image resource and the imagefleet_image and
// imagefleet_images data sources.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

const defaultCreateTimeout = 30 * time.Minute

var (
	_ resource.ResourceWithConfigure        = &imageResource{}
	_ resource.ResourceWithImportState      = &imageResource{}
	_ resource.ResourceWithModifyPlan       = &imageResource{}
	_ resource.ResourceWithConfigValidators = &imageResource{}
)

// AliasName is an alias name that works everywhere. The servers store almost any
// string, but a colon is the CLIs' remote separator ("remote:alias"), white space
// cannot be typed unquoted, and a slash makes the name two segments of the API path
// (/1.0/images/aliases/NAME), which reverse proxies in front of remote daemons
// commonly refuse or decode. Aliases this provider creates avoid all three; the
// data source still finds existing aliases of any name.
var AliasName = regexp.MustCompile(`^[^\s:/]+$`)

// AliasNameValidator rejects unusable alias names at plan time.
func AliasNameValidator() validator.String {
	return stringvalidator.RegexMatches(AliasName, `must be non-empty and hold no slash, colon or white space (write "debian-12", not "debian/12")`)
}

// RemoteServerValidator rejects, at plan time, an image server that is not a URL,
// such as the name of a remote of the incus or lxc command line.
func RemoteServerValidator() validator.String {
	return stringvalidator.RegexMatches(regexp.MustCompile(`^https?://[^/\s]+`),
		`must be the URL of an image server, such as https://images.linuxcontainers.org (the command line's remote names, such as "images", are not known here)`)
}

// pathValidator rejects an empty path, which would name the directory Terraform
// runs in.
func pathValidator() validator.String {
	return stringvalidator.RegexMatches(regexp.MustCompile(`\S`), "must be the path of a local file, not empty")
}

type imageResource struct {
	reg *endpoints.Registry
}

// NewResource is the imagefleet_image resource.
func NewResource() resource.Resource { return &imageResource{} }

func (r *imageResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (r *imageResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	reg, diags := tfendpoints.Registry(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.reg = reg
}

func (r *imageResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := stringplanmodifier.UseStateForUnknown()
	resp.Schema = schema.Schema{
		MarkdownDescription: "An image on any kind of endpoint: Incus and LXD servers, OpenStack clouds (Glance). One configuration publishes the same image " +
			"everywhere with `for_each` over endpoints of different kinds: the arguments every kind understands sit at the top, and what only one " +
			"family of endpoints has sits in a block named for it (`incus` for incus and lxd endpoints, `openstack`), which applies on that family's " +
			"endpoints and is ignored on the others.\n\n" +
			"Exactly one source is set: `file`, `split`, `url`, `remote` or `copy_from`. `file` is a unified Incus image tarball or a bare disk " +
			"image (qcow2, raw, vmdk, vhd, vhdx, vdi, iso), told apart by its first bytes. Uploads stream from disk, never held in memory. For local files the plan " +
			"shows a replacement when the file's content changes; the digest is cached by path, size, modification time and status change time " +
			"so unchanged files are not read again on every plan.\n\n" +
			"Import takes `[endpoint:]id` (an Incus fingerprint or a unique prefix of one, a Glance image UUID) and reads back everything the server holds except Incus aliases (see `incus.aliases`). The server cannot know the source " +
			"(a local path, a URL), so the first plan after an import that adds one records it: an in-place update that changes " +
			"nothing on the server, unless the content differs. A configuration without a source (as `terraform plan -generate-config-out` " +
			"writes one) is accepted for an imported image, which is then kept as the server holds it; only a new image needs a source.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "What the endpoint's API addresses the image by: the fingerprint on Incus and LXD, the image UUID on Glance.", PlanModifiers: []planmodifier.String{keep}},
			"endpoint": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Name of the provider endpoint that holds the image. Defaults to the provider's `default_endpoint`. Changing it, or a value unknown until apply, replaces the image.",
			},
			"file": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Path of a unified Incus image tarball (metadata.yaml and rootfs/ in one tarball), or of a bare disk image (qcow2, raw, vmdk, vhd, vhdx, vdi, iso), " +
					"recognised by its first bytes, never by its name. On incus and lxd endpoints a disk image becomes a virtual-machine image whose metadata the provider generates " +
					"(architecture from `incus.architecture` or the server's, creation date from the file's modification time, so the same file gives the same fingerprint); " +
					"Incus takes only qcow2 disks. A container tarball cannot go to an openstack or air endpoint. " +
					"A path unknown until apply replaces the image, since its content cannot be compared at plan time. " +
					"A file that is gone once the image exists only gets a warning: the image is kept and plans and destroys go on.",
				Validators: []validator.String{pathValidator()},
			},
			"split": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "A split Incus image: a metadata tarball and a rootfs (squashfs or tarball for a container, qcow2 for a virtual machine). Incus and LXD endpoints only.",
				Attributes: map[string]schema.Attribute{
					"metadata_file": schema.StringAttribute{Required: true, MarkdownDescription: "Path of the metadata tarball.", Validators: []validator.String{pathValidator()}},
					"rootfs_file":   schema.StringAttribute{Required: true, MarkdownDescription: "Path of the rootfs: squashfs or tarball, or a qcow2 disk for a virtual-machine image.", Validators: []validator.String{pathValidator()}},
				},
			},
			"url": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "URL the server downloads the image from itself: the `url` image source on Incus and LXD, the interoperable image import `web-download` on Glance " +
					"(the cloud must offer it; its operators decide which hosts and ports it may reach). Changing it replaces the image.",
				Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^https?://`), "must be an http:// or https:// URL")},
			},
			"remote": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "An image the server pulls from an image server. Incus and LXD endpoints only. Changing it replaces the image.",
				Attributes: map[string]schema.Attribute{
					"server":       schema.StringAttribute{Required: true, MarkdownDescription: "Image server URL, such as `https://images.linuxcontainers.org`.", Validators: []validator.String{RemoteServerValidator()}},
					"protocol":     schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("simplestreams"), MarkdownDescription: "`simplestreams` (default), `incus` or `lxd`.", Validators: []validator.String{stringvalidator.OneOf("simplestreams", "incus", "lxd")}},
					"alias":        schema.StringAttribute{Required: true, MarkdownDescription: "Alias (or fingerprint) of the image on the server, such as `debian/12`."},
					"type":         schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("container"), MarkdownDescription: "`container` (default) or `virtual-machine`.", Validators: []validator.String{stringvalidator.OneOf("container", "virtual-machine")}},
					"architecture": schema.StringAttribute{Optional: true, MarkdownDescription: "Architecture the pulled image must have (the server picks its own architecture's variant; a different result fails the apply)."},
					"certificate":  schema.StringAttribute{Optional: true, MarkdownDescription: "The image server's certificate (PEM), for a server the system's CAs do not vouch for, such as another Incus or LXD server."},
				},
			},
			"copy_from": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "An image another endpoint of this provider holds, streamed from that endpoint to this one (never through a temporary file). " +
					"Works across kinds where the content fits: between Incus and LXD endpoints, an Incus or LXD virtual-machine image to Glance (its disk), " +
					"a Glance image to Incus or LXD (as a virtual-machine image with generated metadata; qcow2 only), Glance to Glance, an Incus or LXD virtual-machine image or a Glance image to Air " +
					"(read twice: Air needs the digest before the content). A container image cannot go to Glance or Air. Changing it replaces the image.",
				Attributes: map[string]schema.Attribute{
					"endpoint": schema.StringAttribute{Required: true, MarkdownDescription: "The endpoint that holds the image."},
					"image":    schema.StringAttribute{Required: true, MarkdownDescription: "The image there: an Incus fingerprint (or unique prefix), a Glance image UUID."},
				},
			},
			"claim": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "An Air image another organisation shared with this endpoint's organisation (`imagefleet_image_share`), claimed into it: " +
					"Air copies the image, named by `name` and `air.version` when they are set. The copy is then an image like any other, " +
					"so a later change of `share` (a share made again, or deleted once claimed) is recorded without replacing it. Air endpoints only.",
				Attributes: map[string]schema.Attribute{
					"share": schema.StringAttribute{Required: true, MarkdownDescription: "The share's ID.",
						Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^\S+$`), "must be the ID of an image share (such as imagefleet_image_share.<name>.id), not empty and without spaces")}},
				},
			},
			"name": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The image's name: Glance's image name; on Incus and LXD, which have no image names, the image property `name`. Left unset, the image keeps the name it has. Changed in place.",
				PlanModifiers:       []planmodifier.String{keep},
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 255)},
			},
			"properties": schema.MapAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				MarkdownDescription: "Image properties (`os_distro`, `hw_*` and any key of your own). When set, the image has exactly these properties (on Incus, those from metadata.yaml are replaced) " +
					"and changes made outside Terraform show in the plan; left unset, the image keeps its own. Keys the server owns (on Glance `os_glance*`, `os_hash_*`, `checksum`, `stores`, `direct_url`, `locations` " +
					"and those import plugins add) are neither shown nor sent, and setting one is an error; so is `name`, which is the `name` argument. " +
					"Air images have no properties: on air endpoints they are kept as written and not sent. Changed in place.",
				PlanModifiers: []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
				Validators:    []validator.Map{mapvalidator.KeysAre(stringvalidator.LengthAtLeast(1))},
			},
			"incus":         incusBlock(),
			"openstack":     openstackBlock(),
			"air":           airBlock(),
			"source_sha256": schema.StringAttribute{Computed: true, MarkdownDescription: "sha256 of the content the provider sent, on every kind of endpoint, for comparing copies across kinds: the file's (for a split image, of the metadata then the rootfs). For local files of an existing image it is computed at plan time, and a change forces a replacement. On Incus and LXD it is the fingerprint when the image was uploaded as is; on Glance the provider records it in the image property `imagefleet_sha256`. Null when unknown (an image imported from elsewhere).", PlanModifiers: []planmodifier.String{keep}},
			"fingerprint":   schema.StringAttribute{Computed: true, MarkdownDescription: "Incus and LXD: the image's fingerprint (sha256 of what the server stores).", PlanModifiers: []planmodifier.String{keep}},
			"checksum":      schema.StringAttribute{Computed: true, MarkdownDescription: "Glance: md5 of the image data, as Glance computed it.", PlanModifiers: []planmodifier.String{keep}},
			"os_hash_algo":  schema.StringAttribute{Computed: true, MarkdownDescription: "Glance: the algorithm of `os_hash_value` (sha512 unless the cloud says otherwise).", PlanModifiers: []planmodifier.String{keep}},
			"os_hash_value": schema.StringAttribute{Computed: true, MarkdownDescription: "Glance: the multihash of the image data, checked against what the provider sent.", PlanModifiers: []planmodifier.String{keep}},
			"size":          schema.Int64Attribute{Computed: true, MarkdownDescription: "Size in bytes.", PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}},
			"architecture":  schema.StringAttribute{Computed: true, MarkdownDescription: "Incus and LXD: architecture, from the image's metadata.", PlanModifiers: []planmodifier.String{keep}},
			"type":          schema.StringAttribute{Computed: true, MarkdownDescription: "Incus and LXD: `container` or `virtual-machine`.", PlanModifiers: []planmodifier.String{keep}},
			"created_at":    schema.StringAttribute{Computed: true, MarkdownDescription: "When the image was built (Incus) or created (Glance), RFC 3339.", PlanModifiers: []planmodifier.String{keep}},
			"uploaded_at":   schema.StringAttribute{Computed: true, MarkdownDescription: "When the image reached the server (RFC 3339).", PlanModifiers: []planmodifier.String{keep}},
			"timeouts":      timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

// familyNote is the rule every family block follows, written once for the docs.
const familyNote = " Applies only on endpoints of this family and is ignored on the others, so one configuration can name every family's settings. " +
	"Left out, the provider does not manage these settings and shows what the server has; inside the block, an argument left out means its default."

func incusBlock() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true, Computed: true,
		MarkdownDescription: "Settings of images on incus and lxd endpoints." + familyNote,
		Attributes: map[string]schema.Attribute{
			"public": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether untrusted clients may download the image. Unset means `false`, so removing it makes the image private again, and a change made outside Terraform shows in the plan. Changed in place."},
			"auto_update": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether the server refreshes the image from its source (for `remote` images). Unset means `false`, with the same rule as `public`. Changed in place."},
			"expires_at": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "When the server removes the image, RFC 3339 (`2030-01-02T15:04:05Z`). Must be in the future when set or changed. Unset (null) means never: removing it clears the expiry, and an expiry set outside Terraform shows in the plan. Changed in place.",
				Validators:          []validator.String{rfc3339Validator{}},
			},
			"profiles": schema.ListAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				MarkdownDescription: "Profiles applied to instances created from the image. The server defaults to `[\"default\"]`. Changed in place.",
				PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
			},
			"aliases": schema.SetNestedAttribute{
				Optional: true,
				MarkdownDescription: "Aliases the image owns, managed with it and changed in place. The image owns the names it created, " +
					"and names listed here that already pointed at it. A listed name that another image holds is an error that names the holder " +
					"(at plan time when possible): the image never takes an alias over. Names removed from the list are deleted if they still point at this image; " +
					"an owned alias moved to another image outside Terraform is moved back. Aliases the image does not own (made by " +
					"`imagefleet_image_alias`, by hand, or there before an import) are left alone and not shown, so the two can be used side by side " +
					"as long as no name is in both. After an import the image owns none until the configuration lists them. " +
					"With `create_before_destroy`, the new image cannot take an alias from the image it replaces: use `imagefleet_image_alias` for names that must follow rebuilds.",
				Validators: []validator.Set{setvalidator.SizeAtMost(64)},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        schema.StringAttribute{Required: true, MarkdownDescription: "Alias name.", Validators: []validator.String{AliasNameValidator()}},
					"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), MarkdownDescription: "Alias description."},
				}},
			},
			"architecture": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Architecture written into the metadata the provider generates for a bare disk image (`x86_64`, `aarch64`, ...). Defaults to the server's own. " +
					"Not used for tarballs, which carry their own. Changing it replaces an image made from a disk.",
				Validators: []validator.String{architectureValidator{}},
			},
		},
	}
}

func openstackBlock() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true, Computed: true,
		MarkdownDescription: "Settings of images on openstack endpoints (Glance)." + familyNote,
		Attributes: map[string]schema.Attribute{
			"disk_format": schema.StringAttribute{Optional: true, Computed: true,
				MarkdownDescription: "Glance disk format. Detected from the file's first bytes when unset. Changing it replaces the image (Glance fixes it at upload).",
				Validators:          []validator.String{stringvalidator.OneOf(glanceDiskFormats...)}},
			"container_format": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("bare"),
				MarkdownDescription: "Glance container format; `bare` (default) for a plain disk. Changing it replaces the image.",
				Validators:          []validator.String{stringvalidator.OneOf("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")}},
			"visibility": schema.StringAttribute{Optional: true, Computed: true,
				MarkdownDescription: "`private`, `shared`, `community` or `public` (public usually needs an admin). Unset keeps what the server has: a new Glance image is `shared`, which is not drift. Changed in place.",
				Validators:          []validator.String{stringvalidator.OneOf("private", "shared", "community", "public")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"protected": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether Glance refuses to delete the image. A protected image cannot be destroyed: set it to `false` and apply first. Changed in place."},
			"hidden": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether the image is left out of default image lists (`os_hidden`). Changed in place."},
			"min_disk_gb": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0),
				MarkdownDescription: "Smallest root disk, in GB, an instance of this image needs. Changed in place.",
				Validators:          []validator.Int64{int64validator.AtLeast(0)}},
			"min_ram_mb": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0),
				MarkdownDescription: "Smallest RAM, in MB, an instance of this image needs. Changed in place.",
				Validators:          []validator.Int64{int64validator.AtLeast(0)}},
			"tags": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Image tags (a set). Changed in place."},
			"deactivated": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether the image is deactivated (its data cannot be downloaded or booted). Deactivated and reactivated in place; the cloud's policy may reserve this to admins."},
		},
	}
}

func airBlock() schema.SingleNestedAttribute {
	keep := stringplanmodifier.UseStateForUnknown()
	return schema.SingleNestedAttribute{
		// Not computed: a computed block cannot hold the write-only password.
		Optional: true,
		MarkdownDescription: "Settings of images on air endpoints (NVIDIA Air). Applies only on air endpoints and is ignored on the others. " +
			"An image made on an air endpoint needs this block (Air requires a version, a default user and password); " +
			"an imported image has it filled in from the server. Arguments Air fills in itself are kept as the server has them when left out.",
		Attributes: map[string]schema.Attribute{
			"version":          schema.StringAttribute{Required: true, MarkdownDescription: "The image's version. Name and version are unique in an organisation. Changed in place."},
			"default_username": schema.StringAttribute{Required: true, MarkdownDescription: "The user a simulation node logs in as. Changed in place."},
			"default_password": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "That user's password. Write-only: sent when the image is made and when `default_password_version` changes, never stored in state nor logged. Needed to make an image."},
			"default_password_version": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "Change it to send `default_password` again (Terraform cannot compare a write-only value with what was sent)."},
			"cpu_arch": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.String{keep},
				MarkdownDescription: "CPU architecture, such as `x86`. Left out, Air's choice is kept. Changed in place."},
			"provider": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.String{keep},
				MarkdownDescription: "`VM` or `CONTAINER`. Left out, Air's choice is kept. Changed in place.",
				Validators:          []validator.String{stringvalidator.OneOf("VM", "CONTAINER")}},
			"emulation_type": schema.ListAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Emulation types the image supports. Changed in place."},
			"emulation_version": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.String{keep},
				MarkdownDescription: "Version of the emulated system. Changed in place."},
			"mountpoint": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.String{keep},
				MarkdownDescription: "Mount point of the image's root file system. Changed in place."},
			"minimum_resources": schema.SingleNestedAttribute{Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "The least a simulation node of this image needs. Changed in place.",
				Attributes: map[string]schema.Attribute{
					"cpu":     schema.Int64Attribute{Required: true, MarkdownDescription: "CPUs.", Validators: []validator.Int64{int64validator.AtLeast(0)}},
					"memory":  schema.Int64Attribute{Required: true, MarkdownDescription: "Memory, in MB.", Validators: []validator.Int64{int64validator.AtLeast(0)}},
					"storage": schema.Int64Attribute{Required: true, MarkdownDescription: "Storage, in GB.", Validators: []validator.Int64{int64validator.AtLeast(0)}},
				}},
			"includes_air_agent": schema.BoolAttribute{Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Whether the image has the Air agent installed. Changed in place."},
			"published": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether the image is published to every Air user. Published and unpublished in place; a shared image must stay unpublished."},
			"upload_status": schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{keep},
				MarkdownDescription: "Air's status of the image's content: `COMPLETE` once uploaded and validated. Content that falls back to `READY` (lost) replaces the image."},
		},
	}
}

// glanceDiskFormats are the disk formats Glance knows.
var glanceDiskFormats = []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}

// ConfigValidators allows no source (an imported image kept as it is); ModifyPlan
// requires one for a new image.
func (r *imageResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.Conflicting(
		path.MatchRoot("file"), path.MatchRoot("split"), path.MatchRoot("url"), path.MatchRoot("remote"), path.MatchRoot("copy_from"), path.MatchRoot("claim"),
	)}
}

func (r *imageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := backend.WithTimeout(ctx, timeout)
	defer cancel()

	name := plan.Endpoint.ValueString()
	ep, err := r.reg.Get(ctx, name)
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("create image", err))
		return
	}
	spec := backend.ImageCreate{}
	spec.Attrs, d = plan.attrs(ctx)
	resp.Diagnostics.Append(d...)
	if spec.Attrs.Air != nil {
		spec.Attrs.Air.DefaultPassword, d = configPassword(ctx, req.Config)
		resp.Diagnostics.Append(d...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	family := r.reg.Family(name)
	var stamps []transfer.FileStamp
	closeSource, object, err := r.openSource(ctx, &plan, &spec, &stamps)
	if err != nil {
		resp.Diagnostics.Append(apiDiag("read the image source", ep.Name, object, err))
		return
	}
	defer closeSource()
	tflog.Info(ctx, "creating image", map[string]any{"endpoint": ep.Name, "server": ep.Server, "source": object})
	spec.Progress = uploadProgress(ctx, object)
	img, err := ep.Images.CreateImage(ctx, spec)
	if err != nil {
		var created *backend.CreatedError
		if errors.As(err, &created) && created.ID != "" {
			// Saved whatever happens next: a later failure leaves a tainted
			// resource that the next apply replaces, never an orphan.
			plan.ID = types.StringValue(created.ID)
			plan.markUnknownsNull()
			resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		}
		resp.Diagnostics.Append(apiDiag("create image", ep.Name, object, err))
		return
	}
	if plan.SourceSHA256.IsUnknown() {
		plan.SourceSHA256 = optString(sentDigest(img, spec.Source.Content))
	}
	want, d := plan.aliases(ctx)
	resp.Diagnostics.Append(d...)
	planned := plan.Incus
	resp.Diagnostics.Append(plan.setFromServer(ctx, img, family)...)
	diskFormat := ""
	if c := spec.Source.Content; c != nil {
		diskFormat = c.DiskFormat
	}
	resp.Diagnostics.Append(saveStamps(ctx, resp.Private, stamps, diskFormat)...)
	// The image is recorded before its aliases are made, so a refused alias leaves a
	// tainted image in state, not an orphan.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if len(want) == 0 || family != "incus" {
		return
	}
	owned, d := syncAliases(ctx, ep, img.ID, want, map[string]bool{})
	resp.Diagnostics.Append(d...)
	resp.Diagnostics.Append(saveOwnedAliases(ctx, resp.Private, owned)...)
	if img, err = ep.Images.GetImage(ctx, img.ID); err != nil {
		resp.Diagnostics.Append(apiDiag("read image", ep.Name, "image "+plan.ID.ValueString(), err))
		return
	}
	// The aliases to refresh are the ones planned, not the none found at first.
	plan.Incus = planned
	resp.Diagnostics.Append(plan.setFromServer(ctx, img, family)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// sentDigest is the sha256 of what was sent, as far as it is known after a create:
// what the server recorded, else the digest the upload computed, else (an Incus
// image made from its own tarball) the fingerprint.
func sentDigest(img *backend.Image, content *backend.ImageContent) string {
	switch {
	case img.SHA256 != "":
		return img.SHA256
	case content != nil && content.SHA256 != "":
		return content.SHA256
	case content != nil && content.Disk == nil:
		return img.Fingerprint
	}
	return ""
}

// openSource fills spec.Source from the plan. It returns what to close afterwards and
// a name of the source for messages.
func (r *imageResource) openSource(ctx context.Context, m *imageResourceModel, spec *backend.ImageCreate, stamps *[]transfer.FileStamp) (func(), string, error) {
	noop := func() {}
	switch {
	case m.URL.ValueString() != "":
		spec.Source.URL = m.URL.ValueString()
		return noop, "url " + spec.Source.URL, nil
	case m.Remote != nil:
		spec.Source.Remote = &backend.RemoteImage{
			Server: m.Remote.Server.ValueString(), Protocol: m.Remote.Protocol.ValueString(), Alias: m.Remote.Alias.ValueString(),
			Type: m.Remote.Type.ValueString(), Architecture: m.Remote.Architecture.ValueString(),
			Certificate: m.Remote.Certificate.ValueString(),
		}
		return noop, fmt.Sprintf("image %q on %s", spec.Source.Remote.Alias, spec.Source.Remote.Server), nil
	case m.CopyFrom != nil:
		return r.openCopy(ctx, m, spec)
	case m.Claim != nil:
		claim := &backend.ClaimSource{ShareID: m.Claim.Share.ValueString(), Name: m.Name.ValueString()}
		if a := spec.Attrs.Air; a != nil && a.Version != nil {
			claim.Version = *a.Version
		}
		spec.Source.Claim = claim
		return noop, "share " + claim.ShareID, nil
	}
	meta, rootfs, _ := m.localFiles()
	object := "file " + meta
	if rootfs != "" {
		object = fmt.Sprintf("files %s and %s", meta, rootfs)
	}
	content := &backend.ImageContent{SHA256: m.SourceSHA256.ValueString()}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for i, p := range []string{meta, rootfs} {
		if p == "" {
			continue
		}
		// Opened by absolute path, so the reader's stamp is the one plans compare.
		abs, err := filepath.Abs(p)
		if err != nil {
			closeAll()
			return noop, object, err
		}
		f, err := os.Open(abs)
		if err != nil {
			closeAll()
			return noop, object, err
		}
		files = append(files, f)
		format, err := transfer.DiskFormatOf(f)
		if err != nil {
			closeAll()
			return noop, object, err
		}
		// The reader fails the upload if the file changes while it is sent, so its
		// stamp, saved after a clean upload, describes what was sent.
		r, err := transfer.NewFileReader(f)
		if err != nil {
			closeAll()
			return noop, object, err
		}
		*stamps = append(*stamps, r.Stamp())
		switch {
		case i == 1:
			content.Rootfs, content.RootfsName, content.Size, content.VM = r, baseName(p), 0, format == transfer.DiskQCOW2
		case format != "":
			content.Disk, content.DiskFormat, content.Size, content.At = r, string(format), r.Size(), r
			content.CreatedAt = time.Unix(r.Stamp().ModTime/int64(time.Second), 0).UTC()
			content.Architecture = m.incusArchitecture(ctx)
		default:
			content.Metadata, content.MetadataName, content.Size = r, baseName(p), r.Size()
			if rootfs == "" {
				// A unified tarball: read again from its start when an upload
				// must be sent again.
				content.At = r
			}
		}
	}
	spec.Source.Content = content
	return closeAll, object, nil
}

// openCopy streams the copy_from image out of its endpoint. An Incus virtual-machine
// image goes to a kind that takes bare disks as its disk.
func (r *imageResource) openCopy(ctx context.Context, m *imageResourceModel, spec *backend.ImageCreate) (func(), string, error) {
	noop := func() {}
	from := m.CopyFrom
	object := fmt.Sprintf("image %s of endpoint %q", from.Image.ValueString(), from.Endpoint.ValueString())
	src, err := r.reg.Get(ctx, from.Endpoint.ValueString())
	if err != nil {
		return noop, object, err
	}
	exp, err := src.Exporter.ExportImage(ctx, from.Image.ValueString())
	if err != nil {
		return noop, object, err
	}
	c := exp.Content
	if r.reg.Family(m.Endpoint.ValueString()) != "incus" && c.Disk == nil {
		if !c.VM {
			_ = exp.Close()
			return noop, object, fmt.Errorf("%s is a container image: only disk images (an Incus virtual-machine image's disk) can be copied to this endpoint", object)
		}
		c.Disk, c.DiskFormat, c.Size = c.Rootfs, "qcow2", 0
		c.Metadata, c.Rootfs = nil, nil
	}
	if c.Disk != nil && c.Architecture == "" {
		c.Architecture = m.incusArchitecture(ctx)
	}
	// A backend that needs the digest before the content (Air) reads the source a
	// second time rather than keep it in a temporary file.
	c.Reopen = func(ctx context.Context) (io.ReadCloser, error) {
		again, err := src.Exporter.ExportImage(ctx, from.Image.ValueString())
		if err != nil {
			return nil, err
		}
		disk := again.Content.Disk
		if disk == nil {
			disk = again.Content.Rootfs
		}
		return readCloser{disk, again.Close}, nil
	}
	spec.Source.Content = &c
	return func() { _ = exp.Close() }, object, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// incusArchitecture is the architecture asked for generated Incus metadata, "" for
// the server's own.
func (m *imageResourceModel) incusArchitecture(ctx context.Context) string {
	in, _ := m.incus(ctx)
	if in == nil {
		return ""
	}
	return in.Architecture.ValueString()
}

func (r *imageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("read image", err))
		return
	}
	img, err := ep.Images.GetImage(ctx, state.ID.ValueString())
	if errors.Is(err, backend.ErrNotFound) {
		tflog.Warn(ctx, "image is gone from the server; removing it from state", map[string]any{"endpoint": ep.Name, "fingerprint": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.Append(apiDiag("read image", ep.Name, "image "+state.ID.ValueString(), err))
		return
	}
	resp.Diagnostics.Append(state.setFromServer(ctx, img, r.reg.Family(state.Endpoint.ValueString()))...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *imageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := backend.WithTimeout(ctx, timeout)
	defer cancel()
	ep, err := r.reg.Get(ctx, plan.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("update image", err))
		return
	}
	fp := state.ID.ValueString()
	object := "image " + fp
	attrs, d := plan.attrs(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	if attrs.Air != nil && passwordChanged(ctx, &plan, &state) {
		attrs.Air.DefaultPassword, d = configPassword(ctx, req.Config)
		resp.Diagnostics.Append(d...)
	}
	if plan.attrsDiffer(ctx, &state) {
		if err := ep.Images.UpdateImage(ctx, fp, attrs); err != nil {
			resp.Diagnostics.Append(apiDiag("update image", ep.Name, object, err))
			return
		}
	}
	family := r.reg.Family(plan.Endpoint.ValueString())
	if family == "incus" {
		owned, d := ownedAliases(ctx, req.Private)
		resp.Diagnostics.Append(d...)
		want, d := plan.aliases(ctx)
		resp.Diagnostics.Append(d...)
		owned, d = syncAliases(ctx, ep, fp, want, owned)
		resp.Diagnostics.Append(d...)
		resp.Diagnostics.Append(saveOwnedAliases(ctx, resp.Private, owned)...)
	}
	img, err := ep.Images.GetImage(ctx, fp)
	if err != nil {
		resp.Diagnostics.Append(apiDiag("read image", ep.Name, object, err))
		return
	}
	plan.ID = state.ID
	resp.Diagnostics.Append(plan.setFromServer(ctx, img, family)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(keepStampsIfUnchanged(ctx, resp.Private, &plan)...)
}

func (r *imageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state imageResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := backend.WithTimeout(ctx, timeout)
	defer cancel()
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("delete image", err))
		return
	}
	err = ep.Images.DeleteImage(ctx, state.ID.ValueString())
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		resp.Diagnostics.Append(apiDiag("delete image", ep.Name, "image "+state.ID.ValueString(), err))
	}
}

// ImportState takes [endpoint:]id; a unique Incus fingerprint prefix is expanded.
func (r *imageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, fp := endpoints.SplitID(req.ID)
	if fp == "" || strings.ContainsAny(fp, "/ ") {
		resp.Diagnostics.Append(importDiag(req.ID))
		return
	}
	ep, err := r.reg.Get(ctx, name)
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("import image", err))
		return
	}
	img, err := ep.Images.GetImage(ctx, fp)
	if err != nil {
		resp.Diagnostics.Append(apiDiag("import image", ep.Name, "image "+fp, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), img.ID)...)
	if img.Air != nil {
		// The air block is not computed (it holds a write-only password), so Read
		// refreshes it only once it is there: an import puts it there.
		m := imageResourceModel{Air: nullAttrs(airType)}
		resp.Diagnostics.Append(m.setAirFromServer(ctx, img)...)
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("air"), m.Air)...)
	}
	if name != "" && !r.reg.IsDefault(name) {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("endpoint"), name)...)
	}
}

// configPassword is the write-only Air password, which only the configuration holds.
func configPassword(ctx context.Context, config tfsdk.Config) (*string, diag.Diagnostics) {
	var pw types.String
	diags := config.GetAttribute(ctx, path.Root("air").AtName("default_password"), &pw)
	if !known(pw) {
		return nil, diags
	}
	s := pw.ValueString()
	return &s, diags
}

// passwordChanged says whether default_password_version asks to send the password again.
func passwordChanged(ctx context.Context, plan, state *imageResourceModel) bool {
	p, _ := plan.air(ctx)
	s, _ := state.air(ctx)
	return p != nil && (s == nil || !p.DefaultPasswordVersion.Equal(s.DefaultPasswordVersion))
}

// uploadProgress logs a long upload's progress every progressStep bytes, so a slow
// apply can be told apart from a stuck one with TF_LOG_PROVIDER=DEBUG.
func uploadProgress(ctx context.Context, object string) func(int64) {
	const progressStep = 256 << 20
	next := int64(progressStep)
	return func(sent int64) {
		if sent >= next {
			tflog.Debug(ctx, "uploading image", map[string]any{"source": object, "sent_mib": sent >> 20})
			next += progressStep
		}
	}
}
