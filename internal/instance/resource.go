// Package instance is the imagefleet_instance resource and data source: containers and
// virtual machines on Incus and LXD endpoints.
package instance

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/image"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
)

var (
	_ resource.ResourceWithConfigure   = &instanceResource{}
	_ resource.ResourceWithImportState = &instanceResource{}
	_ resource.ResourceWithModifyPlan  = &instanceResource{}
)

// hostname is what Incus and LXD accept as an instance name.
var hostname = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// nameValidator rejects, at plan time, a name no instance can have.
func nameValidator() validator.String {
	return stringvalidator.RegexMatches(hostname, "must be a valid host name: letters, digits and '-', starting with a letter, at most 63 characters")
}

type instanceResource struct {
	reg *endpoints.Registry
}

// NewResource is the imagefleet_instance resource.
func NewResource() resource.Resource { return &instanceResource{} }

func (r *instanceResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_instance"
}

func (r *instanceResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	reg, diags := tfendpoints.Registry(req.ProviderData)
	resp.Diagnostics.Append(diags...)
	r.reg = reg
}

func (r *instanceResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keepInt := []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A container or virtual machine on an Incus or LXD endpoint, kept in the `state` it declares. " +
			"Config, devices, profiles, description and state change in place; a change the server refuses while the instance " +
			"runs restarts it only when `allow_restart` is set. Changes made outside Terraform show in the next plan. " +
			"A create that fails, times out or is cancelled after the server made the instance records it as tainted, so the next apply replaces it. " +
			"A create that times out or is cancelled asks the server to cancel its operation and waits up to 60 seconds more for it to end, so that an instance it still makes is recorded too.",
		Attributes: map[string]schema.Attribute{
			"id":       schema.StringAttribute{Computed: true, MarkdownDescription: "The instance name.", PlanModifiers: keep},
			"endpoint": schema.StringAttribute{Optional: true, MarkdownDescription: "Name of the provider endpoint. Defaults to the provider's `default_endpoint`. Changing it replaces the instance, and so does a value unknown until apply: it may name another server."},
			"project": schema.StringAttribute{Optional: true, MarkdownDescription: "Project of the instance; unset means the endpoint's. Changing it replaces the instance, " +
				"except between unset and the endpoint's own project, which are the same. An import records the project its ID names only when it is not the endpoint's own."},
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "Instance name, a valid host name. Changing it replaces the instance.", PlanModifiers: replace,
				Validators: []validator.String{nameValidator()}},
			"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), MarkdownDescription: "Description. Changed in place."},
			"image": schema.StringAttribute{Required: true,
				MarkdownDescription: "Alias or fingerprint of the image to create the instance from, usually `imagefleet_image.x.fingerprint`. " +
					"Changing it replaces the instance, unless the new value names the image the instance was built from (as after an import): " +
					"an alias of that image on the endpoint, its fingerprint or a prefix of it; with `remote`, only the fingerprint or a prefix counts, " +
					"since the image server is not asked. A value unknown until apply, such as the fingerprint of an image being rebuilt, replaces the instance."},
			"remote": schema.SingleNestedAttribute{Optional: true,
				MarkdownDescription: "Take `image` from this image server instead of the endpoint. Changing it replaces the instance. " +
					"An import reads the image server and `image` from the endpoint's cached copy of the pulled image. Once the endpoint no longer holds that copy " +
					"(`images.remote_cache_expiry`), nothing tells where the image came from: the import leaves `image` unset, and the first apply after it takes " +
					"`remote` and `image` from the configuration as they are, without replacing the instance. Only that apply: later changes replace it as usual.",
				Attributes: map[string]schema.Attribute{
					"server":      schema.StringAttribute{Required: true, MarkdownDescription: "Image server URL.", Validators: []validator.String{image.RemoteServerValidator()}},
					"protocol":    schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("simplestreams"), MarkdownDescription: "`simplestreams` (default), `incus` or `lxd`.", Validators: []validator.String{stringvalidator.OneOf("simplestreams", "incus", "lxd")}},
					"certificate": schema.StringAttribute{Optional: true, MarkdownDescription: "The image server's certificate (PEM), when no CA vouches for it."},
				}},
			"type": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("container"), PlanModifiers: replace,
				MarkdownDescription: "`container` (default) or `virtual-machine`. Changing it replaces the instance.", Validators: []validator.String{stringvalidator.OneOf("container", "virtual-machine")}},
			"profiles": schema.ListAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				MarkdownDescription: "Profiles, in order. The server defaults to `[\"default\"]`. Changed in place.", PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()}},
			"config": schema.MapAttribute{ElementType: types.StringType, Optional: true, Computed: true, Default: mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})),
				MarkdownDescription: "Instance config (`limits.*`, `user.*`, `cloud-init.*`, `environment.*`...). Authoritative: keys set outside Terraform show in the plan. " +
					"Server-owned keys (`volatile.*`, `image.*`) are not managed. Changed in place."},
			"devices": schema.MapNestedAttribute{Optional: true, Computed: true, Default: mapdefault.StaticValue(types.MapValueMust(deviceType, map[string]attr.Value{})),
				MarkdownDescription: "Devices of the instance itself (not those from profiles), by name. Changed in place.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"type":       schema.StringAttribute{Required: true, MarkdownDescription: "Device type: `disk`, `nic`, `proxy`, `unix-char`, `none`..."},
					"properties": schema.MapAttribute{ElementType: types.StringType, Optional: true, Computed: true, Default: mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})), MarkdownDescription: "Device options."},
				}}},
			"ephemeral": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false), MarkdownDescription: "Delete the instance when it stops. Changed in place."},
			"target":    schema.StringAttribute{Optional: true, MarkdownDescription: "Cluster member to create the instance on. Changing it replaces the instance.", PlanModifiers: replace},
			"state": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("running"),
				MarkdownDescription: "`running` (default), `stopped` or `frozen`. Changed in place.", Validators: []validator.String{stringvalidator.OneOf("running", "stopped", "frozen")}},
			"allow_restart": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Allow stopping and starting a running instance when the server refuses a change while it runs."},
			"stop_timeout": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(30),
				MarkdownDescription: "Seconds a graceful stop may take before the instance is stopped by force.",
				Validators:          []validator.Int64{int64validator.AtLeast(0)}},
			"files": schema.ListNestedAttribute{Optional: true, MarkdownDescription: "Files pushed into the instance at create and again whenever their content, owner or mode changes (without recreating the instance). A file whose push fails is not recorded as pushed: the next plan shows it and the next apply pushes it again. Their contents are not read back from the instance.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"target_path": schema.StringAttribute{Required: true, MarkdownDescription: "Absolute path in the instance; its directory must exist.", Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^/`), "must be an absolute path")}},
					"content":     schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "The file's content.", Validators: []validator.String{stringvalidator.ExactlyOneOf(path.MatchRelative().AtParent().AtName("source_file"))}},
					"source_file": schema.StringAttribute{Optional: true, MarkdownDescription: "A local file to push."},
					"uid":         schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0), MarkdownDescription: "Owner's user ID."},
					"gid":         schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0), MarkdownDescription: "Owner's group ID."},
					"mode":        schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("0644"), MarkdownDescription: "Octal mode.", Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^0?[0-7]{3,4}$`), "must be an octal mode such as 0644")}},
					"content_sha256": schema.StringAttribute{Computed: true, Sensitive: true,
						MarkdownDescription: "For `source_file` only: sha256 of the local file, computed at plan time; a change pushes the file again. " +
							"Sensitive, since the digest of a short secret gives it away. Null for inline `content`, whose changes are seen from the content itself " +
							"(kept, as a sensitive value, in state like any argument): no digest of it is stored or shown."},
				}}},
			"exec": schema.ListNestedAttribute{Optional: true,
				MarkdownDescription: "Commands run, in order, once the instance is created and running; with `trigger = \"on_change\"` also after every apply that changes the instance. The server records their output. " +
					"A command that fails (a non-zero exit without `allow_failure`, or an error running it) stops the apply; it and the commands after it run again at the next apply, and the plan shows them.",
				Validators: []validator.List{listvalidator.SizeAtMost(32)},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"command":       schema.ListAttribute{ElementType: types.StringType, Required: true, MarkdownDescription: "The command and its arguments; no shell is involved unless you run one.", Validators: []validator.List{listvalidator.SizeAtLeast(1)}},
					"environment":   schema.MapAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: "Environment variables."},
					"trigger":       schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("once"), MarkdownDescription: "`once` (default): after create, or when the entry is added or edited. `on_change`: also after every change to the instance.", Validators: []validator.String{stringvalidator.OneOf("once", "on_change")}},
					"allow_failure": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false), MarkdownDescription: "Accept a non-zero exit code instead of failing the apply."},
					"exit_code":     schema.Int64Attribute{Computed: true, MarkdownDescription: "Exit code of the last run.", PlanModifiers: keepInt},
					"stdout":        schema.StringAttribute{Computed: true, MarkdownDescription: "Standard output of the last run (at most 1 MiB).", PlanModifiers: keep},
					"stderr":        schema.StringAttribute{Computed: true, MarkdownDescription: "Standard error of the last run (at most 1 MiB).", PlanModifiers: keep},
				}}},
			"image_fingerprint": schema.StringAttribute{Computed: true, MarkdownDescription: "Fingerprint of the image the instance was created from."},
			"status":            schema.StringAttribute{Computed: true, MarkdownDescription: "Status the server reports (`Running`, `Stopped`, `Frozen`...)."},
			"ipv4_address":      schema.StringAttribute{Computed: true, MarkdownDescription: "First global IPv4 address of the first network interface that has one."},
			"ipv6_address":      schema.StringAttribute{Computed: true, MarkdownDescription: "First global IPv6 address."},
			"mac_address":       schema.StringAttribute{Computed: true, MarkdownDescription: "MAC address of the first network interface."},
			"location":          schema.StringAttribute{Computed: true, MarkdownDescription: "Cluster member the instance is on (null when not clustered).", PlanModifiers: keep},
			"created_at":        schema.StringAttribute{Computed: true, MarkdownDescription: "Creation time (RFC 3339).", PlanModifiers: keep},
			"last_used_at":      schema.StringAttribute{Computed: true, MarkdownDescription: "Last start time (RFC 3339)."},
			"expanded_config":   schema.MapAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "The config the server applies: the instance's own with its profiles' and server-owned keys."},
			"timeouts":          timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *instanceResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.reg == nil {
		return
	}
	var plan instanceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *instanceResourceModel
	if !req.State.Raw.IsNull() {
		state = &instanceResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	name := ""
	if !plan.Endpoint.IsUnknown() {
		var err error
		if name, _, err = r.reg.Require(plan.Endpoint.ValueString(), backend.CapInstances); err != nil {
			resp.Diagnostics.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
			return
		}
	}
	files, d := r.planFiles(ctx, &plan)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("files"), files)...)
	if state == nil {
		if !plan.Exec.IsNull() && len(plan.Exec.Elements()) > 0 && !plan.State.IsUnknown() && plan.State.ValueString() != "running" {
			resp.Diagnostics.Append(execNeedsRunningDiag(plan.State.ValueString()))
		}
		return
	}
	// An endpoint unknown until apply may name another server: replace, as for a
	// known change.
	if plan.Endpoint.IsUnknown() || !r.reg.Same(state.Endpoint.ValueString(), plan.Endpoint.ValueString()) {
		resp.RequiresReplace.Append(path.Root("endpoint"))
	}
	// An import that could not tell which image the instance was built from leaves
	// image null; until an apply sets it, remote and image are taken from the
	// configuration. The state itself says so, not a marker that a plan with nothing
	// to apply would leave behind.
	adopt := state.Image.IsNull() && state.Remote.IsNull() && !plan.Remote.IsNull()
	// Unknown, or with an unknown part, it is not the same.
	if !adopt && !plan.Remote.Equal(state.Remote) {
		resp.RequiresReplace.Append(path.Root("remote"))
	}
	if len(resp.RequiresReplace) == 0 {
		replaceProject, err := r.projectChanges(ctx, name, &plan, state)
		if err != nil {
			resp.Diagnostics.Append(tfendpoints.ConnectDiag("plan instance", err))
			return
		}
		if replaceProject {
			resp.RequiresReplace.Append(path.Root("project"))
		}
	}
	if !adopt {
		replaceImage, err := r.imageChanges(ctx, name, &plan, state, len(resp.RequiresReplace) > 0)
		if err != nil {
			resp.Diagnostics.Append(imageChangedDiag(name, plan.Image.ValueString(), err))
			return
		}
		if replaceImage {
			resp.RequiresReplace.Append(path.Root("image"))
		}
	}
	if len(resp.RequiresReplace) == 0 {
		// Still built from the same image: only a replacement changes it.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("image_fingerprint"), state.ImageFingerprint)...)
	}
	resp.Diagnostics.Append(r.planExec(ctx, req, &plan, state, resp)...)
	if !plan.touchesServer(state) {
		// Nothing the server reports will move: say so, rather than show every
		// computed attribute as "known after apply".
		for attr, v := range map[string]attr.Value{"expanded_config": state.ExpandedConfig, "status": state.Status, "ipv4_address": state.IPv4,
			"ipv6_address": state.IPv6, "mac_address": state.MAC, "last_used_at": state.LastUsedAt} {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attr), v)...)
		}
	}
}

