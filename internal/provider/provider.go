// Package provider is the imagefleet provider: its schema, the endpoint registry it
// builds from the provider block, and the list of resources and data sources.
package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

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

// providerModel holds the map and the retry block as framework values, not Go maps and
// pointers, so that a value unknown at plan time is seen as such instead of failing
// to decode or reading as empty.
type providerModel struct {
	DefaultEndpoint types.String `tfsdk:"default_endpoint"`
	Endpoints       types.Map    `tfsdk:"endpoints"`
	Retry           types.Object `tfsdk:"retry"`
}

type endpointModel struct {
	Incus types.Object `tfsdk:"incus"`
	LXD   types.Object `tfsdk:"lxd"`
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
					"The map's keys and each endpoint's backend block must be known at plan time. Settings inside the block may come from " +
					"other resources, but while they are not known (at plan time, until those resources exist) the endpoint cannot be used: " +
					"reading or refreshing objects on it fails, and nothing falls back to a default. Create those resources first " +
					"(`terraform apply -target=...`) or configure such endpoints from values known at plan time. " +
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

// ValidateConfig checks that every endpoint has exactly one backend block. Values not
// known yet are left to Configure.
func (p *imagefleetProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Endpoints.IsUnknown() {
		return
	}
	eps, d := endpointModels(ctx, m.Endpoints)
	resp.Diagnostics.Append(d...)
	for name, e := range eps {
		if e != nil && !e.Incus.IsUnknown() && !e.LXD.IsUnknown() && e.Incus.IsNull() == e.LXD.IsNull() {
			resp.Diagnostics.Append(backendBlockDiag(name))
		}
	}
}

// endpointModels decodes the endpoints map; an endpoint whose whole value is unknown
// maps to nil.
func endpointModels(ctx context.Context, m types.Map) (map[string]*endpointModel, diag.Diagnostics) {
	var objs map[string]types.Object
	diags := m.ElementsAs(ctx, &objs, false)
	eps := map[string]*endpointModel{}
	for name, o := range objs {
		if o.IsUnknown() {
			eps[name] = nil
			continue
		}
		var e endpointModel
		diags.Append(o.As(ctx, &e, basetypes.ObjectAsOptions{})...)
		eps[name] = &e
	}
	return eps, diags
}

// unknownAttrs lists the attributes of o that are not known yet, by their path.
func unknownAttrs(o types.Object, at path.Path) []string {
	if o.IsUnknown() {
		return []string{at.String()}
	}
	var out []string
	for name, v := range o.Attributes() {
		if v.IsUnknown() {
			out = append(out, at.AtName(name).String())
		}
	}
	sort.Strings(out)
	return out
}

// Configure builds the endpoint registry. Terraform configures the provider at plan
// time with the values known then, and again at apply with all of them known. The
// endpoints' names and types must be known at plan time. An endpoint with other
// settings not known yet is registered as such: it resolves for plan-time checks,
// but any use of it fails, naming those settings. Nothing unknown is read as empty,
// which would silently mean a default (the default project, the default
// certificates).
func (p *imagefleetProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.DefaultEndpoint.IsUnknown() {
		resp.Diagnostics.Append(unknownAtPlanDiag(path.Root("default_endpoint"), "which endpoint objects use by default"))
	}
	if m.Endpoints.IsUnknown() {
		resp.Diagnostics.Append(unknownAtPlanDiag(path.Root("endpoints"), "the names and types of the endpoints"))
	}
	if resp.Diagnostics.HasError() {
		return
	}
	retry, retryUnknown, d := retrySettings(ctx, m.Retry)
	resp.Diagnostics.Append(d...)
	eps, d := endpointModels(ctx, m.Endpoints)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	var configs []endpoints.Config
	if len(eps) == 0 {
		configs = append(configs, endpoints.Config{Name: "local", Kind: backend.KindIncus, Unknown: retryUnknown})
		if len(retryUnknown) == 0 {
			ic, err := (&incusModel{}).toConfig(backend.KindIncus, retry)
			if err != nil {
				resp.Diagnostics.Append(endpointConfigDiag(path.Root("endpoints"), "local", backend.KindIncus, err))
				return
			}
			configs[0].Incus = ic
		}
	}
	for name, e := range eps {
		at := path.Root("endpoints").AtMapKey(name)
		if e == nil || e.Incus.IsUnknown() || e.LXD.IsUnknown() {
			resp.Diagnostics.Append(unknownAtPlanDiag(at, fmt.Sprintf("the type of endpoint %q", name)))
			continue
		}
		if e.Incus.IsNull() == e.LXD.IsNull() {
			resp.Diagnostics.Append(backendBlockDiag(name))
			continue
		}
		kind, block := backend.KindIncus, e.Incus
		if !e.LXD.IsNull() {
			kind, block = backend.KindLXD, e.LXD
		}
		at = at.AtName(string(kind))
		if unknown := append(unknownAttrs(block, at), retryUnknown...); len(unknown) > 0 {
			configs = append(configs, endpoints.Config{Name: name, Kind: kind, Unknown: unknown})
			continue
		}
		var im incusModel
		resp.Diagnostics.Append(block.As(ctx, &im, basetypes.ObjectAsOptions{})...)
		if resp.Diagnostics.HasError() {
			return
		}
		ic, err := im.toConfig(kind, retry)
		if err != nil {
			resp.Diagnostics.Append(endpointConfigDiag(at, name, kind, err))
			continue
		}
		configs = append(configs, endpoints.Config{Name: name, Kind: kind, Incus: ic})
	}
	if resp.Diagnostics.HasError() {
		return
	}
	reg, err := endpoints.NewRegistry(m.DefaultEndpoint.ValueString(), configs)
	if err != nil {
		resp.Diagnostics.Append(defaultEndpointDiag(err))
		return
	}
	resp.ResourceData = reg
	resp.DataSourceData = reg
}

// retrySettings reads the retry block over the defaults, and lists its settings that
// are not known yet.
func retrySettings(ctx context.Context, o types.Object) (httpclient.Retry, []string, diag.Diagnostics) {
	retry := httpclient.DefaultRetry
	if o.IsNull() {
		return retry, nil, nil
	}
	if unknown := unknownAttrs(o, path.Root("retry")); len(unknown) > 0 {
		return retry, unknown, nil
	}
	var m retryModel
	diags := o.As(ctx, &m, basetypes.ObjectAsOptions{})
	if !m.MaxAttempts.IsNull() {
		retry.MaxAttempts = int(m.MaxAttempts.ValueInt64())
	}
	if d, err := time.ParseDuration(m.MinWait.ValueString()); err == nil {
		retry.MinWait = d
	}
	if d, err := time.ParseDuration(m.MaxWait.ValueString()); err == nil {
		retry.MaxWait = d
	}
	return retry, nil, diags
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
