// Package imageshare is the imagefleet_image_share resource: an NVIDIA Air image
// offered by its owner's organisation to another one, which claims it (with
// imagefleet_image's claim source) as a copy of its own.
package imageshare

import (
	"context"
	"errors"
	"time"

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
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfvalue"
)

var (
	_ resource.ResourceWithConfigure   = &imageShareResource{}
	_ resource.ResourceWithImportState = &imageShareResource{}
	_ resource.ResourceWithModifyPlan  = &imageShareResource{}
)

// stateClaimed is the state of a share the target organisation has claimed: Air
// keeps it as the record of the sharing, and it no longer expires.
const stateClaimed = "CLAIMED"

type imageShareResource struct {
	reg *endpoints.Registry
}

type imageShareResourceModel struct {
	ID           types.String `tfsdk:"id"`
	Endpoint     types.String `tfsdk:"endpoint"`
	Image        types.String `tfsdk:"image"`
	TargetOrg    types.String `tfsdk:"target_org"`
	ExpiresAt    types.String `tfsdk:"expires_at"`
	State        types.String `tfsdk:"state"`
	ClaimedBy    types.String `tfsdk:"claimed_by"`
	ImageName    types.String `tfsdk:"image_name"`
	ImageVersion types.String `tfsdk:"image_version"`
	CreatedAt    types.String `tfsdk:"created_at"`
}

// NewResource is the imagefleet_image_share resource.
func NewResource() resource.Resource { return &imageShareResource{} }

func (r *imageShareResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image_share"
}

func (r *imageShareResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	reg, diags := tfendpoints.Registry(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.reg = reg
}

func (r *imageShareResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An NVIDIA Air image offered to another organisation (an image share), on an `air` endpoint.\n\n" +
			"The image's owner makes the share through its endpoint (`endpoint`); the share's `id` is the claim code the other " +
			"organisation uses to copy the image into its own, for instance with an `imagefleet_image` whose source is " +
			"`claim = { share = imagefleet_image_share.x.id }` on an endpoint of that organisation. Air lets only the owner read " +
			"the share: the claiming side knows it by its ID alone.\n\n" +
			"Air shares only images whose upload is `COMPLETE` and that are not published. When `image` is known at plan time, " +
			"the plan reads the image and says what to do otherwise; when the image is created in the same apply, the apply " +
			"says it. The plan sees the image as it is before the apply: when the same plan unpublishes an existing image " +
			"(`air = { published = false }`), apply the image first (`terraform apply -target`).\n\n" +
			"A share is offered until `expires_at` (by default, Air's 24 hours) and cannot be changed: every change of an " +
			"argument replaces it. Read shows what changed outside Terraform: a share deleted, or one that expired unclaimed, " +
			"is made again; a claimed share is kept as it is, expired or not. Air keeps a claimed share as the record of the " +
			"sharing and refuses to delete it: destroying one only removes it from the state, with a warning.\n\n" +
			"Air makes a new share every time it is asked, and a share has no field to mark it with. So a share is known by what " +
			"it offers: when the endpoint already has an `ACTIVE`, unclaimed and unexpired share of the image to `target_org` " +
			"that expires at `expires_at` (unset: one made with Air's default expiry), that share is taken instead of making " +
			"another. This is how an apply whose request was carried out but whose answer was lost, or an apply run again after " +
			"one was killed, ends with one share, not two; it also means that a share made outside Terraform with the same image, " +
			"organisation and expiry becomes this resource's.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The share's ID: the claim code to give the target organisation.",
				PlanModifiers:       keep,
			},
			"endpoint": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Name of the provider endpoint of the image's owner (of type `air`); it makes, reads and deletes " +
					"the share. Defaults to the provider's `default_endpoint`. Changing it, or a value unknown until apply, replaces the share.",
			},
			"image": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "ID of the Air image to share, usually `imagefleet_image.x.id`. It must be the endpoint " +
					"organisation's, `COMPLETE` and unpublished. Changing it replaces the share.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"target_org": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The organisation the image is offered to, as Air names it; not the image owner's own. " +
					"Changing it replaces the share.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"expires_at": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "Until when the share can be claimed, RFC 3339 (`2030-01-02T15:04:05Z`); it must be in the " +
					"future when a share is made. Unset, Air's default applies (24 hours after the share is made) and shows here. " +
					"Air cannot change a share: changing it replaces the share (the same time written differently changes nothing).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), replaceIfOtherInstant{}},
				Validators:    []validator.String{rfc3339Validator{}},
			},
			"state": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`ACTIVE` while the share can be claimed (until it expires), `CLAIMED` once the target organisation has claimed it.",
				PlanModifiers:       keep,
			},
			"claimed_by": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Who claimed the share (a user's e-mail address, as Air reports it); null until it is claimed.",
				PlanModifiers:       keep,
			},
			"image_name": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The shared image's name.",
				PlanModifiers:       keep,
			},
			"image_version": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The shared image's version.",
				PlanModifiers:       keep,
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the share was made, RFC 3339.",
				PlanModifiers:       keep,
			},
		},
	}
}

