package provider_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
)

// The crash tests stop a terraform apply half way through an image's upload, the
// way a CI runner or a user does, then apply again: it must converge in at most two
// applies, plan clean, and leave each server holding exactly the objects in state.

// crashSize is the size of each case's image: at the paces below its upload lasts
// about four seconds, long enough to be stopped half way.
const crashSize = 24 << 20

// crashRig is one kind's side of a case: its configuration and how to see, pace
// and clean what its server holds.
type crashRig struct {
	// server names the server, for messages.
	server string
	config string
	// throttle paces the upload (on) or lets it run at full speed (off).
	throttle func(on bool)
	// received is how many bytes of the upload the server side has had so far.
	received func() int64
	// objects are the case's objects on the server.
	objects func(t *testing.T) []crashObject
	// want is how many objects the configuration makes.
	want int
}

// crashObject is one object a server holds: two of one kind and name are a
// duplicate; id is how the state names it; halfMade is the status of an object
// left unfinished ("" when it is whole).
type crashObject struct {
	kind, name, id, halfMade string
}

func (o crashObject) String() string {
	s := o.kind + " " + o.id
	if o.name != o.id {
		s += " (" + o.name + ")"
	}
	if o.halfMade != "" {
		s += " " + o.halfMade
	}
	return s
}

// crashKinds are the four kinds of endpoint, each with an image and an object that
// depends on it.
var crashKinds = []struct {
	name  string
	setup func(t *testing.T, dir, prefix string) crashRig
}{
	{"incus", func(t *testing.T, dir, prefix string) crashRig { return daemonRig(t, dir, prefix, acctest.Backends[0]) }},
	{"lxd", func(t *testing.T, dir, prefix string) crashRig { return daemonRig(t, dir, prefix, acctest.Backends[1]) }},
	{"openstack", glanceRig},
	{"air", airRig},
}

// daemonRig is an Incus or LXD daemon over HTTPS behind a throttling proxy, with a
// unified image and, on Incus, an alias of it, on LXD an instance of it.
func daemonRig(t *testing.T, dir, prefix string, b acctest.Backend) crashRig {
	p := proxiedDaemon(t, b, 0)
	file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: prefix, PadBytes: crashSize})
	fps := map[string]bool{acctest.SHA256(t, file): true}
	t.Cleanup(func() { cleanIncus(t, b, fps, prefix) })
	ep := b.Endpoint
	dependent := fmt.Sprintf(`
resource "imagefleet_image_alias" "x" {
  endpoint = %q
  name     = "%s-alias"
  target   = imagefleet_image.x.fingerprint
}
`, ep, prefix)
	if b.Endpoint == "lxd" {
		dependent = fmt.Sprintf(`
resource "imagefleet_instance" "x" {
  endpoint = %q
  name     = "%s-inst"
  image    = imagefleet_image.x.fingerprint
  state    = "stopped"
}
`, ep, prefix)
	}
	return crashRig{
		server: fmt.Sprintf("%s at %s (through a proxy at %s)", b.Kind, b.HTTPSAddress(t), p.URL),
		config: fmt.Sprintf(`
provider "imagefleet" {
  endpoints = { %s = { %s = { address = %q, server_cert = %q } } }
}
resource "imagefleet_image" "x" {
  endpoint = %q
  file     = %q
}
`, ep, b.Kind, p.URL, p.CertPEM(), ep, file) + dependent,
		throttle: throttleProxy(p),
		received: p.BodyBytes,
		objects: func(t *testing.T) []crashObject {
			images, aliases, instances := incusObjects(t, b, fps, prefix)
			var out []crashObject
			for _, i := range images {
				out = append(out, crashObject{kind: "image", name: i, id: i})
			}
			for _, a := range aliases {
				out = append(out, crashObject{kind: "alias", name: a, id: a})
			}
			for _, i := range instances {
				out = append(out, crashObject{kind: "instance", name: i, id: i})
			}
			return out
		},
		want: 2,
	}
}

