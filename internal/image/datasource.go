package image

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfvalue"
)

// imageDataModel is one image as both data sources report it. What a kind has no
// such thing for is null: the Incus attributes on openstack and air endpoints, the
// Glance ones and the Air ones on endpoints of the other kinds.
type imageDataModel struct {
	ID           types.String `tfsdk:"id"`
	Name         types.String `tfsdk:"name"`
	Fingerprint  types.String `tfsdk:"fingerprint"`
	SHA256       types.String `tfsdk:"sha256"`
	Status       types.String `tfsdk:"status"`
	Properties   types.Map    `tfsdk:"properties"`
	Size         types.Int64  `tfsdk:"size"`
	Architecture types.String `tfsdk:"architecture"`
	CreatedAt    types.String `tfsdk:"created_at"`
	UploadedAt   types.String `tfsdk:"uploaded_at"`

	Aliases    types.List   `tfsdk:"aliases"`
	Profiles   types.List   `tfsdk:"profiles"`
	Public     types.Bool   `tfsdk:"public"`
	AutoUpdate types.Bool   `tfsdk:"auto_update"`
	Type       types.String `tfsdk:"type"`
	ExpiresAt  types.String `tfsdk:"expires_at"`

	DiskFormat      types.String `tfsdk:"disk_format"`
	ContainerFormat types.String `tfsdk:"container_format"`
	Visibility      types.String `tfsdk:"visibility"`
	Protected       types.Bool   `tfsdk:"protected"`
	Hidden          types.Bool   `tfsdk:"hidden"`
	MinDiskGB       types.Int64  `tfsdk:"min_disk_gb"`
	MinRAMMB        types.Int64  `tfsdk:"min_ram_mb"`
	Tags            types.Set    `tfsdk:"tags"`
	Owner           types.String `tfsdk:"owner"`
	Checksum        types.String `tfsdk:"checksum"`
	OSHashAlgo      types.String `tfsdk:"os_hash_algo"`
	OSHashValue     types.String `tfsdk:"os_hash_value"`

	Version          types.String `tfsdk:"version"`
	DefaultUsername  types.String `tfsdk:"default_username"`
	CPUArch          types.String `tfsdk:"cpu_arch"`
	AirProvider      types.String `tfsdk:"air_provider"`
	EmulationType    types.List   `tfsdk:"emulation_type"`
	EmulationVersion types.String `tfsdk:"emulation_version"`
	Mountpoint       types.String `tfsdk:"mountpoint"`
	MinimumResources types.Object `tfsdk:"minimum_resources"`
	IncludesAirAgent types.Bool   `tfsdk:"includes_air_agent"`
	Published        types.Bool   `tfsdk:"published"`
	Creator          types.String `tfsdk:"creator"`
}

// minimumResourcesType is the type of minimum_resources, the resource's air block's.
var minimumResourcesType = types.ObjectType{AttrTypes: map[string]attr.Type{"cpu": types.Int64Type, "memory": types.Int64Type, "storage": types.Int64Type}}

