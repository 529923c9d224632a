package air

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// The two organisations of the emulator, and their tokens.
const (
	orgA = "org-a"
	orgB = "org-b"
)

// chunk is the emulator's part size in these tests: small, so that a small file
// makes several parts.
const chunk = 256 << 10

var testRetry = httpclient.Retry{MaxAttempts: 3, MinWait: 10 * time.Millisecond, MaxWait: 100 * time.Millisecond}

// emulator starts the Air emulator with two organisations for the test. The tests
// are acceptance tests, run with TF_ACC=1 as the others, though the emulator runs
// in the test process.
func emulator(t *testing.T, opts airemu.Options) *airemu.Server {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("runs against the Air emulator: set TF_ACC=1")
	}
	opts.Orgs = map[string]string{orgA: "nvapi-token-of-a", orgB: "nvapi-token-of-b"}
	if opts.ChunkSize == 0 {
		opts.ChunkSize = chunk
	}
	return airemu.Start(t, opts)
}

// connect is a connected client of org, made as the provider makes one.
func connect(t *testing.T, srv *airemu.Server, org string, workers int) *Client {
	t.Helper()
	cfg, err := Config{APIURL: srv.URL, APIKey: srv.Token(org), UploadWorkers: workers, Retry: testRetry}.Resolve()
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

// disk is a file of random bytes, read as the image resource reads one: checked
// against changes, at offsets and as a stream.
type disk struct {
	path   string
	data   []byte
	sha256 string
}

func newDisk(t *testing.T, size int) *disk {
	t.Helper()
	d := &disk{path: filepath.Join(t.TempDir(), "disk.qcow2"), data: make([]byte, size)}
	_, _ = rand.Read(d.data)
	if err := os.WriteFile(d.path, d.data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(d.data)
	d.sha256 = hex.EncodeToString(sum[:])
	return d
}

// content is the disk as a file the resource opened: readable at offsets and as a
// stream; with known, the caller knows its sha256 and size.
func (d *disk) content(t *testing.T, known bool) *backend.ImageContent {
	t.Helper()
	f, err := os.Open(d.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fr, err := transfer.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	ct := &backend.ImageContent{Disk: fr, At: fr, DiskFormat: "qcow2"}
	if known {
		ct.Size, ct.SHA256 = int64(len(d.data)), d.sha256
	}
	return ct
}

// stream is the disk as a copy from another endpoint gives it: a stream that can be
// opened again, no offsets.
func (d *disk) stream() *backend.ImageContent {
	return &backend.ImageContent{
		Disk: bytes.NewReader(d.data), DiskFormat: "qcow2",
		Reopen: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(d.data)), nil },
	}
}

var serial atomic.Int32

// attrs are an image's required settings, with a name of its own.
func attrs(t *testing.T) backend.ImageAttrs {
	name := fmt.Sprintf("%s-%d", strings.ToLower(t.Name()), serial.Add(1))
	return backend.ImageAttrs{Name: &name, Air: &backend.AirAttrs{Version: ptr("1.0"), DefaultUsername: ptr("root"), DefaultPassword: ptr("pa55-secret")}}
}

func ptr[T any](v T) *T { return &v }

func create(t *testing.T, c *Client, ct *backend.ImageContent, a backend.ImageAttrs) *backend.Image {
	t.Helper()
	img, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: ct}, Attrs: a})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// checkStored checks that the image is COMPLETE with the disk's content.
func checkStored(t *testing.T, srv *airemu.Server, img *backend.Image, d *disk) {
	t.Helper()
	if img.Status != statusComplete || img.SHA256 != d.sha256 || img.Size != int64(len(d.data)) {
		t.Fatalf("image %s is %s with %d bytes of sha256 %s; want %s with %d bytes of %s", img.ID, img.Status, img.Size, img.SHA256, statusComplete, len(d.data), d.sha256)
	}
	size, sum, err := srv.ContentSHA256(img.ID)
	if err != nil || size != int64(len(d.data)) || sum != d.sha256 {
		t.Fatalf("the emulator holds %d bytes of sha256 %s (%v)", size, sum, err)
	}
}

// createdID is the image a CreatedError names.
func createdID(t *testing.T, err error) string {
	t.Helper()
	var created *backend.CreatedError
	if !errors.As(err, &created) {
		t.Fatalf("error %v: want a CreatedError", err)
	}
	return created.ID
}

