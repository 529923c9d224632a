package provider_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// The fault tests run the terraform CLI themselves, against the provider binary built
// from this tree: unlike resource.Test, they must be able to let an apply fail and
// apply again, as a user in a CI pipeline would.

var (
	providerBinOnce sync.Once
	providerBinDir  string
	providerBinErr  error
)

// providerBin builds the provider once per test binary and returns the directory
// holding it and a CLI configuration that points imagefleet/imagefleet at it.
func providerBin(t *testing.T) (cliConfig string) {
	t.Helper()
	providerBinOnce.Do(func() {
		providerBinDir, providerBinErr = os.MkdirTemp("", "imagefleet-faults-") //nolint:usetesting // it serves every test of the binary, not only the one that builds it
		if providerBinErr != nil {
			return
		}
		_, here, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(here), "..", "..")
		out, err := exec.Command("go", "build", "-o", filepath.Join(providerBinDir, "terraform-provider-imagefleet"), root).CombinedOutput()
		if err != nil {
			providerBinErr = fmt.Errorf("go build: %v: %s", err, out)
			return
		}
		rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"imagefleet/imagefleet\" = %q\n  }\n  direct {}\n}\n", providerBinDir)
		providerBinErr = os.WriteFile(filepath.Join(providerBinDir, "terraformrc"), []byte(rc), 0o644)
	})
	if providerBinErr != nil {
		t.Fatal(providerBinErr)
	}
	return filepath.Join(providerBinDir, "terraformrc")
}

// workspace is one Terraform working directory.
type workspace struct {
	t   *testing.T
	dir string
	env []string
}

func newWorkspace(t *testing.T, config string) *workspace {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (it runs terraform against the real servers)")
	}
	w := &workspace{t: t, dir: acctest.TempDir(t)}
	w.env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+providerBin(t), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	w.write(config)
	return w
}