func imageDataAttrs() map[string]schema.Attribute {
	str := func(desc string) schema.Attribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	incus := func(desc string) string { return desc + " Incus and LXD only: null on other endpoints." }
	glance := func(desc string) string { return desc + " OpenStack (Glance) only: null on other endpoints." }
	air := func(desc string) string { return desc + " NVIDIA Air only: null on other endpoints." }
	return map[string]schema.Attribute{
		"id":     str("The image's ID: the fingerprint on incus and lxd endpoints, the image UUID on openstack and air endpoints."),
		"name":   str("The image's name: the `name` property on incus and lxd endpoints, the image's name on openstack and air endpoints. Null when it has none."),
		"sha256": str("The sha256 of the content: on incus and lxd endpoints and on Glance the content the provider uploaded, when the server records it; Air's `hash` on air endpoints. Null when unknown."),
		"status": str("The image's status: always `active` on incus and lxd endpoints; Glance's status (`active`, `deactivated`, `queued`, ...) on openstack endpoints; " +
			"Air's `upload_status` (`COMPLETE`, `READY`, `UPLOADING`, ...) on air endpoints."),
		"properties":        schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "All the image's properties. Null on air endpoints: Air images have none."},
		"size":              schema.Int64Attribute{Computed: true, MarkdownDescription: "Size in bytes."},
		"architecture":      str("Architecture: Incus's, or on openstack endpoints the `architecture` property; null when there is none, and on air endpoints, whose images have `cpu_arch` instead."),
		"created_at":        str("Build time on incus and lxd endpoints, creation time on openstack and air endpoints (RFC 3339)."),
		"uploaded_at":       str("Upload time (RFC 3339), null when the server records none."),
		"fingerprint":       str(incus("Fingerprint.")),
		"aliases":           schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: incus("Names of the image's aliases.")},
		"profiles":          schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: incus("Profiles applied to instances made from it.")},
		"public":            schema.BoolAttribute{Computed: true, MarkdownDescription: incus("Whether untrusted clients may download it.")},
		"auto_update":       schema.BoolAttribute{Computed: true, MarkdownDescription: incus("Whether the server refreshes it from its source.")},
		"type":              str(incus("`container` or `virtual-machine`.")),
		"expires_at":        str(incus("Expiry (RFC 3339), null when it never expires.")),
		"disk_format":       str(glance("Disk format (`qcow2`, `raw`, ...).")),
		"container_format":  str(glance("Container format (`bare`, `ovf`, ...).")),
		"visibility":        str(glance("`private`, `shared`, `community` or `public`.")),
		"protected":         schema.BoolAttribute{Computed: true, MarkdownDescription: glance("Whether the image is protected from deletion.")},
		"hidden":            schema.BoolAttribute{Computed: true, MarkdownDescription: glance("Whether the image is hidden from default listings (`os_hidden`).")},
		"min_disk_gb":       schema.Int64Attribute{Computed: true, MarkdownDescription: glance("Minimum disk size, in GB, to boot it.")},
		"min_ram_mb":        schema.Int64Attribute{Computed: true, MarkdownDescription: glance("Minimum RAM, in MB, to boot it.")},
		"tags":              schema.SetAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: glance("Tags.")},
		"owner":             str(glance("ID of the project that owns it.")),
		"checksum":          str(glance("MD5 of the content, as Glance computed it.")),
		"os_hash_algo":      str(glance("Algorithm of `os_hash_value` (`sha512` by default).")),
		"os_hash_value":     str(glance("Glance's multihash of the content.")),
		"version":           str(air("The image's version (name and version are unique in an organisation).")),
		"default_username":  str(air("The user a simulation node logs in as.")),
		"cpu_arch":          str(air("CPU architecture, in Air's names (such as `x86` or `ARM`).")),
		"air_provider":      str(air("Air's `provider`: `VM` or `CONTAINER` (`provider` itself is a name Terraform reserves).")),
		"emulation_type":    schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: air("Emulation types the image supports.")},
		"emulation_version": str(air("Version of the emulated system.")),
		"mountpoint":        str(air("Mount point of the image's root file system.")),
		"minimum_resources": schema.SingleNestedAttribute{
			Computed: true, MarkdownDescription: air("The least a simulation node of the image needs."),
			Attributes: map[string]schema.Attribute{
				"cpu":     schema.Int64Attribute{Computed: true, MarkdownDescription: "CPUs."},
				"memory":  schema.Int64Attribute{Computed: true, MarkdownDescription: "Memory, in MB."},
				"storage": schema.Int64Attribute{Computed: true, MarkdownDescription: "Storage, in GB."},
			},
		},
		"includes_air_agent": schema.BoolAttribute{Computed: true, MarkdownDescription: air("Whether the image has the Air agent installed.")},
		"published":          schema.BoolAttribute{Computed: true, MarkdownDescription: air("Whether the image is published to every Air user.")},
		"creator":            str(air("Who made the image.")),
	}
}

// imageDataType is the object type of imageDataAttrs, for the list of images.
func imageDataType() types.ObjectType {
	ts := map[string]attr.Type{}
	for name, a := range imageDataAttrs() {
		ts[name] = a.GetType()
	}
	return types.ObjectType{AttrTypes: ts}
}

