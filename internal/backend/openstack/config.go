// Package openstack is the client of an OpenStack cloud's image service: Keystone v3
// authenticates and names the Glance v2 endpoint, which holds images and image
// members. It speaks through gophercloud v2 over the shared retrying HTTP client.
//
// # Where the settings come from
//
// Config.Resolve combines three sources, each setting taken from the first that has
// it:
//
//  1. the endpoint's own settings (the Config fields);
//  2. the cloud named by Cloud, or by OS_CLOUD when Cloud is unset, read from the
//     first clouds.yaml found (CloudsFile, OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
//     ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml; .yml and .json
//     too), with the same cloud's entries in secure.yaml laid over it;
//  3. the OS_* environment variables (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, ...).
//
// When no cloud is named and neither the endpoint nor the environment sets an
// auth_url or a credential, a clouds.yaml that defines exactly one cloud supplies
// it, as the openstack CLI does.
//
// Settings that only make sense together come from one source: a user name or ID,
// a project name or ID, and each domain name or ID are taken as a pair, and the
// credential (a password, an application credential, or a token) comes whole from
// the first source that has one, so a password exported for one cloud is never
// sent with another cloud's application credential. domain_name/domain_id (and
// OS_DOMAIN_*) stand for both the user and the project domain where those are
// unset; a user or project given by name with no domain is in the domain
// OS_DEFAULT_DOMAIN, else "default", as the openstack CLI assumes.
//
// This differs on purpose from python-openstackclient, whose OS_* variables are
// argparse defaults and so override the named cloud's clouds.yaml entries (osc-lib
// prefers values outside the clouds.yaml "auth" section). One provider configuration
// names many endpoints, each with its own cloud; an openrc exported for one cloud
// must not redirect the others, so here the environment only fills what a named
// cloud leaves unset, as gophercloud/utils' clientconfig does. openstacksdk's own
// Connection(cloud=...) ignores the other OS_* variables altogether.
package openstack

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// Config is how to reach one cloud. Resolve fills it from clouds.yaml and the
// environment; New takes a resolved Config.
type Config struct {
	Cloud      string
	CloudsFile string

	AuthURL                     string
	Username                    string
	UserID                      string
	Password                    string
	UserDomainName              string
	UserDomainID                string
	ProjectName                 string
	ProjectID                   string
	ProjectDomainName           string
	ProjectDomainID             string
	ApplicationCredentialID     string
	ApplicationCredentialName   string
	ApplicationCredentialSecret string
	Token                       string

	Region     string
	Interface  string
	CACertFile string
	Insecure   bool

	Retry httpclient.Retry
}

// layer is one source of settings, named for error messages.
type layer struct {
	Config
	source string
	// authType is the layer's auth_type (clouds.yaml) or OS_AUTH_TYPE, which picks
	// the credential when the layer holds several.
	authType string
}

// credential kinds, in the words of clouds.yaml's auth_type.
const (
	credPassword = "password"
	credAppCred  = "v3applicationcredential"
	credToken    = "token"
)

// credentials lists which kinds of credential l holds.
func (l layer) credentials() []string {
	var kinds []string
	if l.Password != "" {
		kinds = append(kinds, credPassword)
	}
	if l.ApplicationCredentialID != "" || l.ApplicationCredentialName != "" || l.ApplicationCredentialSecret != "" {
		kinds = append(kinds, credAppCred)
	}
	if l.Token != "" {
		kinds = append(kinds, credToken)
	}
	return kinds
}

// credential is the kind of credential l holds ("" for none), chosen by its
// auth_type when it holds several.
func (l layer) credential() (string, error) {
	kinds := l.credentials()
	want := ""
	switch strings.ToLower(l.authType) {
	case "":
	case "password", "v3password":
		want = credPassword
	case "v3applicationcredential", "applicationcredential":
		want = credAppCred
	case "token", "v3token":
		want = credToken
	default:
		return "", fmt.Errorf("%s: auth_type %q is not supported: use password, token or v3applicationcredential", l.source, l.authType)
	}
	switch {
	case len(kinds) == 0:
		return "", nil
	case want != "":
		for _, k := range kinds {
			if k == want {
				return k, nil
			}
		}
		return "", fmt.Errorf("%s: auth_type is %s, but no %s is set", l.source, l.authType, credentialWords[want])
	case len(kinds) > 1:
		return "", fmt.Errorf("%s sets more than one credential (%s): set only one, or auth_type to choose", l.source, strings.Join(kinds, ", "))
	}
	return kinds[0], nil
}

