package image

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfvalue"
)

type imageResourceModel struct {
	ID           types.String   `tfsdk:"id"`
	Endpoint     types.String   `tfsdk:"endpoint"`
	File         types.String   `tfsdk:"file"`
	Split        *splitModel    `tfsdk:"split"`
	URL          types.String   `tfsdk:"url"`
	Remote       *remoteModel   `tfsdk:"remote"`
	CopyFrom     *copyFromModel `tfsdk:"copy_from"`
	Name         types.String   `tfsdk:"name"`
	Properties   types.Map      `tfsdk:"properties"`
	Incus        types.Object   `tfsdk:"incus"`
	OpenStack    types.Object   `tfsdk:"openstack"`
	Air          types.Object   `tfsdk:"air"`
	Claim        *claimModel    `tfsdk:"claim"`
	SourceSHA256 types.String   `tfsdk:"source_sha256"`
	Fingerprint  types.String   `tfsdk:"fingerprint"`
	Checksum     types.String   `tfsdk:"checksum"`
	OSHashAlgo   types.String   `tfsdk:"os_hash_algo"`
	OSHashValue  types.String   `tfsdk:"os_hash_value"`
	Size         types.Int64    `tfsdk:"size"`
	Architecture types.String   `tfsdk:"architecture"`
	Type         types.String   `tfsdk:"type"`
	CreatedAt    types.String   `tfsdk:"created_at"`
	UploadedAt   types.String   `tfsdk:"uploaded_at"`
	Timeouts     timeouts.Value `tfsdk:"timeouts"`
}

type splitModel struct {
	MetadataFile types.String `tfsdk:"metadata_file"`
	RootfsFile   types.String `tfsdk:"rootfs_file"`
}

type remoteModel struct {
	Server       types.String `tfsdk:"server"`
	Protocol     types.String `tfsdk:"protocol"`
	Alias        types.String `tfsdk:"alias"`
	Type         types.String `tfsdk:"type"`
	Architecture types.String `tfsdk:"architecture"`
	Certificate  types.String `tfsdk:"certificate"`
}

type claimModel struct {
	Share types.String `tfsdk:"share"`
}

type copyFromModel struct {
	Endpoint types.String `tfsdk:"endpoint"`
	Image    types.String `tfsdk:"image"`
}

// incusModel is the incus block: what only Incus and LXD images have.
type incusModel struct {
	Public       types.Bool   `tfsdk:"public"`
	AutoUpdate   types.Bool   `tfsdk:"auto_update"`
	ExpiresAt    types.String `tfsdk:"expires_at"`
	Profiles     types.List   `tfsdk:"profiles"`
	Aliases      types.Set    `tfsdk:"aliases"`
	Architecture types.String `tfsdk:"architecture"`
}

// openstackModel is the openstack block: what only Glance images have.
type openstackModel struct {
	DiskFormat      types.String `tfsdk:"disk_format"`
	ContainerFormat types.String `tfsdk:"container_format"`
	Visibility      types.String `tfsdk:"visibility"`
	Protected       types.Bool   `tfsdk:"protected"`
	Hidden          types.Bool   `tfsdk:"hidden"`
	MinDiskGB       types.Int64  `tfsdk:"min_disk_gb"`
	MinRAMMB        types.Int64  `tfsdk:"min_ram_mb"`
	Tags            types.Set    `tfsdk:"tags"`
	Deactivated     types.Bool   `tfsdk:"deactivated"`
}

// airModel is the air block: what only NVIDIA Air images have.
type airModel struct {
	Version                types.String `tfsdk:"version"`
	DefaultUsername        types.String `tfsdk:"default_username"`
	DefaultPassword        types.String `tfsdk:"default_password"`
	DefaultPasswordVersion types.Int64  `tfsdk:"default_password_version"`
	CPUArch                types.String `tfsdk:"cpu_arch"`
	Provider               types.String `tfsdk:"provider"`
	EmulationType          types.List   `tfsdk:"emulation_type"`
	EmulationVersion       types.String `tfsdk:"emulation_version"`
	Mountpoint             types.String `tfsdk:"mountpoint"`
	MinimumResources       types.Object `tfsdk:"minimum_resources"`
	IncludesAirAgent       types.Bool   `tfsdk:"includes_air_agent"`
	Published              types.Bool   `tfsdk:"published"`
	UploadStatus           types.String `tfsdk:"upload_status"`
}

