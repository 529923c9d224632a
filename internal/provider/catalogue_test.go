package provider_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

// updateCatalogue rewrites the golden diagnostics from what the provider says now;
// review the diff before committing it.
var updateCatalogue = flag.Bool("update-catalogue", false, "rewrite testdata/catalogue/*.golden")

// badInput is one invalid configuration and where it belongs in the catalogue.
type badInput struct {
	name string
	// object is the resource or data source type the entry is about, or "provider".
	object string
	// kinds are the endpoint kinds it concerns; source the image source type, if any.
	kinds  []string
	source string
	// config goes after the provider block of every kind; a config that starts with
	// `provider "imagefleet"` replaces it.
	config string
}

// The files and values the entries refer to, replaced in configs and goldens.
type catalogueFiles struct {
	dir, good, notImage, noMeta, noArch, squashfs, qcow2, vmdk, missing string
}

// rawGoText is what a diagnostic must never show: a panic, a stack trace, an error
// of Go's own words passed through (net/http's quoted URLs, the dialer's, resolver's
// and TLS stack's prefixes, os errors with their system call), or a bad format verb.
var rawGoText = regexp.MustCompile(`panic:|goroutine \d|runtime error|\.go:\d+|%!|unexpected EOF|Plugin did not respond|<nil>|0x[0-9a-f]{6,}|` +
	`\b(Get|Post|Put|Patch|Delete) "|\btls: |\bx509: |\bdial [^ ]*: |\bdial (tcp|udp|unix)\b|\bconnect: |\blookup [^ ]+: |` +
	`\b(open|stat|read) (/|\$DIR)[^ ]*: |no such file or directory`)

// summary is the summary of the first error diagnostic of Terraform's output: the
// rest of its "Error:" line.
var summary = regexp.MustCompile(`Error: ([^\n]*)`)

// advice is how a message says what to do: one of these verbs, as a word.
var advice = regexp.MustCompile(`(?i)\b(set|give|use|remove|leave|convert|choose|create|name|write|restore|narrow|start|add|point|build|copy|check|make|run|import|change|trust|replace|wait|delete|retarget|store|must|expected|should|needs?|requires?|required|instead)\b|configured: |cannot be configured together|Statuses there: `)

// TestAccCatalogue_badInput plans every invalid configuration of the catalogue (one
// table, across every resource, data source, endpoint kind and source type) and
// checks its diagnostics against the golden file of the entry, and that none shows
// Go's own words or a stack trace, and each says what to do.
func TestAccCatalogue_badInput(t *testing.T) {
	for _, b := range acctest.Backends {
		acctest.PreCheck(t, b)
	}
	air := acctest.StartAir(t)
	f := newCatalogueFiles(t)
	base := acctest.ProviderConfigAir("incus", air)
	entries := catalogue(f)
	checkCoverage(t, entries)
	for _, e := range entries {
		t.Run(e.name, func(t *testing.T) {
			config := e.config
			if !strings.HasPrefix(strings.TrimSpace(config), `provider "imagefleet"`) {
				config = base + config
			}
			var got error
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: config, PlanOnly: true}},
				ErrorCheck: func(err error) error {
					got = err
					return nil
				},
			})
			observed := map[string]string{"object": e.object, "kinds": strings.Join(e.kinds, ","), "summary": "(no error)"}
			if got == nil {
				acctest.Measure(t, "bad-input", e.name, observed)
				t.Fatal("planned without an error")
			}
			observed["summary"] = "(no diagnostic)"
			if m := summary.FindStringSubmatch(got.Error()); m != nil {
				observed["summary"] = strings.TrimSpace(m[1])
			}
			text := normalise(got.Error(), f, air.URL)
			acctest.Measure(t, "bad-input", e.name, observed)
			if !strings.HasPrefix(text, "Error: ") {
				t.Fatalf("planned without an error diagnostic: %.300s", text)
			}
			if m := rawGoText.FindString(text); m != "" {
				t.Errorf("the diagnostic shows %q: %s", m, text)
			}
			for _, d := range diagnostics(text) {
				if !advice.MatchString(d) {
					t.Errorf("this diagnostic does not say what to do: %s", d)
				}
			}
			golden := filepath.Join("testdata", "catalogue", e.name+".golden")
			if *updateCatalogue {
				if err := os.WriteFile(golden, []byte(text+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-catalogue to write it)", err)
			}
			if w := strings.TrimSuffix(string(want), "\n"); w != text {
				t.Errorf("diagnostic changed:\n got: %s\nwant: %s", text, w)
			}
		})
	}
}

