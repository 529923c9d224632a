// Package air is the client of NVIDIA Air's v3 API (`/api/v3/`) for images and image
// shares: images are created with their settings, their content sent in parts to the
// presigned URLs the API hands out, several at once, and validated by the service;
// images are published and unpublished, shared with another organisation, and
// claimed from a share. It speaks the contract NVIDIA's own SDK (nv-air-sdk) uses.
//
// # Where the settings come from
//
// The API key is the endpoint's own, else the NGC_API_KEY environment variable,
// else the only profile with an apikey in the NGC CLI's ~/.ngc/config, which is the
// file NVIDIA's SDK reads when it is given no key: an INI file whose lines starting
// with ';' are comments (`ngc config set` writes them), normally one section,
// [CURRENT], with `apikey = nvapi-...`. As in the SDK, several profiles with a key
// are an error rather than a guess.
package air

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// DefaultAPIURL is the service used when the endpoint names none.
const DefaultAPIURL = "https://air.nvidia.com"

// DefaultUploadWorkers is how many parts of an image are sent at once when the
// endpoint does not say.
const DefaultUploadWorkers = 4

// APIKeyEnv is the environment variable the API key falls back to.
const APIKeyEnv = "NGC_API_KEY"

// apiPath is the API's base under the service's address.
const apiPath = "/api/v3/"

// Config is how to reach the Air API. Resolve fills it from the environment and
// ~/.ngc/config; New takes a resolved Config.
type Config struct {
	// APIURL is the service's address (https://air.nvidia.com) or its API base
	// (…/api/v3/); Resolve turns it into the base.
	APIURL string
	// APIKey is the NGC API key, sent as the bearer token.
	APIKey string
	// UploadWorkers is how many parts are sent at once; 0 means
	// DefaultUploadWorkers, and a negative number is refused.
	UploadWorkers int
	// CACertFile is a PEM bundle of the CAs that sign the service's certificate,
	// when the system's do not; empty means the system's.
	CACertFile string
	Retry      httpclient.Retry

	// keyFrom says where the key came from, for the error when it is refused.
	keyFrom string
}

// Resolve normalises the API URL, finds the API key (see the package
// documentation) and checks the settings.
func (c Config) Resolve() (Config, error) {
	out := c
	base, err := normalizeURL(c.APIURL)
	if err != nil {
		return Config{}, err
	}
	out.APIURL = base
	if out.UploadWorkers == 0 {
		out.UploadWorkers = DefaultUploadWorkers
	}
	if out.UploadWorkers < 1 {
		return Config{}, fmt.Errorf("upload_workers is %d: at least 1 part must be sent at a time", c.UploadWorkers)
	}
	switch {
	case c.APIKey != "":
		out.keyFrom = "the endpoint's api_key"
	case os.Getenv(APIKeyEnv) != "":
		out.APIKey, out.keyFrom = os.Getenv(APIKeyEnv), APIKeyEnv
	default:
		key, from, err := ngcConfigKey()
		if err != nil {
			return Config{}, err
		}
		out.APIKey, out.keyFrom = key, from
	}
	return out, nil
}

// check is what New needs of a Config: what Resolve makes sure of.
func (c Config) check() error {
	if _, err := normalizeURL(c.APIURL); err != nil {
		return err
	}
	if c.APIKey == "" {
		return errors.New(noKey)
	}
	if c.UploadWorkers < 1 {
		return fmt.Errorf("upload_workers is %d: at least 1 part must be sent at a time", c.UploadWorkers)
	}
	return nil
}

const noKey = "no NGC API key for NVIDIA Air: set api_key in the endpoint's air block, or the " + APIKeyEnv +
	" environment variable, or store one with the NGC CLI (`ngc config set`), which writes it to ~/.ngc/config"

// otherVersion matches an API base of a version other than v3.
var otherVersion = regexp.MustCompile(`/api/v\d+/?$`)