var credentialWords = map[string]string{
	credPassword: "password",
	credAppCred:  "application credential",
	credToken:    "token",
}

// Resolve combines the endpoint's settings with clouds.yaml and the OS_* variables
// (see the package documentation) and checks that the result can authenticate.
func (c Config) Resolve() (Config, error) {
	explicit := layer{Config: c, source: "the endpoint's settings"}
	env := envLayer()
	files, err := cloudsFiles(c.CloudsFile)
	if err != nil {
		return Config{}, err
	}
	name, nameFrom := c.Cloud, "cloud"
	if name == "" {
		name, nameFrom = os.Getenv("OS_CLOUD"), "OS_CLOUD"
	}
	layers := []layer{explicit}
	var cloud *layer
	switch {
	case name != "":
		cloud, err = loadCloud(name, nameFrom, files)
		if err != nil {
			return Config{}, err
		}
	case !explicit.configured() && !env.configured():
		cloud, err = onlyCloud(files)
		if err != nil {
			return Config{}, err
		}
	}
	if cloud != nil {
		layers = append(layers, *cloud)
	}
	layers = append(layers, env)

	out, err := merge(layers)
	if err != nil {
		return Config{}, err
	}
	out.CloudsFile = c.CloudsFile
	out.Retry = c.Retry
	if cloud != nil {
		out.Cloud = cloud.Cloud
	}
	if err := out.check(cloud); err != nil {
		return Config{}, err
	}
	return out, nil
}

// configured reports whether l says where or as whom to authenticate.
func (l layer) configured() bool { return l.AuthURL != "" || len(l.credentials()) > 0 }

// merge takes each setting from the first layer that has it; see the package
// documentation for the settings taken together.
func merge(layers []layer) (Config, error) {
	var out Config
	str := func(get func(*Config) *string) {
		for i := range layers {
			if v := *get(&layers[i].Config); v != "" {
				*get(&out) = v
				return
			}
		}
	}
	pair := func(a, b func(*Config) *string) {
		for i := range layers {
			l := &layers[i].Config
			if *a(l) != "" || *b(l) != "" {
				*a(&out), *b(&out) = *a(l), *b(l)
				return
			}
		}
	}
	str(func(c *Config) *string { return &c.AuthURL })
	pair(func(c *Config) *string { return &c.Username }, func(c *Config) *string { return &c.UserID })
	pair(func(c *Config) *string { return &c.UserDomainName }, func(c *Config) *string { return &c.UserDomainID })
	pair(func(c *Config) *string { return &c.ProjectName }, func(c *Config) *string { return &c.ProjectID })
	pair(func(c *Config) *string { return &c.ProjectDomainName }, func(c *Config) *string { return &c.ProjectDomainID })
	str(func(c *Config) *string { return &c.Region })
	str(func(c *Config) *string { return &c.Interface })
	str(func(c *Config) *string { return &c.CACertFile })
	for _, l := range layers {
		out.Insecure = out.Insecure || l.Insecure
	}

	// The credential comes from the first layer holding one; only that kind's
	// settings are kept, filled from the layers below where that layer left them.
	for _, l := range layers {
		kind, err := l.credential()
		if err != nil {
			return Config{}, err
		}
		switch kind {
		case "":
			continue
		case credPassword:
			out.Password = l.Password
		case credToken:
			out.Token = l.Token
		case credAppCred:
			pair(func(c *Config) *string { return &c.ApplicationCredentialID }, func(c *Config) *string { return &c.ApplicationCredentialName })
			str(func(c *Config) *string { return &c.ApplicationCredentialSecret })
		}
		break
	}

	def := os.Getenv("OS_DEFAULT_DOMAIN")
	if def == "" {
		def = "default"
	}
	if out.Username != "" && out.UserDomainName == "" && out.UserDomainID == "" {
		out.UserDomainID = def
	}
	if out.ProjectName != "" && out.ProjectDomainName == "" && out.ProjectDomainID == "" {
		out.ProjectDomainID = def
	}
	if out.Interface == "" {
		out.Interface = "public"
	}
	return out, nil
}

