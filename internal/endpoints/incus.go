package endpoints

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
)

// incusFlavour is what differs between Incus and LXD in their settings: the
// environment variables and configuration directory of each one's own CLI.
type incusFlavour struct {
	kind    backend.Kind
	env     string
	confDir string
	cli     string
}

func init() {
	for _, f := range []incusFlavour{
		{kind: backend.KindIncus, env: "INCUS", confDir: "incus", cli: "incus"},
		{kind: backend.KindLXD, env: "LXD", confDir: "lxc", cli: "lxc"},
	} {
		Register(Kind{
			Name:   f.kind,
			Family: "incus",
			Capabilities: []backend.Capability{backend.CapImages, backend.CapImageAliases, backend.CapInstances, backend.CapImageExport,
				backend.CapURLImages, backend.CapRemoteImages, backend.CapImageProfiles, backend.CapImageAutoUpdate},
			Schema:           f.schema(),
			Settings:         f.settings,
			Connect:          connectIncus,
			DiskFormats:      incus.DiskFormats,
			IncusTarballs:    true,
			ReservedProperty: incus.ReservedProperty,
		})
	}
}

// connectIncus connects an Incus or LXD server: one client holds every store.
func connectIncus(ctx context.Context, cfg Config) (*Endpoint, error) {
	settings, ok := cfg.Settings.(*incus.Config)
	if !ok {
		return nil, settingsBug(cfg)
	}
	c, err := incus.New(*settings)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return &Endpoint{Name: cfg.Name, Kind: cfg.Kind, Server: c.Server(), Images: c, Aliases: c, Exporter: c, Instances: c}, nil
}

// IncusModel is the incus and lxd endpoint block.
type IncusModel struct {
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

func (f incusFlavour) schema() schema.SingleNestedAttribute {
	fileOrInline := func(other string) []validator.String {
		return []validator.String{stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName(other))}
	}
	return schema.SingleNestedAttribute{
		Optional:            true,
		MarkdownDescription: fmt.Sprintf("An %s server. Empty (`{}`) means the local daemon's unix socket.", f.kind),
		Attributes: map[string]schema.Attribute{
			"address": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: fmt.Sprintf("`unix:///path/to/unix.socket` or `https://host:port`. Empty means the local socket: `$%s_SOCKET`, else `$%s_DIR/unix.socket`, else the package's default path.", f.env, f.env),
				Validators:          []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^(unix://|https://)`), "must start with unix:// or https://")},
			},
			"client_cert":               schema.StringAttribute{Optional: true, MarkdownDescription: fmt.Sprintf("Client certificate (PEM) for an https address. Defaults to `client.crt` in `$%s_CONF` (or `~/.config/%s`) when that exists.", f.env, f.confDir), Validators: fileOrInline("client_cert_file")},
			"client_cert_file":          schema.StringAttribute{Optional: true, MarkdownDescription: "Path of the client certificate (PEM)."},
			"client_key":                schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: fmt.Sprintf("Client key (PEM). Defaults to `client.key` beside the default certificate in `$%s_CONF`.", f.env), Validators: fileOrInline("client_key_file")},
			"client_key_file":           schema.StringAttribute{Optional: true, MarkdownDescription: "Path of the client key (PEM)."},
			"server_cert":               schema.StringAttribute{Optional: true, MarkdownDescription: "The server's certificate (PEM): the connection is accepted only if the server presents exactly this certificate.", Validators: append(fileOrInline("server_cert_file"), stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("accept_server_certificate")))},
			"server_cert_file":          schema.StringAttribute{Optional: true, MarkdownDescription: "Path of the server's certificate (PEM)."},
			"accept_server_certificate": schema.BoolAttribute{Optional: true, MarkdownDescription: "Accept whatever certificate the server presents. Use only on a trusted network, typically together with `trust_token` for a first connection."},
			"trust_token":               schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: fmt.Sprintf("A trust token (`%s config trust add`) exchanged for trust of the client certificate when the server does not trust it yet.", f.cli)},
			"project":                   schema.StringAttribute{Optional: true, MarkdownDescription: fmt.Sprintf("Project to work in. Defaults to `$%s_PROJECT`, else the server's `default` project.", f.env)},
		},
	}
}

func (f incusFlavour) settings(ctx context.Context, block types.Object, retry httpclient.Retry) (any, error) {
	var m IncusModel
	if !block.IsNull() {
		if d := block.As(ctx, &m, basetypes.ObjectAsOptions{}); d.HasError() {
			return nil, fmt.Errorf("reading the %s block: %v", f.kind, d)
		}
	}
	return f.config(&m, retry)
}

// config reads the PEM material and applies the environment fallbacks of the kind's
// own CLI.
func (f incusFlavour) config(m *IncusModel, retry httpclient.Retry) (*incus.Config, error) {
	c := &incus.Config{Kind: f.kind, Address: m.Address.ValueString(), AcceptServerCert: m.AcceptServerCertificate.ValueBool(),
		TrustToken: m.TrustToken.ValueString(), Project: m.Project.ValueString(), Retry: retry}
	if c.Project == "" {
		c.Project = os.Getenv(f.env + "_PROJECT")
	}
	var err error
	if c.ClientCert, err = inlineOrFile(m.ClientCert, "client_cert_file", m.ClientCertFile); err != nil {
		return nil, err
	}
	if c.ClientKey, err = inlineOrFile(m.ClientKey, "client_key_file", m.ClientKeyFile); err != nil {
		return nil, err
	}
	if c.ServerCert, err = inlineOrFile(m.ServerCert, "server_cert_file", m.ServerCertFile); err != nil {
		return nil, err
	}
	if c.ClientCert == "" && c.ClientKey == "" && len(c.Address) > 8 && c.Address[:8] == "https://" {
		dir := os.Getenv(f.env + "_CONF")
		if dir == "" {
			home, _ := os.UserHomeDir()
			dir = filepath.Join(home, ".config", f.confDir)
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

// inlineOrFile is the inline value, else the content of the file that the argument
// named fileArg names.
func inlineOrFile(inline types.String, fileArg string, file types.String) (string, error) {
	if v := inline.ValueString(); v != "" {
		return v, nil
	}
	if f := file.ValueString(); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", backend.LocalFile(fileArg, f, err)
		}
		return string(b), nil
	}
	return "", nil
}