// touchesServer reports whether going from prior to m changes what the server
// reports about the instance: its spec or its state.
func (m *instanceResourceModel) touchesServer(prior *instanceResourceModel) bool {
	return !m.Description.Equal(prior.Description) || !m.Profiles.Equal(prior.Profiles) && !m.Profiles.IsUnknown() ||
		!m.Config.Equal(prior.Config) || !m.Devices.Equal(prior.Devices) || !m.Ephemeral.Equal(prior.Ephemeral) || !m.State.Equal(prior.State)
}

// projectChanges reports whether the planned project is another one than the
// instance's; unset and the endpoint's own project are the same.
func (r *instanceResource) projectChanges(ctx context.Context, endpoint string, plan, state *instanceResourceModel) (bool, error) {
	switch {
	case plan.Project.Equal(state.Project):
		return false, nil
	case plan.Project.IsUnknown() || !plan.Project.IsNull() && !state.Project.IsNull():
		return true, nil
	}
	ep, err := r.reg.Get(ctx, endpoint)
	if err != nil {
		return false, err
	}
	set := plan.Project
	if set.IsNull() {
		set = state.Project
	}
	return set.ValueString() != ep.Instances.DefaultProject(), nil
}

// imageChanges reports whether the planned image means another image than the one
// the instance was built from. An image unknown until apply (as when its image is
// rebuilt) may be another one, so it replaces; so does any other image on a remote
// server, where only a prefix of the fingerprint can be checked without asking it.
// Nothing is checked once the instance is replaced anyway.
func (r *instanceResource) imageChanges(ctx context.Context, endpoint string, plan, state *instanceResourceModel, replacing bool) (bool, error) {
	switch {
	case replacing || plan.Image.Equal(state.Image):
		return false, nil
	case plan.Image.IsUnknown():
		return true, nil
	case !plan.Remote.IsNull():
		built := state.ImageFingerprint.ValueString()
		return built == "" || !strings.HasPrefix(built, plan.Image.ValueString()), nil
	}
	same, err := r.sameImage(ctx, endpoint, plan.Image.ValueString(), state.ImageFingerprint.ValueString())
	return !same, err
}

