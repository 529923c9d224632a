package instance_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// TestAccInstance_answersLost applies an image with an alias and an instance of it
// through a proxy that loses the answer to each create after the server carried it
// out (the image's upload gets a gateway's 503 instead): the server holds one image,
// one alias and one instance, none of them marked, and the next plan is empty.
func TestAccInstance_answersLost(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		acctest.PreCheck(t, b)
		file := acctest.Unified(t, acctest.TempDir(t), acctest.ImageOpts{Variant: acctest.Name("lost")})
		fp := acctest.SHA256(t, file)
		name := acctest.Name("lost")
		p := acctest.StartAnswerProxy(t, b)
		p.Spoil(http.MethodPost, regexp.MustCompile(`^/1\.0/images$`), acctest.Gateway503After, 1)
		p.Spoil(http.MethodPost, regexp.MustCompile(`^/1\.0/images/aliases$`), acctest.LoseAnswer, 1)
		p.Spoil(http.MethodPost, regexp.MustCompile(`^/1\.0/instances$`), acctest.LoseAnswer, 1)
		config := fmt.Sprintf(`
provider "imagefleet" {
  default_endpoint = "proxied"
  endpoints = { proxied = { %s = { address = %q } } }
}
resource "imagefleet_image" "base" {
  file  = %q
  name  = %q
  incus = { aliases = [{ name = "%s-img" }] }
}
resource "imagefleet_instance" "test" {
  name   = %q
  image  = imagefleet_image.base.fingerprint
  state  = "running"
  config = { "user.role" = "web" }
}`, b.Kind, p.Address, file, name, name, name)
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
			CheckDestroy:             checkGone(b, name),
			Steps: []resource.TestStep{{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: func(*terraform.State) error {
					if n := p.Spoiled(); n != 3 {
						return fmt.Errorf("the proxy spoiled %d answers, want 3", n)
					}
					return oneOfEach(t, b, fp, name)
				},
			}},
		})
	})
}

// oneOfEach checks that the server holds the image, its alias and the instance once
// each, running, with no creation mark left.
func oneOfEach(t *testing.T, b acctest.Backend, fp, name string) error {
	var img struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal([]byte(b.Run(t, "query", "/1.0/images/"+fp)), &img); err != nil {
		return err
	}
	if mark, ok := img.Properties["imagefleet_creation"]; ok {
		return fmt.Errorf("image %s still carries the creation mark %q", fp, mark)
	}
	var aliases []struct {
		Name   string `json:"name"`
		Target string `json:"target"`
	}
	if err := json.Unmarshal([]byte(b.Run(t, "query", "/1.0/images/aliases?recursion=1")), &aliases); err != nil {
		return err
	}
	found := 0
	for _, a := range aliases {
		if a.Name == name+"-img" && a.Target == fp {
			found++
		}
	}
	if found != 1 {
		return fmt.Errorf("%d aliases %s-img on image %s, want 1", found, name, fp)
	}
	if got := strings.Fields(b.Run(t, "list", "^"+name+"$", "-f", "csv", "-c", "ns")); len(got) != 1 || got[0] != name+",RUNNING" {
		return fmt.Errorf("instances named %s: %v, want one, running", name, got)
	}
	var in struct {
		Config map[string]string `json:"config"`
	}
	if err := json.Unmarshal([]byte(b.Run(t, "query", "/1.0/instances/"+name)), &in); err != nil {
		return err
	}
	if mark, ok := in.Config["user.imagefleet.creation"]; ok {
		return fmt.Errorf("instance %s still carries the creation mark %q", name, mark)
	}
	return nil
}
