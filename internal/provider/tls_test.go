package provider_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// untrusted is how a diagnostic words a certificate no configured CA signs.
const untrusted = "server certificate not trusted: the server's certificate is signed by an authority this endpoint does not trust."

// checkRefused plans config, whose endpoint serves a self-signed certificate the
// configuration does not trust, twice: subtest "refused" expects refused, the
// exact diagnostic of the refusal; subtest "says how to trust it" expects that
// diagnostic to go on to name the settings that trust the server (howToTrust, in
// order). They are apart so that a missing advice fails under its own name.
func checkRefused(t *testing.T, config string, refused *regexp.Regexp, howToTrust ...string) {
	t.Helper()
	ok := t.Run("refused", func(t *testing.T) {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps:                    []resource.TestStep{{Config: config, ExpectError: refused}},
		})
	})
	advised := t.Run("says how to trust it", func(t *testing.T) {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps:                    []resource.TestStep{{Config: config, ExpectError: acctest.Diagnostic(append([]string{untrusted}, howToTrust...)...)}},
		})
	})
	acctest.Measure(t, "secrets", "TLS, a self-signed server: "+t.Name(), map[string]string{
		"refused by default": fmt.Sprint(ok), "the diagnostic names how to trust it": fmt.Sprintf("%v (%s)", advised, strings.Join(howToTrust, ", ")),
	})
}

// TestAccProviderTLS_incusUnpinned: an HTTPS address of a real daemon (its
// certificate self-signed) with neither server_cert, accept_server_certificate nor
// a trust token is refused, and the diagnostic says what to set to trust the
// server. That the pinned server_cert is then accepted, and a wrong one refused, is
// TestAccProvider_https.
func TestAccProviderTLS_incusUnpinned(t *testing.T) {
	for _, b := range acctest.Backends {
		t.Run(string(b.Kind), func(t *testing.T) {
			t.Parallel()
			acctest.PreCheck(t, b)
			dir := acctest.TempDir(t)
			crt, key, _ := clientCert(t, dir, acctest.Name("tf-tls"))
			address := b.HTTPSAddress(t)
			checkRefused(t, remoteConfig(string(b.Kind), address, fmt.Sprintf("client_cert_file = %q\nclient_key_file = %q", crt, key)),
				acctest.Diagnostic("Error: Could not read images",
					fmt.Sprintf(`connecting to endpoint "remote" (%s): GET %s: %s`, b.Kind, address, untrusted)),
				"server_cert", "accept_server_certificate")
		})
	}
}

// TestAccProviderTLS_openstack: Keystone behind a self-signed HTTPS proxy is
// refused by default, with a diagnostic that says how to trust it (cacert_file, or
// insecure), and used once cacert_file names the certificate that signs it.
func TestAccProviderTLS_openstack(t *testing.T) {
	acctest.PreCheckOpenStack(t)
	isolateOpenStack(t)
	authURL, ca := acctest.StartKeystoneTLS(t)
	settings := fmt.Sprintf(`auth_url            = %q
      username            = "fleet-a"
      password            = "fleet-a-pass"
      user_domain_name    = "Default"
      project_name        = "fleet-a"
      project_domain_name = "Default"`, authURL)
	checkRefused(t, openstackEndpoint(settings),
		acctest.Diagnostic("Error: Could not read images",
			fmt.Sprintf(`connecting to endpoint "bad" (openstack): authenticating with Keystone at %s: POST %s/auth/tokens: %s`, authURL, authURL, untrusted)),
		"cacert_file", "insecure")
	t.Run("accepted with cacert_file", func(t *testing.T) {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: openstackEndpoint(settings + fmt.Sprintf("\ncacert_file = %q", ca)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.imagefleet_images.bad", tfjsonpath.New("id"), knownvalue.StringExact("bad")),
				},
			}},
		})
	})
}

// TestAccProviderTLS_air: the Air emulator behind a self-signed HTTPS listener is
// refused by default, with a diagnostic that says how to trust it, and used once
// ca_cert_file names the certificate that signs it.
func TestAccProviderTLS_air(t *testing.T) {
	s, ca := acctest.StartAirTLS(t)
	settings := fmt.Sprintf("api_url = %q\napi_key = %q", s.URL, s.Token(acctest.AirOwner))
	checkRefused(t, airEndpoint(settings),
		acctest.Diagnostic("Error: Could not read images",
			fmt.Sprintf(`connecting to endpoint "bad" (air): GET %s: %s`, s.APIURL()+"images/?limit=1", untrusted)),
		"ca_cert_file")
	t.Run("accepted with ca_cert_file", func(t *testing.T) {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: airEndpoint(settings + fmt.Sprintf("\nca_cert_file = %q", ca)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.imagefleet_images.bad", tfjsonpath.New("id"), knownvalue.StringExact("bad")),
				},
			}},
		})
	})
}

// TestAccProviderTLS_incusBadTrustToken: a trust_token that is not one (here what
// the CLI prints when it first makes itself a client certificate, before the
// token) cannot pin the server. It must be refused as a bad trust_token, not fall
// back to the system's CAs and fail as an untrusted certificate.
func TestAccProviderTLS_incusBadTrustToken(t *testing.T) {
	b := acctest.Backends[0]
	acctest.PreCheck(t, b)
	dir := acctest.TempDir(t)
	name := acctest.Name("tf-tls")
	crt, key, fp := clientCert(t, dir, name)
	token := "Generating a client certificate. This may take a minute...\n" + trustToken(t, b, name, fp)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      remoteConfig(string(b.Kind), b.HTTPSAddress(t), fmt.Sprintf("client_cert_file = %q\nclient_key_file = %q\ntrust_token = %q", crt, key, token)),
			ExpectError: acctest.Diagnostic("Error: Invalid endpoint configuration", `Endpoint "remote" (incus):`, "trust_token"),
		}},
	})
}
