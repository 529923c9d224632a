package provider_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
)

// keystoneToken matches a Fernet token, the kind the rig's Keystone issues: none may
// be logged, neither the configured one nor those the provider is handed.
var keystoneToken = regexp.MustCompile(`gAAAAA[A-Za-z0-9_=-]{40,}`)

// applicationCredential makes an application credential of the owner's user and
// project, deleted when the test ends, and returns its ID and secret.
func applicationCredential(t *testing.T) (id, secret string) {
	t.Helper()
	name := acctest.Name("tf-secrets")
	var cred struct{ ID, Secret string }
	if err := json.Unmarshal([]byte(acctest.Owner.Run(t, "application", "credential", "create", name, "-f", "json")), &cred); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = acctest.Owner.Try("application", "credential", "delete", name) })
	if cred.ID == "" || cred.Secret == "" {
		t.Fatalf("application credential %s has no ID or secret", name)
	}
	return cred.ID, cred.Secret
}

// keystoneTokenOf issues a token of the owner's user and project, revoked when the
// test ends.
func keystoneTokenOf(t *testing.T) string {
	t.Helper()
	token := acctest.Owner.Run(t, "token", "issue", "-f", "value", "-c", "id")
	t.Cleanup(func() { _, _ = acctest.Owner.Try("token", "revoke", token) })
	return token
}

