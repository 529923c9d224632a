package incus_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// connect is a client of the backend's local daemon, as the provider makes one.
func connect(t *testing.T, b acctest.Backend) *incus.Client {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("runs against the real daemons: set TF_ACC=1")
	}
	acctest.PreCheck(t, b)
	c, err := incus.New(incus.Config{Kind: b.Kind})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// fileContent opens p as the image resource does: a FileReader over the open file.
func fileContent(t *testing.T, p string) *backend.ImageContent {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := transfer.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	// At as the image resource sets it for a unified tarball.
	return &backend.ImageContent{Metadata: r, MetadataName: "image.tar.gz", Size: r.Size(), At: r}
}

// splitContent opens a split image's two files.
func splitContent(t *testing.T, meta, rootfs string) *backend.ImageContent {
	t.Helper()
	m, r := fileContent(t, meta), fileContent(t, rootfs)
	return &backend.ImageContent{Metadata: m.Metadata, MetadataName: "meta.tar.gz", Rootfs: r.Metadata, RootfsName: "rootfs.tar.gz"}
}

// expectAbsent fails the test if the daemon holds an image with fingerprint fp once
// the image operations started since since have ended, and removes it so a failed
// test leaves nothing behind.
func expectAbsent(t *testing.T, b acctest.Backend, c *incus.Client, fp string, since time.Time) {
	t.Helper()
	settle(t, b, since)
	_, err := c.GetImage(context.Background(), fp)
	if errors.Is(err, backend.ErrNotFound) {
		return
	}
	if err != nil {
		t.Fatalf("looking for image %s: %v", fp, err)
	}
	_ = c.DeleteImage(context.Background(), fp)
	t.Errorf("the daemon holds image %s", fp)
}

// settle waits (for two minutes at most) until the daemon runs no image operation
// started since since. Those of tests running beside this one are waited for too,
// which only makes the wait longer.
func settle(t *testing.T, b acctest.Backend, since time.Time) {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var ops []struct {
			Description string    `json:"description"`
			Status      string    `json:"status"`
			CreatedAt   time.Time `json:"created_at"`
		}
		if err := json.Unmarshal([]byte(b.Run(t, "operation", "list", "--format", "json")), &ops); err != nil {
			t.Fatal(err)
		}
		busy := false
		for _, op := range ops {
			busy = busy || (op.Description == "Downloading image" && op.Status == "Running" && !op.CreatedAt.Before(since))
		}
		if !busy {
			return
		}
	}
}

func deleteAtEnd(t *testing.T, c *incus.Client, fp string) {
	t.Cleanup(func() { _ = c.DeleteImage(context.Background(), fp) })
}

// TestAccCreateImageCancelledWhileStored cancels the context when the last byte of
// a 200 MB upload has gone out, so the server is storing the image during the wait
// for its operation: the error must say "cancelled" and the daemon keep nothing.
func TestAccCreateImageCancelledWhileStored(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		file := acctest.Unified(t, acctest.TempDir(t), acctest.ImageOpts{Variant: acctest.Name("cancel"), PadBytes: 200 << 20})
		fp := acctest.SHA256(t, file)
		deleteAtEnd(t, c, fp)
		content := fileContent(t, file)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		since := time.Now()
		img, err := c.CreateImage(ctx, backend.ImageCreate{
			Source: backend.ImageSource{Content: content},
			Progress: func(sent int64) {
				if sent == content.Size {
					cancel()
				}
			},
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want one wrapping context.Canceled", err)
		}
		if img != nil {
			t.Fatalf("cleanup failed, image %s returned: %v", img.Fingerprint, err)
		}
		if !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "removed") {
			t.Errorf("error %q does not say that image %s was removed", err, fp)
		}
		expectAbsent(t, b, c, fp, since)
	})
}

// gatedImageServer serves an image for the url source and holds one request until
// release is called, telling started when it is held: the first request (for the
// image's headers) when atHeaders, else the download, after half the file.
func gatedImageServer(t *testing.T, file, sha string, atHeaders bool) (srv *httptest.Server, started <-chan struct{}, release func()) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	begun, gate := make(chan struct{}), make(chan struct{})
	var once, relOnce sync.Once
	hold := func(r *http.Request) bool {
		once.Do(func() { close(begun) })
		select {
		case <-gate:
			return true
		case <-r.Context().Done():
			return false
		}
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/image.tar.gz" {
			if atHeaders && !hold(r) {
				return
			}
			for _, prefix := range []string{"Incus", "LXD"} {
				w.Header().Set(prefix+"-Image-Hash", sha)
				w.Header().Set(prefix+"-Image-URL", "http://"+r.Host+"/image.tar.gz")
			}
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Method == http.MethodHead {
			return
		}
		half := len(data) / 2
		if !atHeaders {
			_, _ = w.Write(data[:half])
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			if !hold(r) {
				return
			}
			data = data[half:]
		}
		_, _ = w.Write(data)
	}))
	release = func() { relOnce.Do(func() { close(gate) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(release)
	return srv, begun, release
}

// TestAccCreateImageCancelledDuringDownload cancels url downloads while the server
// works on them: during the download (the daemons let it be cancelled then), and
// while the server waits for the image's headers (they do not: the download then
// ends, and the client removes what it stored). The daemon must keep no image, and
// an image it held before the download must survive the cleanup.
func TestAccCreateImageCancelledDuringDownload(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		dir := acctest.TempDir(t)
		for name, tc := range map[string]struct{ atHeaders, held bool }{
			"cancelled while downloading":             {},
			"cancelled while the server waits":        {atHeaders: true},
			"cancelled while pulling an image it has": {atHeaders: true, held: true},
		} {
			file := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("pull"), PadBytes: 16 << 20})
			fp := acctest.SHA256(t, file)
			deleteAtEnd(t, c, fp)
			if tc.held {
				if _, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: fileContent(t, file)}}); err != nil {
					t.Fatal(err)
				}
			}
			srv, started, release := gatedImageServer(t, file, fp, tc.atHeaders)
			ctx, cancel := context.WithCancel(context.Background())
			since := time.Now()
			go func() {
				select {
				case <-started:
				case <-ctx.Done():
				}
				cancel()
				release()
			}()
			img, err := c.CreateImage(ctx, backend.ImageCreate{Source: backend.ImageSource{URL: srv.URL + "/latest"}})
			cancel()
			t.Logf("%s: %v", name, err)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: error %v, want one wrapping context.Canceled", name, err)
			}
			if img != nil {
				t.Fatalf("%s: cleanup failed, image %s returned: %v", name, img.Fingerprint, err)
			}
			if tc.held {
				if _, err := c.GetImage(context.Background(), fp); err != nil {
					t.Fatalf("%s: the image held before the download is gone: %v", name, err)
				}
				continue
			}
			expectAbsent(t, b, c, fp, since)
		}
	})
}

