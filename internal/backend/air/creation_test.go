package air

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// answerFault is how the front spoils a request it picked.
type answerFault string

const (
	// dropAnswer lets the emulator carry the request out, then closes the
	// connection instead of passing the answer on.
	dropAnswer answerFault = "drop"
	// answer503 lets the emulator carry the request out, then answers 503, as a
	// gateway whose wait for the server ran out does.
	answer503 answerFault = "503"
	// refuse503 answers 503 without passing the request on.
	refuse503 answerFault = "refuse-503"
	// lateForward answers 504 at once, and passes the request on only when the
	// next request of the rule's route comes, just before it: the server carries
	// it out after the client has looked for what it made.
	lateForward answerFault = "late"
)

// front is a proxy before the emulator that spoils the POSTs its rules pick and
// counts the requests of each route. The Host header is passed on, so the
// emulator's part URLs and next links point back at the front.
type front struct {
	URL     string
	forward *httputil.ReverseProxy

	mu    sync.Mutex
	rules []*frontRule
	count map[string]int
	// held is the request lateForward holds back, with its body.
	held *http.Request
	// onFault runs when a rule's fault is made (once the emulator carried the
	// request out, for the faults that pass it on), before the client sees it.
	onFault func()
}

type frontRule struct {
	method string
	path   *regexp.Regexp
	fault  answerFault
	times  int
}

func startFront(t *testing.T, srv *airemu.Server) *front {
	t.Helper()
	up, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := &front{count: map[string]int{}}
	f.forward = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(up)
		r.Out.Host = r.In.Host
	}}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	f.URL = ts.URL
	return f
}

// spoil spoils the next times POSTs whose path matches path.
func (f *front) spoil(path string, fault answerFault, times int) {
	f.spoilMethod(http.MethodPost, path, fault, times)
}

// spoilMethod spoils the next times requests of method whose path matches path.
func (f *front) spoilMethod(method, path string, fault answerFault, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &frontRule{method: method, path: regexp.MustCompile(path), fault: fault, times: times})
}

// requests counts the requests of method to a path matching path.
func (f *front) requests(method, path string) int {
	re := regexp.MustCompile(path)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for route, c := range f.count {
		m, p, _ := strings.Cut(route, " ")
		if m == method && re.MatchString(p) {
			n += c
		}
	}
	return n
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.count[r.Method+" "+r.URL.Path]++
	var fault answerFault
	for _, rule := range f.rules {
		if rule.times > 0 && r.Method == rule.method && rule.path.MatchString(r.URL.Path) {
			rule.times--
			fault = rule.fault
			break
		}
	}
	held := f.held
	if held != nil && held.Method == r.Method && held.URL.Path == r.URL.Path {
		f.held = nil
	} else {
		held = nil
	}
	onFault := f.onFault
	f.mu.Unlock()
	if held != nil {
		f.forward.ServeHTTP(httptest.NewRecorder(), held)
	}
	if fault == "" {
		f.forward.ServeHTTP(w, r)
		return
	}
	if fault == dropAnswer || fault == answer503 {
		f.forward.ServeHTTP(httptest.NewRecorder(), r)
	}
	if onFault != nil {
		onFault()
	}
	switch fault {
	case dropAnswer, answer503:
		if fault == answer503 {
			http.Error(w, "upstream timed out", http.StatusServiceUnavailable)
			return
		}
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	case refuse503:
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	case lateForward:
		body, _ := io.ReadAll(r.Body)
		later := r.Clone(context.WithoutCancel(r.Context()))
		later.Body = io.NopCloser(bytes.NewReader(body))
		later.ContentLength = int64(len(body))
		later.RequestURI = ""
		f.mu.Lock()
		f.held = later
		f.mu.Unlock()
		http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
	}
}

