package openstack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// Reading clouds.yaml and secure.yaml, as openstacksdk finds and reads them.

// cloudsFiles lists where clouds.yaml is looked for, in order; the first that exists
// is the one read, as openstacksdk does. A clouds file the endpoint names must exist,
// and is then the only one read.
func cloudsFiles(named string) ([]string, error) {
	var files []string
	if named != "" {
		if _, err := os.Stat(expandHome(named)); err != nil {
			return nil, backend.LocalFile("clouds_file", named, err)
		}
		return []string{expandHome(named)}, nil
	}
	if f := os.Getenv("OS_CLIENT_CONFIG_FILE"); f != "" {
		files = append(files, expandHome(f))
	}
	for _, dir := range configDirs() {
		for _, ext := range []string{".yaml", ".yml", ".json"} {
			files = append(files, filepath.Join(dir, "clouds"+ext))
		}
	}
	return files, nil
}

// configDirs are openstacksdk's search directories on Linux.
func configDirs() []string {
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		dirs = append(dirs, filepath.Join(x, "openstack"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".config", "openstack"))
	}
	return append(dirs, "/etc/openstack")
}

// cloudsYAML is the part of clouds.yaml (and secure.yaml) this provider reads.
type cloudsYAML struct {
	Clouds map[string]cloudEntry `yaml:"clouds"`
}

type cloudEntry struct {
	Auth struct {
		AuthURL                     string `yaml:"auth_url"`
		Username                    string `yaml:"username"`
		UserID                      string `yaml:"user_id"`
		Password                    string `yaml:"password"`
		UserDomainName              string `yaml:"user_domain_name"`
		UserDomainID                string `yaml:"user_domain_id"`
		ProjectName                 string `yaml:"project_name"`
		ProjectID                   string `yaml:"project_id"`
		TenantName                  string `yaml:"tenant_name"`
		TenantID                    string `yaml:"tenant_id"`
		ProjectDomainName           string `yaml:"project_domain_name"`
		ProjectDomainID             string `yaml:"project_domain_id"`
		DomainName                  string `yaml:"domain_name"`
		DomainID                    string `yaml:"domain_id"`
		ApplicationCredentialID     string `yaml:"application_credential_id"`
		ApplicationCredentialName   string `yaml:"application_credential_name"`
		ApplicationCredentialSecret string `yaml:"application_credential_secret"`
		Token                       string `yaml:"token"`
		AuthToken                   string `yaml:"auth_token"`
	} `yaml:"auth"`
	AuthType     string      `yaml:"auth_type"`
	Profile      string      `yaml:"profile"`
	RegionName   string      `yaml:"region_name"`
	Regions      []yaml.Node `yaml:"regions"`
	Interface    string      `yaml:"interface"`
	EndpointType string      `yaml:"endpoint_type"`
	CACert       string      `yaml:"cacert"`
	Verify       *bool       `yaml:"verify"`
	Insecure     *bool       `yaml:"insecure"`
}

// readClouds reads the first of files that exists; "" when none does.
func readClouds(files []string) (string, cloudsYAML, error) {
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return f, cloudsYAML{}, backend.LocalFile("the clouds file", f, err)
		}
		var cy cloudsYAML
		if err := yaml.Unmarshal(raw, &cy); err != nil {
			return f, cloudsYAML{}, fmt.Errorf("%s is not a valid clouds file: %w", f, err)
		}
		return f, cy, nil
	}
	return "", cloudsYAML{}, nil
}

// secureFiles lists where secure.yaml is looked for: OS_CLIENT_SECURE_FILE, beside
// the clouds file read, then the search directories.
func secureFiles(cloudsFile string) []string {
	var files []string
	if f := os.Getenv("OS_CLIENT_SECURE_FILE"); f != "" {
		files = append(files, expandHome(f))
	}
	for _, dir := range append([]string{filepath.Dir(cloudsFile)}, configDirs()...) {
		for _, ext := range []string{".yaml", ".yml", ".json"} {
			files = append(files, filepath.Join(dir, "secure"+ext))
		}
	}
	return files
}