// sameImage reports whether image (alias, fingerprint or prefix) names the image the
// instance was built from, so that writing an alias in place of the fingerprint an
// import recorded does not replace the instance.
func (r *instanceResource) sameImage(ctx context.Context, endpoint, image, built string) (bool, error) {
	if built == "" {
		return false, nil
	}
	if strings.HasPrefix(built, image) {
		return true, nil
	}
	ep, err := r.reg.Get(ctx, endpoint)
	if err != nil {
		return false, err
	}
	a, err := ep.Aliases.GetAlias(ctx, image)
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return a.Target == built, nil
}

// planFiles computes the digest of each source file, so a changed local file shows
// in the plan and is pushed again. Inline content gets none: a digest of a short
// secret would give it away, and the content itself shows that it changed.
func (r *instanceResource) planFiles(ctx context.Context, plan *instanceResourceModel) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	if plan.Files.IsNull() || plan.Files.IsUnknown() {
		return plan.Files, nil
	}
	var files []fileModel
	diags.Append(plan.Files.ElementsAs(ctx, &files, false)...)
	for i, f := range files {
		switch {
		case f.SourceFile.IsNull():
			f.ContentSHA256 = types.StringNull()
		case f.SourceFile.IsUnknown():
			f.ContentSHA256 = types.StringUnknown()
		default:
			_, sum, err := fileContent(f)
			if err != nil {
				diags.Append(fileDiag(i, err))
				continue
			}
			f.ContentSHA256 = types.StringValue(sum)
		}
		files[i] = f
	}
	out, d := types.ListValueFrom(ctx, plan.Files.ElementType(ctx), files)
	diags.Append(d...)
	return out, diags
}