// normalise collapses Terraform's line wrapping and box drawing into single spaces
// and puts placeholders for what changes from run to run.
func normalise(s string, f catalogueFiles, airURL string) string {
	s = strings.ReplaceAll(s, f.dir, "$DIR")
	s = strings.ReplaceAll(s, airURL, "$AIR")
	s = strings.ReplaceAll(s, "│", " ")
	s = regexp.MustCompile(`terraform_plugin_test\.tf line \d+`).ReplaceAllString(s, "terraform_plugin_test.tf line N")
	s = strings.Join(strings.Fields(s), " ")
	// What terraform-plugin-testing and the CLI say before the diagnostics.
	s = strings.TrimPrefix(s, "Error running non-refresh plan: exit status 1 ")
	s = regexp.MustCompile(`^There are some problems with the CLI configuration: ╷ Warning: .*? ╵ `).ReplaceAllString(s, "")
	return s
}

// diagnostics splits normalised output into its diagnostics' texts, from each
// "Error:" to the next.
func diagnostics(text string) []string {
	parts := strings.Split(text, "Error: ")
	var out []string
	for _, p := range parts[1:] {
		out = append(out, "Error: "+p)
	}
	return out
}

// checkCoverage fails when the catalogue misses a resource, data source, endpoint
// kind or source type, or has fewer than 80 entries.
func checkCoverage(t *testing.T, entries []badInput) {
	t.Helper()
	seen := map[string]bool{}
	names := map[string]bool{}
	for _, e := range entries {
		if names[e.name] {
			t.Fatalf("two entries named %q", e.name)
		}
		names[e.name] = true
		seen["object "+e.object] = true
		seen["source "+e.source] = true
		for _, k := range e.kinds {
			seen["kind "+k] = true
		}
	}
	for _, want := range []string{
		"object resource imagefleet_image", "object resource imagefleet_image_alias", "object resource imagefleet_image_member",
		"object resource imagefleet_image_share", "object resource imagefleet_instance", "object data imagefleet_image",
		"object data imagefleet_images", "object data imagefleet_instance", "object provider",
		"kind incus", "kind lxd", "kind openstack", "kind air",
		"source file", "source split", "source url", "source remote", "source copy_from", "source claim",
	} {
		if !seen[want] {
			t.Errorf("the catalogue has no entry for %s", want)
		}
	}
	if len(entries) < 80 {
		t.Errorf("the catalogue has %d entries, fewer than 80", len(entries))
	}
}