// connectTo is a connected client of org through addr (the front).
func connectTo(t *testing.T, srv *airemu.Server, addr, org string) *Client {
	t.Helper()
	cfg, err := Config{APIURL: addr, APIKey: srv.Token(org), UploadWorkers: 2, Retry: testRetry}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// notes reads an image's notes as the API returns them.
func notes(t *testing.T, c *Client, id string) string {
	t.Helper()
	var raw map[string]any
	if err := c.do(t.Context(), http.MethodGet, imagePath(id), nil, &raw); err != nil {
		t.Fatal(err)
	}
	s, _ := raw["notes"].(string)
	return s
}

// named lists the emulator's images of org named name.
func named(srv *airemu.Server, org, name string) []airemu.ImageState {
	var out []airemu.ImageState
	for _, img := range srv.Images(org) {
		if img.Name == name {
			out = append(out, img)
		}
	}
	return out
}

// checkOne checks that org holds one image named name, img, COMPLETE with the
// disk's content and without a creation mark.
func checkOne(t *testing.T, srv *airemu.Server, c *Client, org, name string, img *backend.Image, d *disk) {
	t.Helper()
	checkStored(t, srv, img, d)
	if imgs := named(srv, org, name); len(imgs) != 1 || imgs[0].ID != img.ID {
		t.Fatalf("images named %s: %+v, want only %s", name, imgs, img.ID)
	}
	if n := notes(t, c, img.ID); n != "" {
		t.Fatalf("image %s keeps notes %q", img.ID, n)
	}
}

// A create whose answer is lost after the API made the image finds the image by
// its mark and goes on with it: one image, no mark left. A POST a gateway refused
// is sent again; one the server carried out only after the client looked for its
// image is refused as a clash, and the image that clashes is the create's own.
func TestAccCreateLostAnswer(t *testing.T) {
	for _, tc := range []struct {
		fault answerFault
		posts int
	}{{dropAnswer, 1}, {answer503, 1}, {refuse503, 2}, {lateForward, 2}} {
		t.Run(string(tc.fault), func(t *testing.T) {
			srv := emulator(t, airemu.Options{})
			f := startFront(t, srv)
			c := connectTo(t, srv, f.URL, orgA)
			d := newDisk(t, 3*chunk+5)
			a := attrs(t)
			a.Air.Published = ptr(true)
			f.spoil(`^/api/v3/images/$`, tc.fault, 1)
			img := create(t, c, d.content(t, true), a)
			checkOne(t, srv, c, orgA, *a.Name, img, d)
			if !img.Air.Published {
				t.Errorf("image %s is not published", img.ID)
			}
			if n := f.requests(http.MethodPost, `^/api/v3/images/$`); n != tc.posts {
				t.Errorf("%d POSTs, want %d", n, tc.posts)
			}
		})
	}
}

// start-upload and complete-upload whose answers are lost after the API acted: the
// upload started is aborted and started again, the parts handed over are not
// handed over twice, and the create ends with one whole image.
func TestAccUploadStepAnswerLost(t *testing.T) {
	for _, step := range []string{"start-upload", "complete-upload"} {
		for _, fault := range []answerFault{dropAnswer, answer503} {
			t.Run(step+"/"+string(fault), func(t *testing.T) {
				srv := emulator(t, airemu.Options{})
				f := startFront(t, srv)
				c := connectTo(t, srv, f.URL, orgA)
				d := newDisk(t, 2*chunk+5)
				a := attrs(t)
				path := `^/api/v3/images/[^/]+/` + step + `/$`
				f.spoilMethod(http.MethodPatch, path, fault, 1)
				img := create(t, c, d.content(t, true), a)
				checkOne(t, srv, c, orgA, *a.Name, img, d)
				want := map[string]int{"start-upload": 2, "complete-upload": 1}[step]
				if n := f.requests(http.MethodPatch, path); n != want {
					t.Errorf("%s sent %d times, want %d", step, n, want)
				}
			})
		}
	}
}

// A create whose answer is lost on every attempt the retry setting allows, and
// that finds no image, fails saying what the next apply does with an image made all
// the same.
func TestAccCreateLostTwice(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	f := startFront(t, srv)
	c := connectTo(t, srv, f.URL, orgA)
	f.spoil(`^/api/v3/images/$`, refuse503, testRetry.MaxAttempts)
	a := attrs(t)
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: newDisk(t, 100).content(t, true)}, Attrs: a})
	if err == nil || !strings.Contains(err.Error(), "the request went out, and its answer was lost") || !strings.Contains(err.Error(), "the next apply deletes it") {
		t.Fatalf("error %v", err)
	}
	var created *backend.CreatedError
	if errors.As(err, &created) {
		t.Fatalf("error %v names an image", err)
	}
	if imgs := named(srv, orgA, *a.Name); len(imgs) != 0 {
		t.Fatalf("images %+v", imgs)
	}
}

