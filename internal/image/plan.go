package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// ModifyPlan does the checks that need the provider's endpoints or the local files:
// the endpoint exists and can hold what is asked, local files are images, and their
// digest (from cache when they are unchanged) decides whether the image is replaced.
func (r *imageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.reg == nil {
		return
	}
	var plan imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *imageResourceModel
	if !req.State.Raw.IsNull() {
		state = &imageResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.checkEndpoints(&plan)...)
	// An endpoint unknown until apply may name another server: replace.
	if state != nil && (plan.Endpoint.IsUnknown() || !r.reg.Same(state.Endpoint.ValueString(), plan.Endpoint.ValueString())) {
		resp.RequiresReplace.Append(path.Root("endpoint"))
	}
	if state == nil && !plan.hasSource() {
		resp.Diagnostics.Append(noSourceDiag())
	}
	if state != nil {
		if p, replace := replacedSource(&plan, state); replace {
			resp.RequiresReplace.Append(p)
		}
	}
	if !plan.ExpiresAt.IsNull() && !plan.ExpiresAt.IsUnknown() && (state == nil || !state.ExpiresAt.Equal(plan.ExpiresAt)) {
		if t, err := time.Parse(time.RFC3339, plan.ExpiresAt.ValueString()); err == nil && !t.After(time.Now()) {
			resp.Diagnostics.Append(expiryDiag(plan.ExpiresAt.ValueString()))
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.checkAliasesFree(ctx, req, &plan, state)...)

	meta, rootfs, local := plan.localFiles()
	if !local {
		return
	}
	if plan.File.IsUnknown() || (plan.Split != nil && (plan.Split.MetadataFile.IsUnknown() || plan.Split.RootfsFile.IsUnknown())) {
		// The content cannot be compared before the path is known: replace.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("source_sha256"), types.StringUnknown())...)
		if state != nil {
			resp.RequiresReplace.Append(path.Root("source_sha256"))
		}
		return
	}
	digest, stamps, diags := r.localDigest(ctx, req, meta, rootfs, state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() || digest == "" {
		return
	}
	// The stamps of the files this digest was taken from go to the apply, which keeps
	// them only if the files are still the same then (see Update).
	resp.Diagnostics.Append(saveStamps(ctx, resp.Private, stamps)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("source_sha256"), digest)...)
	if state != nil && state.SourceSHA256.ValueString() != digest {
		tflog.Info(ctx, "image content changed; the image will be replaced", map[string]any{"was": state.SourceSHA256.ValueString(), "now": digest})
		resp.RequiresReplace.Append(path.Root("source_sha256"))
	}
}

// checkEndpoints rejects, at plan time, endpoints that are not configured or whose
// type cannot do what the configuration asks.
func (r *imageResource) checkEndpoints(plan *imageResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Endpoint.IsUnknown() {
		return nil
	}
	name, kind, err := r.reg.Require(plan.Endpoint.ValueString(), backend.CapImages)
	if err != nil {
		diags.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
		return diags
	}
	need := map[string]backend.Capability{}
	if !plan.Aliases.IsNull() && !plan.Aliases.IsUnknown() && len(plan.Aliases.Elements()) > 0 {
		need["aliases"] = backend.CapImageAliases
	}
	if !plan.Profiles.IsNull() && !plan.Profiles.IsUnknown() {
		need["profiles"] = backend.CapImageProfiles
	}
	if !plan.AutoUpdate.IsNull() && !plan.AutoUpdate.IsUnknown() {
		need["auto_update"] = backend.CapImageAutoUpdate
	}
	if plan.Remote != nil {
		need["remote"] = backend.CapRemoteImages
	}
	for attr, c := range need {
		if _, _, err := r.reg.Require(name, c); err != nil {
			diags.Append(tfendpoints.EndpointDiag(path.Root(attr), err))
		}
	}
	if plan.Remote != nil && kind == backend.KindLXD && plan.Remote.Protocol.ValueString() == "incus" {
		diags.Append(protocolDiag(name))
	}
	if plan.CopyFrom != nil && !plan.CopyFrom.Endpoint.IsUnknown() {
		if _, _, err := r.reg.Require(plan.CopyFrom.Endpoint.ValueString(), backend.CapImageExport); err != nil {
			diags.Append(tfendpoints.EndpointDiag(path.Root("copy_from").AtName("endpoint"), err))
		}
	}
	return diags
}

const privateStampsKey = "source_stamps"

type stampRecord struct {
	Stamps []transfer.FileStamp `json:"stamps"`
}

// localDigest checks the local source and returns its sha256. On create it only
// checks the files and returns "": the server fingerprints the upload, and a full
// read of a large image at plan time would only slow the apply down. When state exists
// and every file has the path, size, modification and change times recorded at the last
// upload, the recorded digest is used and nothing is read; otherwise the files are
// checked and hashed, so a content change shows in the plan.
func (r *imageResource) localDigest(ctx context.Context, req resource.ModifyPlanRequest, meta, rootfs string, state *imageResourceModel) (string, []transfer.FileStamp, diag.Diagnostics) {
	var diags diag.Diagnostics
	files := []string{meta}
	attrs := []path.Path{path.Root("file")}
	if rootfs != "" {
		files = []string{meta, rootfs}
		attrs = []path.Path{path.Root("split").AtName("metadata_file"), path.Root("split").AtName("rootfs_file")}
	}
	var current []transfer.FileStamp
	for i, f := range files {
		st, err := stampPath(f)
		if err != nil {
			err = fmt.Errorf("cannot use %s: %w", f, unwrapPathErr(err))
			if state != nil && !state.SourceSHA256.IsNull() {
				// The image exists: a plan or a destroy must not need its file.
				diags.Append(sourceGoneDiag(attrs[i], err))
				return state.SourceSHA256.ValueString(), nil, diags
			}
			diags.Append(sourceDiag(attrs[i], err))
			continue
		}
		current = append(current, st)
	}
	if diags.HasError() {
		return "", nil, diags
	}
	if state != nil && !state.SourceSHA256.IsNull() {
		raw, d := req.Private.GetKey(ctx, privateStampsKey)
		diags.Append(d...)
		var rec stampRecord
		if raw != nil && json.Unmarshal(raw, &rec) == nil && slices.Equal(rec.Stamps, current) {
			tflog.Debug(ctx, "local image files unchanged since the upload; using the recorded digest", map[string]any{"files": files})
			return state.SourceSHA256.ValueString(), current, diags
		}
	}
	ins, err := transfer.Inspect(ctx, meta, rootfs, state != nil)
	if err != nil {
		at := attrs[0]
		var fe *transfer.FileError
		if rootfs != "" && errors.As(err, &fe) && fe.Path == rootfs {
			at = attrs[1]
		}
		diags.Append(sourceDiag(at, err))
		return "", nil, diags
	}
	return ins.SHA256, current, diags
}

// saveStamps records the files' stamps, so later plans can trust the state's digest.
func saveStamps(ctx context.Context, private interface {
	SetKey(context.Context, string, []byte) diag.Diagnostics
}, stamps []transfer.FileStamp) diag.Diagnostics {
	if len(stamps) == 0 {
		return nil
	}
	raw, err := json.Marshal(stampRecord{Stamps: stamps})
	if err != nil {
		return diag.Diagnostics{stampsDiag(err)}
	}
	return private.SetKey(ctx, privateStampsKey, raw)
}

// keepStampsIfUnchanged drops the stamps the plan verified when the files changed
// since (a saved plan applied later, say): kept, they would vouch for content the
// digest in state was not taken from, and the next plans would trust it.
func keepStampsIfUnchanged(ctx context.Context, private interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
	SetKey(context.Context, string, []byte) diag.Diagnostics
}, m *imageResourceModel) diag.Diagnostics {
	raw, diags := private.GetKey(ctx, privateStampsKey)
	var rec stampRecord
	if raw == nil || json.Unmarshal(raw, &rec) != nil {
		return diags
	}
	meta, rootfs, _ := m.localFiles()
	var now []transfer.FileStamp
	for _, p := range []string{meta, rootfs} {
		if p == "" {
			continue
		}
		if st, err := stampPath(p); err == nil {
			now = append(now, st)
		}
	}
	if !slices.Equal(now, rec.Stamps) {
		diags.Append(private.SetKey(ctx, privateStampsKey, nil)...)
	}
	return diags
}