func newCatalogueFiles(t *testing.T) catalogueFiles {
	t.Helper()
	dir := acctest.TempDir(t)
	f := catalogueFiles{dir: dir, missing: filepath.Join(dir, "missing.tar.gz"), notImage: filepath.Join(dir, "notes.txt"), squashfs: filepath.Join(dir, "rootfs.squashfs")}
	if err := os.WriteFile(f.notImage, []byte("just some text, not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.squashfs, append([]byte("hsqs"), make([]byte, 1020)...), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.noMeta, err = acctest.BuildWithoutMetadata(dir); err != nil {
		t.Fatal(err)
	}
	if f.noArch, err = acctest.BuildWithoutArchitecture(dir); err != nil {
		t.Fatal(err)
	}
	f.good = acctest.Unified(t, dir, acctest.ImageOpts{Variant: "catalogue"})
	f.qcow2 = acctest.Disk(t, dir, "qcow2", "catalogue")
	f.vmdk = acctest.Disk(t, dir, "vmdk", "catalogue")
	return f
}

// res is a resource block; data a data source block.
func res(typ, body string) string  { return fmt.Sprintf("resource %q \"x\" {\n%s\n}\n", typ, body) }
func data(typ, body string) string { return fmt.Sprintf("data %q \"x\" {\n%s\n}\n", typ, body) }

// importBlock imports id into the resource block body of typ.
func importBlock(typ, id, body string) string {
	return fmt.Sprintf("import {\n  to = %s.x\n  id = %q\n}\n", typ, id) + res(typ, body)
}

// providerBlock is a provider block with one endpoint, bad, of the given block,
// read by a data source at plan time so that it is configured and used.
func providerBlock(endpoint string) string {
	return fmt.Sprintf(`provider "imagefleet" {
  endpoints = {
    bad = %s
  }
}
data "imagefleet_images" "x" {
  endpoint = "bad"
}
`, endpoint)
}

// airBlock is a valid air block for images on air endpoints.
const airBlock = `air = { version = "1.0", default_username = "root", default_password = "pw" }`

// catalogue is every invalid configuration, with what it concerns.
func catalogue(f catalogueFiles) []badInput {
	const (
		image  = "resource imagefleet_image"
		alias  = "resource imagefleet_image_alias"
		member = "resource imagefleet_image_member"
		share  = "resource imagefleet_image_share"
		inst   = "resource imagefleet_instance"
		dImage = "data imagefleet_image"
		dList  = "data imagefleet_images"
		dInst  = "data imagefleet_instance"
		prov   = "provider"
	)
	var (
		incus     = []string{"incus"}
		lxd       = []string{"lxd"}
		openstack = []string{"openstack"}
		air       = []string{"air"}
		all       = []string{"incus", "lxd", "openstack", "air"}
	)
	img := func(body string) string { return res("imagefleet_image", body) }
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	return []badInput{
		// imagefleet_image: sources.
		{"image-file-missing", image, incus, "file", img(`file = ` + q(f.missing))},
		{"image-file-not-an-image", image, incus, "file", img(`file = ` + q(f.notImage))},
		{"image-file-no-metadata", image, incus, "file", img(`file = ` + q(f.noMeta))},
		{"image-file-no-architecture", image, lxd, "file", img("endpoint = \"lxd\"\nfile = " + q(f.noArch))},
		{"image-file-squashfs-alone", image, incus, "file", img(`file = ` + q(f.squashfs))},
		{"image-file-directory", image, incus, "file", img(`file = ` + q(f.dir))},
		{"image-file-empty-string", image, incus, "file", img(`file = ""`)},
		{"image-file-tarball-on-openstack", image, openstack, "file", img("endpoint = \"cloud\"\nfile = " + q(f.good))},
		{"image-file-tarball-on-air", image, air, "file", img("endpoint = \"air\"\nfile = " + q(f.good) + "\n" + airBlock)},
		{"image-file-vmdk-on-air", image, air, "file", img("endpoint = \"air\"\nfile = " + q(f.vmdk) + "\n" + airBlock)},
		{"image-file-vmdk-on-incus", image, incus, "file", img(`file = ` + q(f.vmdk))},
		{"image-no-source", image, incus, "", img(`properties = { a = "b" }`)},
		{"image-two-sources", image, incus, "file", img("file = " + q(f.good) + "\nurl = \"https://example.invalid/i.tar.gz\"")},
		{"image-split-rootfs-not-an-image", image, incus, "split", img(fmt.Sprintf(`split = { metadata_file = %q, rootfs_file = %q }`, f.good, f.notImage))},
		{"image-split-metadata-is-disk", image, incus, "split", img(fmt.Sprintf(`split = { metadata_file = %q, rootfs_file = %q }`, f.qcow2, f.squashfs))},
		{"image-split-metadata-missing", image, lxd, "split", img(fmt.Sprintf("endpoint = \"lxd\"\nsplit = { metadata_file = %q, rootfs_file = %q }", f.missing, f.squashfs))},
		{"image-split-rootfs-vmdk", image, incus, "split", img(fmt.Sprintf(`split = { metadata_file = %q, rootfs_file = %q }`, f.good, f.vmdk))},
		{"image-split-on-openstack", image, openstack, "split", img(fmt.Sprintf("endpoint = \"cloud\"\nsplit = { metadata_file = %q, rootfs_file = %q }", f.good, f.squashfs))},
		{"image-split-on-air", image, air, "split", img(fmt.Sprintf("endpoint = \"air\"\nsplit = { metadata_file = %q, rootfs_file = %q }\n%s", f.good, f.squashfs, airBlock))},
		{"image-split-missing-rootfs", image, incus, "split", img(fmt.Sprintf(`split = { metadata_file = %q }`, f.good))},
		{"image-url-not-a-url", image, incus, "url", img(`url = "not a url"`)},
		{"image-url-ftp", image, lxd, "url", img("endpoint = \"lxd\"\nurl = \"ftp://example.invalid/i.tar.gz\"")},
		{"image-url-openstack-no-disk-format", image, openstack, "url", img("endpoint = \"cloud\"\nurl = \"http://127.0.0.1:18089/i.qcow2\"")},
		{"image-url-on-air", image, air, "url", img("endpoint = \"air\"\nurl = \"https://example.invalid/i.qcow2\"\n" + airBlock)},
		{"image-remote-on-openstack", image, openstack, "remote", img("endpoint = \"cloud\"\nremote = { server = \"https://images.linuxcontainers.org\", alias = \"debian/12\" }")},
		{"image-remote-on-air", image, air, "remote", img("endpoint = \"air\"\nremote = { server = \"https://images.linuxcontainers.org\", alias = \"debian/12\" }\n" + airBlock)},
		{"image-remote-bad-protocol", image, incus, "remote", img(`remote = { server = "https://images.linuxcontainers.org", alias = "debian/12", protocol = "ftp" }`)},
		{"image-remote-bad-type", image, incus, "remote", img(`remote = { server = "https://images.linuxcontainers.org", alias = "debian/12", type = "vm" }`)},
		{"image-remote-no-alias", image, lxd, "remote", img("endpoint = \"lxd\"\nremote = { server = \"https://images.linuxcontainers.org\" }")},
		{"image-remote-server-not-url", image, incus, "remote", img(`remote = { server = "images", alias = "debian/12" }`)},
		{"image-copy-from-unknown-endpoint", image, incus, "copy_from", img(`copy_from = { endpoint = "nowhere", image = "abc" }`)},
		{"image-copy-from-missing-image", image, []string{"incus", "lxd"}, "copy_from", img("endpoint = \"lxd\"\ncopy_from = { endpoint = \"incus\", image = \"0000000000000000\" }")},
		{"image-copy-from-no-image", image, incus, "copy_from", img(`copy_from = { endpoint = "lxd" }`)},
		{"image-copy-from-air-missing", image, []string{"air", "incus"}, "copy_from", img(`copy_from = { endpoint = "air", image = "00000000-0000-0000-0000-000000000000" }`)},
		{"image-claim-on-incus", image, incus, "claim", img(`claim = { share = "abc" }`)},
		{"image-claim-on-openstack", image, openstack, "claim", img("endpoint = \"cloud\"\nclaim = { share = \"abc\" }")},
		{"image-claim-empty-share", image, air, "claim", img("endpoint = \"air\"\nclaim = { share = \"\" }\n" + airBlock)},
		// imagefleet_image: settings.
		{"image-endpoint-not-configured", image, incus, "file", img("endpoint = \"nowhere\"\nfile = " + q(f.good))},
		{"image-empty-property-key", image, incus, "file", img("file = " + q(f.good) + "\nproperties = { \"\" = \"x\" }")},
		{"image-property-name", image, incus, "file", img("file = " + q(f.good) + "\nproperties = { name = \"x\" }")},
		{"image-property-os-hash", image, openstack, "file", img("endpoint = \"cloud\"\nfile = " + q(f.qcow2) + "\nproperties = { os_hash_value = \"x\" }")},
		{"image-incus-alias-slash", image, incus, "file", img("file = " + q(f.good) + "\nincus = { aliases = [{ name = \"debian/12\" }] }")},
		{"image-incus-alias-colon", image, lxd, "file", img("endpoint = \"lxd\"\nfile = " + q(f.good) + "\nincus = { aliases = [{ name = \"remote:name\" }] }")},
		{"image-incus-expiry-past", image, incus, "file", img("file = " + q(f.good) + "\nincus = { expires_at = \"2001-01-01T00:00:00Z\" }")},
		{"image-incus-expiry-not-time", image, incus, "file", img("file = " + q(f.good) + "\nincus = { expires_at = \"tomorrow\" }")},
		{"image-incus-bad-architecture", image, incus, "file", img("file = " + q(f.qcow2) + "\nincus = { architecture = \"sparc\" }")},
		{"image-openstack-bad-visibility", image, openstack, "file", img("endpoint = \"cloud\"\nfile = " + q(f.qcow2) + "\nopenstack = { visibility = \"everyone\" }")},
		{"image-openstack-bad-disk-format", image, openstack, "file", img("endpoint = \"cloud\"\nfile = " + q(f.qcow2) + "\nopenstack = { disk_format = \"qcow3\" }")},
		{"image-openstack-negative-min-disk", image, openstack, "file", img("endpoint = \"cloud\"\nfile = " + q(f.qcow2) + "\nopenstack = { min_disk_gb = -1 }")},
		{"image-openstack-bad-container-format", image, openstack, "file", img("endpoint = \"cloud\"\nfile = " + q(f.qcow2) + "\nopenstack = { container_format = \"zip\" }")},
		{"image-air-block-missing", image, air, "file", img("endpoint = \"air\"\nfile = " + q(f.qcow2))},
		{"image-air-password-missing", image, air, "file", img("endpoint = \"air\"\nfile = " + q(f.qcow2) + "\nair = { version = \"1.0\", default_username = \"root\" }")},
		{"image-air-version-missing", image, air, "file", img("endpoint = \"air\"\nfile = " + q(f.qcow2) + "\nair = { default_username = \"root\", default_password = \"pw\" }")},
		{"image-air-bad-provider", image, air, "file", img("endpoint = \"air\"\nfile = " + q(f.qcow2) + "\nair = { version = \"1.0\", default_username = \"root\", default_password = \"pw\", provider = \"BAREMETAL\" }")},
		{"image-air-negative-memory", image, air, "file", img("endpoint = \"air\"\nfile = " + q(f.qcow2) + "\nair = { version = \"1.0\", default_username = \"root\", default_password = \"pw\", minimum_resources = { cpu = 1, memory = -1, storage = 1 } }")},
		{"image-timeout-not-duration", image, incus, "file", img("file = " + q(f.good) + "\ntimeouts = { create = \"soon\" }")},
		{"image-import-empty-id", image, incus, "", importBlock("imagefleet_image", "incus:", "file = "+q(f.good))},
		{"image-import-slash", image, incus, "", importBlock("imagefleet_image", "incus:a/b", "file = "+q(f.good))},
		// imagefleet_image_alias.
		{"alias-name-slash", alias, incus, "", res("imagefleet_image_alias", "name = \"os/debian\"\ntarget = \"abc\"")},
		{"alias-name-space", alias, lxd, "", res("imagefleet_image_alias", "endpoint = \"lxd\"\nname = \"two words\"\ntarget = \"abc\"")},
		{"alias-name-empty", alias, incus, "", res("imagefleet_image_alias", "name = \"\"\ntarget = \"abc\"")},
		{"alias-no-target", alias, incus, "", res("imagefleet_image_alias", "name = \"x\"")},
		{"alias-on-openstack", alias, openstack, "", res("imagefleet_image_alias", "endpoint = \"cloud\"\nname = \"x\"\ntarget = \"abc\"")},
		{"alias-on-air", alias, air, "", res("imagefleet_image_alias", "endpoint = \"air\"\nname = \"x\"\ntarget = \"abc\"")},
		{"alias-endpoint-not-configured", alias, incus, "", res("imagefleet_image_alias", "endpoint = \"nowhere\"\nname = \"x\"\ntarget = \"abc\"")},
		{"alias-import-empty", alias, incus, "", importBlock("imagefleet_image_alias", "incus:", "name = \"x\"\ntarget = \"abc\"")},
		// imagefleet_image_member.
		{"member-on-incus", member, incus, "", res("imagefleet_image_member", "endpoint = \"incus\"\nimage = \"abc\"\nmember = \"p\"")},
		{"member-on-air", member, air, "", res("imagefleet_image_member", "endpoint = \"air\"\nimage = \"abc\"\nmember = \"p\"")},
		{"member-bad-status", member, openstack, "", res("imagefleet_image_member", "endpoint = \"cloud\"\nimage = \"abc\"\nmember = \"p\"\nstatus = \"maybe\"\nmember_endpoint = \"partner\"")},
		{"member-status-without-member-endpoint", member, openstack, "", res("imagefleet_image_member", "endpoint = \"cloud\"\nimage = \"abc\"\nmember = \"p\"\nstatus = \"accepted\"")},
		{"member-member-endpoint-not-configured", member, openstack, "", res("imagefleet_image_member", "endpoint = \"cloud\"\nimage = \"abc\"\nmember = \"p\"\nstatus = \"accepted\"\nmember_endpoint = \"nowhere\"")},
		{"member-member-endpoint-incus", member, []string{"openstack", "incus"}, "", res("imagefleet_image_member", "endpoint = \"cloud\"\nimage = \"abc\"\nmember = \"p\"\nstatus = \"accepted\"\nmember_endpoint = \"incus\"")},
		{"member-empty-image", member, openstack, "", res("imagefleet_image_member", "endpoint = \"cloud\"\nimage = \"\"\nmember = \"p\"")},
		{"member-import-one-part", member, openstack, "", importBlock("imagefleet_image_member", "cloud:abc", "endpoint = \"cloud\"\nimage = \"abc\"\nmember = \"p\"")},
		{"member-import-four-parts", member, openstack, "", importBlock("imagefleet_image_member", "cloud:a/b/c/d", "endpoint = \"cloud\"\nimage = \"a\"\nmember = \"b\"")},
		// imagefleet_image_share.
		{"share-on-incus", share, incus, "", res("imagefleet_image_share", "endpoint = \"incus\"\nimage = \"abc\"\ntarget_org = \"org-b\"")},
		{"share-on-openstack", share, openstack, "", res("imagefleet_image_share", "endpoint = \"cloud\"\nimage = \"abc\"\ntarget_org = \"org-b\"")},
		{"share-expiry-past", share, air, "", res("imagefleet_image_share", "endpoint = \"air\"\nimage = \"abc\"\ntarget_org = \"org-b\"\nexpires_at = \"2001-01-01T00:00:00Z\"")},
		{"share-expiry-not-time", share, air, "", res("imagefleet_image_share", "endpoint = \"air\"\nimage = \"abc\"\ntarget_org = \"org-b\"\nexpires_at = \"next week\"")},
		{"share-missing-image", share, air, "", res("imagefleet_image_share", "endpoint = \"air\"\nimage = \"00000000-0000-0000-0000-000000000000\"\ntarget_org = \"org-b\"")},
		{"share-empty-target-org", share, air, "", res("imagefleet_image_share", "endpoint = \"air\"\nimage = \"abc\"\ntarget_org = \"\"")},
		{"share-import-leading-colon", share, air, "", importBlock("imagefleet_image_share", ":abc", "endpoint = \"air\"\nimage = \"abc\"\ntarget_org = \"org-b\"")},
		// imagefleet_instance.
		{"instance-bad-name", inst, incus, "", res("imagefleet_instance", "name = \"web_1\"\nimage = \"abc\"")},
		{"instance-name-leading-digit", inst, lxd, "", res("imagefleet_instance", "endpoint = \"lxd\"\nname = \"1web\"\nimage = \"abc\"")},
		{"instance-on-openstack", inst, openstack, "", res("imagefleet_instance", "endpoint = \"cloud\"\nname = \"web\"\nimage = \"abc\"")},
		{"instance-on-air", inst, air, "", res("imagefleet_instance", "endpoint = \"air\"\nname = \"web\"\nimage = \"abc\"")},
		{"instance-bad-state", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nstate = \"paused\"")},
		{"instance-bad-type", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\ntype = \"vm\"")},
		{"instance-file-relative-path", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nfiles = [{ target_path = \"etc/motd\", content = \"hi\" }]")},
		{"instance-file-missing-source", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nfiles = [{ target_path = \"/etc/motd\", source_file = "+q(f.missing)+" }]")},
		{"instance-file-two-sources", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nfiles = [{ target_path = \"/etc/motd\", content = \"hi\", source_file = "+q(f.notImage)+" }]")},
		{"instance-file-bad-mode", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nfiles = [{ target_path = \"/etc/motd\", content = \"hi\", mode = \"rwx\" }]")},
		{"instance-exec-stopped", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nstate = \"stopped\"\nexec = [{ command = [\"true\"] }]")},
		{"instance-exec-empty-command", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nexec = [{ command = [] }]")},
		{"instance-exec-bad-trigger", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nexec = [{ command = [\"true\"], trigger = \"always\" }]")},
		{"instance-remote-bad-protocol", inst, incus, "remote", res("imagefleet_instance", "name = \"web\"\nimage = \"debian/12\"\nremote = { server = \"https://images.linuxcontainers.org\", protocol = \"ftp\" }")},
		{"instance-negative-stop-timeout", inst, incus, "", res("imagefleet_instance", "name = \"web\"\nimage = \"abc\"\nstop_timeout = -1")},
		{"instance-import-bad-name", inst, incus, "", importBlock("imagefleet_instance", "incus:default/web_1", "name = \"web\"\nimage = \"abc\"")},
		// Data sources.
		{"data-image-two-lookups", dImage, incus, "", data("imagefleet_image", "id = \"abc\"\nalias = \"x\"")},
		{"data-image-no-lookup", dImage, incus, "", data("imagefleet_image", "")},
		{"data-image-not-found", dImage, incus, "", data("imagefleet_image", "alias = \"no-such-alias-catalogue\"")},
		{"data-image-alias-on-air", dImage, air, "", data("imagefleet_image", "endpoint = \"air\"\nalias = \"x\"")},
		{"data-image-fingerprint-on-air", dImage, air, "", data("imagefleet_image", "endpoint = \"air\"\nfingerprint = \"abc\"")},
		{"data-image-alias-on-openstack", dImage, openstack, "", data("imagefleet_image", "endpoint = \"cloud\"\nalias = \"x\"")},
		{"data-image-air-id-missing", dImage, air, "", data("imagefleet_image", "endpoint = \"air\"\nid = \"00000000-0000-0000-0000-000000000000\"")},
		{"data-image-endpoint-not-configured", dImage, incus, "", data("imagefleet_image", "endpoint = \"nowhere\"\nalias = \"x\"")},
		{"data-images-tags-on-incus", dList, incus, "", data("imagefleet_images", "filter = { tags = [\"a\"] }")},
		{"data-images-published-on-lxd", dList, lxd, "", data("imagefleet_images", "endpoint = \"lxd\"\nfilter = { published = true }")},
		{"data-images-version-on-openstack", dList, openstack, "", data("imagefleet_images", "endpoint = \"cloud\"\nfilter = { version = \"1.0\" }")},
		{"data-images-properties-on-air", dList, air, "", data("imagefleet_images", "endpoint = \"air\"\nfilter = { properties = { a = \"b\" } }")},
		{"data-images-type-on-air", dList, air, "", data("imagefleet_images", "endpoint = \"air\"\nfilter = { type = \"container\" }")},
		{"data-images-air-status-on-openstack", dList, openstack, "", data("imagefleet_images", "endpoint = \"cloud\"\nfilter = { status = \"UPLOADING\" }")},
		{"data-images-bad-visibility", dList, openstack, "", data("imagefleet_images", "endpoint = \"cloud\"\nfilter = { visibility = \"everyone\" }")},
		{"data-images-bad-hidden", dList, openstack, "", data("imagefleet_images", "endpoint = \"cloud\"\nfilter = { hidden = \"maybe\" }")},
		{"data-images-bad-type", dList, incus, "", data("imagefleet_images", "filter = { type = \"vm\" }")},
		{"data-images-endpoint-not-configured", dList, air, "", data("imagefleet_images", "endpoint = \"nowhere\"")},
		{"data-instance-missing", dInst, incus, "", data("imagefleet_instance", "name = \"no-such-instance-catalogue\"")},
		{"data-instance-bad-name", dInst, lxd, "", data("imagefleet_instance", "endpoint = \"lxd\"\nname = \"web_1\"")},
		{"data-instance-on-air", dInst, air, "", data("imagefleet_instance", "endpoint = \"air\"\nname = \"web\"")},
		{"data-instance-on-openstack", dInst, openstack, "", data("imagefleet_instance", "endpoint = \"cloud\"\nname = \"web\"")},
		// The provider's endpoints.
		{"provider-default-not-configured", prov, incus, "", `provider "imagefleet" {
  default_endpoint = "nowhere"
  endpoints = { incus = { incus = {} } }
}
data "imagefleet_images" "x" {}
`},
		{"provider-no-default", prov, all, "", `provider "imagefleet" {
  endpoints = {
    incus = { incus = {} }
    lxd   = { lxd = {} }
  }
}
data "imagefleet_images" "x" {}
`},
		{"provider-endpoint-two-kinds", prov, []string{"incus", "lxd"}, "", providerBlock(`{ incus = {}, lxd = {} }`)},
		{"provider-endpoint-no-kind", prov, incus, "", providerBlock(`{}`)},
		{"provider-incus-http-address", prov, incus, "", providerBlock(`{ incus = { address = "http://127.0.0.1:8443" } }`)},
		{"provider-incus-no-host", prov, incus, "", providerBlock(`{ incus = { address = "https://" } }`)},
		{"provider-incus-empty-socket", prov, incus, "", providerBlock(`{ incus = { address = "unix://" } }`)},
		{"provider-incus-missing-socket", prov, incus, "", providerBlock(`{ incus = { address = "unix:///nonexistent/unix.socket" } }`)},
		{"provider-incus-cert-without-key", prov, incus, "", providerBlock(`{ incus = { address = "https://127.0.0.1:1", client_cert = "x" } }`)},
		{"provider-incus-bad-pem", prov, incus, "", providerBlock(`{ incus = { address = "https://127.0.0.1:1", client_cert = "x", client_key = "y" } }`)},
		{"provider-incus-bad-server-cert", prov, incus, "", providerBlock(`{ incus = { address = "https://127.0.0.1:1", server_cert = "not pem" } }`)},
		{"provider-incus-missing-cert-file", prov, incus, "", providerBlock(`{ incus = { address = "https://127.0.0.1:1", client_cert_file = "/nonexistent/client.crt", client_key_file = "/nonexistent/client.key" } }`)},
		{"provider-incus-refused", prov, incus, "", providerBlock(`{ incus = { address = "https://127.0.0.1:1", accept_server_certificate = true } }`)},
		{"provider-lxd-bad-address", prov, lxd, "", providerBlock(`{ lxd = { address = "lxd.example:8443" } }`)},
		{"provider-lxd-missing-socket", prov, lxd, "", providerBlock(`{ lxd = { address = "unix:///nonexistent/lxd.socket" } }`)},
		{"provider-openstack-no-settings", prov, openstack, "", providerBlock(`{ openstack = { clouds_file = "/nonexistent/clouds.yaml" } }`)},
		{"provider-openstack-unknown-cloud", prov, openstack, "", providerBlock(`{ openstack = { cloud = "nope", clouds_file = "/etc/imagefleet/openstack/clouds.yaml" } }`)},
		{"provider-openstack-password-no-user", prov, openstack, "", providerBlock(`{ openstack = { auth_url = "http://127.0.0.1:1/v3", password = "pw" } }`)},
		{"provider-openstack-app-cred-no-secret", prov, openstack, "", providerBlock(`{ openstack = { auth_url = "http://127.0.0.1:1/v3", application_credential_id = "id" } }`)},
		{"provider-openstack-auth-url-no-scheme", prov, openstack, "", providerBlock(`{ openstack = { auth_url = "keystone.example:5000", username = "u", password = "p", project_name = "p", user_domain_name = "Default", project_domain_name = "Default" } }`)},
		{"provider-openstack-refused", prov, openstack, "", providerBlock(`{ openstack = { auth_url = "http://127.0.0.1:1/v3", username = "u", password = "p", project_name = "p", user_domain_name = "Default", project_domain_name = "Default" } }`)},
		{"provider-openstack-bad-interface", prov, openstack, "", providerBlock(`{ openstack = { auth_url = "http://127.0.0.1:1/v3", token = "t", interface = "private" } }`)},
		{"provider-openstack-missing-ca", prov, openstack, "", providerBlock(`{ openstack = { auth_url = "https://127.0.0.1:1/v3", token = "t", cacert_file = "/nonexistent/ca.pem" } }`)},
		{"provider-air-bad-url", prov, air, "", providerBlock(`{ air = { api_url = "ftp://air.example", api_key = "k" } }`)},
		{"provider-air-other-version", prov, air, "", providerBlock(`{ air = { api_url = "https://air.example/api/v2/", api_key = "k" } }`)},
		{"provider-air-url-path", prov, air, "", providerBlock(`{ air = { api_url = "https://air.example/simulations", api_key = "k" } }`)},
		{"provider-air-zero-workers", prov, air, "", providerBlock(`{ air = { api_url = "http://127.0.0.1:1", api_key = "k", upload_workers = -1 } }`)},
		{"provider-air-refused", prov, air, "", providerBlock(`{ air = { api_url = "http://127.0.0.1:1", api_key = "k" } }`)},
	}
}