// A run interrupted while the POST's answer is lost finds the image the POST made
// and deletes it.
func TestAccCreateInterruptedLostAnswer(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	f := startFront(t, srv)
	c := connectTo(t, srv, f.URL, orgA)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.onFault = cancel
	f.spoil(`^/api/v3/images/$`, dropAnswer, 1)
	a := attrs(t)
	_, err := c.CreateImage(ctx, backend.ImageCreate{Source: backend.ImageSource{Content: newDisk(t, 100).content(t, true)}, Attrs: a})
	if !errors.Is(err, backend.ErrCancelled) || !strings.HasSuffix(err.Error(), "was removed") {
		t.Fatalf("error %v", err)
	}
	if imgs := named(srv, orgA, *a.Name); len(imgs) != 0 {
		t.Fatalf("images left: %+v", imgs)
	}
}

// killedRun makes what a run killed during its create leaves: an image of the
// name and version with the mark of a create that is over, and, by upload, as far
// as the upload got: "" none, "parts" one part sent, "complete" all of d, and
// the upload completed.
func killedRun(t *testing.T, c *Client, a backend.ImageAttrs, d *disk, upload string) string {
	t.Helper()
	cr := backend.NewCreation("air", c.Server(), c.keyScope(), *a.Name, *a.Air.Version)
	cr.Done()
	body, err := createBody(a)
	if err != nil {
		t.Fatal(err)
	}
	body["notes"] = markPrefix + cr.Mark()
	var img image
	if err := c.do(t.Context(), http.MethodPost, "images/", body, &img); err != nil {
		t.Fatal(err)
	}
	switch upload {
	case "parts":
		var start startAnswer
		if err := c.do(t.Context(), http.MethodPatch, imagePath(img.ID, "start-upload"), map[string]any{"hash": d.sha256, "size": len(d.data)}, &start); err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, start.PartURLs[0].URL, bytes.NewReader(d.data[:start.ChunkSize]))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("part 1: %s", resp.Status)
		}
	case "complete":
		// Killed once the upload is complete, while the API validates it.
		ct := measured(t, c, d.content(t, true))
		var start startAnswer
		if err := c.do(t.Context(), http.MethodPatch, imagePath(img.ID, "start-upload"), map[string]any{"hash": ct.sha256, "size": ct.size}, &start); err != nil {
			t.Fatal(err)
		}
		parts, err := c.plan(img.ID, ct.size, start)
		if err != nil {
			t.Fatal(err)
		}
		etags, err := c.sendParts(t.Context(), img.ID, ct, parts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.complete(t.Context(), img.ID, etags); err != nil {
			t.Fatal(err)
		}
	}
	return img.ID
}

// measured is ct as upload takes it.
func measured(t *testing.T, c *Client, ct *backend.ImageContent) *content {
	t.Helper()
	m, err := c.measure(t.Context(), ct)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The next create after a killed run deletes the image it left half made (its
// upload aborted) and makes the image again; it takes over the image the run
// uploaded whole with the same content, finishing its create.
func TestAccCreateAfterKilledRun(t *testing.T) {
	for _, tc := range []struct {
		upload string
		same   bool
		taken  bool
	}{
		{"", true, false}, {"parts", true, false}, {"complete", false, false}, {"complete", true, true},
	} {
		t.Run(fmt.Sprintf("%s-same-%t", tc.upload, tc.same), func(t *testing.T) {
			srv := emulator(t, airemu.Options{ValidationDelay: 300 * time.Millisecond})
			f := startFront(t, srv)
			c := connectTo(t, srv, f.URL, orgA)
			d := newDisk(t, 3*chunk+5)
			left := d
			if !tc.same {
				left = newDisk(t, 2*chunk)
			}
			a := attrs(t)
			orphan := killedRun(t, c, a, left, tc.upload)
			if st, _ := srv.Image(orphan); tc.upload == "complete" && st.UploadStatus != statusValidating {
				t.Fatalf("the killed run's image is %s, want it still %s", st.UploadStatus, statusValidating)
			}
			a.Air.Published = ptr(true)
			a.Air.DefaultUsername = ptr("cumulus")
			img := create(t, c, d.content(t, true), a)
			checkOne(t, srv, c, orgA, *a.Name, img, d)
			if (img.ID == orphan) != tc.taken {
				t.Fatalf("image %s, the killed run's %s: taken over %t, want %t", img.ID, orphan, img.ID == orphan, tc.taken)
			}
			if !img.Air.Published || img.Air.DefaultUsername != "cumulus" {
				t.Errorf("image %+v", img.Air)
			}
			if n := f.requests(http.MethodPatch, `/abort-upload/$`); n != boolInt(tc.upload == "parts") {
				t.Errorf("%d uploads aborted", n)
			}
		})
	}
}

// An image of the name and version without a mark of this create's object, or
// with the mark of a create still under way in this process, is not taken: the
// create is refused, naming it.
func TestAccCreateNotOurs(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 2)
	d := newDisk(t, 1000)
	for _, mark := range []string{"", "imported by hand", markPrefix + "0123456789abcdef01234567/0011223344556677", "running"} {
		a := attrs(t)
		body, err := createBody(a)
		if err != nil {
			t.Fatal(err)
		}
		if mark == "running" {
			cr := backend.NewCreation("air", c.Server(), c.keyScope(), *a.Name, *a.Air.Version)
			defer cr.Done()
			mark = markPrefix + cr.Mark()
		}
		body["notes"] = mark
		var other image
		if err := c.do(t.Context(), http.MethodPost, "images/", body, &other); err != nil {
			t.Fatal(err)
		}
		_, err = c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: d.content(t, true)}, Attrs: a})
		var exists *backend.ExistsError
		if !errors.As(err, &exists) || exists.ID != other.ID {
			t.Fatalf("notes %q: error %v, want an ExistsError naming %s", mark, err, other.ID)
		}
		if imgs := named(srv, orgA, *a.Name); len(imgs) != 1 || notes(t, c, other.ID) != mark {
			t.Fatalf("notes %q: images %+v", mark, imgs)
		}
	}
}