// toDataModel converts an image found on an endpoint of the given family.
func toDataModel(ctx context.Context, img *backend.Image, family string) (imageDataModel, diag.Diagnostics) {
	var diags, d diag.Diagnostics
	m := imageDataModel{
		ID: types.StringValue(img.ID), Name: optString(img.Name), SHA256: optString(strings.ToLower(img.SHA256)), Status: optString(img.Status),
		Size: types.Int64Value(img.Size), Architecture: optString(img.Architecture),
		CreatedAt: tfvalue.Time(img.CreatedAt), UploadedAt: tfvalue.Time(img.UploadedAt),
		Fingerprint: types.StringNull(), Aliases: types.ListNull(types.StringType), Profiles: types.ListNull(types.StringType),
		Public: types.BoolNull(), AutoUpdate: types.BoolNull(), Type: types.StringNull(), ExpiresAt: types.StringNull(),
		DiskFormat: types.StringNull(), ContainerFormat: types.StringNull(), Visibility: types.StringNull(),
		Protected: types.BoolNull(), Hidden: types.BoolNull(), MinDiskGB: types.Int64Null(), MinRAMMB: types.Int64Null(),
		Tags: types.SetNull(types.StringType), Owner: types.StringNull(), Checksum: types.StringNull(),
		OSHashAlgo: types.StringNull(), OSHashValue: types.StringNull(),
		Version: types.StringNull(), DefaultUsername: types.StringNull(), CPUArch: types.StringNull(), AirProvider: types.StringNull(),
		EmulationType: types.ListNull(types.StringType), EmulationVersion: types.StringNull(), Mountpoint: types.StringNull(),
		MinimumResources: types.ObjectNull(minimumResourcesType.AttrTypes), IncludesAirAgent: types.BoolNull(), Published: types.BoolNull(), Creator: types.StringNull(),
	}
	m.Properties, d = types.MapValueFrom(ctx, types.StringType, img.Properties)
	diags.Append(d...)
	if family == "incus" {
		m.Fingerprint, m.Type, m.ExpiresAt = types.StringValue(img.Fingerprint), types.StringValue(img.Type), tfvalue.Time(img.ExpiresAt)
		m.Public, m.AutoUpdate = types.BoolValue(img.Public), types.BoolValue(img.AutoUpdate)
		names := []string{}
		for _, a := range img.Aliases {
			names = append(names, a.Name)
		}
		sort.Strings(names)
		m.Aliases, d = types.ListValueFrom(ctx, types.StringType, names)
		diags.Append(d...)
		m.Profiles, d = types.ListValueFrom(ctx, types.StringType, append([]string{}, img.Profiles...))
		diags.Append(d...)
	}
	if o := img.OpenStack; o != nil {
		m.DiskFormat, m.ContainerFormat, m.Visibility = optString(o.DiskFormat), optString(o.ContainerFormat), types.StringValue(o.Visibility)
		m.Protected, m.Hidden = types.BoolValue(o.Protected), types.BoolValue(o.Hidden)
		m.MinDiskGB, m.MinRAMMB = types.Int64Value(o.MinDiskGB), types.Int64Value(o.MinRAMMB)
		m.Owner, m.Checksum, m.OSHashAlgo, m.OSHashValue = optString(o.Owner), optString(o.Checksum), optString(o.OSHashAlgo), optString(o.OSHashValue)
		m.Tags, d = types.SetValueFrom(ctx, types.StringType, append([]string{}, o.Tags...))
		diags.Append(d...)
	}
	if a := img.Air; a != nil {
		m.Version, m.DefaultUsername, m.CPUArch, m.AirProvider = types.StringValue(a.Version), types.StringValue(a.DefaultUsername), optString(a.CPUArch), optString(a.Provider)
		m.EmulationVersion, m.Mountpoint, m.Creator = optString(a.EmulationVersion), optString(a.Mountpoint), optString(a.Creator)
		m.IncludesAirAgent, m.Published = types.BoolValue(a.IncludesAirAgent), types.BoolValue(a.Published)
		m.EmulationType, d = types.ListValueFrom(ctx, types.StringType, append([]string{}, a.EmulationType...))
		diags.Append(d...)
		r := a.MinimumResources
		m.MinimumResources, d = types.ObjectValue(minimumResourcesType.AttrTypes, map[string]attr.Value{
			"cpu": types.Int64Value(r.CPU), "memory": types.Int64Value(r.Memory), "storage": types.Int64Value(r.Storage)})
		diags.Append(d...)
	}
	return m, diags
}

// filterModel holds the filters both data sources take.
type filterModel struct {
	Properties   types.Map    `tfsdk:"properties"`
	Type         types.String `tfsdk:"type"`
	Architecture types.String `tfsdk:"architecture"`
	Name         types.String `tfsdk:"name"`
	Status       types.String `tfsdk:"status"`
	SHA256       types.String `tfsdk:"sha256"`
	Tags         types.Set    `tfsdk:"tags"`
	Visibility   types.String `tfsdk:"visibility"`
	MemberStatus types.String `tfsdk:"member_status"`
	Owner        types.String `tfsdk:"owner"`
	Hidden       types.String `tfsdk:"hidden"`
	OSHashValue  types.String `tfsdk:"os_hash_value"`
	Version      types.String `tfsdk:"version"`
	Published    types.Bool   `tfsdk:"published"`
	CPUArch      types.String `tfsdk:"cpu_arch"`
}