// planExec marks which commands run in this apply: new or edited entries, entries
// that failed or never ran (after a failure, an apply stops running commands), and
// on_change entries when anything else about the instance changes.
func (r *instanceResource) planExec(ctx context.Context, req resource.ModifyPlanRequest, plan, state *instanceResourceModel, resp *resource.ModifyPlanResponse) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Exec.IsNull() || plan.Exec.IsUnknown() {
		return nil
	}
	var want, had []execModel
	diags.Append(plan.Exec.ElementsAs(ctx, &want, false)...)
	if !state.Exec.IsNull() {
		diags.Append(state.Exec.ElementsAs(ctx, &had, false)...)
	}
	changed := !req.Plan.Raw.Equal(req.State.Raw)
	runs := false
	for i := range want {
		rerun := i >= len(had) || !want[i].Command.Equal(had[i].Command) || !want[i].Environment.Equal(had[i].Environment) ||
			!had[i].succeeded(want[i].AllowFailure.ValueBool()) || (changed && want[i].Trigger.ValueString() == "on_change")
		if rerun {
			runs = true
			want[i].ExitCode, want[i].Stdout, want[i].Stderr = types.Int64Unknown(), types.StringUnknown(), types.StringUnknown()
		}
	}
	if runs && !plan.State.IsUnknown() && plan.State.ValueString() != "running" {
		diags.Append(execNeedsRunningDiag(plan.State.ValueString()))
	}
	out, d := types.ListValueFrom(ctx, plan.Exec.ElementType(ctx), want)
	diags.Append(d...)
	diags.Append(resp.Plan.SetAttribute(ctx, path.Root("exec"), out)...)
	return diags
}

