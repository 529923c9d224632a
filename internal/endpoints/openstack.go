package endpoints

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/openstack"
)

func init() {
	Register(Kind{
		Name:             backend.KindOpenStack,
		Family:           "openstack",
		Capabilities:     []backend.Capability{backend.CapImages, backend.CapImageMembers, backend.CapImageExport, backend.CapURLImages},
		Schema:           openstackSchema(),
		Settings:         openstackSettings,
		Connect:          connectOpenStack,
		ReservedProperty: openstack.ReservedProperty,
		DiskFormats:      []string{"qcow2", "raw", "vmdk", "vhd", "vhdx", "vdi", "iso"},
	})
}

func connectOpenStack(ctx context.Context, cfg Config) (*Endpoint, error) {
	settings, ok := cfg.Settings.(*openstack.Config)
	if !ok {
		return nil, settingsBug(cfg)
	}
	c, err := openstack.New(*settings)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return &Endpoint{Name: cfg.Name, Kind: cfg.Kind, Server: c.Server(), Images: c, Exporter: c, Members: c}, nil
}

// OpenStackModel is the openstack endpoint block.
type OpenStackModel struct {
	Cloud                       types.String `tfsdk:"cloud"`
	CloudsFile                  types.String `tfsdk:"clouds_file"`
	AuthURL                     types.String `tfsdk:"auth_url"`
	Username                    types.String `tfsdk:"username"`
	UserID                      types.String `tfsdk:"user_id"`
	Password                    types.String `tfsdk:"password"`
	UserDomainName              types.String `tfsdk:"user_domain_name"`
	UserDomainID                types.String `tfsdk:"user_domain_id"`
	ProjectName                 types.String `tfsdk:"project_name"`
	ProjectID                   types.String `tfsdk:"project_id"`
	ProjectDomainName           types.String `tfsdk:"project_domain_name"`
	ProjectDomainID             types.String `tfsdk:"project_domain_id"`
	ApplicationCredentialID     types.String `tfsdk:"application_credential_id"`
	ApplicationCredentialName   types.String `tfsdk:"application_credential_name"`
	ApplicationCredentialSecret types.String `tfsdk:"application_credential_secret"`
	Token                       types.String `tfsdk:"token"`
	Region                      types.String `tfsdk:"region"`
	Interface                   types.String `tfsdk:"interface"`
	CACertFile                  types.String `tfsdk:"cacert_file"`
	Insecure                    types.Bool   `tfsdk:"insecure"`
}

func openstackSchema() schema.SingleNestedAttribute {
	str := func(desc, env string, sensitive bool) schema.StringAttribute {
		if env != "" {
			desc += fmt.Sprintf(" Falls back to `$%s`.", env)
		}
		return schema.StringAttribute{Optional: true, Sensitive: sensitive, MarkdownDescription: desc}
	}
	return schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "An OpenStack cloud (Keystone v3 and Glance v2), configured with the openstack CLI's settings: " +
			"`cloud` names an entry of clouds.yaml (the first file found of `clouds_file`, `$OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`; `secure.yaml` beside it is read too). " +
			"Settings written here win over that entry, and `OS_*` environment variables fill only what is still unset. " +
			"This differs from the CLI, where `OS_*` variables override clouds.yaml: one provider block names many clouds, and an openrc sourced for one must not redirect the others. " +
			"A user or project and its domain come from one source, and so does the credential (password, application credential or token). " +
			"Empty (`{}`) means the environment alone (`$OS_CLOUD`, or `OS_AUTH_URL` and the rest). Secrets are sensitive and never logged.",
		Attributes: map[string]schema.Attribute{
			"cloud":                         str("Entry of clouds.yaml to use.", "OS_CLOUD", false),
			"clouds_file":                   str("A clouds.yaml to read, searched before the usual places.", "", false),
			"auth_url":                      str("Keystone's URL, such as `https://keystone.example.com:5000/v3`.", "OS_AUTH_URL", false),
			"username":                      str("User name (with `user_domain_name` or `user_domain_id`).", "OS_USERNAME", false),
			"user_id":                       str("User ID, instead of `username`.", "OS_USER_ID", false),
			"password":                      str("Password.", "OS_PASSWORD", true),
			"user_domain_name":              str("Domain of the user.", "OS_USER_DOMAIN_NAME", false),
			"user_domain_id":                str("Domain ID of the user.", "OS_USER_DOMAIN_ID", false),
			"project_name":                  str("Project to work in (with `project_domain_name` or `project_domain_id`).", "OS_PROJECT_NAME", false),
			"project_id":                    str("Project ID, instead of `project_name`.", "OS_PROJECT_ID", false),
			"project_domain_name":           str("Domain of the project.", "OS_PROJECT_DOMAIN_NAME", false),
			"project_domain_id":             str("Domain ID of the project.", "OS_PROJECT_DOMAIN_ID", false),
			"application_credential_id":     str("Application credential ID, instead of a user and password.", "OS_APPLICATION_CREDENTIAL_ID", false),
			"application_credential_name":   str("Application credential name (with `username` or `user_id`).", "OS_APPLICATION_CREDENTIAL_NAME", false),
			"application_credential_secret": str("Application credential secret.", "OS_APPLICATION_CREDENTIAL_SECRET", true),
			"token":                         str("An existing Keystone token, instead of a user and password.", "OS_TOKEN", true),
			"region":                        str("Region of the image service.", "OS_REGION_NAME", false),
			"interface": schema.StringAttribute{Optional: true, MarkdownDescription: "Which catalog endpoint to use: `public` (default), `internal` or `admin`. Falls back to `$OS_INTERFACE`.",
				Validators: []validator.String{stringvalidator.OneOf("public", "internal", "admin")}},
			"cacert_file": str("CA bundle (PEM) that signs the cloud's certificates, when the system's CAs do not.", "OS_CACERT", false),
			"insecure":    schema.BoolAttribute{Optional: true, MarkdownDescription: "Skip TLS verification. Use only on a trusted network. Falls back to `$OS_INSECURE`."},
		},
	}
}

func openstackSettings(ctx context.Context, block types.Object, retry httpclient.Retry) (any, error) {
	var m OpenStackModel
	if !block.IsNull() {
		if d := block.As(ctx, &m, basetypes.ObjectAsOptions{}); d.HasError() {
			return nil, fmt.Errorf("reading the openstack block: %v", d)
		}
	}
	c := openstack.Config{
		Cloud: m.Cloud.ValueString(), CloudsFile: m.CloudsFile.ValueString(), AuthURL: m.AuthURL.ValueString(),
		Username: m.Username.ValueString(), UserID: m.UserID.ValueString(), Password: m.Password.ValueString(),
		UserDomainName: m.UserDomainName.ValueString(), UserDomainID: m.UserDomainID.ValueString(),
		ProjectName: m.ProjectName.ValueString(), ProjectID: m.ProjectID.ValueString(),
		ProjectDomainName: m.ProjectDomainName.ValueString(), ProjectDomainID: m.ProjectDomainID.ValueString(),
		ApplicationCredentialID: m.ApplicationCredentialID.ValueString(), ApplicationCredentialName: m.ApplicationCredentialName.ValueString(),
		ApplicationCredentialSecret: m.ApplicationCredentialSecret.ValueString(), Token: m.Token.ValueString(),
		Region: m.Region.ValueString(), Interface: m.Interface.ValueString(), CACertFile: m.CACertFile.ValueString(),
		Insecure: m.Insecure.ValueBool(), Retry: retry,
	}
	resolved, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	return &resolved, nil
}