type resourcesModel struct {
	CPU     types.Int64 `tfsdk:"cpu"`
	Memory  types.Int64 `tfsdk:"memory"`
	Storage types.Int64 `tfsdk:"storage"`
}

var resourcesType = types.ObjectType{AttrTypes: map[string]attr.Type{"cpu": types.Int64Type, "memory": types.Int64Type, "storage": types.Int64Type}}

var airType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"version": types.StringType, "default_username": types.StringType, "default_password": types.StringType,
	"default_password_version": types.Int64Type, "cpu_arch": types.StringType, "provider": types.StringType,
	"emulation_type": types.ListType{ElemType: types.StringType}, "emulation_version": types.StringType,
	"mountpoint": types.StringType, "minimum_resources": resourcesType, "includes_air_agent": types.BoolType,
	"published": types.BoolType, "upload_status": types.StringType,
}}

var aliasType = types.ObjectType{AttrTypes: map[string]attr.Type{"name": types.StringType, "description": types.StringType}}

var incusType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"public": types.BoolType, "auto_update": types.BoolType, "expires_at": types.StringType,
	"profiles": types.ListType{ElemType: types.StringType}, "aliases": types.SetType{ElemType: aliasType}, "architecture": types.StringType,
}}

var openstackType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"disk_format": types.StringType, "container_format": types.StringType, "visibility": types.StringType,
	"protected": types.BoolType, "hidden": types.BoolType, "min_disk_gb": types.Int64Type, "min_ram_mb": types.Int64Type,
	"tags": types.SetType{ElemType: types.StringType}, "deactivated": types.BoolType,
}}

type aliasModel struct {
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
}

// block decodes a family block into T; nil when it is null or unknown.
func block[T any](ctx context.Context, o types.Object) (*T, diag.Diagnostics) {
	if o.IsNull() || o.IsUnknown() {
		return nil, nil
	}
	var b T
	diags := o.As(ctx, &b, basetypes.ObjectAsOptions{})
	return &b, diags
}

func (m *imageResourceModel) incus(ctx context.Context) (*incusModel, diag.Diagnostics) {
	return block[incusModel](ctx, m.Incus)
}

func (m *imageResourceModel) openstack(ctx context.Context) (*openstackModel, diag.Diagnostics) {
	return block[openstackModel](ctx, m.OpenStack)
}

func (m *imageResourceModel) air(ctx context.Context) (*airModel, diag.Diagnostics) {
	return block[airModel](ctx, m.Air)
}

// localFiles returns the local files of a file or split source, metadata (or the
// unified tarball, or the disk) first; none for the other sources.
func (m *imageResourceModel) localFiles() (metadata, rootfs string, ok bool) {
	switch {
	case !m.File.IsNull():
		return m.File.ValueString(), "", true
	case m.Split != nil:
		return m.Split.MetadataFile.ValueString(), m.Split.RootfsFile.ValueString(), true
	}
	return "", "", false
}

func known(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }

