package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// airEndpoint is a provider block with one air endpoint, bad, configured with
// settings, and a data source that reads it at plan time.
func airEndpoint(settings string) string {
	return fmt.Sprintf(`
provider "imagefleet" {
  endpoints = {
    bad = { air = {
%s
    } }
  }
}
data "imagefleet_images" "bad" {
  endpoint = "bad"
}
`, settings)
}

// TestAccProviderAir_badEndpoint: an air endpoint that cannot be used gets a
// diagnostic that names it and says what to set or check.
func TestAccProviderAir_badEndpoint(t *testing.T) {
	s := acctest.StartAir(t)
	// No key from the environment or the NGC CLI's configuration.
	t.Setenv("NGC_API_KEY", "")
	t.Setenv("HOME", t.TempDir())
	cases := map[string]struct {
		settings string
		want     *regexp.Regexp
	}{
		"no api key": {
			fmt.Sprintf("api_url = %q", s.URL),
			acctest.Diagnostic("Error: Invalid endpoint configuration",
				`Endpoint "bad" (air): no NGC API key for NVIDIA Air: set api_key in the endpoint's air block, or the NGC_API_KEY environment variable, or store one with the NGC CLI`),
		},
		"wrong api key": {
			fmt.Sprintf("api_url = %q\napi_key = \"nvapi-not-a-key\"", s.URL),
			acctest.Diagnostic("Error: Could not read images", `connecting to endpoint "bad" (air): NVIDIA Air at`, "refused the API key from the endpoint's api_key: check that it is a valid NGC API key"),
		},
		"api_url not http": {
			`api_url = "ftp://air.example.com"`,
			acctest.Diagnostic("Error: Invalid Attribute Value Match", "must be an http:// or https:// URL"),
		},
		"no upload workers": {
			fmt.Sprintf("api_url = %q\napi_key = \"nvapi-x\"\nupload_workers = 0", s.URL),
			acctest.Diagnostic("Error: Invalid Attribute Value", "upload_workers value must be at least 1, got: 0"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: airEndpoint(tc.settings), ExpectError: tc.want}},
			})
		})
	}
}