// Several parts go four at a time, each read at its offset, the digest computed
// first when the caller does not know it, and progress told up to the end.
func TestAccUploadParallel(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	// Slow parts, so that the workers' parts overlap.
	srv.SetBandwidth(1 << 20)
	c := connect(t, srv, orgA, 4)
	d := newDisk(t, 6*chunk+1234)
	var last atomic.Int64
	a := attrs(t)
	img, err := c.CreateImage(t.Context(), backend.ImageCreate{
		Source: backend.ImageSource{Content: d.content(t, false)}, Attrs: a,
		Progress: func(n int64) { last.Store(n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, srv, img, d)
	if n := srv.PartRequests(img.ID); n != 7 {
		t.Errorf("%d part requests, want 7", n)
	}
	if n := srv.MaxConcurrentParts(img.ID); n != 4 {
		t.Errorf("at most %d parts at once, want 4", n)
	}
	if last.Load() != int64(len(d.data)) {
		t.Errorf("progress ended at %d of %d bytes", last.Load(), len(d.data))
	}
	if img.Name != *a.Name || img.Air.Version != "1.0" || img.Air.DefaultUsername != "root" || img.Air.Published || img.CreatedAt.IsZero() || img.UploadedAt.IsZero() {
		t.Errorf("image %+v %+v", img, img.Air)
	}
}

// A stream is measured first, then opened again and sent part after part; a stream
// whose digest and size are known is sent at once.
func TestAccUploadStream(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	d := newDisk(t, 3*chunk+17)
	checkStored(t, srv, create(t, c, d.stream(), attrs(t)), d)

	once := &backend.ImageContent{Disk: bytes.NewReader(d.data), Size: int64(len(d.data)), SHA256: d.sha256}
	checkStored(t, srv, create(t, c, once, attrs(t)), d)

	unknown := &backend.ImageContent{Disk: bytes.NewReader(d.data)}
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: unknown}, Attrs: attrs(t)})
	if err == nil || !strings.Contains(err.Error(), "needs the content's sha256 and size before it is sent, and this content can be read only once") {
		t.Fatalf("error %v", err)
	}
}

// A part that fails is sent again: after 503s, after a reset connection.
func TestAccPartRetried(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	d := newDisk(t, 4*chunk)
	srv.FailPart("*", 2, 2, airemu.FailUnavailable)
	srv.FailPart("*", 4, 1, airemu.FailReset)
	img := create(t, c, d.content(t, true), attrs(t))
	checkStored(t, srv, img, d)
	if n := srv.PartRequests(img.ID); n != 4+3 {
		t.Errorf("%d part requests, want 7", n)
	}
}

// A part that keeps failing gives up after five attempts; the upload is aborted and
// the image, READY and empty, is returned to be recorded.
func TestAccPartGivesUp(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	d := newDisk(t, 4*chunk)
	srv.FailPart("*", 3, 100, airemu.FailUnavailable)
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: d.content(t, true)}, Attrs: attrs(t)})
	id := createdID(t, err)
	t.Log(err)
	if !strings.Contains(err.Error(), "part 3 of 262144 bytes failed 5 times, the last time: PUT ") || !strings.Contains(err.Error(), "503") ||
		!strings.HasSuffix(err.Error(), "; the upload was aborted") {
		t.Errorf("error %v", err)
	}
	if img, ok := srv.Image(id); !ok || img.UploadStatus != statusReady {
		t.Errorf("image %s is %+v, want it READY", id, img)
	}
	for _, img := range srv.Images(orgA) {
		if img.UploadStatus == statusUploading {
			t.Errorf("image %s is left UPLOADING", img.ID)
		}
	}
}

// A stream part cut short cannot be sent again: the upload fails at once.
func TestAccStreamPartNotResent(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	d := newDisk(t, 3*chunk)
	srv.FailPart("*", 2, 1, airemu.FailReset)
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: d.stream()}, Attrs: attrs(t)})
	id := createdID(t, err)
	if !strings.Contains(err.Error(), "part 2 cannot be sent again") || !strings.HasSuffix(err.Error(), "; the upload was aborted") {
		t.Errorf("error %v", err)
	}
	if img, _ := srv.Image(id); img.UploadStatus != statusReady {
		t.Errorf("image %s is %s", id, img.UploadStatus)
	}
}

