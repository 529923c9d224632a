package instance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/tfvalue"
)

type instanceResourceModel struct {
	ID               types.String   `tfsdk:"id"`
	Endpoint         types.String   `tfsdk:"endpoint"`
	Project          types.String   `tfsdk:"project"`
	Name             types.String   `tfsdk:"name"`
	Description      types.String   `tfsdk:"description"`
	Image            types.String   `tfsdk:"image"`
	Remote           types.Object   `tfsdk:"remote"`
	Type             types.String   `tfsdk:"type"`
	Profiles         types.List     `tfsdk:"profiles"`
	Config           types.Map      `tfsdk:"config"`
	Devices          types.Map      `tfsdk:"devices"`
	Ephemeral        types.Bool     `tfsdk:"ephemeral"`
	Target           types.String   `tfsdk:"target"`
	State            types.String   `tfsdk:"state"`
	AllowRestart     types.Bool     `tfsdk:"allow_restart"`
	StopTimeout      types.Int64    `tfsdk:"stop_timeout"`
	Files            types.List     `tfsdk:"files"`
	Exec             types.List     `tfsdk:"exec"`
	ImageFingerprint types.String   `tfsdk:"image_fingerprint"`
	Status           types.String   `tfsdk:"status"`
	IPv4             types.String   `tfsdk:"ipv4_address"`
	IPv6             types.String   `tfsdk:"ipv6_address"`
	MAC              types.String   `tfsdk:"mac_address"`
	Location         types.String   `tfsdk:"location"`
	CreatedAt        types.String   `tfsdk:"created_at"`
	LastUsedAt       types.String   `tfsdk:"last_used_at"`
	ExpandedConfig   types.Map      `tfsdk:"expanded_config"`
	Timeouts         timeouts.Value `tfsdk:"timeouts"`
}

type remoteModel struct {
	Server      types.String `tfsdk:"server"`
	Protocol    types.String `tfsdk:"protocol"`
	Certificate types.String `tfsdk:"certificate"`
}

// remoteType is the type of remote, an object rather than a *remoteModel so that it
// can be unknown at plan time.
var remoteType = types.ObjectType{AttrTypes: map[string]attr.Type{"server": types.StringType, "protocol": types.StringType, "certificate": types.StringType}}

// remote is the image server, nil when none is set.
func (m *instanceResourceModel) remote(ctx context.Context) (*backend.RemoteImage, diag.Diagnostics) {
	if m.Remote.IsNull() || m.Remote.IsUnknown() {
		return nil, nil
	}
	var r remoteModel
	diags := m.Remote.As(ctx, &r, basetypes.ObjectAsOptions{})
	return &backend.RemoteImage{Server: r.Server.ValueString(), Protocol: r.Protocol.ValueString(), Certificate: r.Certificate.ValueString()}, diags
}

type deviceModel struct {
	Type       types.String `tfsdk:"type"`
	Properties types.Map    `tfsdk:"properties"`
}

var deviceType = types.ObjectType{AttrTypes: map[string]attr.Type{"type": types.StringType, "properties": types.MapType{ElemType: types.StringType}}}

type fileModel struct {
	TargetPath    types.String `tfsdk:"target_path"`
	Content       types.String `tfsdk:"content"`
	SourceFile    types.String `tfsdk:"source_file"`
	UID           types.Int64  `tfsdk:"uid"`
	GID           types.Int64  `tfsdk:"gid"`
	Mode          types.String `tfsdk:"mode"`
	ContentSHA256 types.String `tfsdk:"content_sha256"`
}

type execModel struct {
	Command      types.List   `tfsdk:"command"`
	Environment  types.Map    `tfsdk:"environment"`
	Trigger      types.String `tfsdk:"trigger"`
	AllowFailure types.Bool   `tfsdk:"allow_failure"`
	ExitCode     types.Int64  `tfsdk:"exit_code"`
	Stdout       types.String `tfsdk:"stdout"`
	Stderr       types.String `tfsdk:"stderr"`
}

// Desired states and the server status each one is.
var stateStatus = map[string]string{"running": "Running", "stopped": "Stopped", "frozen": "Frozen"}