// attrs turns the arguments that change in place into what the backend changes. A
// family block left out leaves its settings as the server has them; inside a block,
// public, auto_update and expires_at are always sent, since unset means false or
// "never"; properties and profiles left unset stay as the server has them.
func (m *imageResourceModel) attrs(ctx context.Context) (backend.ImageAttrs, diag.Diagnostics) {
	var a backend.ImageAttrs
	var diags, d diag.Diagnostics
	if known(m.Name) {
		name := m.Name.ValueString()
		a.Name = &name
	}
	if known(m.Properties) {
		a.Properties = map[string]string{}
		diags.Append(m.Properties.ElementsAs(ctx, &a.Properties, false)...)
	}
	in, d := m.incus(ctx)
	diags.Append(d...)
	if in != nil {
		if known(in.Public) {
			public := in.Public.ValueBool()
			a.Public = &public
		}
		if known(in.AutoUpdate) {
			autoUpdate := in.AutoUpdate.ValueBool()
			a.AutoUpdate = &autoUpdate
		}
		if known(in.Profiles) {
			a.Profiles = []string{}
			diags.Append(in.Profiles.ElementsAs(ctx, &a.Profiles, false)...)
		}
		if !in.ExpiresAt.IsUnknown() {
			var expires time.Time
			if !in.ExpiresAt.IsNull() {
				expires, _ = time.Parse(time.RFC3339, in.ExpiresAt.ValueString())
			}
			a.ExpiresAt = &expires
		}
	}
	glance, d := m.openstack(ctx)
	diags.Append(d...)
	if glance != nil {
		o := &backend.OpenStackAttrs{DiskFormat: glance.DiskFormat.ValueString(), ContainerFormat: glance.ContainerFormat.ValueString()}
		if known(glance.Visibility) {
			v := glance.Visibility.ValueString()
			o.Visibility = &v
		}
		o.Protected, o.Hidden, o.Deactivated = boolPtr(glance.Protected), boolPtr(glance.Hidden), boolPtr(glance.Deactivated)
		o.MinDiskGB, o.MinRAMMB = int64Ptr(glance.MinDiskGB), int64Ptr(glance.MinRAMMB)
		if known(glance.Tags) {
			o.Tags = []string{}
			diags.Append(glance.Tags.ElementsAs(ctx, &o.Tags, false)...)
		}
		a.OpenStack = o
	}
	ab, d := m.air(ctx)
	diags.Append(d...)
	if ab != nil {
		a.Air = ab.attrs(ctx)
	}
	return a, diags
}

// attrs turns the air block into what the backend sets; the write-only password is
// not in the plan, and is added from the configuration when it is to be sent.
func (b *airModel) attrs(ctx context.Context) *backend.AirAttrs {
	str := func(v types.String) *string {
		if !known(v) {
			return nil
		}
		s := v.ValueString()
		return &s
	}
	a := &backend.AirAttrs{Version: str(b.Version), DefaultUsername: str(b.DefaultUsername), CPUArch: str(b.CPUArch),
		Provider: str(b.Provider), EmulationVersion: str(b.EmulationVersion), Mountpoint: str(b.Mountpoint),
		IncludesAirAgent: boolPtr(b.IncludesAirAgent), Published: boolPtr(b.Published)}
	if known(b.EmulationType) {
		a.EmulationType = []string{}
		b.EmulationType.ElementsAs(ctx, &a.EmulationType, false)
	}
	if known(b.MinimumResources) {
		var r resourcesModel
		b.MinimumResources.As(ctx, &r, basetypes.ObjectAsOptions{})
		a.MinimumResources = &backend.AirResources{CPU: r.CPU.ValueInt64(), Memory: r.Memory.ValueInt64(), Storage: r.Storage.ValueInt64()}
	}
	return a
}

func boolPtr(v types.Bool) *bool {
	if !known(v) {
		return nil
	}
	b := v.ValueBool()
	return &b
}

func int64Ptr(v types.Int64) *int64 {
	if !known(v) {
		return nil
	}
	i := v.ValueInt64()
	return &i
}

// attrsDiffer reports whether any attribute the server holds differs from prior, so an
// update that only renames a source path or edits aliases sends no image update.
func (m *imageResourceModel) attrsDiffer(ctx context.Context, prior *imageResourceModel) bool {
	if !m.Name.Equal(prior.Name) || !m.Properties.Equal(prior.Properties) || !m.OpenStack.Equal(prior.OpenStack) || !m.Air.Equal(prior.Air) {
		return true
	}
	a, _ := m.incus(ctx)
	b, _ := prior.incus(ctx)
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return !a.Public.Equal(b.Public) || !a.AutoUpdate.Equal(b.AutoUpdate) || !a.ExpiresAt.Equal(b.ExpiresAt) || !a.Profiles.Equal(b.Profiles)
}

