package air

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isolate clears NGC_API_KEY and points HOME at an empty directory, so only what
// the test writes is read. It returns the home directory.
func isolate(t *testing.T) string {
	t.Helper()
	t.Setenv(APIKeyEnv, "")
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

// writeNGCConfig writes ~/.ngc/config under home.
func writeNGCConfig(t *testing.T, home, text string) {
	t.Helper()
	dir := filepath.Join(home, ".ngc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// What `ngc config set` writes.
const ngcConfig = `;WARNING - This is a machine generated file.  Do not edit manually.
;WARNING - To update local config settings, see "ngc config set -h"

[CURRENT]
apikey = nvapi-from-file
format_type = ascii
org = my-org
`

func TestResolveURL(t *testing.T) {
	isolate(t)
	for in, want := range map[string]string{
		"":                                  "https://air.nvidia.com/api/v3/",
		"https://air.nvidia.com":            "https://air.nvidia.com/api/v3/",
		"https://air.nvidia.com/":           "https://air.nvidia.com/api/v3/",
		"https://air.nvidia.com/api/v3":     "https://air.nvidia.com/api/v3/",
		"https://air.nvidia.com/api/v3/":    "https://air.nvidia.com/api/v3/",
		"http://127.0.0.1:8080":             "http://127.0.0.1:8080/api/v3/",
		"https://proxy.example/air/api/v3/": "https://proxy.example/air/api/v3/",
	} {
		got, err := Config{APIURL: in, APIKey: "k"}.Resolve()
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got.APIURL != want {
			t.Errorf("%q: got %q, want %q", in, got.APIURL, want)
		}
	}
}

func TestResolveURLRefused(t *testing.T) {
	isolate(t)
	for in, want := range map[string]string{
		"ftp://air.nvidia.com":                 "the scheme must be https:// (or http://)",
		"air.nvidia.com":                       "the scheme must be https:// (or http://)",
		"https://":                             "names no host",
		"https://air.nvidia.com/api/v2/":       "names another version of the API: this provider speaks /api/v3/",
		"https://air.nvidia.com/simulations":   "give the service's address (such as https://air.nvidia.com) or its API base ending in /api/v3/",
		"https://air.nvidia.com/?x=1":          "without a query or fragment",
		"https://me:s3cret@air.nvidia.com/":    "holds credentials: give the API key as api_key instead",
		"https://air.nvidia.com/api/v3/images": "give the service's address",
	} {
		_, err := Config{APIURL: in, APIKey: "k"}.Resolve()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the password: %v", in, err)
		}
	}
}

func TestResolveKeyOrder(t *testing.T) {
	home := isolate(t)
	writeNGCConfig(t, home, ngcConfig)

	got, err := Config{}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if got.APIKey != "nvapi-from-file" || got.keyFrom != filepath.Join(home, ".ngc", "config")+" (profile CURRENT)" {
		t.Fatalf("from the file: key %q from %q", got.APIKey, got.keyFrom)
	}

	t.Setenv(APIKeyEnv, "nvapi-from-env")
	if got, err = (Config{}).Resolve(); err != nil || got.APIKey != "nvapi-from-env" || got.keyFrom != APIKeyEnv {
		t.Fatalf("from the environment: key %q from %q (%v)", got.APIKey, got.keyFrom, err)
	}

	if got, err = (Config{APIKey: "nvapi-own"}).Resolve(); err != nil || got.APIKey != "nvapi-own" || got.keyFrom != "the endpoint's api_key" {
		t.Fatalf("the endpoint's own: key %q from %q (%v)", got.APIKey, got.keyFrom, err)
	}
}

func TestResolveWithoutKey(t *testing.T) {
	isolate(t)
	_, err := Config{}.Resolve()
	want := "no NGC API key for NVIDIA Air: set api_key in the endpoint's air block, or the NGC_API_KEY environment variable, or store one with the NGC CLI (`ngc config set`), which writes it to ~/.ngc/config"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
}

// The file is read as Python's configparser reads it for the SDK.
func TestResolveNGCConfigForms(t *testing.T) {
	for name, tc := range map[string]struct{ file, key, profile string }{
		"colon and case":           {"[CURRENT]\nApiKey: nvapi-x\n", "nvapi-x", "CURRENT"},
		"hash comments":            {"# a comment\n[CURRENT]\n# apikey = nvapi-no\napikey=nvapi-y\n", "nvapi-y", "CURRENT"},
		"another profile name":     {"[work]\norg = o\napikey = nvapi-w\n[empty]\norg = p\n", "nvapi-w", "work"},
		"from the DEFAULT section": {"[DEFAULT]\napikey = nvapi-d\n[CURRENT]\norg = o\n", "nvapi-d", "CURRENT"},
		"an empty key is no key":   {"[a]\napikey =\n[b]\napikey = nvapi-b\n", "nvapi-b", "b"},
	} {
		t.Run(name, func(t *testing.T) {
			home := isolate(t)
			writeNGCConfig(t, home, tc.file)
			got, err := Config{}.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			if got.APIKey != tc.key || !strings.HasSuffix(got.keyFrom, "(profile "+tc.profile+")") {
				t.Fatalf("key %q from %q, want %q from profile %s", got.APIKey, got.keyFrom, tc.key, tc.profile)
			}
		})
	}
}

func TestResolveNGCConfigRefused(t *testing.T) {
	for name, tc := range map[string]struct{ file, want string }{
		"several profiles": {"[CURRENT]\napikey = nvapi-1\n[other]\napikey = nvapi-2\n",
			"holds API keys for several profiles (CURRENT, other): choose one with api_key in the endpoint's air block or NGC_API_KEY"},
		"no key":            {"[CURRENT]\norg = o\n", "holds no apikey: no NGC API key for NVIDIA Air"},
		"outside a section": {"apikey = nvapi-1\n", "line 1: not a key = value line inside a [section]"},
		"not key = value":   {"[CURRENT]\nnonsense\n", "line 2: not a key = value line inside a [section]"},
	} {
		t.Run(name, func(t *testing.T) {
			home := isolate(t)
			writeNGCConfig(t, home, tc.file)
			_, err := Config{}.Resolve()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "nvapi-") {
				t.Fatalf("the error shows a key: %v", err)
			}
		})
	}
}

func TestResolveUploadWorkers(t *testing.T) {
	isolate(t)
	for in, want := range map[int]int{0: DefaultUploadWorkers, 1: 1, 8: 8} {
		got, err := Config{APIKey: "k", UploadWorkers: in}.Resolve()
		if err != nil || got.UploadWorkers != want {
			t.Errorf("%d: got %d (%v), want %d", in, got.UploadWorkers, err, want)
		}
	}
	_, err := Config{APIKey: "k", UploadWorkers: -1}.Resolve()
	if err == nil || err.Error() != "upload_workers is -1: at least 1 part must be sent at a time" {
		t.Fatalf("error %v", err)
	}
}

// New takes only what Resolve would return.
func TestNewChecks(t *testing.T) {
	isolate(t)
	if _, err := New(Config{APIURL: "https://air.nvidia.com/api/v3/", UploadWorkers: 4}); err == nil || err.Error() != noKey {
		t.Fatalf("without a key: %v", err)
	}
	if _, err := New(Config{APIURL: "https://air.nvidia.com/api/v3/", APIKey: "k"}); err == nil || !strings.Contains(err.Error(), "upload_workers is 0") {
		t.Fatalf("without workers: %v", err)
	}
	cfg, err := Config{APIKey: "k"}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server() != "https://air.nvidia.com/api/v3/" {
		t.Fatalf("server %q", c.Server())
	}
}
