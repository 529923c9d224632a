// Package provider is the imagefleet provider: its schema, the endpoint registry it
// builds from the provider block, and the list of resources and data sources.
package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/image"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/imagealias"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/instance"
)

// New returns a provider factory for the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &imagefleetProvider{version: version} }
}

type imagefleetProvider struct {
	version string
}

type providerModel struct {
	DefaultEndpoint types.String             `tfsdk:"default_endpoint"`
	Endpoints       map[string]endpointModel `tfsdk:"endpoints"`
	Retry           *retryModel              `tfsdk:"retry"`
}

type endpointModel struct {
	Incus *incusModel `tfsdk:"incus"`
	LXD   *incusModel `tfsdk:"lxd"`
}

type incusModel struct {
	Address                 types.String `tfsdk:"address"`
	ClientCert              types.String `tfsdk:"client_cert"`
	ClientCertFile          types.String `tfsdk:"client_cert_file"`
	ClientKey               types.String `tfsdk:"client_key"`
	ClientKeyFile           types.String `tfsdk:"client_key_file"`
	ServerCert              types.String `tfsdk:"server_cert"`
	ServerCertFile          types.String `tfsdk:"server_cert_file"`
	AcceptServerCertificate types.Bool   `tfsdk:"accept_server_certificate"`
	TrustToken              types.String `tfsdk:"trust_token"`
	Project                 types.String `tfsdk:"project"`
}

type retryModel struct {
	MaxAttempts types.Int64  `tfsdk:"max_attempts"`
	MinWait     types.String `tfsdk:"min_wait"`
	MaxWait     types.String `tfsdk:"max_wait"`
}

var endpointName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)

func (p *imagefleetProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "imagefleet"
	resp.Version = p.version
}

func incusSchema(kind backend.Kind) schema.SingleNestedAttribute {
	up := "INCUS"
	conf := "~/.config/incus"
	if kind == backend.KindLXD {
		up, conf = "LXD", "~/.config/lxc"
	}
	fileOrInline := func(other string) []validator.String {
		return []validator.String{stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName(other))}
	}
	return schema.SingleNestedAttribute{
		Optional:            true,
		MarkdownDescription: fmt.Sprintf("An %s server. Empty (`{}`) means the local daemon's unix socket.", kind),
		Attributes: map[string]schema.Attribute{
			"address": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: fmt.Sprintf("`unix:///path/to/unix.socket` or `https://host:port`. Empty means the local socket: `$%s_SOCKET`, else `$%s_DIR/unix.socket`, else the package's default path.", up, up),
				Validators:          []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^(unix://|https://)`), "must start with unix:// or https://")},
			},
			"client_cert":               schema.StringAttribute{Optional: true, MarkdownDescription: fmt.Sprintf("Client certificate (PEM) for an https address. Defaults to `client.crt` in `$%s_CONF` (or `%s`) when that exists.", up, conf), Validators: fileOrInline("client_cert_file")},
			"client_cert_file":          schema.StringAttribute{Optional: true, MarkdownDescription: "Path of the client certificate (PEM)."},
			"client_key":                schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: fmt.Sprintf("Client key (PEM). Defaults to `client.key` beside the default certificate in `$%s_CONF`.", up), Validators: fileOrInline("client_key_file")},
			"client_key_file":           schema.StringAttribute{Optional: true, MarkdownDescription: "Path of the client key (PEM)."},
			"server_cert":               schema.StringAttribute{Optional: true, MarkdownDescription: "The server's certificate (PEM): the connection is accepted only if the server presents exactly this certificate.", Validators: append(fileOrInline("server_cert_file"), stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("accept_server_certificate")))},
			"server_cert_file":          schema.StringAttribute{Optional: true, MarkdownDescription: "Path of the server's certificate (PEM)."},
			"accept_server_certificate": schema.BoolAttribute{Optional: true, MarkdownDescription: "Accept whatever certificate the server presents. Use only on a trusted network, typically together with `trust_token` for a first connection."},
			"trust_token":               schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: fmt.Sprintf("A trust token (`%s config trust add`) exchanged for trust of the client certificate when the server does not trust it yet.", map[backend.Kind]string{backend.KindIncus: "incus", backend.KindLXD: "lxc"}[kind])},
			"project":                   schema.StringAttribute{Optional: true, MarkdownDescription: fmt.Sprintf("Project to work in. Defaults to `$%s_PROJECT`, else the server's `default` project.", up)},
		},
	}
}

func (p *imagefleetProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages machine images, and what is built from them, across Incus and LXD servers, " +
			"all configured as named `endpoints` so one configuration can publish an image to many places with `for_each`.",
		Attributes: map[string]schema.Attribute{
			"default_endpoint": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The endpoint objects use when they set no `endpoint`. May be left out when exactly one endpoint is configured.",
			},
			"endpoints": schema.MapNestedAttribute{
				Optional: true,
				MarkdownDescription: "Named endpoints, each with exactly one backend block (`incus` or `lxd`). " +
					"Clients connect on first use, so an endpoint that is down only fails the objects that use it. " +
					"When no endpoints are configured at all, one endpoint named `local` on the local Incus socket is used.",
				Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(endpointName, "must start with a letter and hold only letters, digits, '_' and '-'"))},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"incus": incusSchema(backend.KindIncus),
						"lxd":   incusSchema(backend.KindLXD),
					},
				},
			},
			"retry": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "How API requests are retried: failed connections, 429 and 503 answers (with `Retry-After` honoured), and for idempotent requests 502, 504 and a 500 that is not the API's own error answer (an API error in JSON, such as a missing profile, is final and not retried).",
				Attributes: map[string]schema.Attribute{
					"max_attempts": schema.Int64Attribute{Optional: true, MarkdownDescription: "Attempts per request, the first included. Default 4."},
					"min_wait":     schema.StringAttribute{Optional: true, MarkdownDescription: "Shortest wait between attempts, a Go duration. Default `1s`.", Validators: []validator.String{durationValidator{}}},
					"max_wait":     schema.StringAttribute{Optional: true, MarkdownDescription: "Longest wait between attempts. Default `30s`.", Validators: []validator.String{durationValidator{}}},
				},
			},
		},
	}
}

