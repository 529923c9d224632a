package image

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfendpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// ModifyPlan does the checks that need the provider's endpoints or the local files:
// the endpoint exists and can hold what is asked, local files are images that fit
// the endpoint, and their digest (from cache when they are unchanged) decides
// whether the image is replaced. It also plans the family blocks: a block of
// another family than the endpoint's is kept as configured, and a block left out
// keeps what the server has.
func (r *imageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.reg == nil {
		return
	}
	var plan, config imageResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	var state *imageResourceModel
	if !req.State.Raw.IsNull() {
		state = &imageResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	family := ""
	if !plan.Endpoint.IsUnknown() {
		family = r.reg.Family(plan.Endpoint.ValueString())
	}
	resp.Diagnostics.Append(r.checkEndpoints(ctx, &plan, state)...)
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
	planFamilyBlocks(&plan, &config, state, family)
	if family == "openstack" && !plan.URL.IsNull() {
		// Glance must know the format before it downloads, and the provider cannot
		// look at what the URL serves.
		if glance, _ := config.openstack(ctx); glance == nil || glance.DiskFormat.IsNull() {
			name, _, _ := r.reg.Resolve(plan.Endpoint.ValueString())
			resp.Diagnostics.Append(urlDiskFormatDiag(name))
		}
	}
	resp.Diagnostics.Append(checkAir(ctx, req, &config, state, family)...)
	if p, replace := lostAirContent(ctx, state, family); replace && known(plan.Air) {
		// Terraform replaces only for a path whose value changes: the new image's
		// status is known once it is made.
		resp.Diagnostics.Append(setBlockAttr(ctx, &plan.Air, "upload_status", types.StringUnknown())...)
		resp.RequiresReplace.Append(p)
	}
	resp.Diagnostics.Append(r.checkProperties(&plan)...)
	resp.Diagnostics.Append(checkExpiry(ctx, &plan, state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if family == "incus" {
		resp.Diagnostics.Append(r.checkAliasesFree(ctx, req, &plan, state)...)
	}
	resp.Diagnostics.Append(r.planLocalSource(ctx, req, resp, &plan, state)...)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	if state != nil {
		for _, p := range replacedSettings(ctx, &plan, state) {
			resp.RequiresReplace.Append(p)
		}
	}
}

// planLocalSource checks local files against the endpoint and plans their digest.
func (r *imageResource) planLocalSource(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, plan, state *imageResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	meta, rootfs, local := plan.localFiles()
	if !local {
		return nil
	}
	if plan.File.IsUnknown() || (plan.Split != nil && (plan.Split.MetadataFile.IsUnknown() || plan.Split.RootfsFile.IsUnknown())) {
		// The content cannot be compared before the path is known: replace.
		plan.SourceSHA256 = types.StringUnknown()
		if state != nil {
			resp.RequiresReplace.Append(path.Root("source_sha256"))
		}
		return nil
	}
	ins, stamps, d := r.localDigest(ctx, req, meta, rootfs, state)
	diags.Append(d...)
	if diags.HasError() || ins == nil {
		return diags
	}
	diags.Append(r.checkContentFits(ctx, plan, ins)...)
	if state != nil && ins.DiskFormat != "" {
		// The metadata generated for a disk names its architecture.
		pi, _ := plan.incus(ctx)
		si, _ := state.incus(ctx)
		if pi != nil && si != nil && !pi.Architecture.IsUnknown() && !pi.Architecture.Equal(si.Architecture) {
			resp.RequiresReplace.Append(path.Root("incus").AtName("architecture"))
		}
	}
	if ins.SHA256 == "" {
		return diags
	}
	// The stamps of the files this digest was taken from go to the apply, which keeps
	// them only if the files are still the same then (see Update).
	diags.Append(saveStamps(ctx, resp.Private, stamps, string(ins.DiskFormat))...)
	plan.SourceSHA256 = types.StringValue(ins.SHA256)
	if state != nil && state.SourceSHA256.IsNull() && known(state.Checksum) && rootfs == "" {
		// An image made elsewhere (imported) has no recorded sha256, but Glance
		// knows the md5 of its data: the same file is recorded, not re-uploaded.
		same, err := fileHasMD5(ctx, meta, state.Checksum.ValueString())
		if err != nil {
			diags.Append(sourceDiag(path.Root("file"), err))
		}
		if same {
			return diags
		}
	}
	if state != nil && state.SourceSHA256.ValueString() != ins.SHA256 {
		tflog.Info(ctx, "image content changed; the image will be replaced", map[string]any{"was": state.SourceSHA256.ValueString(), "now": ins.SHA256})
		resp.RequiresReplace.Append(path.Root("source_sha256"))
	}
	return diags
}

// checkContentFits refuses, at plan time, content the endpoint's kind cannot hold,
// and fills in the Glance disk format the file has when none is set.
func (r *imageResource) checkContentFits(ctx context.Context, plan *imageResourceModel, ins *transfer.Inspected) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Endpoint.IsUnknown() {
		return nil
	}
	name, kindName, err := r.reg.Resolve(plan.Endpoint.ValueString())
	if err != nil {
		return nil
	}
	kind, _ := endpoints.KindOf(kindName)
	format := string(ins.DiskFormat)
	switch {
	case format == "" && !kind.IncusTarballs:
		diags.Append(tarballRefusedDiag(name, kindName, plan.File.ValueString()))
	case format != "" && !kind.TakesDisk(format):
		diags.Append(diskRefusedDiag(name, kindName, plan.File.ValueString(), format, kind.DiskFormats))
	}
	glance, d := plan.openstack(ctx)
	diags.Append(d...)
	if format != "" && glance != nil && glance.DiskFormat.IsUnknown() {
		diags.Append(setBlockAttr(ctx, &plan.OpenStack, "disk_format", types.StringValue(format))...)
	}
	return diags
}

// checkAir refuses, at plan time, a new Air image without what Air requires.
func checkAir(ctx context.Context, req resource.ModifyPlanRequest, config, state *imageResourceModel, family string) diag.Diagnostics {
	if family != "air" || state != nil {
		return nil
	}
	if config.Air.IsNull() {
		return diag.Diagnostics{airBlockDiag()}
	}
	var pw types.String
	diags := req.Config.GetAttribute(ctx, path.Root("air").AtName("default_password"), &pw)
	if pw.IsNull() && config.Claim == nil {
		diags.Append(airPasswordDiag())
	}
	return diags
}

// lostAirContent replaces an Air image whose content Air no longer has: its upload
// fell back to READY (or never finished).
func lostAirContent(ctx context.Context, state *imageResourceModel, family string) (path.Path, bool) {
	if state == nil || family != "air" {
		return path.Path{}, false
	}
	b, _ := state.air(ctx)
	if b == nil || !known(b.UploadStatus) {
		return path.Path{}, false
	}
	switch b.UploadStatus.ValueString() {
	case "COMPLETE", "PUBLISHING", "UNPUBLISHING", "VALIDATING", "COPYING_FROM_IMAGE_SHARE":
		return path.Path{}, false
	}
	return path.Root("air").AtName("upload_status"), true
}

// planFamilyBlocks plans the incus and openstack blocks (see ModifyPlan).
func planFamilyBlocks(plan, config, state *imageResourceModel, family string) {
	blocks := []struct {
		family          string
		plan, config, s *types.Object
		typ             types.ObjectType
		// computed blocks keep what the server has when left out; the air block
		// cannot be computed (it holds a write-only value), so left out it is null.
		computed bool
	}{
		{"incus", &plan.Incus, &config.Incus, nil, incusType, true},
		{"openstack", &plan.OpenStack, &config.OpenStack, nil, openstackType, true},
		{"air", &plan.Air, &config.Air, nil, airType, false},
	}
	if state != nil {
		blocks[0].s, blocks[1].s, blocks[2].s = &state.Incus, &state.OpenStack, &state.Air
	}
	for _, b := range blocks {
		switch {
		case family == "":
			// The endpoint is not known yet: the apply decides.
		case b.config.IsNull() && (b.family != family || !b.computed):
			*b.plan = types.ObjectNull(b.typ.AttrTypes)
		case b.config.IsNull():
			if b.s != nil && !b.s.IsNull() {
				*b.plan = *b.s
			}
		case b.family != family:
			// Configured for another family: kept as written, with nothing the
			// server would fill in.
			*b.plan = nullUnknowns(*b.plan, *b.config)
		}
	}
}

// replacedSettings names the settings fixed when the image was made whose change
// replaces it: Glance's disk and container formats.
func replacedSettings(ctx context.Context, plan, state *imageResourceModel) []path.Path {
	var out []path.Path
	p, _ := plan.openstack(ctx)
	s, _ := state.openstack(ctx)
	if p != nil && s != nil {
		if known(p.DiskFormat) && !s.DiskFormat.IsNull() && !p.DiskFormat.Equal(s.DiskFormat) {
			out = append(out, path.Root("openstack").AtName("disk_format"))
		}
		if known(p.ContainerFormat) && !s.ContainerFormat.IsNull() && !p.ContainerFormat.Equal(s.ContainerFormat) {
			out = append(out, path.Root("openstack").AtName("container_format"))
		}
	}
	return out
}

// nullUnknowns turns the values of a planned object that the configuration left
// out and the plan left unknown into nulls.
func nullUnknowns(planned, config types.Object) types.Object {
	if planned.IsNull() || planned.IsUnknown() {
		return planned
	}
	attrs := planned.Attributes()
	cfg := config.Attributes()
	out := make(map[string]attr.Value, len(attrs))
	for k, v := range attrs {
		if v.IsUnknown() && (cfg[k] == nil || cfg[k].IsNull()) {
			v = nullOf(v)
		}
		out[k] = v
	}
	return types.ObjectValueMust(planned.AttributeTypes(context.Background()), out)
}

func nullOf(v attr.Value) attr.Value {
	switch t := v.Type(context.Background()).(type) {
	case basetypes.StringType:
		return types.StringNull()
	case basetypes.BoolType:
		return types.BoolNull()
	case basetypes.Int64Type:
		return types.Int64Null()
	case basetypes.SetType:
		return types.SetNull(t.ElemType)
	case basetypes.ListType:
		return types.ListNull(t.ElemType)
	case basetypes.ObjectType:
		return types.ObjectNull(t.AttrTypes)
	}
	return v
}

// setBlockAttr sets one attribute of a known block.
func setBlockAttr(ctx context.Context, block *types.Object, name string, v attr.Value) diag.Diagnostics {
	attrs := block.Attributes()
	out := make(map[string]attr.Value, len(attrs))
	for k, a := range attrs {
		out[k] = a
	}
	out[name] = v
	o, diags := types.ObjectValue(block.AttributeTypes(ctx), out)
	*block = o
	return diags
}

// checkExpiry refuses an incus expiry in the past when it is set or changed.
func checkExpiry(ctx context.Context, plan, state *imageResourceModel) diag.Diagnostics {
	in, diags := plan.incus(ctx)
	if in == nil || !known(in.ExpiresAt) {
		return diags
	}
	if state != nil {
		if was, _ := state.incus(ctx); was != nil && was.ExpiresAt.Equal(in.ExpiresAt) {
			return diags
		}
	}
	if t, err := time.Parse(time.RFC3339, in.ExpiresAt.ValueString()); err == nil && !t.After(time.Now()) {
		diags.Append(expiryDiag(in.ExpiresAt.ValueString()))
	}
	return diags
}

// checkProperties refuses keys the endpoint's server owns, and "name", which is the
// name argument.
func (r *imageResource) checkProperties(plan *imageResourceModel) diag.Diagnostics {
	if !known(plan.Properties) || plan.Endpoint.IsUnknown() {
		return nil
	}
	name, kindName, err := r.reg.Resolve(plan.Endpoint.ValueString())
	if err != nil {
		return nil
	}
	kind, _ := endpoints.KindOf(kindName)
	var diags diag.Diagnostics
	for key := range plan.Properties.Elements() {
		switch {
		case key == "name":
			diags.Append(nameProperty())
		case kind.ReservedProperty != nil && kind.ReservedProperty(key):
			diags.Append(reservedPropertyDiag(name, kindName, key))
		}
	}
	return diags
}

// checkEndpoints rejects, at plan time, endpoints that are not configured or whose
// type cannot do what the configuration asks.
func (r *imageResource) checkEndpoints(ctx context.Context, plan, state *imageResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if plan.Endpoint.IsUnknown() {
		return nil
	}
	name, kind, err := r.reg.Require(plan.Endpoint.ValueString(), backend.CapImages)
	if err != nil {
		diags.Append(tfendpoints.EndpointDiag(path.Root("endpoint"), err))
		return diags
	}
	family := r.reg.Family(name)
	need := map[string]backend.Capability{}
	if !plan.URL.IsNull() {
		need["url"] = backend.CapURLImages
	}
	if plan.Remote != nil {
		need["remote"] = backend.CapRemoteImages
	}
	if plan.Claim != nil {
		need["claim"] = backend.CapImageShares
	}
	for attr, c := range need {
		if _, _, err := r.reg.Require(name, c); err != nil {
			diags.Append(tfendpoints.EndpointDiag(path.Root(attr), err))
		}
	}
	if plan.Split != nil && family != "incus" {
		diags.Append(splitDiag(name, kind))
	}
	if plan.Remote != nil && kind == backend.KindLXD && plan.Remote.Protocol.ValueString() == "incus" {
		diags.Append(protocolDiag(name))
	}
	if plan.CopyFrom != nil && !plan.CopyFrom.Endpoint.IsUnknown() {
		if _, _, err := r.reg.Require(plan.CopyFrom.Endpoint.ValueString(), backend.CapImageExport); err != nil {
			diags.Append(tfendpoints.EndpointDiag(path.Root("copy_from").AtName("endpoint"), err))
		} else {
			diags.Append(r.checkCopyFits(ctx, plan, state)...)
		}
	}
	return diags
}

// checkCopyFits refuses, at plan time, a copy of an image the source endpoint does
// not have, and one whose content the destination's kind cannot hold: a container
// image to Glance, a Glance disk in a format Incus cannot boot. It needs the source
// image, so it asks the source endpoint; when that cannot answer yet, the backends
// refuse at apply. A source image gone once the copy exists is no error: the copy
// is kept.
func (r *imageResource) checkCopyFits(ctx context.Context, plan, state *imageResourceModel) diag.Diagnostics {
	from := plan.CopyFrom
	newCopy := state == nil || (state.CopyFrom != nil && (!state.CopyFrom.Endpoint.Equal(from.Endpoint) || !state.CopyFrom.Image.Equal(from.Image)))
	sameEndpoint := r.reg.Same(from.Endpoint.ValueString(), plan.Endpoint.ValueString())
	if from.Image.IsUnknown() || (sameEndpoint && !newCopy) {
		return nil
	}
	src, err := r.reg.Get(ctx, from.Endpoint.ValueString())
	if err != nil {
		return nil
	}
	img, err := src.Images.GetImage(ctx, from.Image.ValueString())
	if errors.Is(err, backend.ErrNotFound) && newCopy {
		return diag.Diagnostics{copyMissingDiag(src.Name, src.Kind, from.Image.ValueString())}
	}
	if err != nil || sameEndpoint {
		return nil
	}
	name, kindName, err := r.reg.Resolve(plan.Endpoint.ValueString())
	if err != nil {
		return nil
	}
	kind, _ := endpoints.KindOf(kindName)
	format := ""
	switch {
	case img.OpenStack != nil:
		format = img.OpenStack.DiskFormat
	case img.Type == "virtual-machine":
		format = string(transfer.DiskQCOW2)
	}
	switch {
	case format == "" && !kind.IncusTarballs:
		return diag.Diagnostics{containerCopyDiag(from.Endpoint.ValueString(), img.ID, name, kindName)}
	case format != "" && !kind.TakesDisk(format):
		return diag.Diagnostics{copyFormatDiag(from.Endpoint.ValueString(), img.ID, format, name, kindName, kind.DiskFormats)}
	}
	return nil
}

const privateStampsKey = "source_stamps"

type stampRecord struct {
	Stamps []transfer.FileStamp `json:"stamps"`
	// DiskFormat is what the files were found to be ("" for an Incus tarball), so
	// unchanged files are not even opened.
	DiskFormat string `json:"disk_format,omitempty"`
}

// localDigest checks the local source and returns what it is and its sha256. On
// create it only checks the files and returns no digest: the server fingerprints the
// upload, and a full read of a large image at plan time would only slow the apply
// down. When state exists and every file has the path, size, modification and change
// times recorded at the last upload, the recorded digest is used and nothing is
// read; otherwise the files are checked and hashed, so a content change shows in the
// plan.
func (r *imageResource) localDigest(ctx context.Context, req resource.ModifyPlanRequest, meta, rootfs string, state *imageResourceModel) (*transfer.Inspected, []transfer.FileStamp, diag.Diagnostics) {
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
			err = backend.LocalFile("", f, err)
			if state != nil && !state.SourceSHA256.IsNull() {
				// The image exists: a plan or a destroy must not need its file.
				diags.Append(sourceGoneDiag(attrs[i], err))
				return nil, nil, diags
			}
			diags.Append(sourceDiag(attrs[i], err))
			continue
		}
		current = append(current, st)
	}
	if diags.HasError() {
		return nil, nil, diags
	}
	if state != nil && !state.SourceSHA256.IsNull() {
		raw, d := req.Private.GetKey(ctx, privateStampsKey)
		diags.Append(d...)
		var rec stampRecord
		if raw != nil && json.Unmarshal(raw, &rec) == nil && slices.Equal(rec.Stamps, current) {
			tflog.Debug(ctx, "local image files unchanged since the upload; using the recorded digest", map[string]any{"files": files})
			return &transfer.Inspected{SHA256: state.SourceSHA256.ValueString(), DiskFormat: transfer.DiskFormat(rec.DiskFormat)}, current, diags
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
		return nil, nil, diags
	}
	return ins, current, diags
}

// saveStamps records the files' stamps, so later plans can trust the state's digest.
func saveStamps(ctx context.Context, private interface {
	SetKey(context.Context, string, []byte) diag.Diagnostics
}, stamps []transfer.FileStamp, diskFormat string) diag.Diagnostics {
	if len(stamps) == 0 {
		return nil
	}
	raw, err := json.Marshal(stampRecord{Stamps: stamps, DiskFormat: diskFormat})
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

// fileHasMD5 reads the file once to compare its md5 with want.
func fileHasMD5(ctx context.Context, p, want string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, transfer.ContextReader(ctx, f)); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
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

// markUnknownsNull clears what the server never reported, so a partly created image
// can be saved to state.
func (m *imageResourceModel) markUnknownsNull() {
	for _, s := range []*types.String{&m.Name, &m.Architecture, &m.Type, &m.CreatedAt, &m.UploadedAt, &m.SourceSHA256,
		&m.Fingerprint, &m.Checksum, &m.OSHashAlgo, &m.OSHashValue} {
		if s.IsUnknown() {
			*s = types.StringNull()
		}
	}
	if m.Size.IsUnknown() {
		m.Size = types.Int64Null()
	}
	if m.Properties.IsUnknown() {
		m.Properties = types.MapNull(types.StringType)
	}
	m.Incus = settle(m.Incus, incusType)
	m.OpenStack = settle(m.OpenStack, openstackType)
	m.Air = settle(m.Air, airType)
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
	case now == "claim":
		// A claimed image is the organisation's own copy, whatever becomes of the
		// share (Air may delete it once claimed, and a new one has another ID).
		return path.Path{}, false
	case now == "copy_from":
		return path.Root("copy_from"), !plan.CopyFrom.Endpoint.Equal(state.CopyFrom.Endpoint) || !plan.CopyFrom.Image.Equal(state.CopyFrom.Image)
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
	case m.Claim != nil:
		return "claim"
	}
	return ""
}

func (m *imageResourceModel) hasSource() bool { return m.sourceKind() != "" }

// architectureValidator refuses, at plan time, an architecture Incus and LXD do not
// know, which they would refuse only once the disk is uploaded.
type architectureValidator struct{}

func (architectureValidator) Description(context.Context) string {
	return "must be an architecture Incus and LXD know, such as x86_64 or aarch64"
}
func (v architectureValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (architectureValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, ok := transfer.IncusArchitecture(req.ConfigValue.ValueString()); !ok {
		resp.Diagnostics.Append(architectureDiag(req.Path, req.ConfigValue.ValueString()))
	}
}
