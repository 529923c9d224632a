package image

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfvalue"
)

// imageDataModel is one image as both data sources report it.
type imageDataModel struct {
	Fingerprint  types.String `tfsdk:"fingerprint"`
	Aliases      types.List   `tfsdk:"aliases"`
	Properties   types.Map    `tfsdk:"properties"`
	Profiles     types.List   `tfsdk:"profiles"`
	Public       types.Bool   `tfsdk:"public"`
	AutoUpdate   types.Bool   `tfsdk:"auto_update"`
	Size         types.Int64  `tfsdk:"size"`
	Architecture types.String `tfsdk:"architecture"`
	Type         types.String `tfsdk:"type"`
	CreatedAt    types.String `tfsdk:"created_at"`
	UploadedAt   types.String `tfsdk:"uploaded_at"`
	ExpiresAt    types.String `tfsdk:"expires_at"`
}

func imageDataAttrs() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"fingerprint":  schema.StringAttribute{Computed: true, MarkdownDescription: "Fingerprint."},
		"aliases":      schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Names of the image's aliases."},
		"properties":   schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "All the image's properties."},
		"profiles":     schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Profiles applied to instances made from it."},
		"public":       schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether untrusted clients may download it."},
		"auto_update":  schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the server refreshes it from its source."},
		"size":         schema.Int64Attribute{Computed: true, MarkdownDescription: "Size in bytes."},
		"architecture": schema.StringAttribute{Computed: true, MarkdownDescription: "Architecture."},
		"type":         schema.StringAttribute{Computed: true, MarkdownDescription: "`container` or `virtual-machine`."},
		"created_at":   schema.StringAttribute{Computed: true, MarkdownDescription: "Build time (RFC 3339)."},
		"uploaded_at":  schema.StringAttribute{Computed: true, MarkdownDescription: "Upload time (RFC 3339)."},
		"expires_at":   schema.StringAttribute{Computed: true, MarkdownDescription: "Expiry (RFC 3339), null when it never expires."},
	}
}

var imageDataType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"fingerprint": types.StringType, "aliases": types.ListType{ElemType: types.StringType},
	"properties": types.MapType{ElemType: types.StringType}, "profiles": types.ListType{ElemType: types.StringType},
	"public": types.BoolType, "auto_update": types.BoolType, "size": types.Int64Type, "architecture": types.StringType,
	"type": types.StringType, "created_at": types.StringType, "uploaded_at": types.StringType, "expires_at": types.StringType,
}}

func toDataModel(ctx context.Context, img *backend.Image) (imageDataModel, diag.Diagnostics) {
	var diags, d diag.Diagnostics
	m := imageDataModel{
		Fingerprint: types.StringValue(img.Fingerprint), Public: types.BoolValue(img.Public), AutoUpdate: types.BoolValue(img.AutoUpdate),
		Size: types.Int64Value(img.Size), Architecture: types.StringValue(img.Architecture), Type: types.StringValue(img.Type),
		CreatedAt: tfvalue.Time(img.CreatedAt), UploadedAt: tfvalue.Time(img.UploadedAt), ExpiresAt: tfvalue.Time(img.ExpiresAt),
	}
	names := []string{}
	for _, a := range img.Aliases {
		names = append(names, a.Name)
	}
	sort.Strings(names)
	m.Aliases, d = types.ListValueFrom(ctx, types.StringType, names)
	diags.Append(d...)
	m.Properties, d = types.MapValueFrom(ctx, types.StringType, img.Properties)
	diags.Append(d...)
	profiles := img.Profiles
	if profiles == nil {
		profiles = []string{}
	}
	m.Profiles, d = types.ListValueFrom(ctx, types.StringType, profiles)
	diags.Append(d...)
	return m, diags
}

// filterModel holds the filters both data sources take.
type filterModel struct {
	Properties   types.Map    `tfsdk:"properties"`
	Type         types.String `tfsdk:"type"`
	Architecture types.String `tfsdk:"architecture"`
}

func filterAttrs(attrs map[string]schema.Attribute) map[string]schema.Attribute {
	attrs["endpoint"] = schema.StringAttribute{Optional: true, MarkdownDescription: "Name of the provider endpoint to search. Defaults to the provider's `default_endpoint`."}
	attrs["filter"] = schema.SingleNestedAttribute{
		Optional: true, MarkdownDescription: "Only images that match all of these.",
		Attributes: map[string]schema.Attribute{
			"properties":   schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Only images that have all these properties with these values."},
			"type":         schema.StringAttribute{Optional: true, MarkdownDescription: "Only images of this type: `container` or `virtual-machine`.", Validators: []validator.String{stringvalidator.OneOf("container", "virtual-machine")}},
			"architecture": schema.StringAttribute{Optional: true, MarkdownDescription: "Only images of this architecture, such as `x86_64`."},
		},
	}
	return attrs
}