// loadCloud reads cloud name from the first clouds file found, with its secure.yaml
// entries laid over it.
func loadCloud(name, nameFrom string, files []string) (*layer, error) {
	path, cy, err := readClouds(files)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("%s is %q, but no clouds.yaml was found; looked for: %s", nameFrom, name, strings.Join(files, ", "))
	}
	entry, ok := cy.Clouds[name]
	if !ok {
		known := make([]string, 0, len(cy.Clouds))
		for k := range cy.Clouds {
			known = append(known, k)
		}
		sort.Strings(known)
		found := "it defines no clouds"
		if len(known) > 0 {
			found = "it defines " + strings.Join(known, ", ")
		}
		if len(files) == 1 {
			return nil, fmt.Errorf("%s is %q, but %s has no such cloud (%s). Name one of its clouds, or point clouds_file to the file that defines this one",
				nameFrom, name, path, found)
		}
		return nil, fmt.Errorf("%s is %q, but %s has no such cloud (%s); the first clouds file found is the only one read, looked for in order: %s. "+
			"Name one of its clouds, or point clouds_file to the file that defines this one",
			nameFrom, name, path, found, strings.Join(files, ", "))
	}
	spath, secure, err := readClouds(secureFiles(path))
	if err != nil {
		return nil, err
	}
	l := entry.layer(name, path)
	if s, ok := secure.Clouds[name]; ok {
		l = overlay(s.layer(name, spath), l)
	}
	return &l, nil
}

// onlyCloud is the cloud of a clouds file that defines exactly one; nil otherwise.
func onlyCloud(files []string) (*layer, error) {
	path, cy, err := readClouds(files)
	if err != nil || len(cy.Clouds) != 1 {
		return nil, err
	}
	for name, entry := range cy.Clouds {
		l := entry.layer(name, path)
		return &l, nil
	}
	return nil, nil
}

func (e cloudEntry) layer(name, path string) layer {
	a := e.Auth
	l := layer{source: fmt.Sprintf("cloud %q in %s", name, path), authType: e.AuthType, Config: Config{
		Cloud:                       name,
		AuthURL:                     a.AuthURL,
		Username:                    a.Username,
		UserID:                      a.UserID,
		Password:                    a.Password,
		UserDomainName:              a.UserDomainName,
		UserDomainID:                a.UserDomainID,
		ProjectName:                 first(a.ProjectName, a.TenantName),
		ProjectID:                   first(a.ProjectID, a.TenantID),
		ProjectDomainName:           a.ProjectDomainName,
		ProjectDomainID:             a.ProjectDomainID,
		ApplicationCredentialID:     a.ApplicationCredentialID,
		ApplicationCredentialName:   a.ApplicationCredentialName,
		ApplicationCredentialSecret: a.ApplicationCredentialSecret,
		Token:                       first(a.Token, a.AuthToken),
		Region:                      first(e.RegionName, e.firstRegion()),
		Interface:                   strings.TrimSuffix(first(e.Interface, e.EndpointType), "URL"),
		CACertFile:                  e.CACert,
		Insecure:                    (e.Verify != nil && !*e.Verify) || (e.Insecure != nil && *e.Insecure),
	}}
	l.sharedDomain(a.DomainName, a.DomainID)
	if a.AuthURL == "" && e.Profile != "" {
		l.source += fmt.Sprintf(" (its profile %q is a vendor profile, which this provider does not read: set auth_url in the cloud)", e.Profile)
	}
	return l
}

// firstRegion is the first of a cloud's regions, which openstacksdk uses when
// region_name is unset. An entry is a name or a map with a name.
func (e cloudEntry) firstRegion() string {
	if len(e.Regions) == 0 {
		return ""
	}
	var name string
	if e.Regions[0].Decode(&name) == nil {
		return name
	}
	var r struct {
		Name string `yaml:"name"`
	}
	_ = e.Regions[0].Decode(&r)
	return r.Name
}

// overlay is over with the settings it leaves unset taken from under (secure.yaml
// over clouds.yaml).
func overlay(over, under layer) layer {
	o, u := &over.Config, under.Config
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&o.AuthURL, u.AuthURL}, {&o.Username, u.Username}, {&o.UserID, u.UserID}, {&o.Password, u.Password},
		{&o.UserDomainName, u.UserDomainName}, {&o.UserDomainID, u.UserDomainID},
		{&o.ProjectName, u.ProjectName}, {&o.ProjectID, u.ProjectID},
		{&o.ProjectDomainName, u.ProjectDomainName}, {&o.ProjectDomainID, u.ProjectDomainID},
		{&o.ApplicationCredentialID, u.ApplicationCredentialID}, {&o.ApplicationCredentialName, u.ApplicationCredentialName},
		{&o.ApplicationCredentialSecret, u.ApplicationCredentialSecret}, {&o.Token, u.Token},
		{&o.Region, u.Region}, {&o.Interface, u.Interface}, {&o.CACertFile, u.CACertFile},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	o.Insecure = o.Insecure || u.Insecure
	if over.authType == "" {
		over.authType = under.authType
	}
	over.source = under.source + " and its secure.yaml entry"
	return over
}