func (r *instanceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan instanceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 15*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := backend.WithTimeout(ctx, timeout)
	defer cancel()
	ep, err := r.reg.Get(ctx, plan.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("create instance", err))
		return
	}
	spec, d := plan.spec(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	create := backend.InstanceCreate{InstanceRef: plan.ref(), InstanceSpec: spec, Type: plan.Type.ValueString(),
		Image: plan.Image.ValueString(), Target: plan.Target.ValueString(), KeepMark: true}
	create.Remote, d = plan.remote(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Info(ctx, "creating instance", map[string]any{"endpoint": ep.Name, "name": create.Name, "image": create.Image})
	if err := ep.Instances.CreateInstance(ctx, create); err != nil {
		resp.Diagnostics.Append(apiDiag("create", ep.Name, create.Name, err))
		if !errors.Is(err, backend.ErrNotCreated) {
			r.recordLeftover(ctx, ep, &plan, &resp.State, &resp.Diagnostics)
		}
		return
	}
	// From here on the instance exists: whatever fails next, it is saved (tainted)
	// so the next apply replaces it rather than leaving an orphan. Its creation mark
	// stays until its files, state and commands are done: a run killed before then
	// leaves an instance the next apply's create takes over.
	resp.Diagnostics.Append(r.converge(ctx, ep, nil, &plan)...)
	if !resp.Diagnostics.HasError() {
		if err := ep.Instances.FinishCreate(ctx, create.InstanceRef); err != nil {
			resp.Diagnostics.Append(markDiag(ep.Name, create.Name, err))
		}
	}
	r.save(ctx, ep, &plan, &resp.State, &resp.Diagnostics)
}

// checkTimeout bounds the requests made after the apply's own context is done (timed
// out or cancelled), to record what exists.
const checkTimeout = 30 * time.Second

// detached is ctx without its cancellation and deadline, bounded by checkTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
}

// recordLeftover records an instance that a failed create (timed out, cancelled,
// or failed after the server accepted it) may have left, so that the error taints it
// and the next apply replaces it rather than failing on a name that is taken.
func (r *instanceResource) recordLeftover(ctx context.Context, ep *endpoints.Endpoint, plan *instanceResourceModel, state interface {
	Set(context.Context, any) diag.Diagnostics
}, diags *diag.Diagnostics) {
	ctx, cancel := detached(ctx)
	defer cancel()
	in, err := ep.Instances.GetInstance(ctx, plan.ref())
	if err != nil {
		if !errors.Is(err, backend.ErrNotFound) {
			diags.Append(leftoverUnknownDiag(ep.Name, plan.Name.ValueString(), err))
		}
		return
	}
	diags.Append(plan.setFromServer(ctx, in)...)
	plan.nullUnknowns(ctx)
	diags.Append(state.Set(ctx, plan)...)
	diags.Append(leftoverRecordedDiag(ep.Name, plan.Name.ValueString()))
}

// converge brings an existing instance from prior (nil on create) to plan: spec,
// files, state, then commands.
func (r *instanceResource) converge(ctx context.Context, ep *endpoints.Endpoint, prior, plan *instanceResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	ref := plan.ref()
	// CreateInstance always leaves the instance stopped; on update, ask the server,
	// since the prior state may not have been refreshed.
	status := "Stopped"
	if prior != nil {
		cur, err := ep.Instances.GetInstance(ctx, ref)
		if err != nil {
			diags.Append(apiDiag("read", ep.Name, ref.Name, err))
			return diags
		}
		status = cur.Status
		diags.Append(r.updateSpec(ctx, ep, status, prior, plan)...)
		if diags.HasError() {
			return diags
		}
	}
	vm := plan.Type.ValueString() == "virtual-machine"
	// A container takes files while stopped; a VM needs its agent, so it must run.
	if !vm {
		diags.Append(r.pushFiles(ctx, ep, prior, plan)...)
	}
	diags.Append(r.reach(ctx, ep, ref, status, plan)...)
	if vm && !diags.HasError() {
		diags.Append(r.pushFiles(ctx, ep, prior, plan)...)
	}
	if !diags.HasError() {
		diags.Append(r.runExec(ctx, ep, plan)...)
	}
	return diags
}

