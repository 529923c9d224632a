// Package imagemember is the imagefleet_image_member resource: a Glance image shared
// with another project, added by the owner and, optionally, accepted or rejected in
// the member's name through a second endpoint.
package imagemember

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
)

var (
	_ resource.ResourceWithConfigure      = &imageMemberResource{}
	_ resource.ResourceWithImportState    = &imageMemberResource{}
	_ resource.ResourceWithModifyPlan     = &imageMemberResource{}
	_ resource.ResourceWithValidateConfig = &imageMemberResource{}
)

// The member statuses Glance knows.
var statuses = []string{"pending", "accepted", "rejected"}

type imageMemberResource struct {
	reg *endpoints.Registry
}

type imageMemberResourceModel struct {
	ID             types.String `tfsdk:"id"`
	Endpoint       types.String `tfsdk:"endpoint"`
	Image          types.String `tfsdk:"image"`
	Member         types.String `tfsdk:"member"`
	Status         types.String `tfsdk:"status"`
	MemberEndpoint types.String `tfsdk:"member_endpoint"`
}

// NewResource is the imagefleet_image_member resource.
func NewResource() resource.Resource { return &imageMemberResource{} }

func (r *imageMemberResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image_member"
}

func (r *imageMemberResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	reg, diags := tfendpoints.Registry(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.reg = reg
}

// idPart keeps the two halves of the id, and of the import ID, apart.
var idPart = []validator.String{
	stringvalidator.RegexMatches(regexp.MustCompile(`^[^/]+$`), `must be an ID, not empty and without "/"`),
}

func (r *imageMemberResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A Glance image shared with another project (an image member), on an `openstack` endpoint.\n\n" +
			"The owner's endpoint (`endpoint`) adds the member; the member project then sees the image, and decides whether it " +
			"appears in its image list by setting the membership's `status` to `accepted` (Glance starts every member at `pending`, " +
			"and a member can boot a shared image by id whatever its status).\n\n" +
			"Glance gives members only to images whose visibility is `shared`: set `openstack = { visibility = \"shared\" }` on the " +
			"`imagefleet_image`. When `image` is known at plan time, the plan reads the image and refuses any other visibility; when " +
			"the image is created in the same apply, the same check happens at apply. The plan sees the image as it is before the " +
			"apply: when the same plan makes an existing image shared, apply the image first (`terraform apply -target`).\n\n" +
			"Glance lets only the member project change the status (or an owner with the admin role). To accept or reject the image " +
			"in the same configuration, without a second provider, set `status` and name, in `member_endpoint`, an endpoint of the " +
			"provider that is authenticated as the member project. `status` without `member_endpoint` is refused at plan time, " +
			"because a plan cannot know whether the owner's credentials carry the admin role; if they do, name the owner's endpoint " +
			"as `member_endpoint`. Leave `status` unset to let the member decide outside Terraform: the state then shows what " +
			"the member chose and plans no change.\n\n" +
			"Read shows what changed outside Terraform: a member removed from the image is created again, and a status the " +
			"member changed is set back to `status` through `member_endpoint`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<image>/<member>`.",
			},
			"endpoint": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Name of the provider endpoint of the image's owner; it adds, reads and removes the member. " +
					"Defaults to the provider's `default_endpoint`. Changing it, or a value unknown until apply, replaces the member.",
			},
			"image": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "ID of the Glance image to share, usually `imagefleet_image.x.id`. Its visibility must be `shared`. " +
					"Changing it replaces the member.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    idPart,
			},
			"member": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "ID of the project the image is shared with. Changing it replaces the member.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          idPart,
			},
			"status": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "The member's answer: `pending`, `accepted` or `rejected`. Set by the provider through " +
					"`member_endpoint`, which is then required. Unset, it shows the status the member chose, and a new member is " +
					"`pending`. Changed in place.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Validators:    []validator.String{stringvalidator.OneOf(statuses...)},
			},
			"member_endpoint": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Name of a provider endpoint authenticated as the member project (or as an admin), through " +
					"which the provider sets `status`. Used for nothing else; changing it changes nothing on the server.",
			},
		},
	}
}

// ValidateConfig refuses a status the provider could not set: Glance takes a status
// only from the member (or an admin), so the owner's endpoint alone cannot.
func (r *imageMemberResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m imageMemberResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !m.Status.IsNull() && m.MemberEndpoint.IsNull() {
		resp.Diagnostics.Append(statusWithoutMemberEndpointDiag(m.Member))
	}
}

// ModifyPlan checks the endpoints' kinds and, for a new member of an image known now,
// that the image is shared, so a refusal shows in the plan rather than the apply.
func (r *imageMemberResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.reg == nil {
		return
	}
	var plan imageMemberResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *imageMemberResourceModel
	if !req.State.Raw.IsNull() {
		state = &imageMemberResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	// An endpoint unknown until apply may name another cloud: replace.
	if state != nil && (plan.Endpoint.IsUnknown() || !r.reg.Same(state.Endpoint.ValueString(), plan.Endpoint.ValueString())) {
		resp.RequiresReplace.Append(path.Root("endpoint"))
	}
	if plan.Image.IsUnknown() || plan.Member.IsUnknown() {
		plan.ID = types.StringUnknown()
	} else {
		plan.ID = types.StringValue(memberID(plan.Image.ValueString(), plan.Member.ValueString()))
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), plan.ID)...)
	if !plan.MemberEndpoint.IsNull() && !plan.MemberEndpoint.IsUnknown() {
		if _, _, err := r.reg.Require(plan.MemberEndpoint.ValueString(), backend.CapImageMembers); err != nil {
			resp.Diagnostics.Append(tfendpoints.EndpointDiag(path.Root("member_endpoint"), err))
		}
	}
	if plan.Endpoint.IsUnknown() {
		return
	}
	if _, _, err := r.reg.Require(plan.Endpoint.ValueString(), backend.CapImageMembers); err != nil {
		resp.Diagnostics.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
		return
	}
	// Only a new member is added, so only then does the image's visibility matter.
	if state == nil && !plan.Image.IsUnknown() {
		resp.Diagnostics.Append(r.checkShared(ctx, plan.Endpoint.ValueString(), plan.Image.ValueString())...)
	}
}

