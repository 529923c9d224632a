package instance

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
)

type instanceDataSource struct {
	reg *endpoints.Registry
}

type instanceDataSourceModel struct {
	ID               types.String `tfsdk:"id"`
	Endpoint         types.String `tfsdk:"endpoint"`
	Project          types.String `tfsdk:"project"`
	Name             types.String `tfsdk:"name"`
	Description      types.String `tfsdk:"description"`
	Type             types.String `tfsdk:"type"`
	State            types.String `tfsdk:"state"`
	Status           types.String `tfsdk:"status"`
	Profiles         types.List   `tfsdk:"profiles"`
	Config           types.Map    `tfsdk:"config"`
	ExpandedConfig   types.Map    `tfsdk:"expanded_config"`
	ImageFingerprint types.String `tfsdk:"image_fingerprint"`
	IPv4             types.String `tfsdk:"ipv4_address"`
	IPv6             types.String `tfsdk:"ipv6_address"`
	MAC              types.String `tfsdk:"mac_address"`
	Location         types.String `tfsdk:"location"`
	CreatedAt        types.String `tfsdk:"created_at"`
	LastUsedAt       types.String `tfsdk:"last_used_at"`
}

// NewDataSource is the imagefleet_instance data source.
func NewDataSource() datasource.DataSource { return &instanceDataSource{} }

func (d *instanceDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_instance"
}

func (d *instanceDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	reg, diags := tfendpoints.Registry(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	d.reg = reg
}

func (d *instanceDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an instance by name: its state, addresses and configuration.",
		Attributes: map[string]schema.Attribute{
			"id":                computed("The instance name."),
			"endpoint":          schema.StringAttribute{Optional: true, MarkdownDescription: "Name of the provider endpoint. Defaults to the provider's `default_endpoint`."},
			"project":           schema.StringAttribute{Optional: true, MarkdownDescription: "Project of the instance; defaults to the endpoint's."},
			"name":              schema.StringAttribute{Required: true, MarkdownDescription: "Instance name.", Validators: []validator.String{nameValidator()}},
			"description":       computed("Description."),
			"type":              computed("`container` or `virtual-machine`."),
			"state":             computed("`running`, `stopped` or `frozen` (lower case), or another status the server reports."),
			"status":            computed("Status as the server reports it."),
			"profiles":          schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Profiles."},
			"config":            schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The instance's own config, without server-owned keys."},
			"expanded_config":   schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The config the server applies."},
			"image_fingerprint": computed("Fingerprint of the image it was created from."),
			"ipv4_address":      computed("First global IPv4 address."),
			"ipv6_address":      computed("First global IPv6 address."),
			"mac_address":       computed("MAC address of the first network interface."),
			"location":          computed("Cluster member (null when not clustered)."),
			"created_at":        computed("Creation time (RFC 3339)."),
			"last_used_at":      computed("Last start time (RFC 3339)."),
		},
	}
}

func (d *instanceDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m instanceDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if _, _, err := d.reg.Require(m.Endpoint.ValueString(), backend.CapInstances); err != nil {
		resp.Diagnostics.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
		return
	}
	ep, err := d.reg.Get(ctx, m.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("read instance", err))
		return
	}
	in, err := ep.Instances.GetInstance(ctx, backend.InstanceRef{Project: m.Project.ValueString(), Name: m.Name.ValueString()})
	if errors.Is(err, backend.ErrNotFound) {
		resp.Diagnostics.Append(notFoundDiag(ep.Name, m.Project.ValueString(), m.Name.ValueString()))
		return
	}
	if err != nil {
		resp.Diagnostics.Append(apiDiag("read", ep.Name, m.Name.ValueString(), err))
		return
	}
	// The resource model knows how to read an instance; take its view.
	var full instanceResourceModel
	resp.Diagnostics.Append(full.setFromServer(ctx, in)...)
	m.ID, m.Description, m.Type, m.State, m.Status = full.ID, full.Description, full.Type, full.State, full.Status
	m.Profiles, m.Config, m.ExpandedConfig, m.ImageFingerprint = full.Profiles, full.Config, full.ExpandedConfig, full.ImageFingerprint
	m.IPv4, m.IPv6, m.MAC, m.Location, m.CreatedAt, m.LastUsedAt = full.IPv4, full.IPv6, full.MAC, full.Location, full.CreatedAt, full.LastUsedAt
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