func (r *instanceResource) updateSpec(ctx context.Context, ep *endpoints.Endpoint, status string, prior, plan *instanceResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if prior.Description.Equal(plan.Description) && prior.Profiles.Equal(plan.Profiles) && prior.Config.Equal(plan.Config) &&
		prior.Devices.Equal(plan.Devices) && prior.Ephemeral.Equal(plan.Ephemeral) {
		return nil
	}
	spec, d := plan.spec(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return diags
	}
	ref := plan.ref()
	err := ep.Instances.UpdateInstance(ctx, ref, spec)
	if err != nil && plan.AllowRestart.ValueBool() && status == "Running" {
		tflog.Info(ctx, "the server refused the change while the instance runs; restarting it, as allow_restart permits", map[string]any{"error": err.Error()})
		if err = r.stop(ctx, ep, ref, plan); err == nil {
			if err = ep.Instances.UpdateInstance(ctx, ref, spec); err == nil {
				err = ep.Instances.ChangeState(ctx, ref, backend.StateChange{Action: "start"})
			}
		}
	}
	if err != nil {
		diags.Append(apiDiag("update", ep.Name, ref.Name, err))
	}
	return diags
}

// stop stops gracefully within stop_timeout, then by force.
func (r *instanceResource) stop(ctx context.Context, ep *endpoints.Endpoint, ref backend.InstanceRef, plan *instanceResourceModel) error {
	timeout := time.Duration(plan.StopTimeout.ValueInt64()) * time.Second
	err := ep.Instances.ChangeState(ctx, ref, backend.StateChange{Action: "stop", Timeout: timeout})
	if err != nil {
		tflog.Warn(ctx, "graceful stop failed; stopping by force", map[string]any{"instance": ref.Name, "error": err.Error()})
		err = ep.Instances.ChangeState(ctx, ref, backend.StateChange{Action: "stop", Force: true})
	}
	return err
}

// reach moves the instance from its current status to the planned state.
func (r *instanceResource) reach(ctx context.Context, ep *endpoints.Endpoint, ref backend.InstanceRef, status string, plan *instanceResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	want := stateStatus[plan.State.ValueString()]
	if want == "" || status == want {
		return nil
	}
	var steps []backend.StateChange
	switch {
	case want == "Running" && status == "Frozen":
		steps = []backend.StateChange{{Action: "unfreeze"}}
	case want == "Running":
		steps = []backend.StateChange{{Action: "start"}}
	case want == "Frozen" && status == "Running":
		steps = []backend.StateChange{{Action: "freeze"}}
	case want == "Frozen":
		steps = []backend.StateChange{{Action: "start"}, {Action: "freeze"}}
	case want == "Stopped":
		if status == "Frozen" {
			steps = []backend.StateChange{{Action: "unfreeze"}}
		}
		steps = append(steps, backend.StateChange{Action: "stop"})
	}
	for _, s := range steps {
		var err error
		if s.Action == "stop" {
			err = r.stop(ctx, ep, ref, plan)
		} else {
			err = ep.Instances.ChangeState(ctx, ref, s)
		}
		if err != nil {
			diags.Append(apiDiag(s.Action, ep.Name, ref.Name, err))
			return diags
		}
	}
	return diags
}