// A content the service does not validate is an error saying why, on an image
// returned to be recorded.
func TestAccValidationFails(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 2)
	d := newDisk(t, 2*chunk)

	// The caller's digest is wrong: the service finds the content's differs.
	ct := d.content(t, true)
	ct.SHA256 = strings.Repeat("0", 64)
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: ct}, Attrs: attrs(t)})
	id := createdID(t, err)
	t.Log(err)
	if !strings.Contains(err.Error(), "its validation returned the image to READY") || !strings.Contains(err.Error(), "hash mismatch") {
		t.Errorf("error %v", err)
	}
	if img, _ := srv.Image(id); img.UploadStatus != statusReady {
		t.Errorf("image %s is %s", id, img.UploadStatus)
	}

	srv.FailValidation("the disk is not bootable")
	_, err = c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: d.content(t, true)}, Attrs: attrs(t)})
	createdID(t, err)
	if !strings.Contains(err.Error(), "the disk is not bootable") {
		t.Errorf("error %v", err)
	}
}

// An image whose name and version another has is refused before any upload, naming
// the image that has them.
func TestAccDuplicateNameVersion(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	d := newDisk(t, 1000)
	a := attrs(t)
	first := create(t, c, d.content(t, true), a)
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: d.content(t, true)}, Attrs: a})
	var exists *backend.ExistsError
	if !errors.As(err, &exists) || exists.ID != first.ID {
		t.Fatalf("error %v: want an ExistsError naming %s", err, first.ID)
	}
	if want := fmt.Sprintf("has an image named %q with version \"1.0\" already (%s)", *a.Name, first.ID); !strings.Contains(err.Error(), want) {
		t.Errorf("error %v", err)
	}
	if n := len(srv.Images(orgA)); n != 1 {
		t.Errorf("%d images", n)
	}
}

// The settings a new image needs are asked for before any request.
func TestAccCreateNeedsSettings(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{
		Source: backend.ImageSource{Content: newDisk(t, 10).content(t, true)},
		Attrs:  backend.ImageAttrs{Name: ptr("x"), Air: &backend.AirAttrs{Version: ptr("1")}},
	})
	want := "NVIDIA Air needs a name, a version, a default username and a default password for a new image: [air.default_username air.default_password] not set"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v", err)
	}
	if n := len(srv.Images("")); n != 0 {
		t.Errorf("%d images", n)
	}
}