// ModifyPlan checks the endpoint's kind, replaces a share that expired unclaimed,
// and, for a new share, that its expiry is ahead and that the image (when known now)
// can be shared, so a refusal shows in the plan rather than the apply. A replaced
// share is planned again as a new one, so these checks cover it too.
func (r *imageShareResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.reg == nil {
		return
	}
	var plan, config imageShareResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	var state *imageShareResourceModel
	if !req.State.Raw.IsNull() {
		state = &imageShareResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	// An endpoint unknown until apply may name another organisation: replace.
	if state != nil && (plan.Endpoint.IsUnknown() || !r.reg.Same(state.Endpoint.ValueString(), plan.Endpoint.ValueString())) {
		resp.RequiresReplace.Append(path.Root("endpoint"))
	}
	if !plan.Endpoint.IsUnknown() {
		if _, _, err := r.reg.Require(plan.Endpoint.ValueString(), backend.CapImageShares); err != nil {
			resp.Diagnostics.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
			return
		}
	}
	now := time.Now()
	if state != nil {
		resp.Diagnostics.Append(r.replaceExpired(ctx, state, &config, now, resp)...)
		return
	}
	if expires, ok := parseTime(plan.ExpiresAt); ok && !expires.After(now) {
		resp.Diagnostics.Append(pastExpiryDiag(plan.ExpiresAt.ValueString()))
	}
	if !plan.Endpoint.IsUnknown() && !plan.Image.IsUnknown() {
		resp.Diagnostics.Append(r.checkShareable(ctx, plan.Endpoint.ValueString(), plan.Image.ValueString())...)
	}
}

// replaceExpired replaces a share that expired before anyone claimed it: it can no
// longer be claimed, and Air deletes it soon. Its new expiry is Air's default
// again, unless the configuration names one, which then must be a later one.
func (r *imageShareResource) replaceExpired(ctx context.Context, state, config *imageShareResourceModel, now time.Time, resp *resource.ModifyPlanResponse) diag.Diagnostics {
	var diags diag.Diagnostics
	expires, ok := parseTime(state.ExpiresAt)
	if !ok || expires.After(now) || state.State.ValueString() == stateClaimed {
		return diags
	}
	if config.ExpiresAt.IsNull() {
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("expires_at"), types.StringUnknown())...)
		resp.RequiresReplace.Append(path.Root("expires_at"))
		return diags
	}
	// A configured expiry that is another time replaces the share anyway, and the
	// new share's plan checks that it is ahead; the same one has passed.
	if at, ok := parseTime(config.ExpiresAt); ok && sameInstant(at, expires) {
		diags.Append(expiredDiag(state.ID.ValueString(), config.ExpiresAt.ValueString()))
	}
	return diags
}

// checkShareable reads the image from the owner's endpoint and refuses one Air
// would not share. An endpoint whose settings are known only after apply cannot be
// asked now: the apply checks instead.
func (r *imageShareResource) checkShareable(ctx context.Context, endpoint, imageID string) diag.Diagnostics {
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
	if d := notShareableDiag(ep.Name, img, true); d != nil {
		diags.Append(d)
	}
	return diags
}