func (m *imageResourceModel) aliases(ctx context.Context) ([]backend.ImageAlias, diag.Diagnostics) {
	in, diags := m.incus(ctx)
	if in == nil || !known(in.Aliases) {
		return nil, diags
	}
	var as []aliasModel
	diags.Append(in.Aliases.ElementsAs(ctx, &as, false)...)
	out := make([]backend.ImageAlias, 0, len(as))
	for _, a := range as {
		// A name unknown at plan time is known, and handled, at apply.
		if a.Name.IsUnknown() {
			continue
		}
		out = append(out, backend.ImageAlias{Name: a.Name.ValueString(), Description: a.Description.ValueString()})
	}
	return out, diags
}

// setFromServer refreshes everything the server holds. family is the image-setting
// family of the endpoint: its block is refreshed from the server, and the blocks of
// other families are kept as configured, since they do not apply there.
func (m *imageResourceModel) setFromServer(ctx context.Context, img *backend.Image, family string) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.ID = types.StringValue(img.ID)
	m.Fingerprint = optString(img.Fingerprint)
	m.Size = types.Int64Value(img.Size)
	m.Architecture = optString(img.Architecture)
	m.Type = optString(img.Type)
	m.CreatedAt = tfvalue.Time(img.CreatedAt)
	m.UploadedAt = tfvalue.Time(img.UploadedAt)
	m.Name = optString(img.Name)
	switch {
	case img.Properties != nil:
		m.Properties, d = types.MapValueFrom(ctx, types.StringType, img.Properties)
		diags.Append(d...)
	case m.Properties.IsUnknown():
		m.Properties = types.MapNull(types.StringType)
	}
	if m.SourceSHA256.IsNull() || m.SourceSHA256.IsUnknown() {
		m.SourceSHA256 = optString(img.SHA256)
	}
	m.Checksum, m.OSHashAlgo, m.OSHashValue = types.StringNull(), types.StringNull(), types.StringNull()
	switch family {
	case "incus":
		diags.Append(m.setIncusFromServer(ctx, img)...)
	case "openstack":
		diags.Append(m.setOpenStackFromServer(ctx, img)...)
	case "air":
		diags.Append(m.setAirFromServer(ctx, img)...)
	}
	// What the server did not fill in (a block of another family planned while the
	// endpoint was unknown) is nothing.
	m.Incus = settle(m.Incus, incusType)
	m.OpenStack = settle(m.OpenStack, openstackType)
	m.Air = settle(m.Air, airType)
	return diags
}

// settle turns an unknown block into null, and the unknown values of a known one too.
func settle(block types.Object, typ types.ObjectType) types.Object {
	if block.IsUnknown() {
		return types.ObjectNull(typ.AttrTypes)
	}
	return nullUnknowns(block, types.ObjectNull(typ.AttrTypes))
}

func (m *imageResourceModel) setIncusFromServer(ctx context.Context, img *backend.Image) diag.Diagnostics {
	var diags, d diag.Diagnostics
	prior, d := m.incus(ctx)
	diags.Append(d...)
	b := incusModel{Public: types.BoolValue(img.Public), AutoUpdate: types.BoolValue(img.AutoUpdate),
		ExpiresAt: tfvalue.Time(img.ExpiresAt), Aliases: types.SetNull(aliasType), Architecture: types.StringNull()}
	profiles := img.Profiles
	if profiles == nil {
		profiles = []string{}
	}
	b.Profiles, d = types.ListValueFrom(ctx, types.StringType, profiles)
	diags.Append(d...)
	if prior != nil {
		// An expiry written with another offset or precision is kept as written
		// while it names the same instant.
		if t, err := time.Parse(time.RFC3339, prior.ExpiresAt.ValueString()); err == nil && t.Equal(img.ExpiresAt) {
			b.ExpiresAt = prior.ExpiresAt
		}
		// The architecture asked for generated metadata is an input, not a
		// server attribute: the top-level architecture reports the image's.
		b.Architecture = prior.Architecture
		b.Aliases, d = trackedAliases(ctx, prior.Aliases, img.Aliases)
		diags.Append(d...)
	}
	m.Incus, d = types.ObjectValueFrom(ctx, incusType.AttrTypes, b)
	diags.Append(d...)
	return diags
}

