package acctest

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
)

// writeCA writes the certificate of a self-signed test server to a PEM file in dir:
// it is its own CA, so the file is what a user would configure to trust it.
func writeCA(t *testing.T, dir string, s *httptest.Server) string {
	t.Helper()
	path := filepath.Join(dir, "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(path, block, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// StartAirTLS is StartAir behind an HTTPS listener with httptest's self-signed
// certificate (valid for 127.0.0.1). It returns the emulator, whose URL is https,
// and a PEM file of the certificate that signs it.
func StartAirTLS(t *testing.T) (*airemu.Server, string) {
	t.Helper()
	s, err := airemu.New(airemu.Options{
		Orgs:      map[string]string{AirOwner: "nvapi-" + Name("a"), AirPartner: "nvapi-" + Name("b")},
		ChunkSize: airemu.MinPartSize,
		DataDir:   t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(s.Handler())
	s.URL = ts.URL
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, writeCA(t, t.TempDir(), ts)
}

// StartKeystoneTLS puts an HTTPS reverse proxy with httptest's self-signed
// certificate in front of the rig's Keystone. It returns the proxy's Keystone v3
// URL and a PEM file of the certificate that signs it. The catalog is left as it
// is, so Glance is still reached directly: what is tested is the TLS of the
// authentication.
func StartKeystoneTLS(t *testing.T) (authURL, caFile string) {
	t.Helper()
	keystone, err := url.Parse(KeystoneURL)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(keystone) }})
	t.Cleanup(ts.Close)
	return ts.URL + "/v3", writeCA(t, t.TempDir(), ts)
}

// SecretsAbsent reports every secret (by its name in secrets) whose value occurs in
// text. A PEM value is looked for line by line as well, since logs escape the
// newlines of a multi-line value.
func SecretsAbsent(text string, secrets map[string]string) error {
	var found []string
	for name, value := range secrets {
		if value == "" {
			return fmt.Errorf("secret %s has an empty value: the test would find nothing", name)
		}
		needles := []string{value}
		if strings.Contains(value, "-----BEGIN") {
			for _, line := range strings.Split(value, "\n") {
				if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
					needles = append(needles, line)
				}
			}
		}
		for _, n := range needles {
			if i := strings.Index(text, n); i >= 0 {
				found = append(found, fmt.Sprintf("%s (at byte %d: %q)", name, i, excerpt(text, i, len(n))))
				break
			}
		}
	}
	if len(found) > 0 {
		sort.Strings(found)
		return fmt.Errorf("secrets found: %s", strings.Join(found, "; "))
	}
	return nil
}

// excerpt is the line around text[i:i+n], for a report that says where a secret leaked.
func excerpt(text string, i, n int) string {
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := i + n + 200
	if j := strings.IndexByte(text[i:], '\n'); j >= 0 && i+j < end {
		end = i + j
	}
	if end > len(text) {
		end = len(text)
	}
	if i-start > 300 {
		start = i - 300
	}
	return text[start:end]
}

// NoSecretsInState is a state check that fails when any of the secrets' values
// occurs anywhere in the state, as `terraform show -json` gives it.
func NoSecretsInState(secrets map[string]string) statecheck.StateCheck {
	return noSecretsCheck{secrets}
}

type noSecretsCheck struct{ secrets map[string]string }

func (c noSecretsCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil {
		resp.Error = fmt.Errorf("no state to check")
		return
	}
	raw, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	if err := SecretsAbsent(string(raw), c.secrets); err != nil {
		resp.Error = fmt.Errorf("in the state: %w", err)
	}
}

// Then is a state check that runs fn: a check of the servers, placed after the
// state checks (such as Record) that gather what it needs. Check functions cannot
// do this on a configuration with for_each resources.
func Then(fn func() error) statecheck.StateCheck { return thenCheck(fn) }

type thenCheck func() error

func (c thenCheck) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = c()
}