// Published is applied after the upload, and flipped in place.
func TestAccPublish(t *testing.T) {
	srv := emulator(t, airemu.Options{TransitionDelay: 200 * time.Millisecond})
	c := connect(t, srv, orgA, 4)
	a := attrs(t)
	a.Air.Published = ptr(true)
	img := create(t, c, newDisk(t, 1000).content(t, true), a)
	if !img.Air.Published || img.Status != statusComplete {
		t.Fatalf("image %s: published %t, %s", img.ID, img.Air.Published, img.Status)
	}
	for _, want := range []bool{false, true, false} {
		if err := c.UpdateImage(t.Context(), img.ID, backend.ImageAttrs{Air: &backend.AirAttrs{Published: ptr(want)}}); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetImage(t.Context(), img.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Air.Published != want || got.Status != statusComplete {
			t.Fatalf("published %t, %s; want %t", got.Air.Published, got.Status, want)
		}
	}
}

// Every field changes in place; only what differs is sent, and the password
// whenever it is given.
func TestAccUpdateEveryField(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	img := create(t, c, newDisk(t, 1000).content(t, true), attrs(t))
	res := backend.AirResources{CPU: 4, Memory: 8192, Storage: 40}
	want := backend.AirAttrs{
		Version: ptr("2.0"), DefaultUsername: ptr("cumulus"), DefaultPassword: ptr("n3w-secret"), CPUArch: ptr("ARM"),
		Provider: ptr("CONTAINER"), EmulationType: []string{"ROCE", "NVUE"}, EmulationVersion: ptr("5.9"),
		Mountpoint: ptr("/mnt/image"), MinimumResources: &res, IncludesAirAgent: ptr(true),
	}
	if err := c.UpdateImage(t.Context(), img.ID, backend.ImageAttrs{Name: ptr(img.Name + "-renamed"), Air: &want}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetImage(t.Context(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	g := got.Air
	if got.Name != img.Name+"-renamed" || g.Version != "2.0" || g.DefaultUsername != "cumulus" || g.CPUArch != "ARM" || g.Provider != "CONTAINER" ||
		!slices.Equal(g.EmulationType, want.EmulationType) || g.EmulationVersion != "5.9" || g.Mountpoint != "/mnt/image" ||
		g.MinimumResources != res || !g.IncludesAirAgent {
		t.Fatalf("image %+v %+v", got, g)
	}
	var raw map[string]any
	if err := c.do(t.Context(), http.MethodGet, imagePath(img.ID), nil, &raw); err != nil || raw["default_password"] != "n3w-secret" {
		t.Fatalf("default_password %v (%v)", raw["default_password"], err)
	}

	// Back to no mountpoint, and nothing else sent.
	cur, err := c.get(t.Context(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	body := changes(cur, backend.ImageAttrs{Name: &got.Name, Air: &backend.AirAttrs{Version: ptr("2.0"), Mountpoint: ptr(""), EmulationType: []string{"ROCE", "NVUE"}}})
	if fmt.Sprint(body) != "map[mountpoint:<nil>]" {
		t.Fatalf("patch %v", body)
	}
	if err := c.UpdateImage(t.Context(), img.ID, backend.ImageAttrs{Air: &backend.AirAttrs{Mountpoint: ptr("")}}); err != nil {
		t.Fatal(err)
	}
	if got, err = c.GetImage(t.Context(), img.ID); err != nil || got.Air.Mountpoint != "" {
		t.Fatalf("mountpoint %q (%v)", got.Air.Mountpoint, err)
	}
}

// A share made by org A is claimed by org B as a new image of its own, renamed,
// with its own settings.
func TestAccShareAndClaim(t *testing.T) {
	srv := emulator(t, airemu.Options{TransitionDelay: 200 * time.Millisecond})
	a := connect(t, srv, orgA, 4)
	b := connect(t, srv, orgB, 4)
	d := newDisk(t, 2*chunk+5)
	img := create(t, a, d.content(t, true), attrs(t))

	expires := time.Now().Add(2 * time.Hour).Truncate(time.Microsecond)
	sh, err := a.CreateShare(t.Context(), backend.Share{ImageID: img.ID, TargetOrg: orgB, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	if sh.ID == "" || sh.ImageID != img.ID || sh.TargetOrg != orgB || !sh.ExpiresAt.Equal(expires) || sh.State != "ACTIVE" ||
		sh.ClaimedBy != "" || sh.ImageName != img.Name || sh.ImageVersion != "1.0" || sh.CreatedAt.IsZero() {
		t.Fatalf("share %+v", sh)
	}

	claimed, err := b.CreateImage(t.Context(), backend.ImageCreate{
		Source: backend.ImageSource{Claim: &backend.ClaimSource{ShareID: sh.ID, Name: "claimed-copy"}},
		Attrs:  backend.ImageAttrs{Air: &backend.AirAttrs{Version: ptr("7"), DefaultUsername: ptr("admin")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if claimed.Name != "claimed-copy" || claimed.Air.Version != "7" || claimed.Air.DefaultUsername != "admin" || claimed.Status != statusComplete {
		t.Fatalf("claimed %+v %+v", claimed, claimed.Air)
	}
	checkStored(t, srv, claimed, d)
	if st, _ := srv.Image(claimed.ID); st.Org != orgB {
		t.Errorf("the claimed image belongs to %s", st.Org)
	}
	got, err := a.GetShare(t.Context(), sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "CLAIMED" || got.ClaimedBy == "" {
		t.Errorf("share after the claim: %+v", got)
	}

	// The same share cannot be claimed twice.
	_, err = b.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Claim: &backend.ClaimSource{ShareID: sh.ID, Name: "again"}}})
	if err == nil {
		t.Fatal("a claimed share was claimed again")
	}
	var created *backend.CreatedError
	if errors.As(err, &created) {
		t.Errorf("a refused claim made image %s", created.ID)
	}
}

// Shares are made with the API's default expiry, read and withdrawn.
func TestAccShares(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	a := connect(t, srv, orgA, 4)
	img := create(t, a, newDisk(t, 1000).content(t, true), attrs(t))
	sh, err := a.CreateShare(t.Context(), backend.Share{ImageID: img.ID, TargetOrg: orgB})
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(sh.ExpiresAt); left < 23*time.Hour || left > 25*time.Hour {
		t.Errorf("the default share expires in %s", left)
	}
	got, err := a.GetShare(t.Context(), sh.ID)
	if err != nil || *got != *sh {
		t.Fatalf("read back %+v (%v), made %+v", got, err, sh)
	}
	if err := a.DeleteShare(t.Context(), sh.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetShare(t.Context(), sh.ID); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := a.DeleteShare(t.Context(), sh.ID); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	_, err = a.CreateShare(t.Context(), backend.Share{ImageID: img.ID, TargetOrg: orgA})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("sharing image %s with organisation %q: POST ", img.ID, orgA)) {
		t.Fatalf("a share to the own org: %v", err)
	}
	t.Log(err)
}

// An interrupted upload leaves nothing behind: the upload is aborted and the image
// deleted.
func TestAccInterruptedUpload(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	srv.SetBandwidth(512 << 10)
	c := connect(t, srv, orgA, 2)
	d := newDisk(t, 8*chunk)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := c.CreateImage(ctx, backend.ImageCreate{
		Source: backend.ImageSource{Content: d.content(t, true)}, Attrs: attrs(t),
		Progress: func(n int64) {
			if n > 2*chunk {
				cancel()
			}
		},
	})
	if !errors.Is(err, backend.ErrCancelled) {
		t.Fatalf("error %v: want ErrCancelled", err)
	}
	var created *backend.CreatedError
	if errors.As(err, &created) {
		t.Fatalf("error %v: the image was kept", err)
	}
	if !strings.Contains(err.Error(), "the upload was aborted; the unfinished image") || !strings.HasSuffix(err.Error(), "was removed") {
		t.Errorf("error %v", err)
	}
	t.Log(err)
	if imgs := srv.Images(orgA); len(imgs) != 0 {
		t.Fatalf("images left: %+v", imgs)
	}
}

// A key the API refuses is ErrForbidden, saying where the key came from; an address
// nothing answers is ErrUnreachable. Neither shows the key.
func TestAccConnectFails(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c, err := New(Config{APIURL: srv.APIURL(), APIKey: "nvapi-wrong-key", UploadWorkers: 1, Retry: testRetry, keyFrom: APIKeyEnv})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Connect(t.Context())
	if !errors.Is(err, backend.ErrForbidden) || !strings.Contains(err.Error(), "refused the API key from NGC_API_KEY") || strings.Contains(err.Error(), "wrong-key") {
		t.Fatalf("error %v", err)
	}
	t.Log(err)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c, err = New(Config{APIURL: "http://" + addr, APIKey: "nvapi-secret-key", UploadWorkers: 1, Retry: testRetry})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Connect(t.Context())
	if !errors.Is(err, backend.ErrUnreachable) || errors.Is(err, backend.ErrForbidden) || strings.Contains(err.Error(), "secret-key") {
		t.Fatalf("error %v", err)
	}
}

// Lists follow the API's next links; a name filters on the server.
func TestAccListImages(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	defer func(n int) { pageSize = n }(pageSize)
	pageSize = 2
	d := newDisk(t, 100)
	var ids []string
	for range 5 {
		ids = append(ids, create(t, c, d.content(t, true), attrs(t)).ID)
	}
	all, err := c.ListImages(t.Context(), backend.ImageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, img := range all {
		got = append(got, img.ID)
	}
	slices.Sort(got)
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want %v", got, ids)
	}
	one, err := c.ListImages(t.Context(), backend.ImageFilter{Name: all[3].Name})
	if err != nil || len(one) != 1 || one[0].ID != all[3].ID {
		t.Fatalf("by name: %+v (%v)", one, err)
	}
	// Org B sees none of org A's unpublished images.
	if imgs, err := connect(t, srv, orgB, 1).ListImages(t.Context(), backend.ImageFilter{}); err != nil || len(imgs) != 0 {
		t.Fatalf("org B lists %+v (%v)", imgs, err)
	}
}

// Deleting: an image in use is refused with advice, a missing one is not found.
func TestAccDeleteImage(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	img := create(t, c, newDisk(t, 100).content(t, true), attrs(t))
	srv.SetProtected(img.ID, true)
	err := c.DeleteImage(t.Context(), img.ID)
	if err == nil || !strings.Contains(err.Error(), "is in use by a simulation") {
		t.Fatalf("error %v", err)
	}
	t.Log(err)
	srv.SetProtected(img.ID, false)
	if err := c.DeleteImage(t.Context(), img.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteImage(t.Context(), img.ID); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if _, err := c.GetImage(t.Context(), img.ID); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
}

// lockedBuffer is a log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The upload logs its parts, its retries and its end, and no log line holds the
// API key, a password or a part URL's signature.
func TestAccLogs(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	var out lockedBuffer
	ctx := tflogtest.RootLogger(t.Context(), &out)
	c := connect(t, srv, orgA, 2)
	srv.FailPart("*", 2, 1, airemu.FailUnavailable)
	d := newDisk(t, 3*chunk)
	img, err := c.CreateImage(ctx, backend.ImageCreate{Source: backend.ImageSource{Content: d.content(t, false)}, Attrs: attrs(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateImage(ctx, img.ID, backend.ImageAttrs{Air: &backend.AirAttrs{DefaultPassword: ptr("n3w-secret")}}); err != nil {
		t.Fatal(err)
	}
	logs := out.String()
	for _, want := range []string{
		`"@message":"air upload: sending parts"`, `"@message":"air upload: part failed, sending it again"`, `"part":2`,
		`"@message":"air upload: all parts sent"`, `"parts_done":3`, `"sent_bytes":786432`, "X-Amz-Signature=REDACTED",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs do not show %s", want)
		}
	}
	for _, secret := range []string{srv.Token(orgA), "pa55-secret", "n3w-secret"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs show %s", secret)
		}
	}
	if t.Failed() {
		t.Log(logs)
	}
}

// A file that changes while its parts are read fails the upload, which is aborted.
// One worker, so that the change comes before the last part is read.
func TestAccFileChanged(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 1)
	d := newDisk(t, 4*chunk)
	var once sync.Once
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{
		Source: backend.ImageSource{Content: d.content(t, true)}, Attrs: attrs(t),
		Progress: func(int64) {
			once.Do(func() {
				f, err := os.OpenFile(d.path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				if _, err := f.WriteString("more"); err != nil {
					t.Error(err)
				}
			})
		},
	})
	id := createdID(t, err)
	if !errors.Is(err, transfer.ErrFileChanged) || !strings.HasSuffix(err.Error(), "; the upload was aborted") {
		t.Fatalf("error %v", err)
	}
	t.Log(err)
	if img, _ := srv.Image(id); img.UploadStatus != statusReady {
		t.Errorf("image %s is %s", id, img.UploadStatus)
	}
}

// Empty content is refused before anything is made.
func TestAccEmptyContent(t *testing.T) {
	srv := emulator(t, airemu.Options{})
	c := connect(t, srv, orgA, 4)
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: newDisk(t, 0).content(t, false)}, Attrs: attrs(t)})
	if err == nil || err.Error() != "the image's content is empty" {
		t.Fatalf("error %v", err)
	}
	if n := len(srv.Images("")); n != 0 {
		t.Errorf("%d images", n)
	}
}

// A part whose connection takes no bytes is dropped and sent again, and the upload
// gives up when that goes on. The part is larger than the loopback's socket
// buffers, so that the sender does block.
func TestAccStalledPart(t *testing.T) {
	srv := emulator(t, airemu.Options{ChunkSize: 32 << 20})
	srv.SetBandwidth(1)
	defer func(d time.Duration) { partStall = d }(partStall)
	partStall = 300 * time.Millisecond
	c := connect(t, srv, orgA, 1)
	_, err := c.CreateImage(t.Context(), backend.ImageCreate{Source: backend.ImageSource{Content: newDisk(t, 32<<20).content(t, true)}, Attrs: attrs(t)})
	createdID(t, err)
	if !strings.Contains(err.Error(), "part 1 of 33554432 bytes failed 5 times, the last time: the connection took no byte of the part for too long (300ms)") {
		t.Fatalf("error %v", err)
	}
}