// An image kept after a failed create, to be recorded tainted, has no mark left:
// a later create of the same image must not take it for an orphan.
func TestAccCreateFailedUnmarked(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 2)
	srv.FailValidation("the disk is not bootable")
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: newDisk(t, 1000).content(t, true)}, Attrs: attrs(t)})
	id := createdID(t, err)
	if n := notes(t, c, id); n != "" {
		t.Fatalf("image %s keeps notes %q", id, n)
	}
}

// A share whose answer is lost is found and taken, with an expiry and without;
// one a killed run made is taken before any POST; one the gateway refused is made
// again. Each time there is one share.
func TestAccShareLostAnswer(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	f := startFront(t, srv)
	c := connectTo(t, srv, f.URL, orgA)
	img := create(t, c, newDisk(t, 1000).content(t, true), attrs(t))
	expires := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	sharesPath := `^/api/v3/images/shares/$`
	for i, tc := range []struct {
		fault   answerFault
		expires time.Time
		posts   int
	}{
		{dropAnswer, expires, 1}, {answer503, time.Time{}, 1}, {refuse503, expires.Add(time.Hour), 2}, {lateForward, expires.Add(2 * time.Hour), 2},
	} {
		before := f.requests(http.MethodPost, sharesPath)
		f.spoil(sharesPath, tc.fault, 1)
		sh, err := c.CreateShare(t.Context(), backend.Share{ImageID: img.ID, TargetOrg: orgB, ExpiresAt: tc.expires})
		if err != nil {
			t.Fatalf("%s: %v", tc.fault, err)
		}
		if n := f.requests(http.MethodPost, sharesPath) - before; n != tc.posts {
			t.Errorf("%s: %d POSTs, want %d", tc.fault, n, tc.posts)
		}
		if shares := srv.Shares(); len(shares) != i+1 || shares[i].ID != sh.ID {
			t.Fatalf("%s: shares %+v, made %s", tc.fault, shares, sh.ID)
		}
		if !tc.expires.IsZero() && !sh.ExpiresAt.Equal(tc.expires) {
			t.Errorf("%s: expires %s, want %s", tc.fault, sh.ExpiresAt, tc.expires)
		}
	}

	// What a killed run made is taken without a POST: a share of the expiry asked
	// for, or of Air's default when none is. A share of another expiry is not, nor
	// a claimed one.
	img2 := create(t, c, newDisk(t, 1000).content(t, true), attrs(t))
	left := time.Now().Add(5 * time.Hour).Truncate(time.Second)
	var leftShare, leftDefault share
	for _, x := range []struct {
		body map[string]any
		out  *share
	}{
		{map[string]any{"image": img2.ID, "target_org": orgB, "expires_at": formatTime(left)}, &leftShare},
		{map[string]any{"image": img2.ID, "target_org": orgB}, &leftDefault},
	} {
		if err := c.do(t.Context(), http.MethodPost, "images/shares/", x.body, x.out); err != nil {
			t.Fatal(err)
		}
	}
	posts := f.requests(http.MethodPost, sharesPath)
	for _, tc := range []struct {
		expires time.Time
		want    string
	}{{left, leftShare.ID}, {time.Time{}, leftDefault.ID}, {left.Add(time.Minute), ""}} {
		sh, err := c.CreateShare(t.Context(), backend.Share{ImageID: img2.ID, TargetOrg: orgB, ExpiresAt: tc.expires})
		if err != nil {
			t.Fatal(err)
		}
		if tc.want != "" && sh.ID != tc.want || tc.want == "" && (sh.ID == leftShare.ID || sh.ID == leftDefault.ID) {
			t.Errorf("expiry %s: share %s, want %q", tc.expires, sh.ID, tc.want)
		}
	}
	if n := f.requests(http.MethodPost, sharesPath) - posts; n != 1 {
		t.Errorf("%d POSTs, want 1", n)
	}
	if _, err := connect(t, srv, orgB, 1).CreateImage(t.Context(), backend.ImageCreate{
		Source: backend.ImageSource{Claim: &backend.ClaimSource{ShareID: leftShare.ID, Name: "claimed", Version: "1"}},
	}); err != nil {
		t.Fatal(err)
	}
	sh, err := c.CreateShare(t.Context(), backend.Share{ImageID: img2.ID, TargetOrg: orgB, ExpiresAt: left})
	if err != nil || sh.ID == leftShare.ID || sh.State != "ACTIVE" {
		t.Fatalf("share %+v (%v), the claimed one is %s", sh, err, leftShare.ID)
	}
	if n := len(srv.Shares()); n != 4+4 {
		t.Errorf("%d shares, want 8", n)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A claim whose answer is lost finds its copy by the name and version it gave:
// one copy. Without a version it cannot, and says so.
func TestAccClaimLostAnswer(t *testing.T) {
	srv := emulator(t, airemu.Options{TransitionDelay: 100 * time.Millisecond})
	f := startFront(t, srv)
	a := connect(t, srv, orgA, 2)
	b := connectTo(t, srv, f.URL, orgB)
	d := newDisk(t, 2*chunk+5)
	img := create(t, a, d.content(t, true), attrs(t))
	claimPath := `^/api/v3/images/claim-image-share/$`
	for _, tc := range []struct {
		fault answerFault
		posts int
	}{{dropAnswer, 1}, {answer503, 1}, {refuse503, 2}, {lateForward, 2}} {
		sh, err := a.CreateShare(t.Context(), backend.Share{ImageID: img.ID, TargetOrg: orgB})
		if err != nil {
			t.Fatal(err)
		}
		before := f.requests(http.MethodPost, claimPath)
		f.spoil(claimPath, tc.fault, 1)
		name := "copy-" + string(tc.fault)
		cp, err := b.CreateImage(t.Context(), backend.ImageCreate{
			Source: backend.ImageSource{Claim: &backend.ClaimSource{ShareID: sh.ID, Name: name, Version: "2"}},
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.fault, err)
		}
		checkStored(t, srv, cp, d)
		if imgs := named(srv, orgB, name); len(imgs) != 1 || imgs[0].ID != cp.ID {
			t.Fatalf("%s: images %+v, claimed %s", tc.fault, imgs, cp.ID)
		}
		if n := f.requests(http.MethodPost, claimPath) - before; n != tc.posts {
			t.Errorf("%s: %d claims sent, want %d", tc.fault, n, tc.posts)
		}
	}

	sh, err := a.CreateShare(t.Context(), backend.Share{ImageID: img.ID, TargetOrg: orgB})
	if err != nil {
		t.Fatal(err)
	}
	f.spoil(claimPath, dropAnswer, 1)
	_, err = b.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Claim: &backend.ClaimSource{ShareID: sh.ID, Name: "unversioned"}}})
	if err == nil || !strings.Contains(err.Error(), "without both a name and a version for the copy, the provider cannot tell whether the share was claimed") {
		t.Fatalf("error %v", err)
	}
	t.Log(err)
}
