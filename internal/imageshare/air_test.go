package imageshare_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/air"
)

const addr = "imagefleet_image_share.test"

// emulator starts the Air emulator with the owner's and the partner's
// organisations (acctest.AirOwner, acctest.AirPartner). An expired share stays
// readable for the whole test, ACTIVE with its expiry passed, as on Air until its
// background clean-up removes it.
func emulator(t *testing.T) *airemu.Server {
	t.Helper()
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance test: set %s=1 to run it against the Air emulator", resource.EnvTfAcc)
	}
	s := acctest.StartAir(t)
	s.SetShareCleanupDelay(time.Hour)
	return s
}

// providerConfig names the owner's organisation "air" (the default endpoint), the
// partner's "air_b", and an Incus endpoint, which cannot share: the share tests
// need neither the Incus daemon nor OpenStack.
func providerConfig(s *airemu.Server) string {
	return fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "air"
  endpoints = {
    air   = { air = { api_url = %q, api_key = %q } }
    air_b = { air = { api_url = %q, api_key = %q } }
    incus = { incus = {} }
  }
}
`, s.URL, s.Token(acctest.AirOwner), s.URL, s.Token(acctest.AirPartner))
}

// client is an Air client of org, as another tool would change things behind
// Terraform's back.
func client(t *testing.T, s *airemu.Server, org string) *air.Client {
	t.Helper()
	cfg, err := air.Config{APIURL: s.URL, APIKey: s.Token(org)}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	c, err := air.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ownerImage uploads a small disk as the owner's image, published or not, and
// returns its id and name (its version is 1.0).
func ownerImage(t *testing.T, s *airemu.Server, published bool) (id, name string) {
	t.Helper()
	disk := acctest.Disk(t, acctest.TempDir(t), "raw", acctest.Name("share"))
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	name = acctest.Name("shared")
	version, user, password := "1.0", "root", "s3cret"
	img, err := client(t, s, acctest.AirOwner).CreateImage(t.Context(), backend.ImageCreate{
		Source: backend.ImageSource{Content: &backend.ImageContent{Disk: f, At: f, Size: st.Size(), DiskFormat: "raw"}},
		Attrs: backend.ImageAttrs{Name: &name, Air: &backend.AirAttrs{
			Version: &version, DefaultUsername: &user, DefaultPassword: &password, Published: &published,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img.ID, name
}

// emptyImage makes an image of the owner's without content (READY), through the
// API, as a client that never uploads would.
func emptyImage(t *testing.T, s *airemu.Server) (id, name string) {
	t.Helper()
	name = acctest.Name("empty")
	body, _ := json.Marshal(map[string]string{"name": name, "version": "1.0", "default_username": "root", "default_password": "s3cret"})
	req, err := http.NewRequest(http.MethodPost, s.APIURL()+"images/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token(acctest.AirOwner))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var img struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&img); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST images/: %s, %v", resp.Status, err)
	}
	return img.ID, name
}

// shareOf is the share the emulator holds with that id.
func shareOf(s *airemu.Server, id string) (airemu.ShareState, bool) {
	for _, sh := range s.Shares() {
		if sh.ID == id {
			return sh, true
		}
	}
	return airemu.ShareState{}, false
}

// checkShare checks that the emulator holds share *id, from the owner to the
// partner, in state want, and that it is the only share left.
func checkShare(s *airemu.Server, id *string, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sh, ok := shareOf(s, *id)
		switch {
		case !ok:
			return fmt.Errorf("the emulator holds no share %s; it holds %+v", *id, s.Shares())
		case sh.SourceOrg != acctest.AirOwner || sh.TargetOrg != acctest.AirPartner || sh.State != want:
			return fmt.Errorf("the emulator holds %+v, want a share from %s to %s in state %s", sh, acctest.AirOwner, acctest.AirPartner, want)
		case len(s.Shares()) != 1:
			return fmt.Errorf("the emulator holds %d shares, want 1: %+v", len(s.Shares()), s.Shares())
		}
		return nil
	}
}

// checkNothingLeft checks, after destroy, that no share and no image is left on
// the emulator, but claimed shares, which Air keeps as the record of the claim.
func checkNothingLeft(s *airemu.Server) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, sh := range s.Shares() {
			if sh.State != airemu.ShareClaimed {
				return fmt.Errorf("share left after destroy: %+v", sh)
			}
		}
		if imgs := s.Images(""); len(imgs) > 0 {
			return fmt.Errorf("images left after destroy: %+v", imgs)
		}
		return nil
	}
}

// record keeps an attribute's value for later steps.
func record(into *string) func(string) error {
	return func(v string) error {
		*into = v
		return nil
	}
}

// changed checks that the share recorded in *id is another one than *before,
// which the emulator no longer holds.
func changed(s *airemu.Server, before, id *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if *id == *before {
			return fmt.Errorf("the share is still %s", *id)
		}
		if _, ok := shareOf(s, *before); ok {
			return fmt.Errorf("the replaced share %s is still on the emulator", *before)
		}
		return nil
	}
}