func (m *instanceResourceModel) ref() backend.InstanceRef {
	return backend.InstanceRef{Project: m.Project.ValueString(), Name: m.Name.ValueString()}
}

// spec is what the user manages that the server changes in place.
func (m *instanceResourceModel) spec(ctx context.Context) (backend.InstanceSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	s := backend.InstanceSpec{Description: m.Description.ValueString(), Ephemeral: m.Ephemeral.ValueBool(),
		Config: map[string]string{}, Devices: map[string]map[string]string{}}
	if !m.Profiles.IsNull() && !m.Profiles.IsUnknown() {
		s.Profiles = []string{}
		diags.Append(m.Profiles.ElementsAs(ctx, &s.Profiles, false)...)
	}
	diags.Append(m.Config.ElementsAs(ctx, &s.Config, false)...)
	devices := map[string]deviceModel{}
	diags.Append(m.Devices.ElementsAs(ctx, &devices, false)...)
	for name, d := range devices {
		props := map[string]string{}
		diags.Append(d.Properties.ElementsAs(ctx, &props, false)...)
		props["type"] = d.Type.ValueString()
		s.Devices[name] = props
	}
	return s, diags
}

func emptyNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// setFromServer refreshes everything the server holds. Server-owned config keys
// (volatile.*, image.*) are left out of config; expanded_config shows all.
func (m *instanceResourceModel) setFromServer(ctx context.Context, in *backend.Instance) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.ID = types.StringValue(in.Name)
	m.Name = types.StringValue(in.Name)
	m.Description = types.StringValue(in.Description)
	m.Type = types.StringValue(in.Type)
	m.Ephemeral = types.BoolValue(in.Ephemeral)
	m.Status = types.StringValue(in.Status)
	m.State = types.StringValue(strings.ToLower(in.Status))
	m.Location = emptyNull(in.Location)
	if m.Location.ValueString() == "none" {
		m.Location = types.StringNull()
	}
	m.IPv4, m.IPv6, m.MAC = emptyNull(in.IPv4), emptyNull(in.IPv6), emptyNull(in.MAC)
	m.CreatedAt, m.LastUsedAt = tfvalue.Time(in.CreatedAt), tfvalue.Time(in.LastUsedAt)
	fp := in.Config["volatile.base_image"]
	m.ImageFingerprint = emptyNull(fp)
	config := map[string]string{}
	for k, v := range in.Config {
		if !strings.HasPrefix(k, "volatile.") && !strings.HasPrefix(k, "image.") {
			config[k] = v
		}
	}
	m.Config, d = types.MapValueFrom(ctx, types.StringType, config)
	diags.Append(d...)
	expanded := in.ExpandedConfig
	if expanded == nil {
		expanded = map[string]string{}
	}
	m.ExpandedConfig, d = types.MapValueFrom(ctx, types.StringType, expanded)
	diags.Append(d...)
	profiles := in.Profiles
	if profiles == nil {
		profiles = []string{}
	}
	m.Profiles, d = types.ListValueFrom(ctx, types.StringType, profiles)
	diags.Append(d...)
	devices := map[string]deviceModel{}
	for name, props := range in.Devices {
		rest := map[string]string{}
		for k, v := range props {
			if k != "type" {
				rest[k] = v
			}
		}
		pm, d := types.MapValueFrom(ctx, types.StringType, rest)
		diags.Append(d...)
		devices[name] = deviceModel{Type: types.StringValue(props["type"]), Properties: pm}
	}
	m.Devices, d = types.MapValueFrom(ctx, deviceType, devices)
	diags.Append(d...)
	return diags
}

// fileContent returns a file's bytes and their sha256 (used only for source files).
func fileContent(f fileModel) ([]byte, string, error) {
	var b []byte
	if !f.SourceFile.IsNull() {
		var err error
		if b, err = os.ReadFile(f.SourceFile.ValueString()); err != nil {
			return nil, "", backend.LocalFile("source_file", f.SourceFile.ValueString(), err)
		}
	} else {
		b = []byte(f.Content.ValueString())
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

func fileMode(f fileModel) uint32 {
	mode, err := strconv.ParseUint(f.Mode.ValueString(), 8, 32)
	if err != nil {
		return 0o644
	}
	return uint32(mode)
}
