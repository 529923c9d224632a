package openstack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Glance's checksum
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// What scripts/backends.sh openstack sets up: Keystone at 127.0.0.1:5000, Glance at
// 127.0.0.1:9292, these clouds (projects fleet-a and fleet-b, non-admin users), and
// the projects' IDs.
const (
	cloudsFile = "/etc/imagefleet/openstack/clouds.yaml"
	idsFile    = "/etc/imagefleet/openstack/ids.env"
	glanceURL  = "http://127.0.0.1:9292"
	cloudA     = "imagefleet-a"
	cloudB     = "imagefleet-b"
)

var testRetry = httpclient.Retry{MaxAttempts: 3, MinWait: 100 * time.Millisecond, MaxWait: time.Second}

var (
	precheckOnce sync.Once
	precheckErr  error
)

// precheck fails the test when the servers are not running: the acceptance tests are
// meant to run after scripts/backends.sh openstack has started them, and a silent
// skip would hide that nothing was tested.
func precheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("runs against the real Keystone and Glance: set TF_ACC=1 after scripts/backends.sh openstack")
	}
	precheckOnce.Do(func() {
		if _, err := os.Stat(cloudsFile); err != nil {
			precheckErr = err
			return
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(glanceURL)
		if err != nil {
			precheckErr = err
			return
		}
		resp.Body.Close()
	})
	if precheckErr != nil {
		t.Fatalf("Keystone and Glance are not set up (%v): start them with scripts/backends.sh openstack", precheckErr)
	}
}

// connect is a client of a test cloud, made as the provider makes one.
func connect(t *testing.T, cloud string) *Client {
	t.Helper()
	precheck(t)
	return connectWith(t, Config{Cloud: cloud, CloudsFile: cloudsFile})
}

func connectWith(t *testing.T, cfg Config) *Client {
	t.Helper()
	cfg.Retry = testRetry
	cfg, err := cfg.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

// projectID reads a project's ID from ids.env (FLEET_A_PROJECT_ID, ...).
func projectID(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(idsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for s := bufio.NewScanner(f); s.Scan(); {
		if k, v, ok := strings.Cut(s.Text(), "="); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s has no %s", idsFile, name)
	return ""
}

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// diskBytes is n random bytes; with qcow2 set, n >= 64 KiB, they are a qcow2 image:
// a version 3 header of a 64 MiB disk without backing file, the rest of its first
// cluster zero. Glance reads the header (for virtual_size) and refuses one that
// makes no sense.
func diskBytes(n int, qcow2 bool) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if !qcow2 {
		return b
	}
	const cluster = 1 << 16
	clear(b[:cluster])
	copy(b, "QFI\xfb")
	be := binary.BigEndian
	be.PutUint32(b[4:], 3)          // version
	be.PutUint32(b[20:], 16)        // cluster_bits
	be.PutUint64(b[24:], 64<<20)    // size
	be.PutUint32(b[36:], 1)         // l1_size
	be.PutUint64(b[40:], 3*cluster) // l1_table_offset
	be.PutUint64(b[48:], cluster)   // refcount_table_offset
	be.PutUint32(b[56:], 1)         // refcount_table_clusters
	be.PutUint32(b[96:], 4)         // refcount_order
	be.PutUint32(b[100:], 104)      // header_length
	return b
}

func hexDigest(sum []byte) string { return hex.EncodeToString(sum) }

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hexDigest(s[:]) }

// removeAtEnd deletes the image when the test ends, unprotecting it first.
func removeAtEnd(t *testing.T, c *Client, id string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.UpdateImage(ctx, id, backend.ImageAttrs{OpenStack: &backend.OpenStackAttrs{Protected: ptr(false)}})
		if err := c.DeleteImage(ctx, id); err != nil && !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("removing image %s: %v", id, err)
		}
	})
}

// upload makes an image of data.
func upload(t *testing.T, c *Client, data []byte, format string, attrs backend.ImageAttrs, knownSHA string) *backend.Image {
	t.Helper()
	var sent int64
	img, err := c.CreateImage(t.Context(), backend.ImageCreate{
		Source:   backend.ImageSource{Content: &backend.ImageContent{Disk: bytes.NewReader(data), DiskFormat: format, Size: int64(len(data)), SHA256: knownSHA}},
		Attrs:    attrs,
		Progress: func(n int64) { sent = n },
	})
	if img != nil && img.ID != "" {
		removeAtEnd(t, c, img.ID)
	}
	if err != nil {
		t.Fatal(err)
	}
	if sent != int64(len(data)) {
		t.Fatalf("progress reported %d bytes of %d", sent, len(data))
	}
	return img
}