// trackedAliases refreshes, of the image's aliases, only those the block lists (see
// the aliases attribute): the others belong to imagefleet_image_alias, to another
// configuration, or to no one.
func trackedAliases(ctx context.Context, listedSet types.Set, have []backend.ImageAlias) (types.Set, diag.Diagnostics) {
	if !known(listedSet) {
		return listedSet, nil
	}
	var listed []aliasModel
	diags := listedSet.ElementsAs(ctx, &listed, false)
	tracked := map[string]bool{}
	for _, a := range listed {
		tracked[a.Name.ValueString()] = true
	}
	aliases := []aliasModel{}
	for _, a := range have {
		if tracked[a.Name] {
			aliases = append(aliases, aliasModel{Name: types.StringValue(a.Name), Description: types.StringValue(a.Description)})
		}
	}
	out, d := types.SetValueFrom(ctx, aliasType, aliases)
	diags.Append(d...)
	return out, diags
}

func (m *imageResourceModel) setOpenStackFromServer(ctx context.Context, img *backend.Image) diag.Diagnostics {
	o := img.OpenStack
	if o == nil {
		return nil
	}
	m.Checksum, m.OSHashAlgo, m.OSHashValue = optString(o.Checksum), optString(o.OSHashAlgo), optString(o.OSHashValue)
	tags := o.Tags
	if tags == nil {
		tags = []string{}
	}
	tagSet, diags := types.SetValueFrom(ctx, types.StringType, tags)
	b := openstackModel{
		DiskFormat: optString(o.DiskFormat), ContainerFormat: optString(o.ContainerFormat), Visibility: optString(o.Visibility),
		Protected: types.BoolValue(o.Protected), Hidden: types.BoolValue(o.Hidden),
		MinDiskGB: types.Int64Value(o.MinDiskGB), MinRAMMB: types.Int64Value(o.MinRAMMB),
		Tags: tagSet, Deactivated: types.BoolValue(img.Status == "deactivated"),
	}
	var d diag.Diagnostics
	m.OpenStack, d = types.ObjectValueFrom(ctx, openstackType.AttrTypes, b)
	diags.Append(d...)
	return diags
}

// setAirFromServer refreshes the air block when there is one: a configuration
// without it does not manage Air's settings (see ImportState for imports). The
// password is write-only and never read back.
func (m *imageResourceModel) setAirFromServer(ctx context.Context, img *backend.Image) diag.Diagnostics {
	prior, diags := m.air(ctx)
	if img.Air == nil || prior == nil {
		return diags
	}
	a := img.Air
	var d diag.Diagnostics
	b := airModel{Version: types.StringValue(a.Version), DefaultUsername: types.StringValue(a.DefaultUsername),
		DefaultPassword: types.StringNull(), DefaultPasswordVersion: prior.DefaultPasswordVersion,
		CPUArch: optString(a.CPUArch), Provider: optString(a.Provider), EmulationVersion: optString(a.EmulationVersion),
		Mountpoint: optString(a.Mountpoint), IncludesAirAgent: types.BoolValue(a.IncludesAirAgent),
		Published: types.BoolValue(a.Published), UploadStatus: optString(a.UploadStatus)}
	emulation := a.EmulationType
	if emulation == nil {
		emulation = []string{}
	}
	b.EmulationType, d = types.ListValueFrom(ctx, types.StringType, emulation)
	diags.Append(d...)
	r := a.MinimumResources
	b.MinimumResources, d = types.ObjectValueFrom(ctx, resourcesType.AttrTypes, resourcesModel{
		CPU: types.Int64Value(r.CPU), Memory: types.Int64Value(r.Memory), Storage: types.Int64Value(r.Storage)})
	diags.Append(d...)
	m.Air, d = types.ObjectValueFrom(ctx, airType.AttrTypes, b)
	diags.Append(d...)
	return diags
}

// nullAttrs is a known object of typ whose attributes are all null.
func nullAttrs(typ types.ObjectType) types.Object {
	vals := map[string]attr.Value{}
	for k, t := range typ.AttrTypes {
		v, _ := t.ValueFromTerraform(context.Background(), tftypes.NewValue(t.TerraformType(context.Background()), nil))
		vals[k] = v
	}
	return types.ObjectValueMust(typ.AttrTypes, vals)
}

func optString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}