// glanceRig is Keystone and Glance behind proxies, the Glance one throttling, with
// a raw disk image shared with the partner project.
func glanceRig(t *testing.T, dir, prefix string) crashRig {
	acctest.PreCheckOpenStack(t)
	o := acctest.StartOpenStackFaults(t, 0)
	t.Cleanup(func() { deleteGlanceImages(t, prefix) })
	member := acctest.Partner.ProjectID(t)
	return crashRig{
		server: "Glance, project fleet-a (through a proxy at " + o.Glance.URL + ")",
		config: fmt.Sprintf(`
provider "imagefleet" {
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
`, proxiedOpenStack(o.AuthURL), prefix, acctest.DiskOfSize(t, dir, "raw", prefix, crashSize), member),
		throttle: throttleProxy(o.Glance),
		received: o.Glance.BodyBytes,
		objects: func(t *testing.T) []crashObject {
			var imgs []struct{ ID, Name, Status string }
			if err := json.Unmarshal([]byte(acctest.Owner.Run(t, "image", "list", "-f", "json")), &imgs); err != nil {
				t.Fatal(err)
			}
			var out []crashObject
			for _, i := range imgs {
				if !strings.HasPrefix(i.Name, prefix) {
					continue
				}
				o := crashObject{kind: "image", name: i.Name, id: i.ID}
				if i.Status != "active" {
					o.halfMade = i.Status
				}
				out = append(out, o)
				for _, m := range strings.Fields(acctest.Owner.Run(t, "image", "member", "list", i.ID, "-f", "value", "-c", "Member ID")) {
					out = append(out, crashObject{kind: "member", name: i.Name + "→" + m, id: i.ID + "/" + m})
				}
			}
			return out
		},
		want: 2,
	}
}

// airRig is an Air emulator whose part requests it paces itself, with a raw disk
// image shared with the partner organisation. What it has received is read from
// its data directory, where parts are written as they arrive.
func airRig(t *testing.T, dir, prefix string) crashRig {
	air := acctest.StartAir(t)
	return crashRig{
		server: "the Air emulator at " + air.URL,
		config: fmt.Sprintf(`
provider "imagefleet" {
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
`, air.URL, air.Token(acctest.AirOwner), prefix, acctest.DiskOfSize(t, dir, "raw", prefix, crashSize), acctest.AirPartner),
		throttle: func(on bool) {
			// Four parts go at a time (upload_workers' default), each paced.
			var rate int64
			if on {
				rate = crashSize / 4 / 4
			}
			air.SetBandwidth(rate)
		},
		received: func() int64 { return dirBytes(air.DataDir()) },
		objects: func(*testing.T) []crashObject {
			imgs, shares := airObjects(air, prefix)
			var out []crashObject
			for _, i := range imgs {
				o := crashObject{kind: "image", name: i.Name + " " + i.Version, id: i.ID}
				if i.UploadStatus != airemu.StatusComplete {
					o.halfMade = i.UploadStatus
				}
				out = append(out, o)
			}
			for _, sh := range shares {
				out = append(out, crashObject{kind: "share", name: sh.ImageID + "→" + sh.TargetOrg, id: sh.ID})
			}
			return out
		},
		want: 2,
	}
}

