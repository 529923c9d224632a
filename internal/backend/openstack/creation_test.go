package openstack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// loseAnswer puts a proxy in front of c's Glance that carries out the first
// request matching method and path, then loses its answer: it drops the connection
// (drop) or answers 503 in Glance's place.
func loseAnswer(t *testing.T, c *Client, method string, path func(string) bool, drop bool) *atomic.Int32 {
	t.Helper()
	target, err := url.Parse(glanceURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var lost atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method || !path(r.URL.Path) || !lost.CompareAndSwap(0, 1) {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		if rec.Code >= 300 {
			t.Errorf("Glance refused the request whose answer the proxy was to lose: %d %s", rec.Code, rec.Body)
		}
		if !drop {
			http.Error(w, "bad gateway's answer in Glance's place", http.StatusServiceUnavailable)
			return
		}
		hangUp(t, w)
	}))
	t.Cleanup(proxy.Close)
	c.image.Endpoint, c.image.ResourceBase = proxy.URL+"/", proxy.URL+"/v2/"
	return &lost
}

// named lists the owner's images of a name, hidden or not, as Glance holds them
// (with the provider's reserved properties).
func named(t *testing.T, c *Client, name string) []images.Image {
	t.Helper()
	got, err := c.marked(t.Context(), createOpts{"name": name}, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A create whose answer is lost after Glance made the image (the connection
// dropped, or a gateway's 503) finds the image by its mark and finishes it: one
// image, unmarked.
func TestAccCreateAnswerLost(t *testing.T) {
	for _, drop := range []bool{true, false} {
		how := map[bool]string{true: "dropped", false: "503"}[drop]
		t.Run(how, func(t *testing.T) {
			c := connect(t, cloudA)
			lost := loseAnswer(t, c, http.MethodPost, func(p string) bool { return p == "/v2/images" }, drop)
			name := uniqueName("lost-" + how)
			data := diskBytes(1<<20, false)
			img, err := c.CreateImage(t.Context(), backend.ImageCreate{
				Attrs:  backend.ImageAttrs{Name: &name},
				Source: backend.ImageSource{Content: &backend.ImageContent{Disk: bytes.NewReader(data), DiskFormat: "raw", Size: int64(len(data))}},
			})
			for _, i := range named(t, c, name) {
				removeAtEnd(t, c, i.ID)
			}
			if err != nil {
				t.Fatalf("the create failed: %v", err)
			}
			if lost.Load() != 1 {
				t.Fatal("the proxy lost no answer")
			}
			got := named(t, c, name)
			if len(got) != 1 || got[0].ID != img.ID {
				t.Fatalf("Glance holds %d images named %s, want only %s", len(got), name, img.ID)
			}
			if mark, ok := got[0].Properties[CreationProperty]; ok || got[0].Status != statusActive {
				t.Fatalf("the image is %s and still marked %v", got[0].Status, mark)
			}
		})
	}
}

// An image an interrupted run left (marked by a create no longer running) is
// deleted by the next create of the same image, which makes one anew; an image of
// the same name made by someone else is left alone.
func TestAccCreateRemovesOrphan(t *testing.T) {
	c := connect(t, cloudA)
	name := uniqueName("orphan")
	data := diskBytes(1<<20, false)
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	killed := backend.NewCreation("openstack", c.Server(), c.project, name, "sha256:"+sha)
	killed.Done()
	orphan, err := images.Create(t.Context(), c.image, createOpts{"name": name, "disk_format": "raw", "container_format": "bare", CreationProperty: killed.Mark()}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	removeAtEnd(t, c, orphan.ID)
	foreign := upload(t, c, diskBytes(4096, false), "raw", backend.ImageAttrs{Name: &name}, "")

	img, err := c.CreateImage(t.Context(), backend.ImageCreate{
		Attrs:  backend.ImageAttrs{Name: &name},
		Source: backend.ImageSource{Content: &backend.ImageContent{Disk: bytes.NewReader(data), DiskFormat: "raw", Size: int64(len(data)), SHA256: sha}},
	})
	if err != nil {
		t.Fatal(err)
	}
	removeAtEnd(t, c, img.ID)
	var have []string
	for _, i := range named(t, c, name) {
		have = append(have, i.ID+" "+string(i.Status))
	}
	if len(have) != 2 || !strings.Contains(strings.Join(have, ","), img.ID) || !strings.Contains(strings.Join(have, ","), foreign.ID) {
		t.Fatalf("Glance holds %v; want the new image %s and the foreign %s, the orphan %s deleted", have, img.ID, foreign.ID, orphan.ID)
	}
}

// A membership whose answer is lost is read back, not refused as existing.
func TestAccAddMemberAnswerLost(t *testing.T) {
	c := connect(t, cloudA)
	fleetB := projectID(t, "FLEET_B_PROJECT_ID")
	img := upload(t, c, diskBytes(4096, false), "raw", backend.ImageAttrs{OpenStack: &backend.OpenStackAttrs{Visibility: ptr("shared")}}, "")
	for _, drop := range []bool{true, false} {
		// Its own client, so removeAtEnd does not go through the proxy.
		proxied := connect(t, cloudA)
		lost := loseAnswer(t, proxied, http.MethodPost, func(p string) bool { return strings.HasSuffix(p, "/members") }, drop)
		m, err := proxied.AddMember(t.Context(), img.ID, fleetB)
		if err != nil || m.MemberID != fleetB || lost.Load() != 1 {
			t.Fatalf("drop=%v: added %+v, %v (answers lost: %d)", drop, m, err, lost.Load())
		}
		if err := c.RemoveMember(t.Context(), img.ID, fleetB); err != nil {
			t.Fatal(err)
		}
	}
}

// An upload that fails in a way a repeat mends (a 503 answered before Glance saw
// it, or the connection lost half way through the body) is sent again from the
// file, and the image is whole and verified.
func TestAccUploadSentAgain(t *testing.T) {
	for _, how := range []string{"503", "reset"} {
		t.Run(how, func(t *testing.T) {
			c := connect(t, cloudA)
			target, err := url.Parse(glanceURL)
			if err != nil {
				t.Fatal(err)
			}
			rp := httputil.NewSingleHostReverseProxy(target)
			var broken atomic.Int32
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/file") || !broken.CompareAndSwap(0, 1) {
					rp.ServeHTTP(w, r)
					return
				}
				if how == "503" {
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
				// Half the body reaches Glance, then both connections drop.
				r.Body = io.NopCloser(io.MultiReader(io.LimitReader(r.Body, r.ContentLength/2), errReader{}))
				rec := httptest.NewRecorder()
				rp.ServeHTTP(rec, r)
				hangUp(t, w)
			}))
			t.Cleanup(proxy.Close)
			name := uniqueName("again-" + how)
			data := diskBytes(4<<20, false)
			f := filepath.Join(t.TempDir(), "disk.raw")
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
			file, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			proxied := connect(t, cloudA)
			proxied.image.Endpoint, proxied.image.ResourceBase = proxy.URL+"/", proxy.URL+"/v2/"
			img, err := proxied.CreateImage(t.Context(), backend.ImageCreate{
				Attrs:  backend.ImageAttrs{Name: &name},
				Source: backend.ImageSource{Content: &backend.ImageContent{Disk: file, At: file, DiskFormat: "raw", Size: int64(len(data))}},
			})
			for _, i := range named(t, c, name) {
				removeAtEnd(t, c, i.ID)
			}
			if err != nil {
				t.Fatalf("the create failed: %v", err)
			}
			if broken.Load() != 1 {
				t.Fatal("the proxy broke no upload")
			}
			sum := sha256.Sum256(data)
			if img.SHA256 != hex.EncodeToString(sum[:]) || img.Size != int64(len(data)) {
				t.Fatalf("the image holds %d bytes of sha256 %s", img.Size, img.SHA256)
			}
		})
	}
}

// errReader fails every read, as a connection reset does.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by the test") }

// hangUp closes the connection of w without an answer.
func hangUp(t *testing.T, w http.ResponseWriter) {
	h, ok := w.(http.Hijacker)
	if !ok {
		t.Error("the proxy's connection cannot be hijacked")
		return
	}
	conn, _, err := h.Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	_ = conn.Close()
}

// The patch that finishes a create (the verified sha256 recorded, the mark removed)
// whose answer is lost after Glance applied it is read back, not sent as it was:
// removing the mark twice would fail.
func TestAccPatchAnswerLost(t *testing.T) {
	for _, drop := range []bool{true, false} {
		how := map[bool]string{true: "dropped", false: "503"}[drop]
		t.Run(how, func(t *testing.T) {
			c := connect(t, cloudA)
			proxied := connect(t, cloudA)
			lost := loseAnswer(t, proxied, http.MethodPatch, func(p string) bool { return strings.Count(p, "/") == 3 }, drop)
			name := uniqueName("patch-" + how)
			data := diskBytes(1<<20, false)
			img, err := proxied.CreateImage(t.Context(), backend.ImageCreate{
				Attrs:  backend.ImageAttrs{Name: &name},
				Source: backend.ImageSource{Content: &backend.ImageContent{Disk: bytes.NewReader(data), DiskFormat: "raw", Size: int64(len(data))}},
			})
			for _, i := range named(t, c, name) {
				removeAtEnd(t, c, i.ID)
			}
			if err != nil || lost.Load() != 1 {
				t.Fatalf("the create failed: %v (answers lost: %d)", err, lost.Load())
			}
			sum := sha256.Sum256(data)
			got := named(t, c, name)
			if len(got) != 1 || img.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("Glance holds %d images named %s; the image's sha256 is %q", len(got), name, img.SHA256)
			}
			if mark, ok := got[0].Properties[CreationProperty]; ok {
				t.Fatalf("the image is still marked %v", mark)
			}
		})
	}
}