// pushFiles pushes every file on create, and on update those whose content, owner or
// mode differ from the prior state. A file it could not push keeps its prior entry in
// plan.Files (or none, if it had none), so the state does not record it as pushed and
// the next plan shows it again.
func (r *instanceResource) pushFiles(ctx context.Context, ep *endpoints.Endpoint, prior, plan *instanceResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Files.IsNull() {
		return nil
	}
	var files, had []fileModel
	diags.Append(plan.Files.ElementsAs(ctx, &files, false)...)
	if prior != nil && !prior.Files.IsNull() {
		diags.Append(prior.Files.ElementsAs(ctx, &had, false)...)
	}
	pushed := map[string]fileModel{}
	for _, f := range had {
		pushed[f.TargetPath.ValueString()] = f
	}
	done := make([]fileModel, 0, len(files))
	for i, f := range files {
		old, ok := pushed[f.TargetPath.ValueString()]
		if ok && old.Content.Equal(f.Content) && old.SourceFile.Equal(f.SourceFile) && old.ContentSHA256.Equal(f.ContentSHA256) &&
			old.UID.Equal(f.UID) && old.GID.Equal(f.GID) && old.Mode.Equal(f.Mode) {
			done = append(done, f)
			continue
		}
		body, _, err := fileContent(f)
		if err != nil {
			diags.Append(fileDiag(i, err))
		} else if err = ep.Instances.PushFile(ctx, plan.ref(), backend.File{Path: f.TargetPath.ValueString(), Content: bytes.NewReader(body),
			UID: f.UID.ValueInt64(), GID: f.GID.ValueInt64(), Mode: fileMode(f)}); err != nil {
			diags.Append(apiDiag("push "+f.TargetPath.ValueString()+" into", ep.Name, plan.Name.ValueString(), err))
		}
		switch {
		case err == nil:
			done = append(done, f)
		case ok:
			done = append(done, old)
		}
	}
	out, d := types.ListValueFrom(ctx, plan.Files.ElementType(ctx), done)
	diags.Append(d...)
	plan.Files = out
	return diags
}

// succeeded reports whether the command's last run counts as done: it ran, and
// exited with 0 or failure is allowed.
func (e execModel) succeeded(allowFailure bool) bool {
	return !e.ExitCode.IsNull() && !e.ExitCode.IsUnknown() && (e.ExitCode.ValueInt64() == 0 || allowFailure)
}

// runExec runs the entries the plan left without an exit code, in order.
func (r *instanceResource) runExec(ctx context.Context, ep *endpoints.Endpoint, plan *instanceResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Exec.IsNull() {
		return nil
	}
	var entries []execModel
	diags.Append(plan.Exec.ElementsAs(ctx, &entries, false)...)
	for i, e := range entries {
		if !e.ExitCode.IsUnknown() && !e.ExitCode.IsNull() {
			continue
		}
		var cmd []string
		env := map[string]string{}
		diags.Append(e.Command.ElementsAs(ctx, &cmd, false)...)
		diags.Append(e.Environment.ElementsAs(ctx, &env, false)...)
		res, err := ep.Instances.Exec(ctx, plan.ref(), backend.Exec{Command: cmd, Environment: env})
		if err != nil {
			diags.Append(apiDiag("run a command in", ep.Name, plan.Name.ValueString(), err))
			break
		}
		entries[i].ExitCode, entries[i].Stdout, entries[i].Stderr = types.Int64Value(int64(res.ExitCode)), types.StringValue(res.Stdout), types.StringValue(res.Stderr)
		if res.ExitCode != 0 && !e.AllowFailure.ValueBool() {
			diags.Append(execFailedDiag(ep.Name, plan.Name.ValueString(), cmd, res))
			break
		}
	}
	out, d := types.ListValueFrom(ctx, plan.Exec.ElementType(ctx), entries)
	diags.Append(d...)
	plan.Exec = out
	return diags
}

// save reads the instance back into the model and the state; outputs of commands
// that did not run are recorded as null.
func (r *instanceResource) save(ctx context.Context, ep *endpoints.Endpoint, m *instanceResourceModel, state interface {
	Set(context.Context, any) diag.Diagnostics
}, diags *diag.Diagnostics) {
	// The apply's context may be done: what exists is recorded all the same.
	ctx, cancel := detached(ctx)
	defer cancel()
	if in, err := ep.Instances.GetInstance(ctx, m.ref()); err == nil {
		diags.Append(m.setFromServer(ctx, in)...)
	} else {
		diags.Append(apiDiag("read", ep.Name, m.Name.ValueString(), err))
	}
	m.nullUnknowns(ctx)
	diags.Append(state.Set(ctx, m)...)
}

