package image

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

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
	Properties   types.Map      `tfsdk:"properties"`
	Public       types.Bool     `tfsdk:"public"`
	AutoUpdate   types.Bool     `tfsdk:"auto_update"`
	ExpiresAt    types.String   `tfsdk:"expires_at"`
	Profiles     types.List     `tfsdk:"profiles"`
	Aliases      types.Set      `tfsdk:"aliases"`
	SourceSHA256 types.String   `tfsdk:"source_sha256"`
	Fingerprint  types.String   `tfsdk:"fingerprint"`
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

type copyFromModel struct {
	Endpoint    types.String `tfsdk:"endpoint"`
	Fingerprint types.String `tfsdk:"fingerprint"`
}

var aliasType = types.ObjectType{AttrTypes: map[string]attr.Type{"name": types.StringType, "description": types.StringType}}

type aliasModel struct {
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
}

// localFiles returns the local files of a file or split source, metadata (or the
// unified tarball) first; none for the other sources.
func (m *imageResourceModel) localFiles() (metadata, rootfs string, ok bool) {
	switch {
	case !m.File.IsNull():
		return m.File.ValueString(), "", true
	case m.Split != nil:
		return m.Split.MetadataFile.ValueString(), m.Split.RootfsFile.ValueString(), true
	}
	return "", "", false
}

// attrs turns the in-place arguments into what the backend changes. public,
// auto_update and expires_at are always sent, since unset means false or "never";
// properties and profiles left unset stay as the server has them.
func (m *imageResourceModel) attrs(ctx context.Context) (backend.ImageAttrs, diag.Diagnostics) {
	var a backend.ImageAttrs
	var diags diag.Diagnostics
	public, autoUpdate := m.Public.ValueBool(), m.AutoUpdate.ValueBool()
	a.Public, a.AutoUpdate = &public, &autoUpdate
	if !m.Properties.IsNull() && !m.Properties.IsUnknown() {
		a.Properties = map[string]string{}
		diags.Append(m.Properties.ElementsAs(ctx, &a.Properties, false)...)
	}
	if !m.Profiles.IsNull() && !m.Profiles.IsUnknown() {
		a.Profiles = []string{}
		diags.Append(m.Profiles.ElementsAs(ctx, &a.Profiles, false)...)
	}
	var expires time.Time
	if !m.ExpiresAt.IsNull() {
		expires, _ = time.Parse(time.RFC3339, m.ExpiresAt.ValueString())
	}
	a.ExpiresAt = &expires
	return a, diags
}

// attrsDiffer reports whether any attribute the server holds differs from prior, so an
// update that only renames a source path or edits aliases sends no image update.
func (m *imageResourceModel) attrsDiffer(prior *imageResourceModel) bool {
	return !m.Public.Equal(prior.Public) || !m.AutoUpdate.Equal(prior.AutoUpdate) || !m.Properties.Equal(prior.Properties) ||
		!m.Profiles.Equal(prior.Profiles) || !m.ExpiresAt.Equal(prior.ExpiresAt)
}

func (m *imageResourceModel) aliases(ctx context.Context) ([]backend.ImageAlias, diag.Diagnostics) {
	if m.Aliases.IsNull() || m.Aliases.IsUnknown() {
		return nil, nil
	}
	var as []aliasModel
	diags := m.Aliases.ElementsAs(ctx, &as, false)
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

// setFromServer refreshes everything the server holds. Of the image's aliases only
// those the model lists are refreshed (see the aliases attribute): the others belong
// to imagefleet_image_alias, to another configuration, or to no one.
func (m *imageResourceModel) setFromServer(ctx context.Context, img *backend.Image) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.ID = types.StringValue(img.Fingerprint)
	m.Fingerprint = types.StringValue(img.Fingerprint)
	m.Size = types.Int64Value(img.Size)
	m.Architecture = types.StringValue(img.Architecture)
	m.Type = types.StringValue(img.Type)
	m.CreatedAt = tfvalue.Time(img.CreatedAt)
	m.UploadedAt = tfvalue.Time(img.UploadedAt)
	m.Public = types.BoolValue(img.Public)
	m.AutoUpdate = types.BoolValue(img.AutoUpdate)
	// An expiry written with another offset or precision is kept as written while it
	// names the same instant.
	if prior, err := time.Parse(time.RFC3339, m.ExpiresAt.ValueString()); m.ExpiresAt.IsNull() || err != nil || !prior.Equal(img.ExpiresAt) {
		m.ExpiresAt = tfvalue.Time(img.ExpiresAt)
	}
	m.Properties, d = types.MapValueFrom(ctx, types.StringType, img.Properties)
	diags.Append(d...)
	profiles := img.Profiles
	if profiles == nil {
		profiles = []string{}
	}
	m.Profiles, d = types.ListValueFrom(ctx, types.StringType, profiles)
	diags.Append(d...)
	if m.SourceSHA256.IsNull() || m.SourceSHA256.IsUnknown() {
		m.SourceSHA256 = types.StringValue(img.Fingerprint)
	}
	if m.Aliases.IsNull() || m.Aliases.IsUnknown() {
		return diags
	}
	var listed []aliasModel
	diags.Append(m.Aliases.ElementsAs(ctx, &listed, false)...)
	tracked := map[string]bool{}
	for _, a := range listed {
		tracked[a.Name.ValueString()] = true
	}
	aliases := []aliasModel{}
	for _, a := range img.Aliases {
		if tracked[a.Name] {
			aliases = append(aliases, aliasModel{Name: types.StringValue(a.Name), Description: types.StringValue(a.Description)})
		}
	}
	m.Aliases, d = types.SetValueFrom(ctx, aliasType, aliases)
	diags.Append(d...)
	return diags
}