// TestAccCreateImageExists uploads an image twice: the second is refused with an
// ExistsError naming the image, whether or not the digest was known beforehand.
func TestAccCreateImageExists(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		file := acctest.Unified(t, acctest.TempDir(t), acctest.ImageOpts{Variant: acctest.Name("exists")})
		fp := acctest.SHA256(t, file)
		deleteAtEnd(t, c, fp)
		if _, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: fileContent(t, file)}}); err != nil {
			t.Fatal(err)
		}
		for _, known := range []string{"", fp} {
			content := fileContent(t, file)
			content.SHA256 = known
			img, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: content}})
			var exists *backend.ExistsError
			if !errors.As(err, &exists) || exists.ID != fp || !errors.Is(err, backend.ErrConflict) {
				t.Fatalf("digest known %t: error %v, want an ExistsError for %s", known != "", err, fp)
			}
			if img != nil {
				t.Fatalf("a refused upload returned image %s", img.Fingerprint)
			}
		}
		if _, err := c.GetImage(context.Background(), fp); err != nil {
			t.Fatalf("the existing image must stay: %v", err)
		}
	})
}

// TestAccCreateImageWrongFingerprint uploads with an expected fingerprint that is not
// the content's, unified and split: the server must refuse, and keep nothing.
func TestAccCreateImageWrongFingerprint(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		dir := acctest.TempDir(t)
		unified := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("wrongfp")})
		meta, rootfs, err := acctest.BuildSplit(dir, acctest.ImageOpts{Variant: acctest.Name("wrongfp-split")}, false)
		if err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct {
			content func() *backend.ImageContent
			real    string
		}{
			"unified": {func() *backend.ImageContent { return fileContent(t, unified) }, acctest.SHA256(t, unified)},
			"split":   {func() *backend.ImageContent { return splitContent(t, meta, rootfs) }, acctest.SHA256(t, meta, rootfs)},
		} {
			deleteAtEnd(t, c, tc.real)
			content := tc.content()
			content.SHA256 = strings.Repeat("0", 64)
			since := time.Now()
			_, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: content}})
			var derr *backend.DigestError
			if !errors.As(err, &derr) || derr.Local != content.SHA256 || derr.Server != tc.real {
				t.Fatalf("%s: error %v, want a DigestError expecting %s, server %s", name, err, content.SHA256, tc.real)
			}
			expectAbsent(t, b, c, tc.real, since)
		}
	})
}

// TestAccCreateImageFileChanged changes the file in place while it is uploaded: the
// upload must fail, and the daemon hold neither the old nor the new content.
func TestAccCreateImageFileChanged(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		file := acctest.Unified(t, acctest.TempDir(t), acctest.ImageOpts{Variant: acctest.Name("changed"), PadBytes: 32 << 20})
		before := acctest.SHA256(t, file)
		content := fileContent(t, file)
		var once sync.Once
		since := time.Now()
		_, err := c.CreateImage(context.Background(), backend.ImageCreate{
			Source: backend.ImageSource{Content: content},
			Progress: func(int64) {
				once.Do(func() {
					// Past what has been read so far: what is sent is the new file.
					f, err := os.OpenFile(file, os.O_WRONLY, 0)
					if err != nil {
						t.Error(err)
						return
					}
					defer f.Close()
					if _, err := f.WriteAt([]byte("changed"), content.Size-4096); err != nil {
						t.Error(err)
					}
				})
			},
		})
		after := acctest.SHA256(t, file)
		deleteAtEnd(t, c, before)
		deleteAtEnd(t, c, after)
		if !errors.Is(err, transfer.ErrFileChanged) || !errors.Is(err, backend.ErrDigest) {
			t.Fatalf("error %v, want one wrapping transfer.ErrFileChanged and backend.ErrDigest", err)
		}
		if before == after {
			t.Fatal("the test did not change the file")
		}
		expectAbsent(t, b, c, before, since)
		expectAbsent(t, b, c, after, since)
	})
}