func stampPath(p string) (transfer.FileStamp, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return transfer.FileStamp{}, err
	}
	st, err := transfer.Stamp(abs)
	return st, err
}

func baseName(p string) string { return filepath.Base(p) }

// isQCOW2 peeks at the magic of an open file and rewinds it.
func isQCOW2(f *os.File) bool {
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	_, _ = f.Seek(0, io.SeekStart)
	return n == 4 && string(head) == "QFI\xfb"
}

// markUnknownsNull clears what the server never reported, so a partly created image
// can be saved to state.
func (m *imageResourceModel) markUnknownsNull() {
	for _, s := range []*types.String{&m.Architecture, &m.Type, &m.CreatedAt, &m.UploadedAt, &m.ExpiresAt, &m.SourceSHA256} {
		if s.IsUnknown() {
			*s = types.StringNull()
		}
	}
	if m.Size.IsUnknown() {
		m.Size = types.Int64Null()
	}
	if m.Public.IsUnknown() {
		m.Public = types.BoolNull()
	}
	if m.AutoUpdate.IsUnknown() {
		m.AutoUpdate = types.BoolNull()
	}
	if m.Properties.IsUnknown() {
		m.Properties = types.MapNull(types.StringType)
	}
	if m.Profiles.IsUnknown() {
		m.Profiles = types.ListNull(types.StringType)
	}
	if m.Aliases.IsUnknown() {
		m.Aliases = types.SetNull(aliasType)
	}
}