// normalizeURL turns the service's address, or its API base with or without the
// trailing slash, into the v3 API base ending in a slash. A path that is neither is
// refused rather than replaced (the SDK replaces it): an address copied from the
// browser, such as …/simulations, is more likely a mistake than meant.
func normalizeURL(raw string) (string, error) {
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("api_url %q is not a URL: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("api_url %q: the scheme must be https:// (or http://), such as %s", raw, DefaultAPIURL)
	case u.Host == "":
		return "", fmt.Errorf("api_url %q names no host: give the service's address, such as %s", raw, DefaultAPIURL)
	case u.User != nil:
		return "", fmt.Errorf("api_url %q holds credentials: give the API key as api_key instead", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("api_url %q: give the service's address without a query or fragment, such as %s", raw, DefaultAPIURL)
	}
	p := strings.TrimSuffix(u.Path, "/")
	switch {
	case p == "":
		p = strings.TrimSuffix(apiPath, "/")
	case strings.HasSuffix(p, strings.TrimSuffix(apiPath, "/")):
	case otherVersion.MatchString(p):
		return "", fmt.Errorf("api_url %q names another version of the API: this provider speaks %s, so give the service's address (such as %s) or its API base ending in %s",
			raw, apiPath, DefaultAPIURL, apiPath)
	default:
		return "", fmt.Errorf("api_url %q: give the service's address (such as %s) or its API base ending in %s", raw, DefaultAPIURL, apiPath)
	}
	u.Path, u.RawPath = p+"/", ""
	return u.String(), nil
}

// ngcConfigKey reads the API key from ~/.ngc/config as NVIDIA's SDK does: the
// apikey of the one profile that has one. It returns the key and where it came from.
func ngcConfigKey() (key, from string, err error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", "", errors.New(noKey)
	}
	path := filepath.Join(home, ".ngc", "config")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", errors.New(noKey)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the NGC API key: %w", err)
	}
	defer f.Close()
	sections, err := readINI(f, path)
	if err != nil {
		return "", "", err
	}
	var names, keys []string
	for _, s := range sections {
		if k := s.values["apikey"]; k != "" {
			names, keys = append(names, s.name), append(keys, k)
		}
	}
	switch len(keys) {
	case 0:
		return "", "", fmt.Errorf("%s holds no apikey: %s", path, noKey)
	case 1:
		return keys[0], fmt.Sprintf("%s (profile %s)", path, names[0]), nil
	}
	return "", "", fmt.Errorf("%s holds API keys for several profiles (%s): choose one with api_key in the endpoint's air block or %s",
		path, strings.Join(names, ", "), APIKeyEnv)
}

// iniSection is one [section] of an INI file, its keys lower-cased.
type iniSection struct {
	name   string
	values map[string]string
}

// readINI reads the INI files Python's configparser reads as the SDK uses it:
// comment lines start with ';' or '#', keys are case-insensitive and end at the
// first '=' or ':', values are trimmed, and a [DEFAULT] section is not a profile of
// its own but gives its keys to every other section.
func readINI(f *os.File, path string) ([]iniSection, error) {
	var (
		sections []iniSection
		defaults = map[string]string{}
		cur      map[string]string
	)
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		switch {
		case line == "" || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			name := line[1 : len(line)-1]
			if name == "DEFAULT" {
				cur = defaults
				continue
			}
			sections = append(sections, iniSection{name: name, values: map[string]string{}})
			cur = sections[len(sections)-1].values
		default:
			i := strings.IndexAny(line, "=:")
			if i < 0 || cur == nil {
				return nil, fmt.Errorf("%s, line %d: not a key = value line inside a [section]; `ngc config set` rewrites the file", path, n)
			}
			cur[strings.ToLower(strings.TrimSpace(line[:i]))] = strings.TrimSpace(line[i+1:])
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	for _, sec := range sections {
		for k, v := range defaults {
			if _, ok := sec.values[k]; !ok {
				sec.values[k] = v
			}
		}
	}
	return sections, nil
}
