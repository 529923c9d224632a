// Package imagealias is the imagefleet_image_alias resource: a named pointer to an
// image, retargeted in place.
package imagealias

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/image"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
)

var (
	_ resource.ResourceWithConfigure   = &imageAliasResource{}
	_ resource.ResourceWithImportState = &imageAliasResource{}
	_ resource.ResourceWithModifyPlan  = &imageAliasResource{}
)

type imageAliasResource struct {
	reg *endpoints.Registry
}

type imageAliasResourceModel struct {
	ID          types.String `tfsdk:"id"`
	Endpoint    types.String `tfsdk:"endpoint"`
	Name        types.String `tfsdk:"name"`
	Target      types.String `tfsdk:"target"`
	Description types.String `tfsdk:"description"`
	Type        types.String `tfsdk:"type"`
}

// NewResource is the imagefleet_image_alias resource.
func NewResource() resource.Resource { return &imageAliasResource{} }

func (r *imageAliasResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image_alias"
}

func (r *imageAliasResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	reg, diags := tfendpoints.Registry(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.reg = reg
}

func (r *imageAliasResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An image alias on an Incus or LXD endpoint. Retargeting it and changing its description happen in place; a new name replaces it.\n\n" +
			"It coexists with the inline `aliases` of `imagefleet_image`: the image manages only the names listed in its own `aliases`, " +
			"so manage each alias name in one place only.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The alias name.", PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"endpoint": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Name of the provider endpoint. Defaults to the provider's `default_endpoint`. Changing it, or a value unknown until apply, replaces the alias.",
			},
			"name": schema.StringAttribute{
				Required: true, MarkdownDescription: "Alias name. Changing it replaces the alias.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{image.AliasNameValidator()},
			},
			"target": schema.StringAttribute{
				Required: true, MarkdownDescription: "Fingerprint of the image the alias points at, usually `imagefleet_image.x.fingerprint`, or a unique prefix of one, which is kept as written. Changed in place.",
			},
			"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), MarkdownDescription: "Description. Changed in place."},
			"type":        schema.StringAttribute{Computed: true, MarkdownDescription: "Type of the target image: `container` or `virtual-machine`."},
		},
	}
}

func (r *imageAliasResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.reg == nil {
		return
	}
	var plan imageAliasResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !req.State.Raw.IsNull() {
		var state imageAliasResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		// An endpoint unknown until apply may name another server: replace.
		if plan.Endpoint.IsUnknown() || !r.reg.Same(state.Endpoint.ValueString(), plan.Endpoint.ValueString()) {
			resp.RequiresReplace.Append(path.Root("endpoint"))
		}
	}
	if plan.Endpoint.IsUnknown() {
		return
	}
	if _, _, err := r.reg.Require(plan.Endpoint.ValueString(), backend.CapImageAliases); err != nil {
		resp.Diagnostics.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
	}
}

// write creates or updates the alias the plan describes, then records what the server
// holds.
func (r *imageAliasResource) write(ctx context.Context, plan tfsdk.Plan, state *tfsdk.State, action string,
	op func(backend.AliasStore, context.Context, backend.Alias) error) diag.Diagnostics {
	var m imageAliasResourceModel
	diags := plan.Get(ctx, &m)
	if diags.HasError() {
		return diags
	}
	ep, err := r.reg.Get(ctx, m.Endpoint.ValueString())
	if err != nil {
		diags.Append(tfendpoints.ConnectDiag(action+" image alias", err))
		return diags
	}
	a := backend.Alias{Name: m.Name.ValueString(), Target: m.Target.ValueString(), Description: m.Description.ValueString()}
	if err := op(ep.Aliases, ctx, a); err != nil {
		diags.Append(aliasDiag(action, ep.Name, a, err))
		return diags
	}
	diags.Append(r.readInto(ctx, ep, &m)...)
	diags.Append(state.Set(ctx, &m)...)
	return diags
}

func (r *imageAliasResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	resp.Diagnostics.Append(r.write(ctx, req.Plan, &resp.State, "create", backend.AliasStore.CreateAlias)...)
}

func (r *imageAliasResource) readInto(ctx context.Context, ep *endpoints.Endpoint, m *imageAliasResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	a, err := ep.Aliases.GetAlias(ctx, m.Name.ValueString())
	if err != nil {
		diags.Append(aliasDiag("read", ep.Name, backend.Alias{Name: m.Name.ValueString()}, err))
		return diags
	}
	m.fromBackend(a)
	return diags
}

func (m *imageAliasResourceModel) fromBackend(a *backend.Alias) {
	m.ID = types.StringValue(a.Name)
	m.Name = types.StringValue(a.Name)
	// A target written as a fingerprint prefix stays as written while it still names
	// the image the alias points at.
	if prefix := m.Target.ValueString(); m.Target.IsUnknown() || prefix == "" || !strings.HasPrefix(a.Target, prefix) {
		m.Target = types.StringValue(a.Target)
	}
	m.Description = types.StringValue(a.Description)
	m.Type = types.StringValue(a.Type)
}

func (r *imageAliasResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state imageAliasResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("read image alias", err))
		return
	}
	a, err := ep.Aliases.GetAlias(ctx, state.ID.ValueString())
	if errors.Is(err, backend.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.Append(aliasDiag("read", ep.Name, backend.Alias{Name: state.ID.ValueString()}, err))
		return
	}
	state.fromBackend(a)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *imageAliasResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.Append(r.write(ctx, req.Plan, &resp.State, "update", backend.AliasStore.UpdateAlias)...)
}

func (r *imageAliasResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state imageAliasResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("delete image alias", err))
		return
	}
	if err := ep.Aliases.DeleteAlias(ctx, state.ID.ValueString()); err != nil && !errors.Is(err, backend.ErrNotFound) {
		resp.Diagnostics.Append(aliasDiag("delete", ep.Name, backend.Alias{Name: state.ID.ValueString()}, err))
	}
}

// ImportState takes [endpoint:]name.
func (r *imageAliasResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, alias := endpoints.SplitID(req.ID)
	if alias == "" {
		resp.Diagnostics.Append(importDiag(req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), alias)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), alias)...)
	if name != "" && !r.reg.IsDefault(name) {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("endpoint"), name)...)
	}
}