type rfc3339Validator struct{}

func (rfc3339Validator) Description(context.Context) string {
	return "must be an RFC 3339 time such as 2030-01-02T15:04:05Z"
}
func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v rfc3339Validator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.Parse(time.RFC3339, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.Append(timeDiag(req.Path, req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

// unwrapPathErr drops the operation and path that os errors repeat.
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// replacedSource names the source argument whose change replaces the image: another
// kind of source, or another url, remote or copy_from. An image whose state has no
// source (an import) records the configured one in place, and a source removed from
// the configuration leaves the image as it is; the content of file and split sources
// is compared by digest instead.
func replacedSource(plan, state *imageResourceModel) (path.Path, bool) {
	was, now := state.sourceKind(), plan.sourceKind()
	switch {
	case was == "" || now == "":
		return path.Path{}, false
	case was != now:
		return path.Root(now), true
	case now == "url":
		return path.Root("url"), !plan.URL.Equal(state.URL)
	case now == "remote":
		a, b := plan.Remote, state.Remote
		return path.Root("remote"), !a.Server.Equal(b.Server) || !a.Protocol.Equal(b.Protocol) || !a.Alias.Equal(b.Alias) ||
			!a.Type.Equal(b.Type) || !a.Architecture.Equal(b.Architecture) || !a.Certificate.Equal(b.Certificate)
	case now == "copy_from":
		return path.Root("copy_from"), !plan.CopyFrom.Endpoint.Equal(state.CopyFrom.Endpoint) || !plan.CopyFrom.Fingerprint.Equal(state.CopyFrom.Fingerprint)
	}
	return path.Path{}, false
}

// sourceKind is the name of the source argument set, "" for none.
func (m *imageResourceModel) sourceKind() string {
	switch {
	case !m.File.IsNull():
		return "file"
	case m.Split != nil:
		return "split"
	case !m.URL.IsNull():
		return "url"
	case m.Remote != nil:
		return "remote"
	case m.CopyFrom != nil:
		return "copy_from"
	}
	return ""
}

func (m *imageResourceModel) hasSource() bool { return m.sourceKind() != "" }