// check says, in the user's words, what a resolved configuration lacks.
func (c Config) check(cloud *layer) error {
	hasCred := c.Password != "" || c.Token != "" || c.ApplicationCredentialSecret != ""
	if c.AuthURL == "" && !hasCred {
		return errors.New("no OpenStack authentication settings: set cloud, or auth_url with username/password or application credentials or token, or OS_* variables (OS_CLOUD, or OS_AUTH_URL with OS_USERNAME/OS_PASSWORD, OS_APPLICATION_CREDENTIAL_ID/OS_APPLICATION_CREDENTIAL_SECRET or OS_TOKEN)")
	}
	if c.AuthURL == "" {
		where := "the endpoint's settings nor OS_AUTH_URL"
		if cloud != nil {
			where = fmt.Sprintf("the endpoint's settings, OS_AUTH_URL nor %s", cloud.source)
		}
		return fmt.Errorf("no auth_url: neither %s set one", where)
	}
	switch {
	case c.ApplicationCredentialSecret != "" || c.ApplicationCredentialID != "" || c.ApplicationCredentialName != "":
		if c.ApplicationCredentialSecret == "" {
			return errors.New("an application credential needs its secret: set application_credential_secret (or OS_APPLICATION_CREDENTIAL_SECRET)")
		}
		if c.ApplicationCredentialID == "" && c.ApplicationCredentialName == "" {
			return errors.New("an application credential secret needs the credential's ID, or its name and the user: set application_credential_id")
		}
		if c.ApplicationCredentialID == "" && c.Username == "" && c.UserID == "" {
			return errors.New("an application credential given by name needs its user: set username or user_id")
		}
	case c.Token != "":
	case c.Password != "":
		if c.Username == "" && c.UserID == "" {
			return errors.New("a password needs a user: set username or user_id (or OS_USERNAME)")
		}
	default:
		return fmt.Errorf("no credentials for %s: set password, application_credential_id and application_credential_secret, or token (or their OS_* variables)", c.AuthURL)
	}
	if c.CACertFile != "" {
		if _, err := readCA(c.CACertFile); err != nil {
			return err
		}
	}
	return nil
}

// readCA reads a PEM bundle of CA certificates.
func readCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(expandHome(path))
	if err != nil {
		return nil, backend.LocalFile("cacert_file", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bytes.TrimSpace(pem)) {
		return nil, fmt.Errorf("cacert_file %s holds no PEM certificate: give the file (PEM, -----BEGIN CERTIFICATE-----) of the CA that signs the cloud's certificates", path)
	}
	return pool, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// envLayer reads the OS_* variables the openstack CLI reads.
func envLayer() layer {
	get := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	l := layer{source: "the OS_* environment variables", authType: os.Getenv("OS_AUTH_TYPE"), Config: Config{
		AuthURL:                     get("OS_AUTH_URL"),
		Username:                    get("OS_USERNAME"),
		UserID:                      get("OS_USER_ID"),
		Password:                    get("OS_PASSWORD"),
		UserDomainName:              get("OS_USER_DOMAIN_NAME"),
		UserDomainID:                get("OS_USER_DOMAIN_ID"),
		ProjectName:                 get("OS_PROJECT_NAME", "OS_TENANT_NAME"),
		ProjectID:                   get("OS_PROJECT_ID", "OS_TENANT_ID"),
		ProjectDomainName:           get("OS_PROJECT_DOMAIN_NAME"),
		ProjectDomainID:             get("OS_PROJECT_DOMAIN_ID"),
		ApplicationCredentialID:     get("OS_APPLICATION_CREDENTIAL_ID"),
		ApplicationCredentialName:   get("OS_APPLICATION_CREDENTIAL_NAME"),
		ApplicationCredentialSecret: get("OS_APPLICATION_CREDENTIAL_SECRET"),
		Token:                       get("OS_TOKEN", "OS_AUTH_TOKEN"),
		Region:                      get("OS_REGION_NAME"),
		Interface:                   get("OS_INTERFACE", "OS_ENDPOINT_TYPE"),
		CACertFile:                  get("OS_CACERT"),
	}}
	l.Insecure, _ = strconv.ParseBool(get("OS_INSECURE"))
	l.Interface = strings.TrimSuffix(l.Interface, "URL")
	l.sharedDomain(get("OS_DOMAIN_NAME"), get("OS_DOMAIN_ID"))
	return l
}

// sharedDomain applies domain_name/domain_id where the user's and the project's
// domains are unset.
func (l *layer) sharedDomain(name, id string) {
	if name == "" && id == "" {
		return
	}
	if l.UserDomainName == "" && l.UserDomainID == "" {
		l.UserDomainName, l.UserDomainID = name, id
	}
	if l.ProjectDomainName == "" && l.ProjectDomainID == "" {
		l.ProjectDomainName, l.ProjectDomainID = name, id
	}
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
