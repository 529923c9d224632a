// Package acctest holds what the acceptance tests share: provider factories, the real
// daemons they run against, CLI helpers to change objects behind Terraform's back, and
// the test image builders.
package acctest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/provider"
)

// ProtoV6ProviderFactories runs the provider in-process for terraform-plugin-testing.
var ProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"imagefleet": func() (tfprotov6.ProviderServer, error) { return provider.NewServer("test")(), nil },
}

// ForEachBackend runs test against every daemon, as parallel subtests.
func ForEachBackend(t *testing.T, test func(t *testing.T, b Backend)) {
	for _, b := range Backends {
		t.Run(string(b.Kind), func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// Backend is one real daemon the tests run against.
type Backend struct {
	Kind backend.Kind
	// Endpoint is its name in ProviderConfig.
	Endpoint string
	// CLI is the daemon's own command line client.
	CLI string
}

// Backends are the daemons every image test runs against.
var Backends = []Backend{
	{Kind: backend.KindIncus, Endpoint: "incus", CLI: "incus"},
	{Kind: backend.KindLXD, Endpoint: "lxd", CLI: "lxc"},
}

// ProviderConfig is a provider block with both daemons as endpoints and def as the
// default endpoint.
func ProviderConfig(def string) string {
	return fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = %q
  endpoints = {
    incus = { incus = {} }
    lxd   = { lxd = {} }
  }
}
`, def)
}

var checked sync.Map

// PreCheck fails the test when the daemon is not running: the acceptance suite is
// meant to run after scripts/backends.sh has started it, and a silent skip would hide
// that nothing was tested.
func PreCheck(t *testing.T, b Backend) {
	t.Helper()
	if _, ok := checked.Load(b.Kind); ok {
		return
	}
	if out, err := exec.Command(b.CLI, "info").CombinedOutput(); err != nil {
		t.Fatalf("%s daemon is not reachable with `%s info` (%v: %s): start it with scripts/backends.sh", b.Kind, b.CLI, err, strings.TrimSpace(string(out)))
	}
	checked.Store(b.Kind, true)
}

// Run runs the backend's CLI and fails the test on error.
func (b Backend) Run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(b.CLI, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", b.CLI, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Try runs the backend's CLI and returns its error instead of failing.
func (b Backend) Try(args ...string) (string, error) {
	out, err := exec.Command(b.CLI, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Name returns a unique name with the given prefix, so parallel tests and runs
// against the same daemon never collide.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// TempDir is t.TempDir, kept readable by the daemons (they run as root here, but a
// sandboxed daemon may not read a 0700 directory).
func TempDir(t *testing.T) string {
	d := t.TempDir()
	_ = os.Chmod(d, 0o755)
	return d
}

// Diagnostic matches a diagnostic's exact words, in order, tolerating only the line
// wrapping and indentation Terraform adds when it prints them.
func Diagnostic(parts ...string) *regexp.Regexp {
	var quoted []string
	for _, p := range parts {
		words := strings.Fields(p)
		for i, w := range words {
			words[i] = regexp.QuoteMeta(w)
		}
		quoted = append(quoted, strings.Join(words, `\s+`))
	}
	return regexp.MustCompile(`(?s)` + strings.Join(quoted, `.*`))
}

// FirstDiagnostic is Diagnostic for the first diagnostic of a run's output only,
// so a step that expects one error also fails on another reported before it (such
// as Terraform's "Provider returned invalid result object").
func FirstDiagnostic(parts ...string) *regexp.Regexp {
	// After the run's own first line, the lines before the first "Error:"
	// (warnings) start otherwise.
	return regexp.MustCompile(`(?s)\A[^\n]*\n(?:(?:[^E\n][^\n]*)?\n)*` + Diagnostic(parts...).String()[len("(?s)"):])
}

// httpsPorts keeps the two daemons' HTTPS listeners apart.
var httpsPorts = map[backend.Kind]int{backend.KindIncus: 18443, backend.KindLXD: 18444}

// HTTPSAddress makes the daemon listen on a loopback HTTPS address (once; the setting
// is kept) and returns it.
func (b Backend) HTTPSAddress(t *testing.T) string {
	t.Helper()
	addr := b.Run(t, "config", "get", "core.https_address")
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", httpsPorts[b.Kind])
		b.Run(t, "config", "set", "core.https_address", addr)
	}
	return "https://" + addr
}

// ServerCert is the daemon's TLS certificate (PEM).
func (b Backend) ServerCert(t *testing.T) string {
	t.Helper()
	var info struct {
		Environment struct {
			Certificate string `json:"certificate"`
		} `json:"environment"`
	}
	if err := json.Unmarshal([]byte(b.Run(t, "query", "/1.0")), &info); err != nil {
		t.Fatal(err)
	}
	return info.Environment.Certificate
}

// Project makes sure a project exists and returns its name; ownImages gives it its
// own image store, else it shares the default project's (profiles are always
// shared). It is kept between runs: a project can only be deleted once empty, and
// reusing it is safe.
func (b Backend) Project(t *testing.T, name string, ownImages bool) string {
	t.Helper()
	if _, err := b.Try("project", "show", name); err != nil {
		b.Run(t, "project", "create", name, "-c", fmt.Sprintf("features.images=%t", ownImages), "-c", "features.profiles=false")
	}
	return name
}

// SupportsVMs reports whether the daemon can run virtual machines: it lists the qemu
// driver only when that driver works (it needs vhost_vsock, missing on some hosts).
func (b Backend) SupportsVMs(t *testing.T) bool {
	t.Helper()
	var info struct {
		Environment struct {
			Driver string `json:"driver"`
		} `json:"environment"`
	}
	if err := json.Unmarshal([]byte(b.Run(t, "query", "/1.0")), &info); err != nil {
		t.Fatal(err)
	}
	return strings.Contains(info.Environment.Driver, "qemu")
}