// Uploads of qcow2-like and raw bytes are verified against md5 and sha512, and the
// content's sha256 is recorded, known beforehand or not.
func TestAccUploadVerifiesDigests(t *testing.T) {
	c := connect(t, cloudA)
	for _, tc := range []struct {
		format string
		known  bool
	}{{"qcow2", true}, {"raw", false}} {
		t.Run(tc.format, func(t *testing.T) {
			data := diskBytes(3<<20+17, tc.format == "qcow2")
			known := ""
			if tc.known {
				known = sha256Hex(data)
			}
			name := uniqueName("upload")
			img := upload(t, c, data, tc.format, backend.ImageAttrs{Name: &name, Properties: map[string]string{"os_distro": "debian"}}, known)
			md5sum, sha512sum := md5.Sum(data), sha512.Sum512(data) //nolint:gosec // Glance's checksum
			o := img.OpenStack
			switch {
			case img.Status != "active" || img.Name != name || img.Size != int64(len(data)):
				t.Fatalf("image %+v", img)
			case o.DiskFormat != tc.format || o.ContainerFormat != "bare" || o.Owner != c.ProjectID():
				t.Fatalf("Glance fields %+v", o)
			case img.SHA256 != sha256Hex(data) || o.Checksum != hexDigest(md5sum[:]) || o.OSHashAlgo != "sha512" || o.OSHashValue != hexDigest(sha512sum[:]):
				t.Fatalf("digests: sha256 %s, %+v", img.SHA256, o)
			case len(img.Properties) != 1 || img.Properties["os_distro"] != "debian":
				t.Fatalf("user properties only expected, got %v", img.Properties)
			}
		})
	}
}

// flipper changes one byte of what it passes through.
type flipper struct {
	r  io.Reader
	at int64
	n  int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.n && f.at < f.n+int64(n) {
		p[f.at-f.n] ^= 0xff
	}
	f.n += int64(n)
	return n, err
}

