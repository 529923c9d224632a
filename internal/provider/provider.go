// Package provider is the imagefleet provider: its schema, the endpoint registry it
// builds from the provider block, and the list of resources and data sources.
package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
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
	"github.com/imagefleet/terraform-provider-imagefleet/internal/endpoints"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/image"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/imagealias"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/imagemember"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/imageshare"
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

func (p *imagefleetProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages machine images, and what is built from them, across Incus and LXD servers, OpenStack clouds and NVIDIA Air, " +
			"all configured as named `endpoints` so one configuration can publish an image to many places with `for_each`.",
		Attributes: map[string]schema.Attribute{
			"default_endpoint": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The endpoint objects use when they set no `endpoint`. May be left out when exactly one endpoint is configured.",
			},
			"endpoints": schema.MapNestedAttribute{
				Optional: true,
				MarkdownDescription: "Named endpoints, each with exactly one backend block, named for its type (" + kindList() + "). " +
					"Clients connect on first use, so an endpoint that is down only fails the objects that use it. " +
					"The map's keys and each endpoint's backend block must be known at plan time. Settings inside the block may come from " +
					"other resources, but while they are not known (at plan time, until those resources exist) the endpoint cannot be used: " +
					"reading or refreshing objects on it fails, and nothing falls back to a default. Create those resources first " +
					"(`terraform apply -target=...`) or configure such endpoints from values known at plan time. " +
					"When no endpoints are configured at all, one endpoint named `local` on the local Incus socket is used.",
				Validators:   []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(endpointName, "must start with a letter and hold only letters, digits, '_' and '-'"))},
				NestedObject: schema.NestedAttributeObject{Attributes: kindBlocks()},
			},
			"retry": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "How API requests are retried: failed connections and 429 answers (with `Retry-After` honoured) whatever the request; " +
					"for idempotent requests only (GET, PUT, DELETE), connections reset or answers cut short, 502, 503, 504 and a 500 that is not the API's own error answer " +
					"(an API error in JSON, such as a missing profile, is final and not retried). A POST is not sent again after a 503: a gateway may answer so after the server carried it out.",
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
		if _, _, n, unknown := backendBlock(e); !unknown && n != 1 {
			resp.Diagnostics.Append(backendBlockDiag(name, kindList()))
		}
	}
}

// kindBlocks is one block per registered kind of endpoint.
func kindBlocks() map[string]schema.Attribute {
	out := map[string]schema.Attribute{}
	for _, k := range endpoints.Kinds() {
		out[string(k.Name)] = k.Schema
	}
	return out
}

func kindList() string {
	var ks []string
	for _, k := range endpoints.Kinds() {
		ks = append(ks, fmt.Sprintf("`%s = {...}`", k.Name))
	}
	return strings.Join(ks, ", ")
}

// backendBlock finds an endpoint's backend block: its kind and value, how many
// blocks are set, and whether the endpoint's type is not known yet.
func backendBlock(e types.Object) (kind backend.Kind, block types.Object, n int, unknown bool) {
	if e.IsUnknown() {
		return "", block, 0, true
	}
	for name, v := range e.Attributes() {
		o, ok := v.(types.Object)
		switch {
		case !ok:
			continue
		case o.IsUnknown():
			unknown = true
		case !o.IsNull():
			kind, block = backend.Kind(name), o
			n++
		}
	}
	return kind, block, n, unknown
}

// endpointModels decodes the endpoints map into each endpoint's object of blocks.
func endpointModels(ctx context.Context, m types.Map) (map[string]types.Object, diag.Diagnostics) {
	var objs map[string]types.Object
	diags := m.ElementsAs(ctx, &objs, false)
	return objs, diags
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
		// No endpoints at all: the local Incus socket, as the incus CLI would use it.
		local, _ := endpoints.KindOf(backend.KindIncus)
		cfg, d := endpointConfig(ctx, "local", local, types.ObjectNull(nil), path.Root("endpoints"), retry, retryUnknown)
		resp.Diagnostics.Append(d...)
		configs = append(configs, cfg)
	}
	for name, e := range eps {
		at := path.Root("endpoints").AtMapKey(name)
		kindName, block, n, unknown := backendBlock(e)
		if unknown {
			resp.Diagnostics.Append(unknownAtPlanDiag(at, fmt.Sprintf("the type of endpoint %q", name)))
			continue
		}
		if n != 1 {
			resp.Diagnostics.Append(backendBlockDiag(name, kindList()))
			continue
		}
		kind, _ := endpoints.KindOf(kindName)
		cfg, d := endpointConfig(ctx, name, kind, block, at.AtName(string(kindName)), retry, retryUnknown)
		resp.Diagnostics.Append(d...)
		configs = append(configs, cfg)
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

// endpointConfig reads one endpoint's block through its kind. An endpoint with
// settings not known yet is recorded as such, unread.
func endpointConfig(ctx context.Context, name string, kind endpoints.Kind, block types.Object, at path.Path, retry httpclient.Retry, retryUnknown []string) (endpoints.Config, diag.Diagnostics) {
	cfg := endpoints.Config{Name: name, Kind: kind.Name}
	if block.IsNull() {
		cfg.Unknown = retryUnknown
	} else {
		cfg.Unknown = append(unknownAttrs(block, at), retryUnknown...)
	}
	if len(cfg.Unknown) > 0 {
		return cfg, nil
	}
	settings, err := kind.Settings(ctx, block, retry)
	if err != nil {
		return cfg, diag.Diagnostics{endpointConfigDiag(at, name, kind.Name, err)}
	}
	cfg.Settings = settings
	return cfg, nil
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

func (p *imagefleetProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{image.NewResource, imagealias.NewResource, imagemember.NewResource, imageshare.NewResource, instance.NewResource}
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