func (w *workspace) write(config string) {
	w.t.Helper()
	header := "terraform {\n  required_providers {\n    imagefleet = { source = \"imagefleet/imagefleet\" }\n  }\n}\n"
	if err := os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(header+config), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// run runs terraform and returns its output and exit code.
func (w *workspace) run(args ...string) (string, int) {
	w.t.Helper()
	flags := []string{"-no-color"}
	if args[0] != "show" {
		flags = append(flags, "-input=false")
	}
	cmd := exec.Command("terraform", append(args[:1:1], append(flags, args[1:]...)...)...)
	cmd.Dir, cmd.Env = w.dir, w.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	w.t.Fatalf("terraform %s: %v", args[0], err)
	return "", -1
}

// apply runs terraform apply and reports whether it succeeded, logging the errors.
func (w *workspace) apply() (string, bool) {
	w.t.Helper()
	out, code := w.run("apply", "-auto-approve", "-parallelism=10")
	if code != 0 {
		w.t.Logf("terraform apply failed:\n%s", errorLines(out))
	}
	return out, code == 0
}

// planClean reports whether a plan shows no change (and the plan's output).
func (w *workspace) planClean() (bool, string) {
	w.t.Helper()
	out, code := w.run("plan", "-detailed-exitcode")
	return code == 0, out
}

// converge applies until the plan is empty, at most most applies, and returns how
// many it took (most+1 when it did not converge).
func (w *workspace) converge(most int) int {
	w.t.Helper()
	for i := 1; i <= most; i++ {
		if _, ok := w.apply(); ok {
			if clean, _ := w.planClean(); clean {
				return i
			}
		}
	}
	return most + 1
}

func (w *workspace) destroy() {
	w.t.Helper()
	if out, code := w.run("destroy", "-auto-approve"); code != 0 {
		w.t.Errorf("terraform destroy failed:\n%s", errorLines(out))
	}
}

// stateResource is one resource instance of `terraform show -json`.
type stateResource struct {
	Address string         `json:"address"`
	Type    string         `json:"type"`
	Values  map[string]any `json:"values"`
}

func (w *workspace) state() []stateResource {
	w.t.Helper()
	out, code := w.run("show", "-json")
	if code != 0 {
		w.t.Fatalf("terraform show: %s", out)
	}
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []stateResource `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		w.t.Fatalf("terraform show -json: %v", err)
	}
	return doc.Values.RootModule.Resources
}

// stateValues lists attr of the state's resources of type typ.
func stateValues(rs []stateResource, typ, attr string) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		if v, ok := r.Values[attr].(string); r.Type == typ && ok {
			out[v] = true
		}
	}
	return out
}

var errorLine = regexp.MustCompile(`(?m)^(│ )?(Error: .*|.*(injected|EOF|reset|503|429|refused|exists|already).*)$`)

// errorLines keeps the lines of terraform's output that say what failed.
func errorLines(out string) string {
	lines := errorLine.FindAllString(out, 40)
	return strings.Join(lines, "\n")
}

// retryBlock keeps the provider's retries realistic in number but quick.
const retryBlock = `
  retry = {
    max_attempts = 5
    min_wait     = "50ms"
    max_wait     = "400ms"
  }`

// proxiedDaemon is one of the rig's daemons (Incus or LXD) over HTTPS behind a TLS
// fault proxy, which presents a client certificate the daemon trusts for the test's
// duration.
func proxiedDaemon(t *testing.T, b acctest.Backend, seed uint64) *acctest.FaultProxy {
	t.Helper()
	acctest.PreCheck(t, b)
	dir := acctest.TempDir(t)
	crt, key, fp := clientCert(t, dir, acctest.Name("faults-proxy"))
	// Incus names the command that trusts a certificate file add-certificate; LXD 5.0
	// takes the file as add's argument.
	add := "add-certificate"
	if b.Kind == backend.KindLXD {
		add = "add"
	}
	b.Run(t, "config", "trust", add, crt)
	t.Cleanup(func() { _, _ = b.Try("config", "trust", "remove", fp) })
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	return acctest.StartTLSFaultProxy(t, b.HTTPSAddress(t), seed, &pair)
}

// proxiedOpenStack is an openstack endpoint block for the owner project through auth.
func proxiedOpenStack(auth string) string {
	return fmt.Sprintf(`{ openstack = {
      auth_url            = %q
      username            = "fleet-a"
      password            = "fleet-a-pass"
      user_domain_name    = "Default"
      project_name        = "fleet-a"
      project_domain_name = "Default"
    } }`, auth)
}

// glanceImages lists the owner project's images whose name starts with prefix, as
// ID → name.
func glanceImages(t *testing.T, prefix string) map[string]string {
	t.Helper()
	var imgs []struct{ ID, Name string }
	if err := json.Unmarshal([]byte(acctest.Owner.Run(t, "image", "list", "-f", "json")), &imgs); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, i := range imgs {
		if strings.HasPrefix(i.Name, prefix) {
			out[i.ID] = i.Name
		}
	}
	return out
}

func deleteGlanceImages(t *testing.T, prefix string) {
	for id := range glanceImages(t, prefix) {
		_, _ = acctest.Owner.Try("image", "set", "--unprotected", id)
		_, _ = acctest.Owner.Try("image", "delete", id)
	}
}

// duplicates lists the names that occur more than once.
func duplicates(names []string) []string {
	seen := map[string]int{}
	for _, n := range names {
		seen[n]++
	}
	var out []string
	for n, c := range seen {
		if c > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", n, c))
		}
	}
	sort.Strings(out)
	return out
}

// incusObjects lists what daemon b holds of the test's objects: image
// fingerprints among fps, aliases and instances whose name starts with prefix.
func incusObjects(t *testing.T, b acctest.Backend, fps map[string]bool, prefix string) (images, aliases, instances []string) {
	t.Helper()
	var imgs []struct {
		Fingerprint string
		Aliases     []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(b.Run(t, "image", "list", "-f", "json")), &imgs); err != nil {
		t.Fatal(err)
	}
	for _, i := range imgs {
		if fps[i.Fingerprint] {
			images = append(images, i.Fingerprint)
		}
		for _, a := range i.Aliases {
			if strings.HasPrefix(a.Name, prefix) {
				aliases = append(aliases, a.Name)
			}
		}
	}
	var insts []struct{ Name string }
	if err := json.Unmarshal([]byte(b.Run(t, "list", "-f", "json")), &insts); err != nil {
		t.Fatal(err)
	}
	for _, i := range insts {
		if strings.HasPrefix(i.Name, prefix) {
			instances = append(instances, i.Name)
		}
	}
	return images, aliases, instances
}

func cleanIncus(t *testing.T, b acctest.Backend, fps map[string]bool, prefix string) {
	images, aliases, instances := incusObjects(t, b, fps, prefix)
	for _, i := range instances {
		_, _ = b.Try("delete", "--force", i)
	}
	for _, a := range aliases {
		_, _ = b.Try("image", "alias", "delete", a)
	}
	for _, i := range images {
		_, _ = b.Try("image", "delete", i)
	}
}

// airNames lists the owner's images named with prefix, and the shares of them.
func airObjects(s *airemu.Server, prefix string) (images []airemu.ImageState, shares []airemu.ShareState) {
	ids := map[string]bool{}
	for _, img := range s.Images(acctest.AirOwner) {
		if strings.HasPrefix(img.Name, prefix) {
			images = append(images, img)
			ids[img.ID] = true
		}
	}
	for _, sh := range s.Shares() {
		if ids[sh.ImageID] {
			shares = append(shares, sh)
		}
	}
	return images, shares
}

// TestAccFaults_converge applies 30 objects over four kinds (Air images and shares,
// Glance images and members, Incus images, aliases and instances over HTTPS)
// through proxies that spoil 20 % of the requests. It must converge in at most 3
// applies, and leave no duplicate, no orphan and a clean plan. Two mixes: answered
// faults only (503 and 429 with and without Retry-After, delays), which the server
// or a gateway sends before acting; and every wire fault, connection resets and
// answers cut mid-body included.
func TestAccFaults_converge(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (it runs terraform against the real servers)")
	}
	acctest.PreCheckOpenStack(t)
	answered := []acctest.Fault{acctest.Fault503, acctest.Fault503After, acctest.Fault429, acctest.Fault429After, acctest.FaultDelay}
	t.Run("answered", func(t *testing.T) { converge(t, "answered", 9, answered) })
	t.Run("wire", func(t *testing.T) { converge(t, "wire", 19, acctest.WireFaults) })
}

func converge(t *testing.T, mix string, seed uint64, faults []acctest.Fault) {
	const share = 0.2
	dir := acctest.TempDir(t)
	prefix := acctest.Name("flt")

	air := acctest.StartAir(t)
	airProxy := acctest.StartFaultProxy(t, air.URL, seed, nil)
	osProxy := acctest.StartOpenStackFaults(t, seed+10)
	incusProxy := proxiedDaemon(t, acctest.Backends[0], seed+20)
	lxdProxy := proxiedDaemon(t, acctest.Backends[1], seed+30)
	proxies := map[string]*acctest.FaultProxy{"air": airProxy, "keystone": osProxy.Keystone, "glance": osProxy.Glance, "incus": incusProxy, "lxd": lxdProxy}
	member := acctest.Partner.ProjectID(t)

	const airImages, glanceN, incusImages = 6, 5, 2
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `
provider "imagefleet" {
  default_endpoint = "air"
%s
  endpoints = {
    air   = { air = { api_url = %q, api_key = %q } }
    cloud = %s
    incus = { incus = { address = %q, server_cert = %q } }
    lxd   = { lxd = { address = %q, server_cert = %q } }
  }
}
`, retryBlock, airProxy.URL, air.Token(acctest.AirOwner), proxiedOpenStack(osProxy.AuthURL), incusProxy.URL, incusProxy.CertPEM(), lxdProxy.URL, lxdProxy.CertPEM())
	for i := range airImages {
		// Two of them span three 5 MiB parts, so part PUTs meet faults too.
		disk := acctest.Disk(t, dir, "qcow2", fmt.Sprintf("%s-air%d", prefix, i))
		if i < 2 {
			disk = acctest.DiskOfSize(t, dir, "raw", fmt.Sprintf("%s-airbig%d", prefix, i), 12<<20)
		}
		fmt.Fprintf(&cfg, `
resource "imagefleet_image" "air%[1]d" {
  name = "%[2]s-air%[1]d"
  file = %[3]q
  air  = { version = "1", default_username = "root", default_password = "pw" }
}
resource "imagefleet_image_share" "air%[1]d" {
  image      = imagefleet_image.air%[1]d.id
  target_org = %[4]q
}
`, i, prefix, disk, acctest.AirPartner)
	}
	for i := range glanceN {
		fmt.Fprintf(&cfg, `
resource "imagefleet_image" "glance%[1]d" {
  endpoint = "cloud"
  name     = "%[2]s-glance%[1]d"
  file     = %[3]q
}
resource "imagefleet_image_member" "glance%[1]d" {
  endpoint = "cloud"
  image    = imagefleet_image.glance%[1]d.id
  member   = %[4]q
}
`, i, prefix, acctest.Disk(t, dir, "raw", fmt.Sprintf("%s-glance%d", prefix, i)), member)
	}
	// One image with its aliases and instance on each of Incus and LXD.
	fps := map[string]bool{}
	for i, b := range acctest.Backends[:incusImages] {
		file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: fmt.Sprintf("%s-incus%d", prefix, i)})
		fps[acctest.SHA256(t, file)] = true
		fmt.Fprintf(&cfg, `
resource "imagefleet_image" "incus%[1]d" {
  endpoint = %[4]q
  file     = %[3]q
}
resource "imagefleet_image_alias" "incus%[1]da" {
  endpoint = %[4]q
  name     = "%[2]s-incus%[1]da"
  target   = imagefleet_image.incus%[1]d.fingerprint
}
resource "imagefleet_image_alias" "incus%[1]db" {
  endpoint = %[4]q
  name     = "%[2]s-incus%[1]db"
  target   = imagefleet_image.incus%[1]d.fingerprint
}
resource "imagefleet_instance" "incus%[1]d" {
  endpoint = %[4]q
  name     = "%[2]s-incus%[1]d"
  image    = imagefleet_image.incus%[1]d.fingerprint
  state    = "stopped"
}
`, i, prefix, file, b.Endpoint)
	}
	const objects = airImages*2 + glanceN*2 + incusImages*4

	w := newWorkspace(t, cfg.String())
	t.Cleanup(func() {
		for _, p := range proxies {
			p.Clear()
		}
		w.destroy()
		deleteGlanceImages(t, prefix)
		for _, b := range acctest.Backends[:incusImages] {
			cleanIncus(t, b, fps, prefix)
		}
	})
	for _, p := range proxies {
		p.SetDelay(300 * time.Millisecond)
		p.Add(acctest.FaultRule{Share: share, Faults: faults})
	}
	start := time.Now()
	applies := w.converge(3)
	elapsed := time.Since(start)
	for name, p := range proxies {
		p.Log(t, name)
		p.Clear()
	}
	var req, flt, rtr int
	for _, p := range proxies {
		r, f, x := p.Totals()
		req, flt, rtr = req+r, flt+f, rtr+x
	}
	t.Logf("\n| test | objects | fault share | applies | requests | faults | retries | seconds |\n| converge %s | %d | %.0f %% | %d | %d | %d | %d | %.1f |",
		mix, objects, share*100, applies, req, flt, rtr, elapsed.Seconds())
	if applies > 3 {
		_, out := w.planClean()
		t.Errorf("the configuration did not converge in 3 applies through %.0f %% %s faults (the failed applies are logged above); "+
			"the plan still shows:%s", share*100, mix, planSummary(out))
	}

	// The servers, counted by name, against the state.
	var dups, orphans int
	tally := func(d, o int) { dups, orphans = dups+d, orphans+o }
	st := w.state()
	if len(st) != objects {
		t.Errorf("the state holds %d resources, want %d", len(st), objects)
	}
	airImgs, airShares := airObjects(air, prefix)
	var names, ids []string
	for _, img := range airImgs {
		names, ids = append(names, img.Name), append(ids, img.ID)
	}
	tally(checkKind(t, "air image", names, ids, stateValues(st, "imagefleet_image", "id"), airImages))
	names, ids = nil, nil
	for _, sh := range airShares {
		names, ids = append(names, sh.ImageID+"→"+sh.TargetOrg), append(ids, sh.ID)
	}
	tally(checkKind(t, "air share", names, ids, stateValues(st, "imagefleet_image_share", "id"), airImages))
	gl := glanceImages(t, prefix)
	names, ids = nil, nil
	for id, n := range gl {
		names, ids = append(names, n), append(ids, id)
	}
	tally(checkKind(t, "glance image", names, ids, stateValues(st, "imagefleet_image", "id"), glanceN))
	names, ids = nil, nil
	stateMembers := map[string]bool{}
	for _, r := range st {
		if r.Type == "imagefleet_image_member" {
			stateMembers[fmt.Sprint(r.Values["image"])] = true
		}
	}
	for id := range gl {
		if strings.Contains(acctest.Owner.Run(t, "image", "member", "list", id, "-f", "value", "-c", "Member ID"), member) {
			names, ids = append(names, id+"→"+member), append(ids, id)
		}
	}
	tally(checkKind(t, "glance member", names, ids, stateMembers, glanceN))
	for _, b := range acctest.Backends[:incusImages] {
		images, aliases, instances := incusObjects(t, b, fps, prefix)
		tally(checkKind(t, b.Endpoint+" image", images, images, stateValues(st, "imagefleet_image", "fingerprint"), 1))
		tally(checkKind(t, b.Endpoint+" alias", aliases, aliases, stateValues(st, "imagefleet_image_alias", "name"), 2))
		tally(checkKind(t, b.Endpoint+" instance", instances, instances, stateValues(st, "imagefleet_instance", "name"), 1))
	}

	clean, out := w.planClean()
	if !clean {
		t.Errorf("the plan after convergence (no faults) is not empty:\n%s", out)
	}
	acctest.Measure(t, "faults", fmt.Sprintf("%d objects over 5 endpoints through %.0f %% %s faults", objects, share*100, mix), map[string]string{
		"applies": fmt.Sprint(applies), "requests": fmt.Sprint(req), "faults": fmt.Sprint(flt), "retries": fmt.Sprint(rtr),
		"duplicates": fmt.Sprint(dups), "orphans": fmt.Sprint(orphans), "plan clean": fmt.Sprint(clean), "seconds": fmt.Sprintf("%.0f", elapsed.Seconds()),
	})
}

var planLine = regexp.MustCompile(`(?m)^\s*(# .*|Plan: .*)$`)

// planSummary keeps a plan's resource headers and its summary line.
func planSummary(out string) string {
	return "\n" + strings.Join(planLine.FindAllString(out, 60), "\n")
}

// checkKind fails on duplicates (names seen twice), orphans (server IDs not in
// state) and a count that is not want.
func checkKind(t *testing.T, kind string, names, ids []string, inState map[string]bool, want int) (dups, orphanCount int) {
	t.Helper()
	if d := duplicates(names); len(d) > 0 {
		t.Errorf("%s: duplicates on the server: %v", kind, d)
	}
	var orphans []string
	for _, id := range ids {
		if !inState[id] {
			orphans = append(orphans, id)
		}
	}
	if len(orphans) > 0 {
		t.Errorf("%s: orphans (on the server, not in state): %v", kind, orphans)
	}
	if len(ids) != want {
		t.Errorf("%s: the server holds %d, want %d", kind, len(ids), want)
	}
	t.Logf("| %s | on server %d | want %d | duplicates %d | orphans %d |", kind, len(ids), want, len(duplicates(names)), len(orphans))
	return len(duplicates(names)), len(orphans)
}

// serverObject is one object a server holds: its kind, its name (two of a kind and
// name are a duplicate) and how the state addresses it.
type serverObject struct{ kind, name, id string }

// stateIDs is every id, fingerprint and name of the state's resources.
func stateIDs(rs []stateResource) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		for _, a := range []string{"id", "fingerprint", "name"} {
			if v, ok := r.Values[a].(string); ok {
				out[v] = true
			}
		}
	}
	return out
}

// postCase is one kind's creates, each POST lost once after the server carried it
// out.
type postCase struct {
	kind   string
	config func(t *testing.T, prefix string) (string, []*acctest.FaultProxy)
	posts  []*regexp.Regexp
	count  func(t *testing.T, prefix string) []serverObject
}

// TestAccFaults_postAnswerLost proves that creates (non-idempotent POSTs) are not
// repeated where a repeat would duplicate: the proxy forwards each kind's create
// POSTs once each to the server, which carries them out, and then either drops the
// connection (drop-response) or answers 503 in the server's place (response-503).
// After every apply (up to 4, faults spent after the first time each) no server may
// hold two objects of one name; what the provider did (error, adoption, orphan) is
// logged per kind.
func TestAccFaults_postAnswerLost(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (it runs terraform against the real servers)")
	}
	acctest.PreCheckOpenStack(t)
	dir := acctest.TempDir(t)
	member := acctest.Partner.ProjectID(t)
	fpsByPrefix := sync.Map{}
	cases := []postCase{
		{
			kind: "air",
			config: func(t *testing.T, prefix string) (string, []*acctest.FaultProxy) {
				air := acctest.StartAir(t)
				p := acctest.StartFaultProxy(t, air.URL, 1, nil)
				airServers.Store(prefix, air)
				return fmt.Sprintf(`
provider "imagefleet" {
%s
  endpoints = { air = { air = { api_url = %q, api_key = %q } } }
}
resource "imagefleet_image" "x" {
  endpoint = "air"
  name     = "%s-img"
  file     = %q
  air      = { version = "1", default_username = "root", default_password = "pw" }
}
resource "imagefleet_image_share" "x" {
  endpoint   = "air"
  image      = imagefleet_image.x.id
  target_org = %q
}
`, retryBlock, p.URL, air.Token(acctest.AirOwner), prefix, acctest.Disk(t, dir, "qcow2", prefix), acctest.AirPartner), []*acctest.FaultProxy{p}
			},
			posts: []*regexp.Regexp{regexp.MustCompile(`^/api/v3/images/$`), regexp.MustCompile(`^/api/v3/images/shares/$`)},
			count: func(t *testing.T, prefix string) []serverObject {
				v, _ := airServers.Load(prefix)
				s, _ := v.(*airemu.Server)
				imgs, shares := airObjects(s, prefix)
				var out []serverObject
				for _, i := range imgs {
					out = append(out, serverObject{"image", i.Name, i.ID})
				}
				for _, sh := range shares {
					out = append(out, serverObject{"share", sh.ImageID + "→" + sh.TargetOrg, sh.ID})
				}
				return out
			},
		},
		{
			kind: "openstack",
			config: func(t *testing.T, prefix string) (string, []*acctest.FaultProxy) {
				o := acctest.StartOpenStackFaults(t, 2)
				t.Cleanup(func() { deleteGlanceImages(t, prefix) })
				return fmt.Sprintf(`
provider "imagefleet" {
%s
  endpoints = { cloud = %s }
}
resource "imagefleet_image" "x" {
  endpoint = "cloud"
  name     = "%s-img"
  file     = %q
}
resource "imagefleet_image_member" "x" {
  endpoint = "cloud"
  image    = imagefleet_image.x.id
  member   = %q
}
`, retryBlock, proxiedOpenStack(o.AuthURL), prefix, acctest.Disk(t, dir, "raw", prefix), member), []*acctest.FaultProxy{o.Glance}
			},
			posts: []*regexp.Regexp{regexp.MustCompile(`^/v2/images$`), regexp.MustCompile(`^/v2/images/[^/]+/members$`)},
			count: func(t *testing.T, prefix string) []serverObject {
				var out []serverObject
				for id, name := range glanceImages(t, prefix) {
					out = append(out, serverObject{"image", name, id})
					for _, m := range strings.Fields(acctest.Owner.Run(t, "image", "member", "list", id, "-f", "value", "-c", "Member ID")) {
						out = append(out, serverObject{"member", name + "→" + m, id + "/" + m})
					}
				}
				return out
			},
		},
		{
			kind: "incus",
			config: func(t *testing.T, prefix string) (string, []*acctest.FaultProxy) {
				p := proxiedDaemon(t, acctest.Backends[0], 3)
				file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: prefix})
				fps := map[string]bool{acctest.SHA256(t, file): true}
				fpsByPrefix.Store(prefix, fps)
				t.Cleanup(func() { cleanIncus(t, acctest.Backends[0], fps, prefix) })
				return fmt.Sprintf(`
provider "imagefleet" {
%s
  endpoints = { incus = { incus = { address = %q, server_cert = %q } } }
}
resource "imagefleet_image" "x" {
  endpoint = "incus"
  file     = %q
}
resource "imagefleet_image_alias" "x" {
  endpoint = "incus"
  name     = "%s-alias"
  target   = imagefleet_image.x.fingerprint
}
resource "imagefleet_instance" "x" {
  endpoint = "incus"
  name     = "%s-inst"
  image    = imagefleet_image.x.fingerprint
  state    = "stopped"
}
`, retryBlock, p.URL, p.CertPEM(), file, prefix, prefix), []*acctest.FaultProxy{p}
			},
			posts: []*regexp.Regexp{regexp.MustCompile(`^/1\.0/images$`), regexp.MustCompile(`^/1\.0/images/aliases$`), regexp.MustCompile(`^/1\.0/instances$`)},
			count: func(t *testing.T, prefix string) []serverObject {
				v, _ := fpsByPrefix.Load(prefix)
				fps, _ := v.(map[string]bool)
				images, aliases, instances := incusObjects(t, acctest.Backends[0], fps, prefix)
				var out []serverObject
				for _, i := range images {
					out = append(out, serverObject{"image", i, i})
				}
				for _, a := range aliases {
					out = append(out, serverObject{"alias", a, a})
				}
				for _, i := range instances {
					out = append(out, serverObject{"instance", i, i})
				}
				return out
			},
		},
	}
	// Each kind twice: its image's create spoiled; and, with the image made first
	// (a targeted apply without faults), the creates that depend on it.
	type variant struct {
		name      string
		dependent bool
	}
	for _, c := range cases {
		for _, v := range []variant{{"image", false}, {"dependent", true}} {
			for _, fault := range []acctest.Fault{acctest.FaultDropResponse, acctest.FaultResponse503} {
				t.Run(c.kind+"/"+v.name+"/"+string(fault), func(t *testing.T) {
					t.Parallel()
					postAnswerLost(t, c, v.dependent, fault)
				})
			}
		}
	}
}

