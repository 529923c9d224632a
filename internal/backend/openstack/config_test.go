package openstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isolate clears the OS_* variables and points the clouds.yaml search (the working
// directory, the user's config directory) at empty temporary directories, so only
// what the test writes is read. It returns the working directory.
func isolate(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OS_") {
			t.Setenv(k, "")
		}
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	wd := t.TempDir()
	t.Chdir(wd)
	if _, err := os.Stat("/etc/openstack"); err == nil {
		t.Fatal("/etc/openstack exists on this machine: these tests expect the search path to be empty")
	}
	return wd
}

func write(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const twoClouds = `
clouds:
  alpha:
    auth:
      auth_url: https://alpha.example/v3
      username: ann
      project_name: proj-a
      user_domain_name: Users
      project_domain_name: Projects
    regions:
      - name: north
      - south
    interface: internal
    verify: false
  beta:
    auth:
      auth_url: https://beta.example/v3
      application_credential_id: ac-1
      application_credential_secret: ac-secret
    region_name: east
`

func resolve(t *testing.T, c Config) Config {
	t.Helper()
	out, err := c.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestResolveWithoutSettings(t *testing.T) {
	isolate(t)
	_, err := Config{}.Resolve()
	if err == nil || !strings.Contains(err.Error(), "set cloud, or auth_url with username/password or application credentials or token, or OS_* variables") {
		t.Fatalf("error %v", err)
	}
}

// A cloud from clouds_file, its password from secure.yaml beside it, its first
// region, interface and verify setting.
func TestResolveCloudWithSecureFile(t *testing.T) {
	dir := isolate(t)
	clouds := write(t, filepath.Join(dir, "conf", "clouds.yaml"), twoClouds)
	write(t, filepath.Join(dir, "conf", "secure.yaml"), "clouds:\n  alpha:\n    auth:\n      password: from-secure\n")
	got := resolve(t, Config{Cloud: "alpha", CloudsFile: clouds})
	want := Config{Cloud: "alpha", CloudsFile: clouds, AuthURL: "https://alpha.example/v3", Username: "ann", Password: "from-secure",
		UserDomainName: "Users", ProjectName: "proj-a", ProjectDomainName: "Projects", Region: "north", Interface: "internal", Insecure: true}
	if got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// The endpoint's settings win over the cloud; the environment fills only what both
// leave unset.
func TestResolvePrecedence(t *testing.T) {
	isolate(t)
	clouds := write(t, filepath.Join(t.TempDir(), "clouds.yaml"), twoClouds)
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_CLOUD", "alpha")
	t.Setenv("OS_AUTH_URL", "https://env.example/v3")
	t.Setenv("OS_REGION_NAME", "env-region")
	t.Setenv("OS_PASSWORD", "env-pass")
	t.Setenv("OS_USER_DOMAIN_ID", "env-domain")
	got := resolve(t, Config{Region: "mine", ProjectID: "p-1"})
	switch {
	case got.Cloud != "alpha" || got.AuthURL != "https://alpha.example/v3":
		t.Fatalf("OS_CLOUD's cloud not used, or its auth_url overridden: %+v", got)
	case got.Region != "mine" || got.ProjectID != "p-1" || got.ProjectName != "":
		t.Fatalf("the endpoint's region and project must win, the project as a pair: %+v", got)
	case got.Password != "env-pass":
		t.Fatalf("the environment's password must fill the cloud's missing one: %+v", got)
	case got.UserDomainName != "Users" || got.UserDomainID != "":
		t.Fatalf("the cloud's user domain must win over OS_USER_DOMAIN_ID, as a pair: %+v", got)
	}
}

// The credential comes whole from the first source holding one.
func TestResolveCredentialFromOneSource(t *testing.T) {
	isolate(t)
	clouds := write(t, filepath.Join(t.TempDir(), "clouds.yaml"), twoClouds)
	t.Setenv("OS_PASSWORD", "env-pass")
	t.Setenv("OS_USERNAME", "env-user")
	t.Setenv("OS_TOKEN", "env-token")
	got := resolve(t, Config{Cloud: "beta", CloudsFile: clouds})
	if got.ApplicationCredentialID != "ac-1" || got.ApplicationCredentialSecret != "ac-secret" || got.Password != "" || got.Token != "" {
		t.Fatalf("the cloud's application credential alone expected: %+v", got)
	}
	got = resolve(t, Config{Cloud: "beta", CloudsFile: clouds, Token: "mine"})
	if got.Token != "mine" || got.ApplicationCredentialSecret != "" || got.ApplicationCredentialID != "" {
		t.Fatalf("the endpoint's token alone expected: %+v", got)
	}
}

func TestResolveEnvironmentOnly(t *testing.T) {
	isolate(t)
	for k, v := range map[string]string{
		"OS_AUTH_URL": "https://env.example:5000", "OS_USERNAME": "u", "OS_PASSWORD": "p",
		"OS_TENANT_NAME": "old-style", "OS_DOMAIN_NAME": "Dom", "OS_INTERFACE": "adminURL", "OS_INSECURE": "true",
	} {
		t.Setenv(k, v)
	}
	got := resolve(t, Config{})
	want := Config{AuthURL: "https://env.example:5000", Username: "u", Password: "p", ProjectName: "old-style",
		UserDomainName: "Dom", ProjectDomainName: "Dom", Interface: "admin", Insecure: true}
	if got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	t.Setenv("OS_DOMAIN_NAME", "")
	if got := resolve(t, Config{}); got.UserDomainID != "default" || got.ProjectDomainID != "default" {
		t.Fatalf("names without domains are in the default domain, as the CLI assumes: %+v", got)
	}
}

// With nothing named and nothing set, a clouds.yaml holding one cloud is used.
func TestResolveOnlyCloud(t *testing.T) {
	dir := isolate(t)
	write(t, filepath.Join(dir, "clouds.yml"), "clouds:\n  solo:\n    auth:\n      auth_url: https://solo/v3\n      token: tok\n")
	if got := resolve(t, Config{}); got.Cloud != "solo" || got.Token != "tok" {
		t.Fatalf("the only cloud expected: %+v", got)
	}
}

func TestResolveUnknownCloud(t *testing.T) {
	isolate(t)
	clouds := write(t, filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "openstack", "clouds.yaml"), twoClouds)
	_, err := Config{Cloud: "gamma"}.Resolve()
	if err == nil || !strings.Contains(err.Error(), clouds+" has no such cloud (it defines alpha, beta)") || !strings.Contains(err.Error(), "clouds.yaml") {
		t.Fatalf("error %v", err)
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	_, err = Config{Cloud: "gamma"}.Resolve()
	if err == nil || !strings.Contains(err.Error(), `cloud is "gamma", but no clouds.yaml was found; looked for: `) || !strings.Contains(err.Error(), "/etc/openstack/clouds.yaml") {
		t.Fatalf("error %v", err)
	}
}

func TestResolveRefusesWhatCannotAuthenticate(t *testing.T) {
	isolate(t)
	base := Config{AuthURL: "https://x/v3", Username: "u", Password: "p"}
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"unreadable CA":     {cfg: with(base, func(c *Config) { c.CACertFile = "/nonexistent/ca.pem" }), want: "cacert_file /nonexistent/ca.pem does not exist"},
		"CA without PEM":    {cfg: with(base, func(c *Config) { c.CACertFile = write(t, filepath.Join(t.TempDir(), "ca.pem"), "not a certificate") }), want: "holds no PEM certificate"},
		"no auth_url":       {cfg: with(base, func(c *Config) { c.AuthURL = "" }), want: "no auth_url"},
		"two credentials":   {cfg: with(base, func(c *Config) { c.Token = "t" }), want: "sets more than one credential (password, token)"},
		"password, no user": {cfg: with(base, func(c *Config) { c.Username = "" }), want: "a password needs a user"},
		"secret, no id":     {cfg: Config{AuthURL: "https://x/v3", ApplicationCredentialSecret: "s"}, want: "needs the credential's ID"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.cfg.Resolve()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func with(c Config, change func(*Config)) Config {
	change(&c)
	return c
}

// auth_type chooses among the credentials one cloud holds.
func TestResolveAuthType(t *testing.T) {
	isolate(t)
	clouds := write(t, filepath.Join(t.TempDir(), "clouds.yaml"), `
clouds:
  both:
    auth_type: v3token
    auth: {auth_url: "https://x/v3", username: u, password: p, token: t, project_id: p1}
  odd:
    auth_type: v3oidcpassword
    auth: {auth_url: "https://x/v3", username: u, password: p}
`)
	if got := resolve(t, Config{Cloud: "both", CloudsFile: clouds}); got.Token != "t" || got.Password != "" {
		t.Fatalf("auth_type v3token picks the token: %+v", got)
	}
	if _, err := (Config{Cloud: "odd", CloudsFile: clouds}).Resolve(); err == nil || !strings.Contains(err.Error(), `auth_type "v3oidcpassword" is not supported`) {
		t.Fatalf("error %v", err)
	}
}
