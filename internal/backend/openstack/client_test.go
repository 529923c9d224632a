package openstack

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// An auth_url nothing listens on is unreachable, and the error carries no secret.
func TestConnectUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c, err := New(Config{AuthURL: "http://" + addr + "/v3", Username: "u", Password: "pa55-secret", ProjectName: "p",
		UserDomainID: "default", ProjectDomainID: "default", Retry: httpclient.Retry{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Connect(context.Background())
	if !errors.Is(err, backend.ErrUnreachable) || errors.Is(err, backend.ErrForbidden) {
		t.Fatalf("error %v: want only ErrUnreachable", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "pa55-secret") {
		t.Fatalf("error %q must name %s and hold no password", err, addr)
	}
}

// The messages Glance 25 and Keystone 22 answer errors with, as they send them.
func TestServerMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"message": "Image 0f20 is protected and cannot be deleted.<br /><br />\n\n\n", "code": "403 Forbidden", "title": "Forbidden"}`:                                                                                     "Image 0f20 is protected and cannot be deleted.",
		`{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}`:                                                                                                       "The request you have made requires authentication.",
		"<html>\n <head>\n  <title>400 Bad Request</title>\n </head>\n <body>\n  <h1>400 Bad Request</h1>\n  URI for web-download does not pass filtering: http://127.0.0.1:8000/x.img<br /><br />\n\n\n\n </body>\n</html>": "URI for web-download does not pass filtering: http://127.0.0.1:8000/x.img",
		"plain words": "plain words",
	} {
		if got := serverMessage([]byte(body)); got != want {
			t.Errorf("%q: got %q, want %q", body, got, want)
		}
	}
}

func TestReservedProperty(t *testing.T) {
	for key, want := range map[string]bool{
		"os_glance_import_task": true, "os_glance_failed_import": true, "os_glance_importing_to_stores": true,
		"os_hash_algo": true, "os_hash_value": true, "checksum": true, "stores": true, "direct_url": true, "locations": true,
		"name": true, "min_disk": true, "os_hidden": true, SHA256Property: true,
		"os_distro": false, "architecture": false, "hw_disk_bus": false, "owner_specified.openstack.sha256": false,
	} {
		if got := ReservedProperty(key); got != want {
			t.Errorf("ReservedProperty(%q) = %v", key, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// The patch holds only what differs, user properties exactly as asked, and never
// touches reserved keys.
func TestPatch(t *testing.T) {
	cur := &images.Image{ID: "i", Name: "old", Visibility: "shared", Tags: []string{"b", "a"}, MinDiskGigabytes: 1,
		Properties: map[string]any{"keep": "1", "change": "x", "drop": "y", "os_hash_algo": "sha512", SHA256Property: "abc", "os_glance_import_task": "t"}}
	ops, err := patch(cur, backend.ImageAttrs{
		Name:       ptr("new"),
		Properties: map[string]string{"keep": "1", "change": "z", "a/b~c": "new"},
		OpenStack: &backend.OpenStackAttrs{Visibility: ptr("shared"), Protected: ptr(true), Hidden: ptr(false),
			MinDiskGB: ptr(int64(2)), MinRAMMB: ptr(int64(0)), Tags: []string{"a", "b", "a"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for _, op := range ops {
		got = append(got, op.ToImagePatchMap())
	}
	want := []map[string]any{
		{"op": "replace", "path": "/name", "value": "new"},
		{"op": "add", "path": "/a~1b~0c", "value": "new"},
		{"op": "add", "path": "/change", "value": "z"},
		{"op": "remove", "path": "/drop"},
		{"op": "replace", "path": "/protected", "value": true},
		{"op": "replace", "path": "/min_disk", "value": int64(2)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if _, err := patch(cur, backend.ImageAttrs{Properties: map[string]string{"os_hash_value": "x"}}); err == nil || !strings.Contains(err.Error(), "os_hash_value") {
		t.Fatalf("a reserved key must be refused, got %v", err)
	}
}