// An upload damaged on the way (by a proxy in front of Glance that changes one byte)
// comes back as the created image with a digest error naming both digests.
func TestAccUploadDigestMismatch(t *testing.T) {
	c := connect(t, cloudA)
	target, err := url.Parse(glanceURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/file") {
			r.Body = io.NopCloser(&flipper{r: r.Body, at: 1000})
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close) // after removeAtEnd, which goes through it
	c.image.Endpoint, c.image.ResourceBase = proxy.URL+"/", proxy.URL+"/v2/"

	data := diskBytes(1<<20, false)
	md5sum := md5.Sum(data) //nolint:gosec // Glance's checksum
	img, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: &backend.ImageContent{
		Disk: bytes.NewReader(data), DiskFormat: "raw", Size: int64(len(data))}}})
	var created *backend.CreatedError
	var digest *backend.DigestError
	if !errors.As(err, &created) || img == nil || img.ID != created.ID {
		t.Fatalf("want a CreatedError with the image, got %v (%+v)", err, img)
	}
	removeAtEnd(t, c, created.ID)
	t.Log(err)
	if !errors.As(err, &digest) || !errors.Is(err, backend.ErrDigest) || digest.Algorithm != "md5" || digest.Local != hexDigest(md5sum[:]) || digest.Server == digest.Local {
		t.Fatalf("want an md5 DigestError, got %v", err)
	}
	if !strings.Contains(err.Error(), digest.Local) || !strings.Contains(err.Error(), digest.Server) {
		t.Fatalf("error %q must name both digests", err)
	}
	// Kept to be recorded tainted: no longer marked, so no create takes it for an
	// interrupted run's.
	raw, err := c.get(t.Context(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mark, ok := raw.Properties[CreationProperty]; ok {
		t.Fatalf("the kept image is still marked %v", mark)
	}
}

// An interrupted upload leaves no image behind.
func TestAccUploadInterrupted(t *testing.T) {
	c := connect(t, cloudA)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	data := diskBytes(64<<20, false)
	img, err := c.CreateImage(ctx, backend.ImageCreate{
		Source:   backend.ImageSource{Content: &backend.ImageContent{Disk: bytes.NewReader(data), DiskFormat: "raw", Size: int64(len(data))}},
		Progress: func(n int64) { cancel() },
	})
	var created *backend.CreatedError
	if !errors.Is(err, backend.ErrCancelled) || errors.As(err, &created) || img == nil || img.ID == "" {
		t.Fatalf("want a cancellation that removed the image, got %v (%+v)", err, img)
	}
	if _, gerr := c.GetImage(t.Context(), img.ID); !errors.Is(gerr, backend.ErrNotFound) {
		removeAtEnd(t, c, img.ID)
		t.Fatalf("image %s is still there (%v); the create said: %v", img.ID, gerr, err)
	}
	if !strings.Contains(err.Error(), "was removed") {
		t.Fatalf("error %q does not say the image was removed", err)
	}
}

// webServer serves files on 127.0.0.1:18089, the one port Glance's import filter
// allows besides 80 and 443. Other packages' tests may hold it for a while (go test
// runs packages side by side): the port is waited for, up to a minute.
func webServer(t *testing.T, files map[string][]byte) {
	t.Helper()
	var l net.Listener
	var err error
	for end := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if l, err = net.Listen("tcp", "127.0.0.1:18089"); err == nil || time.Now().After(end) {
			break
		}
	}
	if err != nil {
		t.Fatalf("the web-download tests need 127.0.0.1:18089: %v", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// Glance's web-download needs the length.
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func TestAccWebDownload(t *testing.T) {
	c := connect(t, cloudA)
	data := diskBytes(2<<20, true)
	webServer(t, map[string][]byte{"/disk.qcow2": data})
	create := func(t *testing.T, u string) (*backend.Image, time.Duration, error) {
		start := time.Now()
		name := uniqueName("web")
		img, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{URL: u},
			Attrs: backend.ImageAttrs{Name: &name, OpenStack: &backend.OpenStackAttrs{DiskFormat: "qcow2"}}})
		if img != nil && img.ID != "" {
			removeAtEnd(t, c, img.ID)
		}
		return img, time.Since(start), err
	}

	t.Run("imported", func(t *testing.T) {
		img, _, err := create(t, "http://127.0.0.1:18089/disk.qcow2")
		if err != nil {
			t.Fatal(err)
		}
		md5sum := md5.Sum(data) //nolint:gosec // Glance's checksum
		if img.Status != "active" || img.Size != int64(len(data)) || img.OpenStack.Checksum != hexDigest(md5sum[:]) {
			t.Fatalf("image %+v %+v", img, img.OpenStack)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		u := "http://127.0.0.1:18089/missing.qcow2"
		img, took, err := create(t, u)
		t.Logf("after %s: %v", took, err)
		var created *backend.CreatedError
		if !errors.As(err, &created) || created.ID != img.ID {
			t.Fatalf("want a CreatedError, got %v", err)
		}
		if took > 15*time.Second {
			t.Fatalf("a failed import took %s to report", took)
		}
		for _, want := range []string{u, "GET " + u + " answers 404 Not Found", "Task failed due to Internal Error"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not say %q", err, want)
			}
		}
	})
	t.Run("refused by the filter", func(t *testing.T) {
		u := "http://127.0.0.1:8000/disk.qcow2"
		_, _, err := create(t, u)
		t.Log(err)
		var created *backend.CreatedError
		if !errors.As(err, &created) || !strings.Contains(err.Error(), "does not pass filtering: "+u) {
			t.Fatalf("want Glance's own message in a CreatedError, got %v", err)
		}
	})
}

// counting counts the requests of each method its client sends.
type counting struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[req.Method]++
	c.mu.Unlock()
	return c.base.RoundTrip(req)
}

