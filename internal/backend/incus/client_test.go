package incus

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

func TestTokenFingerprint(t *testing.T) {
	raw, _ := json.Marshal(map[string]any{"client_name": "tf", "fingerprint": "7acd1f", "addresses": []string{"127.0.0.1:8443"}, "secret": "s3cr3t"})
	if got := tokenFingerprint(base64.StdEncoding.EncodeToString(raw) + "\n"); got != "7acd1f" {
		t.Fatalf("fingerprint %q", got)
	}
	if got := tokenFingerprint("a-bare-secret"); got != "" {
		t.Fatalf("a bare secret has no fingerprint, got %q", got)
	}
}

func TestInstanceAddresses(t *testing.T) {
	var a apiInstance
	err := json.Unmarshal([]byte(`{"name":"web","status":"Running","state":{"network":{
		"lo":{"hwaddr":"","addresses":[{"family":"inet","address":"127.0.0.1","scope":"local"}]},
		"eth1":{"hwaddr":"00:16:3e:00:00:02","addresses":[{"family":"inet","address":"10.0.1.5","scope":"global"}]},
		"eth0":{"hwaddr":"00:16:3e:00:00:01","addresses":[
			{"family":"inet6","address":"fe80::1","scope":"link"},
			{"family":"inet6","address":"fd42::5","scope":"global"},
			{"family":"inet","address":"10.0.0.5","scope":"global"}]}}}}`), &a)
	if err != nil {
		t.Fatal(err)
	}
	in := a.toBackend()
	if in.IPv4 != "10.0.0.5" || in.IPv6 != "fd42::5" || in.MAC != "00:16:3e:00:00:01" {
		t.Fatalf("eth0's global addresses and MAC expected, got %s %s %s", in.IPv4, in.IPv6, in.MAC)
	}
}

func TestOperationErrorsAreTyped(t *testing.T) {
	for msg, want := range map[string]error{
		"Image with same fingerprint already exists": backend.ErrConflict,
		"Instance not found":                         backend.ErrNotFound,
	} {
		err := backend.NewAPIError("operation", "x", classifyOpErr(msg), msg)
		if !errors.Is(err, want) {
			t.Fatalf("%q: %v is not %v", msg, err, want)
		}
	}
}
