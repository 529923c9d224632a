package endpoints

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"regexp"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/air"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

func init() {
	Register(Kind{
		Name:         backend.KindAir,
		Family:       "air",
		Capabilities: []backend.Capability{backend.CapImages, backend.CapImageShares},
		Schema:       airSchema(),
		Settings:     airSettings,
		Connect:      connectAir,
		DiskFormats:  []string{"qcow2", "raw", "iso"},
	})
}

func connectAir(ctx context.Context, cfg Config) (*Endpoint, error) {
	settings, ok := cfg.Settings.(*air.Config)
	if !ok {
		return nil, settingsBug(cfg)
	}
	c, err := air.New(*settings)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return &Endpoint{Name: cfg.Name, Kind: cfg.Kind, Server: c.Server(), Images: c, Shares: c}, nil
}

// AirModel is the air endpoint block.
type AirModel struct {
	APIURL        types.String `tfsdk:"api_url"`
	APIKey        types.String `tfsdk:"api_key"`
	UploadWorkers types.Int64  `tfsdk:"upload_workers"`
	CACertFile    types.String `tfsdk:"ca_cert_file"`
}

func airSchema() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "An NVIDIA Air organisation, through the v3 image API. The API key says which organisation: " +
			"Air keeps every image and share in the organisation of the key that made it. Empty (`{}`) means https://air.nvidia.com " +
			"with the key from `$NGC_API_KEY`, else from the NGC CLI's `~/.ngc/config`.",
		Attributes: map[string]schema.Attribute{
			"api_url": schema.StringAttribute{Optional: true,
				MarkdownDescription: "The Air service, such as `https://air.nvidia.com` (default); the `/api/v3/` base is added when missing.",
				Validators:          []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^https?://`), "must be an http:// or https:// URL")}},
			"api_key": schema.StringAttribute{Optional: true, Sensitive: true,
				MarkdownDescription: "An NGC API key (`nvapi-...`), sent as the bearer token. Falls back to `$NGC_API_KEY`, then to the `apikey` of the single profile in `~/.ngc/config`."},
			"ca_cert_file": schema.StringAttribute{Optional: true,
				MarkdownDescription: "CA bundle (PEM) that signs the service's certificate, when the system's CAs do not (a proxy, a private installation)."},
			"upload_workers": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "How many parts of an upload are sent at once. Default 4.",
				Validators:          []validator.Int64{int64validator.AtLeast(1)}},
		},
	}
}

func airSettings(ctx context.Context, block types.Object, retry httpclient.Retry) (any, error) {
	var m AirModel
	if !block.IsNull() {
		if d := block.As(ctx, &m, basetypes.ObjectAsOptions{}); d.HasError() {
			return nil, fmt.Errorf("reading the air block: %v", d)
		}
	}
	c := air.Config{APIURL: m.APIURL.ValueString(), APIKey: m.APIKey.ValueString(), UploadWorkers: int(m.UploadWorkers.ValueInt64()),
		CACertFile: m.CACertFile.ValueString(), Retry: retry}
	resolved, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	return &resolved, nil
}
