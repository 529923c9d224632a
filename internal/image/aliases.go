package image

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
)

// privateAliasesKey records, in private state, the alias names this resource created
// or took over because the configuration listed them. Only those are ever
// retargeted back or deleted: an alias someone else holds is never touched.
const privateAliasesKey = "owned_aliases"

type privateData interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}

type privateWriter interface {
	SetKey(context.Context, string, []byte) diag.Diagnostics
}

// ownedAliases reads the names this resource owns: none when nothing was recorded (an
// import, or a create that failed before its aliases were made), since a name that
// already points at the image is taken back when listed, and one that does not is
// someone else's.
func ownedAliases(ctx context.Context, private privateData) (map[string]bool, diag.Diagnostics) {
	owned := map[string]bool{}
	var diags diag.Diagnostics
	if private != nil {
		raw, d := private.GetKey(ctx, privateAliasesKey)
		diags.Append(d...)
		if raw != nil {
			var names []string
			if json.Unmarshal(raw, &names) == nil {
				for _, n := range names {
					owned[n] = true
				}
			}
		}
	}
	return owned, diags
}

func saveOwnedAliases(ctx context.Context, private privateWriter, owned map[string]bool) diag.Diagnostics {
	names := slices.Sorted(maps.Keys(owned))
	if names == nil {
		names = []string{}
	}
	raw, _ := json.Marshal(names)
	return private.SetKey(ctx, privateAliasesKey, raw)
}

// checkAliasesFree fails the plan of an update when a name the configuration adds is
// held by another image. A new image is checked when it is created: while it replaces
// another, its aliases still point at the image it replaces.
func (r *imageResource) checkAliasesFree(ctx context.Context, req resource.ModifyPlanRequest, plan, state *imageResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if state == nil || plan.Endpoint.IsUnknown() {
		return diags
	}
	want, d := plan.aliases(ctx)
	diags.Append(d...)
	fp := state.ID.ValueString()
	owned, d := ownedAliases(ctx, req.Private)
	diags.Append(d...)
	var ep *endpoints.Endpoint
	for _, a := range want {
		if owned[a.Name] {
			continue
		}
		if ep == nil {
			var err error
			if ep, err = r.reg.Get(ctx, plan.Endpoint.ValueString()); err != nil {
				// The apply reports an unreachable endpoint with its own diagnostic.
				return diags
			}
		}
		cur, err := ep.Aliases.GetAlias(ctx, a.Name)
		switch {
		case errors.Is(err, backend.ErrNotFound):
		case err != nil:
			diags.Append(apiDiag("check alias", ep.Name, "alias "+a.Name, err))
		case cur.Target != fp:
			diags.Append(aliasTakenDiag(path.Root("aliases"), ep.Name, a.Name, cur.Target))
		}
	}
	return diags
}

// syncAliases makes the listed aliases point at image fp and removes the owned ones no
// longer listed. It returns the names owned afterwards.
func syncAliases(ctx context.Context, ep *endpoints.Endpoint, fp string, want []backend.ImageAlias, owned map[string]bool) (map[string]bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	next := map[string]bool{}
	listed := map[string]bool{}
	for _, a := range want {
		listed[a.Name] = true
		object := "alias " + a.Name + " of image " + fp
		alias := backend.Alias{Name: a.Name, Description: a.Description, Target: fp}
		cur, err := ep.Aliases.GetAlias(ctx, a.Name)
		switch {
		case errors.Is(err, backend.ErrNotFound):
			err = ep.Aliases.CreateAlias(ctx, alias)
		case err != nil:
		case cur.Target == fp && cur.Description == a.Description:
		case cur.Target == fp || owned[a.Name]:
			// Ours, or already on this image: set the description, or take back an
			// alias of ours that was moved outside Terraform.
			err = ep.Aliases.UpdateAlias(ctx, alias)
		default:
			diags.Append(aliasTakenDiag(path.Root("aliases"), ep.Name, a.Name, cur.Target))
			continue
		}
		if err != nil {
			diags.Append(apiDiag("set alias", ep.Name, object, err))
			if owned[a.Name] {
				next[a.Name] = true
			}
			continue
		}
		next[a.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(owned)) {
		if listed[name] {
			continue
		}
		cur, err := ep.Aliases.GetAlias(ctx, name)
		if errors.Is(err, backend.ErrNotFound) || (err == nil && cur.Target != fp) {
			continue // gone, or someone else's now: not ours to delete
		}
		if err == nil {
			err = ep.Aliases.DeleteAlias(ctx, name)
		}
		if err != nil && !errors.Is(err, backend.ErrNotFound) {
			diags.Append(apiDiag("delete alias", ep.Name, "alias "+name+" of image "+fp, err))
			next[name] = true
		}
	}
	return next, diags
}
