package provider_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// trustToken asks the daemon for a trust token named name, for the client certificate
// whose fingerprint is fp; the trust and the token are removed when the test ends.
func trustToken(t *testing.T, b acctest.Backend, name, fp string) string {
	t.Helper()
	args := []string{"config", "trust", "add", name, "-q"}
	if b.Kind == "lxd" {
		args = []string{"config", "trust", "add", "--name", name, "-q"}
	}
	token := b.Run(t, args...)
	t.Cleanup(func() {
		_, _ = b.Try("config", "trust", "remove", fp)
		_, _ = b.Try("config", "trust", "revoke-token", name)
	})
	return token
}

// clientCert writes a fresh self-signed client certificate and key, and returns their
// paths and the certificate's fingerprint (how the daemons name trusted clients).
func clientCert(t *testing.T, dir, name string) (crt, key, fingerprint string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(priv)
	crt, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return crt, key, hex.EncodeToString(sum[:])
}

func remoteConfig(kind, address, extra string) string {
	return fmt.Sprintf(`
provider "imagefleet" {
  endpoints = {
    remote = { %s = { address = %q
%s
    } }
  }
}
data "imagefleet_images" "remote" {}
`, kind, address, extra)
}

// TestAccProvider_https reaches each daemon over HTTPS: trusted on first use with a
// trust token (whose fingerprint pins the server), then with the pinned certificate,
// and refused with the wrong pinned certificate or an untrusted client.
func TestAccProvider_https(t *testing.T) {
	for i, b := range acctest.Backends {
		other := acctest.Backends[1-i]
		t.Run(string(b.Kind), func(t *testing.T) {
			t.Parallel()
			acctest.PreCheck(t, b)
			acctest.PreCheck(t, other)
			dir := acctest.TempDir(t)
			name := acctest.Name("tf-client")
			crt, key, fp := clientCert(t, dir, name)
			stranger, strangerKey, _ := clientCert(t, dir, name+"-stranger")
			address, serverCert, wrongCert := b.HTTPSAddress(t), b.ServerCert(t), other.ServerCert(t)
			token := trustToken(t, b, name, fp)
			certs := fmt.Sprintf("client_cert_file = %q\nclient_key_file = %q", crt, key)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{
					{
						Config: remoteConfig(string(b.Kind), address, certs+fmt.Sprintf("\ntrust_token = %q", token)),
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue("data.imagefleet_images.remote", tfjsonpath.New("id"), knownvalue.StringExact("remote")),
						},
					},
					{
						// Now trusted: the pinned certificate alone is enough.
						Config: remoteConfig(string(b.Kind), address, certs+fmt.Sprintf("\nserver_cert = %q", strings.TrimSpace(serverCert))),
					},
					{
						Config: remoteConfig(string(b.Kind), address, certs+fmt.Sprintf("\nserver_cert = %q", strings.TrimSpace(wrongCert))),
						ExpectError: acctest.Diagnostic(`connecting to endpoint "remote" (`+string(b.Kind)+`)`, "server certificate not trusted: the server's certificate does not match the pinned server_cert.",
							"Give the endpoint what vouches for the server's certificate"),
					},
					{
						Config:      remoteConfig(string(b.Kind), address, fmt.Sprintf("client_cert_file = %q\nclient_key_file = %q\naccept_server_certificate = true", stranger, strangerKey)),
						ExpectError: acctest.Diagnostic(address + " does not trust this client: set trust_token, or add the client certificate to the server's trust store."),
					},
				},
			})
			if !strings.Contains(b.Run(t, "config", "trust", "list", "-f", "csv"), fp[:12]) {
				t.Fatalf("the client certificate %s is not in %s's trust store after the token was used", fp[:12], b.Kind)
			}
		})
	}
}