// airDefaultPassword is an image's default_password as the Air API returns it.
func airDefaultPassword(t *testing.T, s *airemu.Server, id string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.APIURL()+"images/"+id+"/", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token(acctest.AirOwner))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var img struct {
		DefaultPassword string `json:"default_password"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&img); err != nil {
		t.Fatalf("GET image %s: %s: %v", id, resp.Status, err)
	}
	return img.DefaultPassword
}

func randomSecret(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// TestAccProvider_secretsNotLogged applies, with TF_LOG=TRACE, a configuration that
// uses every secret the provider takes: Incus and LXD client keys and trust tokens,
// an OpenStack password, application credential secret and token, the Air API key
// and an image's write-only Air default password. None may appear in the log
// (Terraform's and the provider's, in one file), and none in the state: provider
// configuration is never in state, and the write-only password is null there.
func TestAccProvider_secretsNotLogged(t *testing.T) {
	for _, b := range acctest.Backends {
		acctest.PreCheck(t, b)
	}
	acctest.PreCheckOpenStack(t)
	dir := acctest.TempDir(t)

	// TF_LOG and TF_LOG_PATH send the in-process provider's logs to the file;
	// terraform-exec clears them for the Terraform CLI, which logs there (at TRACE)
	// through TF_ACC_LOG_PATH.
	logFile := filepath.Join(dir, "terraform.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH", logFile)
	t.Setenv("TF_ACC_LOG_PATH", logFile)
	t.Setenv("TF_LOG_PATH_MASK", "")

	// Each secret reaches the configuration as a sensitive variable set through
	// TF_VAR_*, as a pipeline passes them: written into the configuration, it
	// would be in the test harness's own trace of it.
	secrets := map[string]string{}
	var variables []string
	secret := func(name, value string) string {
		secrets[name] = value
		t.Setenv("TF_VAR_"+name, value)
		variables = append(variables, fmt.Sprintf("variable %q {\n  type      = string\n  sensitive = true\n}\n", name))
		return "var." + name
	}
	var endpoints []string
	for _, b := range acctest.Backends {
		name := acctest.Name("tf-secrets")
		crt, key, fp := clientCert(t, dir, name)
		token := trustToken(t, b, name, fp)
		endpoints = append(endpoints, fmt.Sprintf(`    %s_tls = { %s = {
      address     = %q
      client_cert = %q
      client_key  = %s
      trust_token = %s
    } }`, b.Kind, b.Kind, b.HTTPSAddress(t), readFile(t, crt),
			secret(string(b.Kind)+"_client_key", readFile(t, key)), secret(string(b.Kind)+"_trust_token", token)))
	}

	// Only now: the incus and lxc CLIs, given a new HOME, would first make
	// themselves a client certificate and say so in the trust token's output.
	isolateOpenStack(t)

	credID, credSecret := applicationCredential(t)
	auth := acctest.KeystoneURL + "/v3"
	endpoints = append(endpoints,
		fmt.Sprintf(`    os_password = { openstack = {
      auth_url            = %q
      username            = "fleet-a"
      password            = %s
      user_domain_name    = "Default"
      project_name        = "fleet-a"
      project_domain_name = "Default"
    } }`, auth, secret("os_password", "fleet-a-pass")),
		fmt.Sprintf(`    os_appcred = { openstack = {
      auth_url                      = %q
      application_credential_id     = %q
      application_credential_secret = %s
    } }`, auth, credID, secret("os_application_credential_secret", credSecret)),
		fmt.Sprintf(`    os_token = { openstack = {
      auth_url            = %q
      token               = %s
      project_name        = "fleet-a"
      project_domain_name = "Default"
    } }`, auth, secret("os_token", keystoneTokenOf(t))))

	s := acctest.StartAir(t)
	airPassword := randomSecret("pw-")
	endpoints = append(endpoints, fmt.Sprintf(`    air = { air = { api_url = %q, api_key = %s } }`, s.URL, secret("air_api_key", s.Token(acctest.AirOwner))))
	airPasswordVar := secret("air_default_password", airPassword)

	disk := acctest.Disk(t, dir, "qcow2", acctest.Name("secrets"))
	name := acctest.Name("secrets")
	providerBlock := strings.Join(variables, "\n") + fmt.Sprintf(`
provider "imagefleet" {
  endpoints = {
%s
  }
}
`, strings.Join(endpoints, "\n"))
	keys := []string{"incus_tls", "lxd_tls", "os_password", "os_appcred", "os_token", "air"}
	config := providerBlock + fmt.Sprintf(`
resource "imagefleet_image" "all" {
  for_each = toset(["%s"])
  endpoint = each.key
  name     = "%s-${each.key}"
  file     = %q
  air = {
    version          = "1.0"
    default_username = "root"
    default_password = %s
  }
}
`, strings.Join(keys, `", "`), name, disk, airPasswordVar)

	ids := map[string]*string{}
	checks := []statecheck.StateCheck{
		acctest.NoSecretsInState(secrets),
		statecheck.ExpectKnownValue(`imagefleet_image.all["air"]`, tfjsonpath.New("air").AtMapKey("default_password"), knownvalue.Null()),
	}
	for _, k := range keys {
		ids[k] = new(string)
		checks = append(checks, acctest.Record(fmt.Sprintf("imagefleet_image.all[%q]", k), "id", ids[k]))
	}
	checks = append(checks, acctest.Then(func() error {
		// The password was sent, though it is nowhere in state.
		if got := airDefaultPassword(t, s, *ids["air"]); got != airPassword {
			return fmt.Errorf("the emulator's image %s holds default_password %q, not the one configured", *ids["air"], got)
		}
		return nil
	}))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: checks},
			{
				// The legacy destroy check cannot read for_each state: destroy by
				// emptying the configuration (through the same credentials), then
				// ask every server.
				Config: providerBlock,
				Check: func(*terraform.State) error {
					for i, b := range acctest.Backends {
						if out, err := b.Try("image", "info", *ids[keys[i]]); err == nil {
							return fmt.Errorf("image %s is still on %s after destroy: %s", *ids[keys[i]], b.Kind, out)
						}
					}
					for _, k := range []string{"os_password", "os_appcred", "os_token"} {
						if out, err := acctest.Owner.Try("image", "show", "-f", "value", "-c", "status", *ids[k]); err == nil && out != "deleted" {
							return fmt.Errorf("image %s is still on Glance after destroy (status %s)", *ids[k], out)
						}
					}
					if img, ok := s.Image(*ids["air"]); ok {
						return fmt.Errorf("image %s is still on Air after destroy (%s)", *ids["air"], img.UploadStatus)
					}
					return nil
				},
			},
		},
	})

	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("the run left no log at %s: %v", logFile, err)
	}
	log := string(raw)
	// The log must hold what is checked: Terraform's own lines, the provider's
	// (through tflog), and its HTTP subsystem's requests to each kind.
	for _, want := range []string{"Terraform version:", "creating image", "imagefleet.http: request:", s.URL + "/api/v3/images/", acctest.KeystoneURL + "/v3/auth/tokens"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log (%d bytes) lacks %q: it does not show what the test checks", len(raw), want)
		}
	}
	inLog, tokenInLog := "none", "no"
	if err := acctest.SecretsAbsent(log, secrets); err != nil {
		inLog = err.Error()
		t.Errorf("in the TF_LOG=TRACE log %s: %v", logFile, err)
	}
	if m := keystoneToken.FindStringIndex(log); m != nil {
		tokenInLog = "yes"
		t.Errorf("a Keystone token is in the log: %q", log[max(0, m[0]-200):m[1]])
	}
	names := slices.Sorted(maps.Keys(secrets))
	acctest.Measure(t, "secrets", "every secret the provider takes, applied at TF_LOG=TRACE", map[string]string{
		"secrets":   fmt.Sprintf("%d: %s, air default_password (write-only)", len(names), strings.Join(names, ", ")),
		"log bytes": fmt.Sprint(len(raw)), "secrets in the log": inLog, "Keystone token in the log": tokenInLog,
		"in state": "only the sensitive arguments Terraform keeps; the write-only password null (state checks passed: " + fmt.Sprint(!t.Failed()) + ")",
	})
}