func (f *filterModel) match(ctx context.Context, img *backend.Image) bool {
	if f == nil {
		return true
	}
	if t := f.Type.ValueString(); t != "" && img.Type != t {
		return false
	}
	if a := f.Architecture.ValueString(); a != "" && img.Architecture != a {
		return false
	}
	want := map[string]string{}
	f.Properties.ElementsAs(ctx, &want, false)
	for k, v := range want {
		if img.Properties[k] != v {
			return false
		}
	}
	return true
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
	ID         types.String `tfsdk:"id"`
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
	attrs["id"] = schema.StringAttribute{Computed: true, MarkdownDescription: "The image's fingerprint."}
	attrs["fingerprint"] = schema.StringAttribute{Optional: true, Computed: true, MarkdownDescription: "Find the image by fingerprint, or a unique prefix of one."}
	attrs["alias"] = schema.StringAttribute{Optional: true, MarkdownDescription: "Find the image an alias points at (any existing alias, including names with a slash).", Validators: []validator.String{stringvalidator.LengthAtLeast(1)}}
	attrs["most_recent"] = schema.BoolAttribute{Optional: true, MarkdownDescription: "When several images match the filters, take the most recently built instead of failing."}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Finds one image on an endpoint: by `fingerprint`, by `alias`, or by `filter` (properties, type, architecture), " +
			"with `most_recent` to pick the newest of several matches.",
		Attributes: attrs,
	}
}

func (d *imageDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{datasourcevalidator.Conflicting(path.MatchRoot("fingerprint"), path.MatchRoot("alias"))}
}

func (d *imageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imageDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, diags := connectForData(ctx, d.reg, m.Endpoint.ValueString())
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	var candidates []backend.Image
	var what string
	switch {
	case m.Fingerprint.ValueString() != "":
		what = "fingerprint " + m.Fingerprint.ValueString()
		img, err := ep.Images.GetImage(ctx, m.Fingerprint.ValueString())
		if err != nil {
			resp.Diagnostics.Append(apiDiag("find image", ep.Name, what, err))
			return
		}
		candidates = []backend.Image{*img}
	case m.Alias.ValueString() != "":
		what = fmt.Sprintf("alias %q", m.Alias.ValueString())
		a, err := ep.Aliases.GetAlias(ctx, m.Alias.ValueString())
		if err == nil {
			var img *backend.Image
			if img, err = ep.Images.GetImage(ctx, a.Target); err == nil {
				candidates = []backend.Image{*img}
			}
		}
		if err != nil {
			resp.Diagnostics.Append(apiDiag("find image", ep.Name, what, err))
			return
		}
	default:
		what = "the filters"
		all, err := ep.Images.ListImages(ctx, backend.ImageFilter{})
		if err != nil {
			resp.Diagnostics.Append(apiDiag("list images", ep.Name, "images", err))
			return
		}
		candidates = all
	}
	var found []backend.Image
	for i := range candidates {
		if m.Filter.match(ctx, &candidates[i]) {
			found = append(found, candidates[i])
		}
	}
	switch {
	case len(found) == 0:
		resp.Diagnostics.Append(noImageDiag(ep.Name, what))
		return
	case len(found) > 1 && !m.MostRecent.ValueBool():
		resp.Diagnostics.Append(ambiguousDiag(ep.Name, what, found))
		return
	}
	newestFirst(found)
	m.imageDataModel, diags = toDataModel(ctx, &found[0])
	resp.Diagnostics.Append(diags...)
	m.ID = m.Fingerprint
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
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
		MarkdownDescription: "Lists the images of an endpoint that match the filters, newest first.",
		Attributes:          attrs,
	}
}

func (d *imagesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imagesDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, diags := connectForData(ctx, d.reg, m.Endpoint.ValueString())
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	all, err := ep.Images.ListImages(ctx, backend.ImageFilter{})
	if err != nil {
		resp.Diagnostics.Append(apiDiag("list images", ep.Name, "images", err))
		return
	}
	newestFirst(all)
	out := []imageDataModel{}
	for i := range all {
		if m.Filter.match(ctx, &all[i]) {
			dm, diags := toDataModel(ctx, &all[i])
			resp.Diagnostics.Append(diags...)
			out = append(out, dm)
		}
	}
	m.Images, diags = types.ListValueFrom(ctx, imageDataType, out)
	resp.Diagnostics.Append(diags...)
	m.ID = types.StringValue(ep.Name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