// throttleProxy paces p's forwarding so that the upload lasts about four seconds.
func throttleProxy(p *acctest.FaultProxy) func(bool) {
	return func(on bool) {
		var rate int64
		if on {
			rate = crashSize / 4
		}
		p.SetBandwidth(rate)
	}
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// crashWay is how a case stops the apply: stop is given terraform's process and
// the pid of the provider plugin it runs.
type crashWay struct {
	name string
	stop func(t *testing.T, terraform *os.Process, plugin int)
	// graceful ways must leave nothing half made, even before the next apply.
	graceful bool
	// orphansPlugin: the plugin outlives terraform, and what it does is recorded.
	orphansPlugin bool
}

var crashWays = []crashWay{
	{name: "kill -9 terraform", orphansPlugin: true, stop: func(t *testing.T, tf *os.Process, _ int) {
		if err := tf.Kill(); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "kill -9 provider", stop: func(t *testing.T, _ *os.Process, plugin int) {
		if err := syscall.Kill(plugin, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "SIGINT terraform", graceful: true, stop: func(t *testing.T, tf *os.Process, _ int) {
		if err := tf.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestAccCrash_midUpload stops, for each kind of endpoint, an apply half way through
// its image's upload in three ways: kill -9 of terraform, kill -9 of the provider
// plugin, and SIGINT to terraform (Ctrl-C: the provider must stop the upload, abort
// it and remove what it made, so the server holds nothing half made even before the
// next apply). Then it applies again: at most two applies to converge, a clean plan,
// and on the server exactly the objects in state (no orphan, no duplicate, nothing
// half made). The kinds run side by side, the ways one after the other.
func TestAccCrash_midUpload(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (it runs terraform against the real servers)")
	}
	providerBin(t)
	var wg sync.WaitGroup
	for _, k := range crashKinds {
		wg.Add(1)
		// Run from goroutines rather than t.Parallel: the kinds' uploads are paced,
		// not CPU bound, and -parallel (GOMAXPROCS, 2 here) would serialise them.
		go func() {
			defer wg.Done()
			t.Run(k.name, func(t *testing.T) {
				for _, way := range crashWays {
					t.Run(strings.ReplaceAll(way.name, " ", "_"), func(t *testing.T) {
						dir := acctest.TempDir(t)
						prefix := acctest.Name("crash")
						crash(t, k.name, way, k.setup(t, dir, prefix))
					})
				}
			})
		}()
	}
	wg.Wait()
}

func crash(t *testing.T, kind string, way crashWay, rig crashRig) {
	w := newWorkspace(t, rig.config)
	t.Cleanup(func() {
		rig.throttle(false)
		w.destroy()
	})
	values := map[string]string{}
	defer acctest.Measure(t, "crashes", kind+" "+way.name, values)

	rig.throttle(true)
	cmd, out := w.start("apply", "-auto-approve")
	// Before the destroy, should the test end while terraform runs.
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	// Mid-upload is when the server side has had a third of the image, not yet all.
	deadline := time.Now().Add(90 * time.Second)
	for rig.received() < crashSize/3 {
		select {
		case err := <-ended:
			rig.throttle(false)
			t.Fatalf("the apply ended (%v) before a third of the upload reached %s: %s", err, kind, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s, %s has received %d bytes of the upload", kind, rig.received())
		}
	}
	plugin := pluginPID(t, cmd.Process.Pid)
	t.Cleanup(func() { endOrphan(plugin) })
	at := rig.received()
	if at >= crashSize {
		t.Fatalf("%s had the whole upload before it could be stopped", kind)
	}
	way.stop(t, cmd.Process, plugin)
	stopped := time.Now()
	values["stopped at"] = fmt.Sprintf("%.1f of %d MiB", float64(at)/(1<<20), crashSize>>20)
	var exit error
	select {
	case exit = <-ended:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		exit = <-ended
		t.Errorf("terraform ran on 90 s after %s", way.name)
	}
	values["terraform ended"] = fmt.Sprintf("%.1f s after", time.Since(stopped).Seconds())
	rig.throttle(false)
	values["interrupted run"] = interruptedRun(exit, out.String())
	if way.orphansPlugin {
		values["provider after terraform died"] = orphanFate(plugin, 30*time.Second)
	}
	t.Logf("%s during the upload to %s (%s): terraform %s; output:\n%s", way.name, kind, values["stopped at"], values["interrupted run"], out.String())

	left := rig.objects(t)
	values["left by the interrupted run"] = objectList(left)
	if way.graceful {
		// Before any new apply: whatever the server holds must be whole and in state.
		inState := stateIDs(w.state())
		var bad []string
		for _, o := range left {
			if o.halfMade != "" || !inState[o.id] {
				bad = append(bad, o.String())
			}
		}
		if len(bad) > 0 {
			t.Errorf("after SIGINT with %s of the upload received by %s, before any new apply, the server holds objects half made or not in state: %v (terraform said: %s)",
				values["stopped at"], rig.server, bad, values["interrupted run"])
		}
	}

	applies, said := 0, []string{}
	converged := false
	for applies < 2 && !converged {
		applies++
		began := time.Now()
		o, code := w.run("apply", "-auto-approve")
		if code != 0 {
			said = append(said, fmt.Sprintf("apply %d: %s", applies, firstError(o)))
		} else {
			said = append(said, fmt.Sprintf("apply %d: ok", applies))
			converged, _ = w.planClean()
		}
		t.Logf("re-apply %d: %.1f s, %s", applies, time.Since(began).Seconds(), said[len(said)-1])
	}
	values["re-apply"] = strings.Join(said, "; ")
	values["applies"] = strconv.Itoa(applies)
	var problems []string
	if !converged {
		values["applies"] = fmt.Sprintf("%d, not converged", applies)
		_, plan := w.planClean()
		problems = append(problems, "not converged in 2 applies; the plan still shows:"+planSummary(plan))
	}

	// The server against the state.
	ids := stateIDs(w.state())
	objs := rig.objects(t)
	var names, orphans, half []string
	for _, o := range objs {
		names = append(names, o.kind+" "+o.name)
		if !ids[o.id] {
			orphans = append(orphans, o.String())
		}
		if o.halfMade != "" {
			half = append(half, o.String())
		}
	}
	dups := duplicates(names)
	values["orphans"] = strconv.Itoa(len(orphans))
	values["duplicates"] = strconv.Itoa(len(dups))
	values["half made"] = strconv.Itoa(len(half))
	values["server objects"] = fmt.Sprintf("%d, want %d", len(objs), rig.want)
	if len(orphans) > 0 {
		problems = append(problems, fmt.Sprintf("orphans (not in state): %v", orphans))
	}
	if len(dups) > 0 {
		problems = append(problems, fmt.Sprintf("duplicates: %v", dups))
	}
	if len(half) > 0 {
		problems = append(problems, fmt.Sprintf("half made: %v", half))
	}
	if len(objs) != rig.want {
		problems = append(problems, fmt.Sprintf("%d objects, want %d", len(objs), rig.want))
	}
	if clean, plan := w.planClean(); converged && !clean {
		problems = append(problems, "the plan after convergence is not empty:"+planSummary(plan))
	}
	if len(problems) > 0 {
		t.Errorf("%s with %s of the upload received by %s:\n- the interrupted run: terraform %s; it left on the server: %s\n- then %s\n- the server now holds: %s\n- %s",
			way.name, values["stopped at"], rig.server, values["interrupted run"], values["left by the interrupted run"],
			values["re-apply"], objectList(objs), strings.Join(problems, "\n- "))
	}
}

// lockedBuffer is a bytes.Buffer that a command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start starts terraform, as run does, without waiting for it.
func (w *workspace) start(args ...string) (*exec.Cmd, *lockedBuffer) {
	w.t.Helper()
	cmd := exec.Command("terraform", append(args[:1:1], append([]string{"-no-color", "-input=false"}, args[1:]...)...)...)
	cmd.Dir, cmd.Env = w.dir, w.env
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("terraform %s: %v", args[0], err)
	}
	return cmd, out
}

// procStat is a process's parent and state, from /proc/pid/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	// The command name may hold spaces and parentheses: the fields follow its last ')'.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0], true
}

// pluginPID finds the provider plugin terraform (pid parent) runs.
func pluginPID(t *testing.T, parent int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(pid); ok && ppid == parent && alive(pid) {
			return pid
		}
	}
	t.Fatalf("terraform (pid %d) runs no terraform-provider-imagefleet", parent)
	return 0
}

// alive reports whether pid runs the provider (a zombie has ended; another
// program may have been given the pid since).
func alive(pid int) bool {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	_, state, ok := procStat(pid)
	return ok && state != "Z" && filepath.Base(exe) == "terraform-provider-imagefleet"
}

// orphanFate waits up to limit for the plugin whose terraform was killed to end,
// and says what it did.
func orphanFate(pid int, limit time.Duration) string {
	start := time.Now()
	for time.Since(start) < limit {
		if !alive(pid) {
			return fmt.Sprintf("exited %.1f s after", time.Since(start).Seconds())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("still running %s after (ended by the test at its end)", limit)
}

// endOrphan ends the plugin the test's own terraform ran, if it still runs.
func endOrphan(pid int) {
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// interruptedRun says how the stopped terraform ended and what it reported: each
// distinct diagnostic, or its interrupt message when it printed none.
func interruptedRun(exit error, out string) string {
	how := "exited 0"
	if exit != nil {
		how = exit.Error()
	}
	var diags []string
	seen := map[string]bool{}
	for _, chunk := range strings.Split(out, "Error: ")[1:] {
		d := firstError("Error: " + chunk)
		if !seen[d] {
			seen[d] = true
			diags = append(diags, d)
		}
	}
	if len(diags) > 0 {
		return how + ": " + strings.Join(diags, " / ")
	}
	if i := interruptLine.FindString(out); i != "" {
		return how + ": " + strings.TrimSpace(i)
	}
	return how + ", nothing printed about it"
}

var interruptLine = regexp.MustCompile(`(?m)^.*(Interrupt|Stopping|interrupt).*$`)

// objectList names objects, sorted, "none" when there are none.
func objectList(objs []crashObject) string {
	if len(objs) == 0 {
		return "none"
	}
	var s []string
	for _, o := range objs {
		s = append(s, o.String())
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