// checkShared reads the image from the owner's endpoint and refuses one that cannot
// have members. An endpoint whose settings are known only after apply cannot be
// asked now: the apply checks instead.
func (r *imageMemberResource) checkShared(ctx context.Context, endpoint, imageID string) diag.Diagnostics {
	var diags diag.Diagnostics
	ep, err := r.reg.Get(ctx, endpoint)
	var unknown *endpoints.UnknownConfigError
	if errors.As(err, &unknown) {
		return diags
	}
	if err != nil {
		diags.Append(tfendpoints.ConnectDiag("check the image to share", err))
		return diags
	}
	img, err := ep.Images.GetImage(ctx, imageID)
	if err != nil {
		diags.Append(imageDiag(ep.Name, imageID, err))
		return diags
	}
	if img.OpenStack != nil && img.OpenStack.Visibility != "shared" {
		diags.Append(visibilityDiag(ep.Name, imageID, img.OpenStack.Visibility, true))
	}
	return diags
}

func memberID(imageID, member string) string { return imageID + "/" + member }

func (m *imageMemberResourceModel) fromBackend(mb *backend.Member) {
	m.ID = types.StringValue(memberID(mb.ImageID, mb.MemberID))
	m.Image = types.StringValue(mb.ImageID)
	m.Member = types.StringValue(mb.MemberID)
	m.Status = types.StringValue(mb.Status)
}

func (r *imageMemberResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan imageMemberResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, plan.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("create image member", err))
		return
	}
	imageID, member := plan.Image.ValueString(), plan.Member.ValueString()
	mb, err := ep.Members.AddMember(ctx, imageID, member)
	if err != nil {
		resp.Diagnostics.Append(r.addDiag(ctx, ep, imageID, member, err))
		return
	}
	want := plan.Status
	plan.fromBackend(mb)
	// Recorded now, so a status the member endpoint fails to set leaves the member
	// in state (tainted), not orphaned on the image.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.setStatus(ctx, &plan, want)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// addDiag explains a refused AddMember. Glance's 403 does not say why; an image that
// is not shared is the usual reason, and the image itself tells.
func (r *imageMemberResource) addDiag(ctx context.Context, ep *endpoints.Endpoint, imageID, member string, err error) diag.Diagnostic {
	if errors.Is(err, backend.ErrForbidden) {
		if img, gerr := ep.Images.GetImage(ctx, imageID); gerr == nil && img.OpenStack != nil && img.OpenStack.Visibility != "shared" {
			return visibilityDiag(ep.Name, imageID, img.OpenStack.Visibility, false)
		}
	}
	return memberDiag("create", ep.Name, imageID, member, err)
}

// setStatus sets the member's status to want through the member endpoint, when want
// is set and differs from what m holds, and records the server's answer in m.
func (r *imageMemberResource) setStatus(ctx context.Context, m *imageMemberResourceModel, want types.String) diag.Diagnostics {
	var diags diag.Diagnostics
	if want.IsNull() || want.IsUnknown() || want.Equal(m.Status) {
		return diags
	}
	ep, err := r.reg.Get(ctx, m.MemberEndpoint.ValueString())
	if err != nil {
		diags.Append(tfendpoints.ConnectDiag("set image member status", err))
		return diags
	}
	mb, err := ep.Members.UpdateMember(ctx, m.Image.ValueString(), m.Member.ValueString(), want.ValueString())
	if err != nil {
		diags.Append(statusDiag(ep.Name, m.Image.ValueString(), m.Member.ValueString(), want.ValueString(), err))
		return diags
	}
	m.fromBackend(mb)
	return diags
}

func (r *imageMemberResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state imageMemberResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("read image member", err))
		return
	}
	imageID, member := state.Image.ValueString(), state.Member.ValueString()
	mb, err := ep.Members.GetMember(ctx, imageID, member)
	// Glance answers 404 alike for a removed member, a deleted image and an image no
	// longer shared: in each the project is no longer a member.
	if errors.Is(err, backend.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.Append(memberDiag("read", ep.Name, imageID, member, err))
		return
	}
	state.fromBackend(mb)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes what can change in place: the status, through the member endpoint,
// and which endpoint that is.
func (r *imageMemberResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state imageMemberResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	want := plan.Status
	plan.Status = state.Status
	resp.Diagnostics.Append(r.setStatus(ctx, &plan, want)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *imageMemberResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state imageMemberResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("delete image member", err))
		return
	}
	imageID, member := state.Image.ValueString(), state.Member.ValueString()
	if err := ep.Members.RemoveMember(ctx, imageID, member); err != nil && !errors.Is(err, backend.ErrNotFound) {
		resp.Diagnostics.Append(memberDiag("delete", ep.Name, imageID, member, err))
	}
}

// ImportState takes [endpoint:]image/member[/member_endpoint]: the optional member
// endpoint lets a configuration that sets status import without a change.
func (r *imageMemberResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	endpoint, rest := endpoints.SplitID(req.ID)
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
		resp.Diagnostics.Append(importDiag(req.ID))
		return
	}
	if endpoint != "" && !r.reg.IsDefault(endpoint) {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("endpoint"), endpoint)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), memberID(parts[0], parts[1]))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("image"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("member"), parts[1])...)
	if len(parts) == 3 {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("member_endpoint"), parts[2])...)
	}
}