var _ provider.ProviderWithValidateConfig = &imagefleetProvider{}

// ValidateConfig checks that every endpoint has exactly one backend block.
func (p *imagefleetProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, e := range m.Endpoints {
		if (e.Incus == nil) == (e.LXD == nil) {
			resp.Diagnostics.AddAttributeError(path.Root("endpoints").AtMapKey(name), "Invalid endpoint",
				fmt.Sprintf("Endpoint %q must have exactly one backend block: incus = {...} or lxd = {...}.", name))
		}
	}
}

func (p *imagefleetProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	retry := httpclient.DefaultRetry
	if m.Retry != nil {
		if !m.Retry.MaxAttempts.IsNull() {
			retry.MaxAttempts = int(m.Retry.MaxAttempts.ValueInt64())
		}
		if d, err := time.ParseDuration(m.Retry.MinWait.ValueString()); err == nil {
			retry.MinWait = d
		}
		if d, err := time.ParseDuration(m.Retry.MaxWait.ValueString()); err == nil {
			retry.MaxWait = d
		}
	}
	if len(m.Endpoints) == 0 {
		m.Endpoints = map[string]endpointModel{"local": {Incus: &incusModel{}}}
	}
	var configs []endpoints.Config
	for name, e := range m.Endpoints {
		kind, im := backend.KindIncus, e.Incus
		if e.LXD != nil {
			kind, im = backend.KindLXD, e.LXD
		}
		ic, err := im.toConfig(kind, retry)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("endpoints").AtMapKey(name).AtName(string(kind)),
				"Invalid endpoint configuration", fmt.Sprintf("Endpoint %q (%s): %s.", name, kind, err))
			continue
		}
		configs = append(configs, endpoints.Config{Name: name, Kind: kind, Incus: ic})
	}
	if resp.Diagnostics.HasError() {
		return
	}
	reg, err := endpoints.NewRegistry(m.DefaultEndpoint.ValueString(), configs)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("default_endpoint"), "Invalid default endpoint", err.Error())
		return
	}
	resp.ResourceData = reg
	resp.DataSourceData = reg
}

// toConfig reads the PEM material and applies the environment fallbacks of the kind's
// own CLI.
func (m *incusModel) toConfig(kind backend.Kind, retry httpclient.Retry) (*incus.Config, error) {
	up := map[backend.Kind]string{backend.KindIncus: "INCUS", backend.KindLXD: "LXD"}[kind]
	c := &incus.Config{Kind: kind, Address: m.Address.ValueString(), AcceptServerCert: m.AcceptServerCertificate.ValueBool(),
		TrustToken: m.TrustToken.ValueString(), Project: m.Project.ValueString(), Retry: retry}
	if c.Project == "" {
		c.Project = os.Getenv(up + "_PROJECT")
	}
	var err error
	if c.ClientCert, err = inlineOrFile(m.ClientCert, m.ClientCertFile); err != nil {
		return nil, err
	}
	if c.ClientKey, err = inlineOrFile(m.ClientKey, m.ClientKeyFile); err != nil {
		return nil, err
	}
	if c.ServerCert, err = inlineOrFile(m.ServerCert, m.ServerCertFile); err != nil {
		return nil, err
	}
	if c.ClientCert == "" && c.ClientKey == "" && len(c.Address) > 8 && c.Address[:8] == "https://" {
		dir := os.Getenv(up + "_CONF")
		if dir == "" {
			home, _ := os.UserHomeDir()
			dir = filepath.Join(home, ".config", map[backend.Kind]string{backend.KindIncus: "incus", backend.KindLXD: "lxc"}[kind])
		}
		crt, errC := os.ReadFile(filepath.Join(dir, "client.crt"))
		key, errK := os.ReadFile(filepath.Join(dir, "client.key"))
		if errC == nil && errK == nil {
			c.ClientCert, c.ClientKey = string(crt), string(key)
		}
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return nil, fmt.Errorf("client_cert and client_key go together: set both or neither")
	}
	// Catch bad PEM now, at configure time, rather than at the first request.
	if _, err := incus.New(*c); err != nil {
		return nil, err
	}
	return c, nil
}

func inlineOrFile(inline, file types.String) (string, error) {
	if v := inline.ValueString(); v != "" {
		return v, nil
	}
	if f := file.ValueString(); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	return "", nil
}

func (p *imagefleetProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{image.NewResource, imagealias.NewResource, instance.NewResource}
}

func (p *imagefleetProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{image.NewDataSource, image.NewListDataSource, instance.NewDataSource}
}

type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "must be a Go duration such as 500ms, 2s or 1m"
}
func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v durationValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%q %s.", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}