// Statuses a filter may name: Glance's (incus and lxd images are always active), and
// Air's upload statuses, with the two of Air's gated publishing that its API
// reference lists.
var (
	glanceStatuses = []string{"queued", "saving", "uploading", "importing", "active", "deactivated", "killed", "deleted", "pending_delete"}
	airStatuses    = []string{"READY", "UPLOADING", "VALIDATING", "COMPLETE", "PUBLISHING", "UNPUBLISHING", "COPYING_FROM_IMAGE_SHARE", "PENDING_PUBLISH", "PENDING_UNPUBLISH"}
)

// statusesOf are the statuses the images of a family can have.
func statusesOf(family string) []string {
	switch family {
	case "air":
		return airStatuses
	case "incus":
		return []string{"active"}
	}
	return glanceStatuses
}

var hexDigits = regexp.MustCompile(`^[0-9a-fA-F]+$`)

func filterAttrs(attrs map[string]schema.Attribute) map[string]schema.Attribute {
	incus := func(desc string) string { return desc + " Incus and LXD only: an error on other endpoints." }
	glance := func(desc string) string { return desc + " OpenStack (Glance) only: an error on other endpoints." }
	air := func(desc string) string { return desc + " NVIDIA Air only: an error on other endpoints." }
	attrs["endpoint"] = schema.StringAttribute{Optional: true, MarkdownDescription: "Name of the provider endpoint to search. Defaults to the provider's `default_endpoint`."}
	attrs["filter"] = schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "Only images that match all of these. An image found by `id` or `alias` must match them too, else nothing is found. " +
			"A filter that the endpoint's kind does not have is an error, not ignored.",
		Attributes: map[string]schema.Attribute{
			"properties": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Only images that have all these properties with these values. An error on air endpoints, whose images have no properties."},
			"name": schema.StringAttribute{Optional: true, MarkdownDescription: "Only images of this name: the `name` property on incus and lxd endpoints, the image's name on openstack and air endpoints.", Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
			"status": schema.StringAttribute{
				Optional: true, MarkdownDescription: "Only images in this status. Images on incus and lxd endpoints are always `active`; on openstack endpoints, Glance's status, such as `deactivated`; " +
					"on air endpoints, Air's `upload_status`: `READY`, `UPLOADING`, `VALIDATING`, `COMPLETE`, `PUBLISHING`, `UNPUBLISHING`, `COPYING_FROM_IMAGE_SHARE`, `PENDING_PUBLISH` or `PENDING_UNPUBLISH`. " +
					"An Air status on an endpoint of another kind, or another status on an air endpoint, is an error.",
				Validators: []validator.String{stringvalidator.OneOf(append(slices.Clone(glanceStatuses), airStatuses...)...)},
			},
			"sha256": schema.StringAttribute{
				Optional: true, MarkdownDescription: "Only images whose content has this sha256 (the `sha256` attribute): content the provider uploaded on incus, lxd and openstack endpoints, Air's `hash` on air endpoints. " +
					"Checked by the provider, as Glance cannot filter on it.",
				Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^[0-9a-fA-F]{64}$`), "must be 64 hexadecimal digits")},
			},
			"type": schema.StringAttribute{Optional: true, MarkdownDescription: incus("Only images of this type: `container` or `virtual-machine`."), Validators: []validator.String{stringvalidator.OneOf("container", "virtual-machine")}},
			"architecture": schema.StringAttribute{Optional: true,
				MarkdownDescription: "Only images of this architecture, such as `x86_64`: Incus's, or on openstack endpoints the `architecture` property. An error on air endpoints: use `cpu_arch` there."},
			"tags": schema.SetAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: glance("Only images that have all these tags.")},
			"visibility": schema.StringAttribute{
				Optional: true, MarkdownDescription: glance("Only images of this visibility: `public`, `private`, `shared`, `community`, or `all`. Unset, a listing leaves out community images, as Glance does."),
				Validators: []validator.String{stringvalidator.OneOf("public", "private", "shared", "community", "all")},
			},
			"member_status": schema.StringAttribute{
				Optional: true, MarkdownDescription: glance("Images shared with this project only where its membership has this status: `accepted`, `pending`, `rejected` or `all` " +
					"(the project's own and public images are not affected, as in Glance). Unset, a listing holds accepted ones only, as Glance does."),
				Validators: []validator.String{stringvalidator.OneOf("accepted", "pending", "rejected", "all")},
			},
			"owner": schema.StringAttribute{Optional: true, MarkdownDescription: glance("Only images owned by this project ID.")},
			"hidden": schema.StringAttribute{
				Optional: true, MarkdownDescription: glance("`true` for hidden images only, `false` for visible ones only, `either` for both. " +
					"Unset, a listing leaves hidden images out, as Glance does; an image found by `id` is found whether hidden or not."),
				Validators: []validator.String{stringvalidator.OneOf("true", "false", "either")},
			},
			"os_hash_value": schema.StringAttribute{
				Optional: true, MarkdownDescription: glance("Only images whose Glance multihash (`os_hash_value`) is this."),
				Validators: []validator.String{stringvalidator.RegexMatches(hexDigits, "must be hexadecimal digits")},
			},
			"version":   schema.StringAttribute{Optional: true, MarkdownDescription: air("Only images of this version."), Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
			"published": schema.BoolAttribute{Optional: true, MarkdownDescription: air("`true` for published images only, `false` for unpublished ones only.")},
			"cpu_arch": schema.StringAttribute{Optional: true, MarkdownDescription: air("Only images of this CPU architecture, in Air's names (such as `x86` or `ARM`)."),
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
		},
	}
	return attrs
}

// advice is what to do instead, by the family of the endpoint that refuses a lookup
// or filter; "" for any family not named.
type advice map[string]string

// familyOnly is what only some families of endpoint have. On an endpoint of another
// family it is an error rather than ignored: an ignored lookup or filter would find
// an image the user ruled out.
var familyOnly = []struct {
	path     path.Path
	families []string
	instead  advice
}{
	{path.Root("fingerprint"), []string{"incus"}, advice{"": "find the image by id"}},
	{path.Root("alias"), []string{"incus"}, advice{"": "find the image by id, or by filter (name, tags, properties)", "air": "find the image by id, or by filter (name, version)"}},
	{path.Root("filter").AtName("type"), []string{"incus"}, advice{"": "leave it out (Glance images have a disk format, not a type)", "air": "leave it out (Air images have a provider, VM or CONTAINER: see air_provider)"}},
	{path.Root("filter").AtName("properties"), []string{"incus", "openstack"}, advice{"": "filter on name and version (Air images have no properties)"}},
	{path.Root("filter").AtName("architecture"), []string{"incus", "openstack"}, advice{"": "filter on cpu_arch, in Air's names (such as x86 or ARM)"}},
	{path.Root("filter").AtName("tags"), []string{"openstack"}, advice{"": "filter on properties", "air": "filter on name and version"}},
	{path.Root("filter").AtName("visibility"), []string{"openstack"}, advice{"": "leave it out", "air": "filter on published"}},
	{path.Root("filter").AtName("member_status"), []string{"openstack"}, advice{"": "leave it out"}},
	{path.Root("filter").AtName("owner"), []string{"openstack"}, advice{"": "leave it out"}},
	{path.Root("filter").AtName("hidden"), []string{"openstack"}, advice{"": "leave it out"}},
	{path.Root("filter").AtName("os_hash_value"), []string{"openstack"}, advice{"": "filter on sha256"}},
	{path.Root("filter").AtName("version"), []string{"air"}, advice{"": "filter on name or properties"}},
	{path.Root("filter").AtName("published"), []string{"air"}, advice{"": "leave it out", "openstack": "filter on visibility"}},
	{path.Root("filter").AtName("cpu_arch"), []string{"air"}, advice{"": "filter on architecture"}},
}

// checkFamily reports the lookups and filters set in config that the endpoint's
// family does not have, before anything is asked of the endpoint. Read calls it:
// Terraform reads a data source at plan time when its configuration is known, else
// at apply, and it validates a data source with a configured provider (the registry)
// only just before reading it, so a ValidateConfig check would come no earlier.
func checkFamily(ctx context.Context, reg *endpoints.Registry, config tfsdk.Config) diag.Diagnostics {
	var diags diag.Diagnostics
	var endpoint types.String
	diags.Append(config.GetAttribute(ctx, path.Root("endpoint"), &endpoint)...)
	if diags.HasError() {
		return diags
	}
	name, kind, err := reg.Resolve(endpoint.ValueString())
	if err != nil {
		diags.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
		return diags
	}
	family := reg.Family(name)
	for _, only := range familyOnly {
		if _, d := config.Schema.AttributeAtPath(ctx, only.path); slices.Contains(only.families, family) || d.HasError() {
			// Of this family, or not in this data source's schema.
			continue
		}
		var v attr.Value
		diags.Append(config.GetAttribute(ctx, only.path, &v)...)
		if v != nil && !v.IsNull() && !v.IsUnknown() {
			instead, ok := only.instead[family]
			if !ok {
				instead = only.instead[""]
			}
			diags.Append(familyOnlyDiag(only.path, name, kind, endpoints.FamilyKinds(only.families...), instead))
		}
	}
	// A status in the other vocabulary would match nothing, whatever the images. On
	// incus and lxd, Glance's other statuses are allowed and match nothing, so that
	// a filter can serve incus, lxd and openstack endpoints alike.
	statusPath := path.Root("filter").AtName("status")
	var status types.String
	diags.Append(config.GetAttribute(ctx, statusPath, &status)...)
	if s := status.ValueString(); s != "" && slices.Contains(airStatuses, s) != (family == "air") {
		diags.Append(statusFamilyDiag(statusPath, name, kind, s, statusesOf(family)))
	}
	return diags
}

// imageFilter is the filter block as plain values: what a backend filters on, and
// what only the provider checks (Air's version, published and hash among them: the
// Air client filters on name and status only).
type imageFilter struct {
	backend.ImageFilter
	Type         string
	Architecture string
	SHA256       string
	OSHashValue  string
	Version      string
	Published    *bool
	CPUArch      string
}

func (f *filterModel) read(ctx context.Context) (imageFilter, diag.Diagnostics) {
	var diags diag.Diagnostics
	if f == nil {
		return imageFilter{}, diags
	}
	out := imageFilter{
		ImageFilter: backend.ImageFilter{
			Name: f.Name.ValueString(), Visibility: f.Visibility.ValueString(), MemberStatus: f.MemberStatus.ValueString(),
			Owner: f.Owner.ValueString(), Status: f.Status.ValueString(), Hidden: f.Hidden.ValueString(),
		},
		Type: f.Type.ValueString(), Architecture: f.Architecture.ValueString(), SHA256: f.SHA256.ValueString(), OSHashValue: f.OSHashValue.ValueString(),
		Version: f.Version.ValueString(), Published: f.Published.ValueBoolPointer(), CPUArch: f.CPUArch.ValueString(),
	}
	if !f.Properties.IsNull() {
		diags.Append(f.Properties.ElementsAs(ctx, &out.Properties, false)...)
	}
	if !f.Tags.IsNull() {
		diags.Append(f.Tags.ElementsAs(ctx, &out.Tags, false)...)
	}
	return out, diags
}

// listing is the filter for a listing, with Glance's default: hidden images left out.
func (f imageFilter) listing() imageFilter {
	if f.Hidden == "" {
		f.Hidden = "false"
	}
	return f
}

// match checks what the image itself shows. An image's member status is not among
// that: a listing has it applied by the server, and admits checks it for an image
// found by id.
func (f imageFilter) match(img *backend.Image) bool {
	o, a := img.OpenStack, img.Air
	if o == nil {
		o = &backend.OpenStackImage{}
	}
	if a == nil {
		a = &backend.AirImage{}
	}
	switch {
	case f.Name != "" && img.Name != f.Name,
		f.Status != "" && img.Status != f.Status,
		f.SHA256 != "" && !strings.EqualFold(img.SHA256, f.SHA256),
		f.Type != "" && img.Type != f.Type,
		f.Architecture != "" && img.Architecture != f.Architecture,
		f.Visibility != "" && f.Visibility != "all" && o.Visibility != f.Visibility,
		f.Owner != "" && o.Owner != f.Owner,
		f.Hidden == "true" && !o.Hidden,
		f.Hidden == "false" && o.Hidden,
		f.OSHashValue != "" && !strings.EqualFold(o.OSHashValue, f.OSHashValue),
		f.Version != "" && a.Version != f.Version,
		f.Published != nil && a.Published != *f.Published,
		f.CPUArch != "" && a.CPUArch != f.CPUArch:
		return false
	}
	for _, t := range f.Tags {
		if !slices.Contains(o.Tags, t) {
			return false
		}
	}
	for k, v := range f.Properties {
		if got, ok := img.Properties[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// admits reports whether an image found by id or alias passes the filter. Glance
// reports no member status on an image: for member_status, the image must be in a
// listing with that member status (the other listing defaults widened, as they do
// not apply to an image asked for by id).
func (f imageFilter) admits(ctx context.Context, images backend.ImageStore, img *backend.Image) (bool, error) {
	if !f.match(img) {
		return false, nil
	}
	if f.MemberStatus == "" {
		return true, nil
	}
	listed, err := images.ListImages(ctx, backend.ImageFilter{Name: img.Name, MemberStatus: f.MemberStatus, Visibility: "all", Hidden: "either"})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(listed, func(l backend.Image) bool { return l.ID == img.ID }), nil
}

// list returns the images of the endpoint that match the filter, newest first.
func (f imageFilter) list(ctx context.Context, images backend.ImageStore) ([]backend.Image, error) {
	f = f.listing()
	all, err := images.ListImages(ctx, f.ImageFilter)
	if err != nil {
		return nil, err
	}
	var found []backend.Image
	for i := range all {
		if f.match(&all[i]) {
			found = append(found, all[i])
		}
	}
	newestFirst(found)
	return found, nil
}

// newestFirst sorts by build time, then upload time.
func newestFirst(imgs []backend.Image) {
	sort.SliceStable(imgs, func(i, j int) bool {
		if !imgs[i].CreatedAt.Equal(imgs[j].CreatedAt) {
			return imgs[i].CreatedAt.After(imgs[j].CreatedAt)
		}
		return imgs[i].UploadedAt.After(imgs[j].UploadedAt)
	})
}

func connectForData(ctx context.Context, reg *endpoints.Registry, name string) (*endpoints.Endpoint, diag.Diagnostics) {
	var diags diag.Diagnostics
	if _, _, err := reg.Require(name, backend.CapImages); err != nil {
		diags.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
		return nil, diags
	}
	ep, err := reg.Get(ctx, name)
	if err != nil {
		diags.Append(tfendpoints.ConnectDiag("read images", err))
	}
	return ep, diags
}

// imageDataSource is imagefleet_image: one image.
type imageDataSource struct {
	reg *endpoints.Registry
}

type imageDataSourceModel struct {
	imageDataModel
	Endpoint   types.String `tfsdk:"endpoint"`
	Filter     *filterModel `tfsdk:"filter"`
	Alias      types.String `tfsdk:"alias"`
	MostRecent types.Bool   `tfsdk:"most_recent"`
}

// NewDataSource is the imagefleet_image data source.
func NewDataSource() datasource.DataSource { return &imageDataSource{} }

func (d *imageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (d *imageDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	reg, diags := tfendpoints.Registry(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	d.reg = reg
}

func (d *imageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := filterAttrs(imageDataAttrs())
	attrs["id"] = schema.StringAttribute{
		Optional: true, Computed: true,
		MarkdownDescription: "Find the image by ID: on incus and lxd endpoints a fingerprint or a unique prefix of one, on openstack and air endpoints the image UUID. " +
			"Computed otherwise: the image's full ID.",
		Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
	}
	attrs["fingerprint"] = schema.StringAttribute{
		Optional: true, Computed: true,
		MarkdownDescription: "Find the image by fingerprint, or a unique prefix of one: the same as `id`, kept for incus and lxd endpoints only (an error on others). " +
			"Computed otherwise: the image's fingerprint, null on endpoints of other kinds.",
		Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
	}
	attrs["alias"] = schema.StringAttribute{
		Optional:            true,
		MarkdownDescription: "Find the image an alias points at (any existing alias, including names with a slash). Incus and LXD only: an error on other endpoints.",
		Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
	}
	attrs["most_recent"] = schema.BoolAttribute{Optional: true, MarkdownDescription: "When several images match the filters, take the most recently built (then uploaded) instead of failing."}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Finds one image on an endpoint of any kind: by `id`, by `alias` (incus and lxd), or by `filter`, " +
			"with `most_recent` to pick the newest of several matches. An image found by `id` or `alias` must also match the filter.",
		Attributes: attrs,
	}
}

func (d *imageDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{datasourcevalidator.Conflicting(path.MatchRoot("id"), path.MatchRoot("fingerprint"), path.MatchRoot("alias"))}
}

// ValidateConfig refuses a lookup of one image that names nothing to look for: it
// would stand or fall by how many images the endpoint happens to hold.
func (d *imageDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	for _, name := range []string{"id", "fingerprint", "alias", "filter"} {
		var v attr.Value
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(name), &v)...)
		if v == nil || !v.IsNull() {
			return
		}
	}
	resp.Diagnostics.Append(noLookupDiag())
}

func (d *imageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imageDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	resp.Diagnostics.Append(checkFamily(ctx, d.reg, req.Config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	f, diags := m.Filter.read(ctx)
	resp.Diagnostics.Append(diags...)
	ep, diags := connectForData(ctx, d.reg, m.Endpoint.ValueString())
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	img, problem := find(ctx, ep, &m, f)
	if problem != nil {
		resp.Diagnostics.Append(problem)
		return
	}
	m.imageDataModel, diags = toDataModel(ctx, img, d.reg.Family(ep.Name))
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// find finds the one image the configuration asks for: by id, fingerprint or alias,
// which must then pass the filter too, or by the filter alone.
func find(ctx context.Context, ep *endpoints.Endpoint, m *imageDataSourceModel, f imageFilter) (*backend.Image, diag.Diagnostic) {
	var img *backend.Image
	var lookup string
	var err error
	switch {
	case m.ID.ValueString() != "":
		lookup = fmt.Sprintf("id %q", m.ID.ValueString())
		img, err = ep.Images.GetImage(ctx, m.ID.ValueString())
	case m.Fingerprint.ValueString() != "":
		lookup = fmt.Sprintf("fingerprint %q", m.Fingerprint.ValueString())
		img, err = ep.Images.GetImage(ctx, m.Fingerprint.ValueString())
	case m.Alias.ValueString() != "":
		lookup = fmt.Sprintf("alias %q", m.Alias.ValueString())
		var a *backend.Alias
		if a, err = ep.Aliases.GetAlias(ctx, m.Alias.ValueString()); err == nil {
			img, err = ep.Images.GetImage(ctx, a.Target)
		}
	default:
		found, err := f.list(ctx, ep.Images)
		switch {
		case err != nil:
			return nil, apiDiag("list images", ep.Name, "images", err)
		case len(found) == 0:
			return nil, noImageDiag(ep.Name, "", false)
		case len(found) > 1 && !m.MostRecent.ValueBool():
			return nil, ambiguousDiag(ep.Name, found)
		}
		return &found[0], nil
	}
	if errors.Is(err, backend.ErrNotFound) {
		return nil, noImageDiag(ep.Name, lookup, false)
	}
	if err != nil {
		return nil, apiDiag("find image", ep.Name, lookup, err)
	}
	ok, err := f.admits(ctx, ep.Images, img)
	switch {
	case err != nil:
		return nil, apiDiag("list images", ep.Name, "images", err)
	case !ok:
		return nil, noImageDiag(ep.Name, lookup, true)
	}
	return img, nil
}

// imagesDataSource is imagefleet_images: every image matching the filters.
type imagesDataSource struct {
	reg *endpoints.Registry
}

type imagesDataSourceModel struct {
	Endpoint types.String `tfsdk:"endpoint"`
	Filter   *filterModel `tfsdk:"filter"`
	ID       types.String `tfsdk:"id"`
	Images   types.List   `tfsdk:"images"`
}

// NewListDataSource is the imagefleet_images data source.
func NewListDataSource() datasource.DataSource { return &imagesDataSource{} }

func (d *imagesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_images"
}

func (d *imagesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	reg, diags := tfendpoints.Registry(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	d.reg = reg
}

func (d *imagesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := filterAttrs(map[string]schema.Attribute{})
	attrs["id"] = schema.StringAttribute{Computed: true, MarkdownDescription: "The endpoint searched."}
	attrs["images"] = schema.ListNestedAttribute{
		Computed: true, MarkdownDescription: "The matching images, newest first.",
		NestedObject: schema.NestedAttributeObject{Attributes: imageDataAttrs()},
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the images of an endpoint of any kind that match the filters, newest first.",
		Attributes:          attrs,
	}
}

func (d *imagesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imagesDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	resp.Diagnostics.Append(checkFamily(ctx, d.reg, req.Config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	f, diags := m.Filter.read(ctx)
	resp.Diagnostics.Append(diags...)
	ep, diags := connectForData(ctx, d.reg, m.Endpoint.ValueString())
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	found, err := f.list(ctx, ep.Images)
	if err != nil {
		resp.Diagnostics.Append(apiDiag("list images", ep.Name, "images", err))
		return
	}
	family := d.reg.Family(ep.Name)
	out := []imageDataModel{}
	for i := range found {
		dm, diags := toDataModel(ctx, &found[i], family)
		resp.Diagnostics.Append(diags...)
		out = append(out, dm)
	}
	m.Images, diags = types.ListValueFrom(ctx, imageDataType(), out)
	resp.Diagnostics.Append(diags...)
	m.ID = types.StringValue(ep.Name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
