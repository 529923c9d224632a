package imagemember_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// The image's owner is acctest.Owner (endpoint "cloud", the default here), the
// member acctest.Partner (endpoint "partner"), two non-admin projects.
var providerConfig = acctest.ProviderConfigAll(acctest.Owner.Endpoint)

// preCheck skips the test outside the acceptance suite, as resource.Test does: it is
// called before resource.Test, to make the test's images. In the suite it fails the
// test when Keystone and Glance are not running.
func preCheck(t *testing.T) {
	t.Helper()
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance test: set %s=1 to run it against Keystone and Glance", resource.EnvTfAcc)
	}
	acctest.PreCheckOpenStack(t)
}

// ownerImage uploads a small raw image as the owner, with the given visibility
// (shared or private), and deletes it when the test ends.
func ownerImage(t *testing.T, visibility string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(file, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	id := acctest.Owner.Run(t, "image", "create", "--file", file, "--disk-format", "raw", "--container-format", "bare",
		"--"+visibility, "-f", "value", "-c", "id", acctest.Name("imagefleet-member"))
	t.Cleanup(func() { _, _ = acctest.Owner.Try("image", "delete", id) })
	return id
}

// memberStatus is the status of project's membership of the image as the owner
// sees it, empty when the project is not a member.
func memberStatus(t *testing.T, imageID, project string) string {
	t.Helper()
	var members []struct {
		MemberID string `json:"Member ID"`
		Status   string `json:"Status"`
	}
	if err := json.Unmarshal([]byte(acctest.Owner.Run(t, "image", "member", "list", "-f", "json", imageID)), &members); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.MemberID == project {
			return m.Status
		}
	}
	return ""
}