// Every attribute changes in one JSON-patch; reserved keys are left alone; the image
// deactivates and reactivates; a protected image refuses deletion with advice.
func TestAccUpdateImage(t *testing.T) {
	c := connect(t, cloudA)
	data := diskBytes(4096, false)
	img := upload(t, c, data, "raw", backend.ImageAttrs{Properties: map[string]string{"os_distro": "debian", "old": "x"},
		OpenStack: &backend.OpenStackAttrs{Visibility: ptr("private")}}, "")

	count := &counting{base: c.provider.HTTPClient.Transport, n: map[string]int{}}
	c.provider.HTTPClient.Transport = count
	name := uniqueName("updated")
	err := c.UpdateImage(t.Context(), img.ID, backend.ImageAttrs{
		Name:       &name,
		Properties: map[string]string{"os_distro": "ubuntu", "new": "y"},
		OpenStack: &backend.OpenStackAttrs{Visibility: ptr("community"), Protected: ptr(true), Hidden: ptr(true),
			MinDiskGB: ptr(int64(3)), MinRAMMB: ptr(int64(512)), Tags: []string{"b", "a", "b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if count.n[http.MethodPatch] != 1 {
		t.Fatalf("%d PATCH requests, want one", count.n[http.MethodPatch])
	}
	got, err := c.GetImage(t.Context(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	o := got.OpenStack
	switch {
	case got.Name != name || len(got.Properties) != 2 || got.Properties["os_distro"] != "ubuntu" || got.Properties["new"] != "y":
		t.Fatalf("name and properties: %+v", got)
	case o.Visibility != "community" || !o.Protected || !o.Hidden || o.MinDiskGB != 3 || o.MinRAMMB != 512 || strings.Join(o.Tags, ",") != "a,b":
		t.Fatalf("Glance fields: %+v", o)
	case got.SHA256 != sha256Hex(data) || o.OSHashValue == "":
		t.Fatalf("reserved keys changed: sha256 %q, %+v", got.SHA256, o)
	}

	for _, want := range []struct {
		deactivated bool
		status      string
	}{{true, "deactivated"}, {false, "active"}} {
		if err := c.UpdateImage(t.Context(), img.ID, backend.ImageAttrs{OpenStack: &backend.OpenStackAttrs{Deactivated: &want.deactivated}}); err != nil {
			t.Fatal(err)
		}
		if got, err := c.GetImage(t.Context(), img.ID); err != nil || got.Status != want.status {
			t.Fatalf("status %v, want %s (%v)", got, want.status, err)
		}
	}

	err = c.DeleteImage(t.Context(), img.ID)
	t.Log(err)
	if !errors.Is(err, backend.ErrProtected) || !strings.Contains(err.Error(), "image "+img.ID+" is protected: it must be unprotected before it is deleted") {
		t.Fatalf("error %v", err)
	}
	if err := c.UpdateImage(t.Context(), img.ID, backend.ImageAttrs{OpenStack: &backend.OpenStackAttrs{Protected: ptr(false)}}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteImage(t.Context(), img.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetImage(t.Context(), img.ID); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("a deleted image must be not found, got %v", err)
	}
}

// A token that expires within tokenMargin is renewed before an upload starts, so
// Glance never refuses it half way through the body.
func TestAccTokenRenewedBeforeUpload(t *testing.T) {
	c := connect(t, cloudA)
	old := c.provider.Token()
	expireSoon(t, c)
	upload(t, c, diskBytes(4096, false), "raw", backend.ImageAttrs{}, "")
	if c.provider.Token() == old || time.Until(c.tokenExpiry()) < tokenMargin {
		t.Fatalf("the token was not renewed before the upload (expires %s)", c.tokenExpiry())
	}
}

// expireSoon makes the client believe its token expires in 5 minutes.
func expireSoon(t *testing.T, c *Client) {
	t.Helper()
	var soon tokens.CreateResult
	soon.Header = http.Header{"X-Subject-Token": {c.provider.Token()}}
	soon.Body = map[string]any{"token": map[string]any{"expires_at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)}}
	if err := c.provider.SetTokenAndAuthResult(soon); err != nil {
		t.Fatal(err)
	}
}

// A token Glance refuses when the upload arrives is an error, not a second upload.
// The token is made to expire soon, so the upload renews it first; the renewed
// token, which Glance has not seen (and so not cached), is revoked as soon as it is
// issued.
func TestAccUploadTokenRefused(t *testing.T) {
	c := connect(t, cloudA)
	c.hashAlgorithm(t.Context()) // so the renewed token's first use is the upload
	expireSoon(t, c)
	renew := c.provider.ReauthFunc
	c.provider.ReauthFunc = func(ctx context.Context) error {
		if err := renew(ctx); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.cfg.AuthURL+"/auth/tokens", nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-Auth-Token", c.provider.Token())
		req.Header.Set("X-Subject-Token", c.provider.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("revoking the token: %s", resp.Status)
		}
		return nil
	}
	data := diskBytes(1<<20, false)
	img, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: &backend.ImageContent{
		Disk: bytes.NewReader(data), DiskFormat: "raw", Size: int64(len(data))}}})
	c.provider.ReauthFunc = renew
	if img != nil && img.ID != "" {
		removeAtEnd(t, c, img.ID)
	}
	var created *backend.CreatedError
	if !errors.As(err, &created) || img == nil || created.ID != img.ID {
		t.Fatalf("want a CreatedError, got %v (%+v)", err, img)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "refused the token for the upload of image "+img.ID) || !strings.Contains(err.Error(), "an upload is not sent twice") {
		t.Fatalf("error %v", err)
	}
	if got, gerr := c.GetImage(t.Context(), img.ID); gerr != nil || got.Status != "queued" {
		t.Fatalf("the image must hold no data: %+v, %v", got, gerr)
	}
}

// fleet-a shares an image with fleet-b, which accepts it; fleet-a cannot decide for
// fleet-b; a private image has no members.
func TestAccMembers(t *testing.T) {
	a, b := connect(t, cloudA), connect(t, cloudB)
	fleetB := projectID(t, "FLEET_B_PROJECT_ID")
	if b.ProjectID() != fleetB {
		t.Fatalf("fleet-b's client is in project %s, ids.env says %s", b.ProjectID(), fleetB)
	}
	img := upload(t, a, diskBytes(4096, false), "raw", backend.ImageAttrs{OpenStack: &backend.OpenStackAttrs{Visibility: ptr("shared")}}, "")

	m, err := a.AddMember(t.Context(), img.ID, fleetB)
	if err != nil || m.Status != "pending" || m.MemberID != fleetB || m.ImageID != img.ID {
		t.Fatalf("added %+v, %v", m, err)
	}
	_, err = a.UpdateMember(t.Context(), img.ID, fleetB, "accepted")
	t.Log(err)
	if !errors.Is(err, backend.ErrForbidden) || !strings.Contains(err.Error(), "only the member project (or an admin) may set it, and this client is project") {
		t.Fatalf("the owner setting the member's status: %v", err)
	}
	if m, err := b.UpdateMember(t.Context(), img.ID, fleetB, "accepted"); err != nil || m.Status != "accepted" {
		t.Fatalf("accepted %+v, %v", m, err)
	}
	if m, err := a.GetMember(t.Context(), img.ID, fleetB); err != nil || m.Status != "accepted" {
		t.Fatalf("read %+v, %v", m, err)
	}
	seen, err := b.ListImages(t.Context(), backend.ImageFilter{Visibility: "shared", MemberStatus: "accepted"})
	if err != nil || !hasImage(seen, img.ID) {
		t.Fatalf("fleet-b's shared images do not hold %s (%v)", img.ID, err)
	}
	if err := a.RemoveMember(t.Context(), img.ID, fleetB); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetMember(t.Context(), img.ID, fleetB); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("a removed member must be not found, got %v", err)
	}

	private := upload(t, a, diskBytes(4096, false), "raw", backend.ImageAttrs{OpenStack: &backend.OpenStackAttrs{Visibility: ptr("private")}}, "")
	_, err = a.AddMember(t.Context(), private.ID, fleetB)
	t.Log(err)
	if !errors.Is(err, backend.ErrForbidden) || !strings.Contains(err.Error(), `visibility is "private", and only an image whose visibility is "shared" has members`) {
		t.Fatalf("a member of a private image: %v", err)
	}
}

func hasImage(imgs []backend.Image, id string) bool {
	for _, img := range imgs {
		if img.ID == id {
			return true
		}
	}
	return false
}

func ids(imgs []backend.Image) []string {
	var out []string
	for _, img := range imgs {
		out = append(out, img.ID)
	}
	sort.Strings(out)
	return out
}

func TestAccListFilters(t *testing.T) {
	c := connect(t, cloudA)
	tag := uniqueName("tag")
	named := uniqueName("list") + ":with colon"
	shown := upload(t, c, diskBytes(4096, false), "raw", backend.ImageAttrs{Name: &named, Properties: map[string]string{"flavour": "one"},
		OpenStack: &backend.OpenStackAttrs{Tags: []string{tag, "x"}}}, "")
	hidden := upload(t, c, diskBytes(4096, false), "raw", backend.ImageAttrs{Properties: map[string]string{"flavour": "two"},
		OpenStack: &backend.OpenStackAttrs{Tags: []string{tag}, Hidden: ptr(true)}}, "")
	both := []string{shown.ID, hidden.ID}
	sort.Strings(both)
	for name, tc := range map[string]struct {
		filter backend.ImageFilter
		want   []string
	}{
		"tag":               {backend.ImageFilter{Tags: []string{tag}}, []string{shown.ID}},
		"tags":              {backend.ImageFilter{Tags: []string{tag, "x"}, Hidden: "either"}, []string{shown.ID}},
		"hidden either":     {backend.ImageFilter{Tags: []string{tag}, Hidden: "either"}, both},
		"hidden only":       {backend.ImageFilter{Tags: []string{tag}, Hidden: "true"}, []string{hidden.ID}},
		"name with a colon": {backend.ImageFilter{Name: named}, []string{shown.ID}},
		"property":          {backend.ImageFilter{Tags: []string{tag}, Properties: map[string]string{"flavour": "two"}, Hidden: "either"}, []string{hidden.ID}},
		"owner and status":  {backend.ImageFilter{Tags: []string{tag}, Owner: c.ProjectID(), Status: "active", Visibility: "shared"}, []string{shown.ID}},
		"another owner":     {backend.ImageFilter{Tags: []string{tag}, Owner: projectID(t, "FLEET_B_PROJECT_ID")}, nil},
		"one image a page":  {backend.ImageFilter{Tags: []string{tag}, Hidden: "either"}, both},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "one image a page" {
				defer func(n int) { pageSize = n }(pageSize)
				pageSize = 1
			}
			got, err := c.ListImages(t.Context(), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); strings.Join(g, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
}

func TestAccExportRoundTrip(t *testing.T) {
	c := connect(t, cloudA)
	data := diskBytes(3<<20+5, true)
	img := upload(t, c, data, "qcow2", backend.ImageAttrs{Properties: map[string]string{"architecture": "x86_64"}}, "")
	exp, err := c.ExportImage(t.Context(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(exp.Content.Disk)
	if cerr := exp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	ct := exp.Content
	switch {
	case !bytes.Equal(got, data):
		t.Fatalf("exported %d bytes, not the %d uploaded", len(got), len(data))
	case ct.DiskFormat != "qcow2" || ct.Size != int64(len(data)) || ct.Architecture != "x86_64" || !ct.CreatedAt.Equal(img.CreatedAt) || ct.SHA256 != sha256Hex(data):
		t.Fatalf("export %+v", ct)
	}
}

// The clouds file from OS_CLIENT_CONFIG_FILE and the cloud from OS_CLOUD; an
// auth_url without its version, which Keystone's version discovery completes.
func TestAccAuthentication(t *testing.T) {
	precheck(t)
	t.Run("OS_CLOUD", func(t *testing.T) {
		t.Setenv("OS_CLIENT_CONFIG_FILE", cloudsFile)
		t.Setenv("OS_CLOUD", cloudB)
		if c := connectWith(t, Config{}); c.ProjectID() != projectID(t, "FLEET_B_PROJECT_ID") || c.Server() != glanceURL+"/" {
			t.Fatalf("project %s, Glance at %s", c.ProjectID(), c.Server())
		}
	})
	t.Run("unversioned auth_url", func(t *testing.T) {
		c := connectWith(t, Config{Cloud: cloudA, CloudsFile: cloudsFile, AuthURL: "http://127.0.0.1:5000"})
		if c.ProjectID() != projectID(t, "FLEET_A_PROJECT_ID") {
			t.Fatalf("project %s", c.ProjectID())
		}
	})
}

func TestAccWrongPassword(t *testing.T) {
	precheck(t)
	cfg, err := Config{Cloud: cloudA, CloudsFile: cloudsFile, Password: "not-the-password", Retry: testRetry}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Connect(t.Context())
	t.Log(err)
	if !errors.Is(err, backend.ErrForbidden) || !strings.Contains(err.Error(), `refused the password of user "fleet-a"`) || strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("error %v", err)
	}
}