// fromBackend records what the server holds. An expiry the model already holds as
// the same time, written otherwise (another offset, fewer digits), stays as written.
func (m *imageShareResourceModel) fromBackend(s *backend.Share) {
	m.ID = types.StringValue(s.ID)
	m.Image = types.StringValue(s.ImageID)
	m.TargetOrg = types.StringValue(s.TargetOrg)
	if was, ok := parseTime(m.ExpiresAt); !ok || !sameInstant(was, s.ExpiresAt) {
		m.ExpiresAt = expiry(s.ExpiresAt)
	}
	m.State = types.StringValue(s.State)
	m.ClaimedBy = types.StringNull()
	if s.ClaimedBy != "" {
		m.ClaimedBy = types.StringValue(s.ClaimedBy)
	}
	m.ImageName = types.StringValue(s.ImageName)
	m.ImageVersion = types.StringValue(s.ImageVersion)
	m.CreatedAt = tfvalue.Time(s.CreatedAt)
}

func (r *imageShareResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan imageShareResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, plan.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("create image share", err))
		return
	}
	want := backend.Share{ImageID: plan.Image.ValueString(), TargetOrg: plan.TargetOrg.ValueString()}
	if at, ok := parseTime(plan.ExpiresAt); ok {
		want.ExpiresAt = at
	}
	s, err := ep.Shares.CreateShare(ctx, want)
	if err != nil {
		resp.Diagnostics.Append(r.createDiag(ctx, ep, want, plan.ExpiresAt.ValueString(), err))
		return
	}
	plan.fromBackend(s)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// statusBadRequest is the HTTP status Air refuses a share with.
const statusBadRequest = 400

// createDiag explains a refused share. Air answers 400 for an image it will not
// share, for an expiry that has passed, and for a target organisation it will not
// share with; the image and the expiry tell which, and get the plan's advice.
// expiresAt is the expiry as the configuration wrote it.
func (r *imageShareResource) createDiag(ctx context.Context, ep *endpoints.Endpoint, want backend.Share, expiresAt string, err error) diag.Diagnostic {
	var apiErr *backend.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != statusBadRequest {
		return shareDiag("create", ep.Name, "image "+want.ImageID, err)
	}
	img, gerr := ep.Images.GetImage(ctx, want.ImageID)
	if gerr != nil {
		return shareDiag("create", ep.Name, "image "+want.ImageID, err)
	}
	if d := notShareableDiag(ep.Name, img, false); d != nil {
		return d
	}
	// An expiry unknown at plan time is checked by Air alone.
	if !want.ExpiresAt.IsZero() && !want.ExpiresAt.After(time.Now()) {
		return pastExpiryDiag(expiresAt)
	}
	return refusedDiag(ep.Name, img, want, err)
}

func (r *imageShareResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state imageShareResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("read image share", err))
		return
	}
	s, err := ep.Shares.GetShare(ctx, state.ID.ValueString())
	// Deleted outside Terraform, by Air once expired, or with its image.
	if errors.Is(err, backend.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.Append(shareDiag("read", ep.Name, "share "+state.ID.ValueString(), err))
		return
	}
	state.fromBackend(s)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update only records what changes nothing on the server: the endpoint written as
// the default's name, or the expiry written another way. Every other change
// replaces the share, which Air cannot change.
func (r *imageShareResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan imageShareResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete deletes the share, so it can no longer be claimed. Air refuses to delete a
// claimed share, which it keeps as the record of the sharing: that one is only
// forgotten, with a warning.
func (r *imageShareResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state imageShareResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("delete image share", err))
		return
	}
	id := state.ID.ValueString()
	err = ep.Shares.DeleteShare(ctx, id)
	if err == nil || errors.Is(err, backend.ErrNotFound) {
		return
	}
	// The state may predate the claim: the share itself tells.
	if s, gerr := ep.Shares.GetShare(ctx, id); gerr == nil && s.State == stateClaimed {
		resp.Diagnostics.Append(claimedKeptDiag(ep.Name, s))
		return
	}
	resp.Diagnostics.Append(shareDiag("delete", ep.Name, "share "+id, err))
}

// ImportState takes [endpoint:]share_id; Read fills in the rest.
func (r *imageShareResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	endpoint, id := endpoints.SplitID(req.ID)
	if id == "" || (endpoint == "" && req.ID != id) {
		resp.Diagnostics.Append(importDiag(req.ID))
		return
	}
	if endpoint != "" && !r.reg.IsDefault(endpoint) {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("endpoint"), endpoint)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
}