func postAnswerLost(t *testing.T, c postCase, dependent bool, fault acctest.Fault) {
	prefix := acctest.Name("post")
	config, proxies := c.config(t, prefix)
	w := newWorkspace(t, config)
	t.Cleanup(w.destroy)
	posts := c.posts[:1]
	if dependent {
		if out, code := w.run("apply", "-auto-approve", "-target=imagefleet_image.x"); code != 0 {
			t.Fatalf("creating the image without faults: %s", errorLines(out))
		}
		posts = c.posts[1:]
	}
	for _, p := range proxies {
		for _, path := range posts {
			p.Add(acctest.FaultRule{Method: "POST", Path: path, Share: 1, Faults: []acctest.Fault{fault}, Limit: 1})
		}
	}
	converged, last, applies, firstOutcome := false, "", 0, ""
	var orphans []string
	dups := 0
	for i := 1; i <= 3 && !converged; i++ {
		applies = i
		out, ok := w.apply()
		objs := c.count(t, prefix)
		var names []string
		for _, o := range objs {
			names = append(names, o.kind+" "+o.name)
		}
		ids := stateIDs(w.state())
		orphans = nil
		for _, o := range objs {
			if !ids[o.id] {
				orphans = append(orphans, o.kind+" "+o.id)
			}
		}
		outcome := "ok"
		if !ok {
			outcome = strings.ReplaceAll(firstError(out), "|", "/")
		}
		if i == 1 {
			firstOutcome = outcome
		}
		t.Logf("| post %s | %s | apply %d | %s | server objects %d | duplicates %v | orphans %v |", c.kind, fault, i, outcome, len(objs), duplicates(names), orphans)
		if d := duplicates(names); len(d) > 0 {
			dups += len(d)
			t.Errorf("apply %d: a create POST whose answer was lost (%s) left duplicates on %s: %v", i, fault, c.kind, d)
		}
		if ok {
			converged, _ = w.planClean()
		}
		if !ok && outcome == last {
			t.Logf("%s/%s: apply %d failed as the one before: stuck", c.kind, fault, i)
			break
		}
		last = outcome
	}
	for _, p := range proxies {
		p.Log(t, c.kind)
	}
	what := "image"
	if dependent {
		what = "dependents"
	}
	acctest.Measure(t, "faults", fmt.Sprintf("POST answer lost: %s %s (%s)", c.kind, what, fault), map[string]string{
		"applies": fmt.Sprint(applies), "first apply": firstOutcome, "converged": fmt.Sprint(converged),
		"duplicates": fmt.Sprint(dups), "orphans": fmt.Sprint(len(orphans)),
	})
	switch {
	case !converged:
		t.Errorf("%s/%s: not converged in 3 applies (see the outcomes above)", c.kind, fault)
	case firstOutcome != "ok":
		t.Errorf("%s/%s: the apply that lost a create's answer failed (%s): the create must find what it made and go on", c.kind, fault, firstOutcome)
	}
	if len(orphans) > 0 {
		t.Errorf("%s/%s: objects on the server not in state: %v", c.kind, fault, orphans)
	}
}

var airServers sync.Map

var sourceLine = regexp.MustCompile(`^(with |on |\d+: )`)

// firstError is the first diagnostic of terraform's output (summary and detail), on
// one line.
func firstError(out string) string {
	_, diag, ok := strings.Cut(out, "Error: ")
	if !ok {
		return "failed"
	}
	var words []string
	for _, l := range strings.Split(diag, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "│"))
		if l == "" || sourceLine.MatchString(l) {
			continue
		}
		if strings.HasPrefix(l, "Error: ") || strings.HasPrefix(l, "╵") {
			break
		}
		words = append(words, strings.Fields(l)...)
	}
	return strings.Join(words, " ")
}