func (r *instanceResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state instanceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ep, err := r.reg.Get(ctx, state.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("read instance", err))
		return
	}
	in, err := ep.Instances.GetInstance(ctx, state.ref())
	if errors.Is(err, backend.ErrNotFound) {
		tflog.Warn(ctx, "instance is gone from the server; removing it from state", map[string]any{"endpoint": ep.Name, "name": state.Name.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.Append(apiDiag("read", ep.Name, state.Name.ValueString(), err))
		return
	}
	if state.Image.IsNull() {
		// Imported and not applied since: an image pulled from an image server is
		// named as it was, a local image by its fingerprint. When the endpoint no
		// longer holds the image, nothing tells where it came from: image stays null,
		// so that the first apply takes remote and image from the configuration.
		fp := in.Config["volatile.base_image"]
		var src *backend.RemoteImage
		err := backend.ErrNotFound
		if fp != "" {
			src, err = ep.Instances.ImageSource(ctx, state.ref(), fp)
		}
		switch {
		case errors.Is(err, backend.ErrNotFound):
		case err != nil:
			resp.Diagnostics.Append(apiDiag("read", ep.Name, state.Name.ValueString(), err))
			return
		case src != nil:
			state.Image = types.StringValue(src.Alias)
			state.Remote = types.ObjectValueMust(remoteType.AttrTypes, map[string]attr.Value{"server": types.StringValue(src.Server),
				"protocol": types.StringValue(src.Protocol), "certificate": emptyNull(src.Certificate)})
		default:
			state.Image = types.StringValue(fp)
		}
	}
	resp.Diagnostics.Append(state.setFromServer(ctx, in)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *instanceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior instanceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, 15*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := backend.WithTimeout(ctx, timeout)
	defer cancel()
	ep, err := r.reg.Get(ctx, plan.Endpoint.ValueString())
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("update instance", err))
		return
	}
	resp.Diagnostics.Append(r.converge(ctx, ep, &prior, &plan)...)
	r.save(ctx, ep, &plan, &resp.State, &resp.Diagnostics)
}

func (r *instanceResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state instanceResourceModel
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
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("delete instance", err))
		return
	}
	ref := state.ref()
	in, err := ep.Instances.GetInstance(ctx, ref)
	if errors.Is(err, backend.ErrNotFound) {
		return
	}
	if err == nil && in.Status != "Stopped" {
		// Deleting is final, so a graceful stop buys nothing: stop by force.
		err = ep.Instances.ChangeState(ctx, ref, backend.StateChange{Action: "stop", Force: true})
		if err != nil {
			// It may have stopped on its own meanwhile (LXD then refuses the stop
			// as "not running"): what counts is that it is stopped now.
			if again, gerr := ep.Instances.GetInstance(ctx, ref); gerr == nil && again.Status == "Stopped" {
				err = nil
			}
		}
	}
	if err == nil {
		err = ep.Instances.DeleteInstance(ctx, ref)
	}
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		resp.Diagnostics.Append(apiDiag("delete", ep.Name, ref.Name, err))
	}
}

// ImportState takes [endpoint:][project/]name.
func (r *instanceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	endpoint, rest := endpoints.SplitID(req.ID)
	project, name := "", rest
	if i := strings.Index(rest, "/"); i >= 0 {
		project, name = rest[:i], rest[i+1:]
	}
	if !hostname.MatchString(name) {
		resp.Diagnostics.Append(importDiag(req.ID))
		return
	}
	ep, err := r.reg.Get(ctx, endpoint)
	if err != nil {
		resp.Diagnostics.Append(tfendpoints.ConnectDiag("import instance", err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	// A configuration that leaves project unset means the endpoint's own.
	if project != "" && project != ep.Instances.DefaultProject() {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("project"), project)...)
	}
	if endpoint != "" && !r.reg.IsDefault(endpoint) {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("endpoint"), endpoint)...)
	}
	// What the server cannot tell takes its default, as a configuration would.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("allow_restart"), false)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("stop_timeout"), 30)...)
}

func (m *instanceResourceModel) nullUnknowns(ctx context.Context) {
	for _, s := range []*types.String{&m.ID, &m.ImageFingerprint, &m.Status, &m.IPv4, &m.IPv6, &m.MAC, &m.Location, &m.CreatedAt, &m.LastUsedAt} {
		if s.IsUnknown() {
			*s = types.StringNull()
		}
	}
	if m.ExpandedConfig.IsUnknown() {
		m.ExpandedConfig = types.MapNull(types.StringType)
	}
	if m.Profiles.IsUnknown() {
		m.Profiles = types.ListNull(types.StringType)
	}
	if m.Exec.IsNull() || m.Exec.IsUnknown() {
		return
	}
	var entries []execModel
	m.Exec.ElementsAs(ctx, &entries, false)
	for i := range entries {
		if entries[i].ExitCode.IsUnknown() {
			entries[i].ExitCode, entries[i].Stdout, entries[i].Stderr = types.Int64Null(), types.StringNull(), types.StringNull()
		}
	}
	m.Exec, _ = types.ListValueFrom(ctx, m.Exec.ElementType(ctx), entries)
}
