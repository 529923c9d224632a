package acctest

import (
	"fmt"
	"testing"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
)

// Air orgs of the emulator the tests start: the owner of images and shares, and
// the organisation shares are made for.
const (
	AirOwner   = "org-a"
	AirPartner = "org-b"
)

// StartAir starts an Air emulator for one test with two organisations, parts of
// 5 MiB (the least the API allows) so that a small image has several, and no
// delays.
func StartAir(t *testing.T) *airemu.Server {
	t.Helper()
	return airemu.Start(t, airemu.Options{
		Orgs:      map[string]string{AirOwner: "nvapi-" + Name("a"), AirPartner: "nvapi-" + Name("b")},
		ChunkSize: airemu.MinPartSize,
	})
}

// ProviderConfigAir is ProviderConfigAll with the emulator's two organisations as
// endpoints "air" (the owner) and "air_b".
func ProviderConfigAir(def string, s *airemu.Server) string {
	return fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = %q
  endpoints = {
    incus   = { incus = {} }
    lxd     = { lxd = {} }
    cloud   = { openstack = { cloud = %q, clouds_file = %q } }
    partner = { openstack = { cloud = %q, clouds_file = %q } }
    air     = { air = { api_url = %q, api_key = %q } }
    air_b   = { air = { api_url = %q, api_key = %q } }
  }
}
`, def, Owner.Name, CloudsFile, Partner.Name, CloudsFile, s.URL, s.Token(AirOwner), s.URL, s.Token(AirPartner))
}
