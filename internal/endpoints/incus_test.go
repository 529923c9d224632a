package endpoints

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// testCert and testKey are a throwaway (expired) pair: valid PEM for tls.X509KeyPair,
// which does not check dates.
const testCert = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw
DgYDVQQKEwdBY21lIENvMB4XDTE3MTAyMDE5NDMwNloXDTE4MTAyMDE5NDMwNlow
EjEQMA4GA1UEChMHQWNtZSBDbzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD0d
7VNhbWvZLWPuj/RtHFjvtJBEwOkhbN/BnnE8rnZR8+sbwnc/KhCk3FhnpHZnQz7B
5aETbbIgmuvewdjvSBSjYzBhMA4GA1UdDwEB/wQEAwICpDATBgNVHSUEDDAKBggr
BgEFBQcDATAPBgNVHRMBAf8EBTADAQH/MCkGA1UdEQQiMCCCDmxvY2FsaG9zdDo1
NDUzgg4xMjcuMC4wLjE6NTQ1MzAKBggqhkjOPQQDAgNIADBFAiEA2zpJEPQyz6/l
Wf86aX6PepsntZv2GYlA5UpabfT2EZICICpJ5h/iI+i341gBmLiAFQOyTDT+/wQc
6MF9+Yw1Yy0t
-----END CERTIFICATE-----`

const testKey = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49
AwEHoUQDQgAEPR3tU2Fta9ktY+6P9G0cWO+0kETA6SFs38GecTyudlHz6xvCdz8q
EKTcWGekdmdDPsHloRNtsiCa697B2O9IFA==
-----END EC PRIVATE KEY-----`

var incusOnly = incusFlavour{kind: "incus", env: "INCUS", confDir: "incus", cli: "incus"}

func TestIncusEnvironmentFallbacks(t *testing.T) {
	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "client.crt"), []byte(testCert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "client.key"), []byte(testKey), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("INCUS_CONF", conf)
	t.Setenv("INCUS_PROJECT", "lab")
	t.Setenv("LXD_PROJECT", "other")

	m := &IncusModel{Address: types.StringValue("https://lab.example.com:8443")}
	c, err := incusOnly.config(m, httpclient.DefaultRetry)
	if err != nil {
		t.Fatal(err)
	}
	if c.Project != "lab" {
		t.Fatalf("project %q, want INCUS_PROJECT's", c.Project)
	}
	if !strings.Contains(c.ClientCert, "BEGIN CERTIFICATE") || !strings.Contains(c.ClientKey, "PRIVATE KEY") {
		t.Fatal("client certificate and key not read from INCUS_CONF")
	}

	// Set values win over the environment; a local socket needs no certificate.
	m = &IncusModel{Project: types.StringValue("mine")}
	c, err = incusOnly.config(m, httpclient.DefaultRetry)
	if err != nil {
		t.Fatal(err)
	}
	if c.Project != "mine" || c.ClientCert != "" {
		t.Fatalf("got project %q, cert set %v", c.Project, c.ClientCert != "")
	}
}

func TestIncusConfigErrors(t *testing.T) {
	t.Setenv("INCUS_CONF", t.TempDir())
	tests := map[string]struct {
		m    IncusModel
		want string
	}{
		"certificate without key": {IncusModel{Address: types.StringValue("https://h:1"), ClientCert: types.StringValue(testCert)}, "client_cert and client_key go together"},
		"missing key file":        {IncusModel{ClientCert: types.StringValue(testCert), ClientKeyFile: types.StringValue("/nonexistent/key.pem")}, "client_key_file /nonexistent/key.pem does not exist"},
		"garbage certificate":     {IncusModel{Address: types.StringValue("https://h:1"), ClientCert: types.StringValue("x"), ClientKey: types.StringValue("y")}, "the client certificate is not in PEM form"},
		"garbage key":             {IncusModel{Address: types.StringValue("https://h:1"), ClientCert: types.StringValue(testCert), ClientKey: types.StringValue("y")}, "the client key is not a private key in PEM form"},
		"swapped":                 {IncusModel{Address: types.StringValue("https://h:1"), ClientCert: types.StringValue(testKey), ClientKey: types.StringValue(testCert)}, `the client certificate holds a "EC PRIVATE KEY" block, not a certificate`},
		"garbage server cert":     {IncusModel{Address: types.StringValue("https://h:1"), ServerCert: types.StringValue("x")}, "server_cert is not in PEM form"},
		"bad address":             {IncusModel{Address: types.StringValue("ftp://h")}, `scheme must be unix:// or https://`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := incusOnly.config(&tc.m, httpclient.DefaultRetry)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}
