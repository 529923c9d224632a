package openstack

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// Client talks to one cloud's Keystone and Glance.
type Client struct {
	cfg      Config
	http     *httpclient.Client
	provider *gophercloud.ProviderClient
	image    *gophercloud.ServiceClient
	project  string

	// hashAlgo is the cloud's os_hash_algo, learnt once (see hashAlgorithm).
	hashOnce sync.Once
	hashAlgo string
}

// What a cloud's client provides.
var (
	_ backend.ImageStore    = (*Client)(nil)
	_ backend.ImageExporter = (*Client)(nil)
	_ backend.MemberStore   = (*Client)(nil)
)

// responseTimeout bounds the wait for an answer once a request is sent. Glance
// answers an upload once it has stored the last byte, and every other call at once.
const responseTimeout = 2 * time.Minute

// bufferSize sizes the transport's buffers, so a large upload is not written in
// net/http's 4 KiB pieces.
const bufferSize = 1 << 20

// New builds a client without contacting the cloud; Connect does that. cfg is a
// Config that Resolve returned.
func New(cfg Config) (*Client, error) {
	if err := cfg.check(nil); err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.AuthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("auth_url %q is not Keystone's address: write it as https://host:port/v3", cfg.AuthURL)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // the user's own insecure setting
	if cfg.CACertFile != "" {
		pool, err := readCA(cfg.CACertFile)
		if err != nil {
			return nil, err
		}
		tlsCfg.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: responseTimeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   httpclient.IdleConnsPerHost,
		WriteBufferSize:       bufferSize,
		ReadBufferSize:        bufferSize,
	}
	hc := httpclient.New(tr, cfg.Retry, cfg.Password, cfg.ApplicationCredentialSecret, cfg.Token)
	pc, err := openstack.NewClient(cfg.AuthURL)
	if err != nil {
		return nil, fmt.Errorf("auth_url %q: %w", cfg.AuthURL, err)
	}
	pc.HTTPClient = http.Client{Transport: retrying{hc}}
	pc.UserAgent.Prepend("terraform-provider-imagefleet")
	return &Client{cfg: cfg, http: hc, provider: pc}, nil
}

// retrying sends gophercloud's requests through the shared client, so they are
// retried, and logged with secrets masked, like every other backend's. Their bodies
// are small JSON documents held in memory, which a retry can send again; the one
// body that cannot be (an upload) does not go through here (see upload).
type retrying struct{ c *httpclient.Client }

func (r retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.c.Do(req.Clone(req.Context()))
}

// authOptions are the credentials Keystone is asked for a token with.
func (c *Client) authOptions() gophercloud.AuthOptions {
	cfg := c.cfg
	ao := gophercloud.AuthOptions{IdentityEndpoint: cfg.AuthURL, AllowReauth: true}
	project := &gophercloud.AuthScope{ProjectID: cfg.ProjectID}
	if cfg.ProjectID == "" {
		project = &gophercloud.AuthScope{ProjectName: cfg.ProjectName, DomainID: cfg.ProjectDomainID, DomainName: cfg.ProjectDomainName}
	}
	if cfg.ProjectID == "" && cfg.ProjectName == "" {
		project = nil
	}
	user := func() {
		ao.Username, ao.UserID = cfg.Username, cfg.UserID
		if cfg.UserID == "" {
			ao.DomainID, ao.DomainName = cfg.UserDomainID, cfg.UserDomainName
		}
	}
	switch {
	case cfg.ApplicationCredentialSecret != "":
		// An application credential is bound to its project: Keystone refuses a scope.
		ao.ApplicationCredentialID, ao.ApplicationCredentialName, ao.ApplicationCredentialSecret =
			cfg.ApplicationCredentialID, cfg.ApplicationCredentialName, cfg.ApplicationCredentialSecret
		if cfg.ApplicationCredentialID == "" {
			user()
		}
	case cfg.Token != "":
		// A token used as it is cannot be renewed; one rescoped to a project can
		// be rescoped again, until the original token expires.
		ao.TokenID, ao.Scope, ao.AllowReauth = cfg.Token, project, project != nil
	default:
		user()
		ao.Password, ao.Scope = cfg.Password, project
	}
	return ao
}

// Connect authenticates with Keystone and finds Glance in the catalog.
func (c *Client) Connect(ctx context.Context) error {
	if err := openstack.Authenticate(ctx, c.provider, c.authOptions()); err != nil {
		return c.authFailed(ctx, err)
	}
	eo := gophercloud.EndpointOpts{Region: c.cfg.Region, Availability: availability(c.cfg.Interface)}
	img, err := openstack.NewImageV2(c.provider, eo)
	if err != nil {
		return c.noImageService(err)
	}
	c.image = img
	if p, err := c.authResult().ExtractProject(); err == nil && p != nil {
		c.project = p.ID
	}
	if c.project == "" {
		return fmt.Errorf("the token from Keystone at %s is scoped to no project: set project_name or project_id, so the images belong to a project", c.cfg.AuthURL)
	}
	return nil
}

func availability(iface string) gophercloud.Availability {
	switch strings.TrimSuffix(iface, "URL") {
	case "internal":
		return gophercloud.AvailabilityInternal
	case "admin":
		return gophercloud.AvailabilityAdmin
	}
	return gophercloud.AvailabilityPublic
}

// Server is the Glance endpoint the client uses.
func (c *Client) Server() string {
	if c.image == nil {
		return ""
	}
	return c.image.Endpoint
}

// ProjectID is the project the token is scoped to: the owner of the images created.
func (c *Client) ProjectID() string { return c.project }

// tokenResult is what both ways of authenticating leave behind (a new token, or one
// given and checked).
type tokenResult interface {
	ExtractToken() (*tokens.Token, error)
	ExtractProject() (*tokens.Project, error)
	ExtractServiceCatalog() (*tokens.ServiceCatalog, error)
}

func (c *Client) authResult() tokenResult {
	switch r := c.provider.GetAuthResult().(type) {
	case tokens.CreateResult:
		return r
	case tokens.GetResult:
		return r
	}
	return tokens.CreateResult{}
}

// authFailed words a failed authentication.
func (c *Client) authFailed(ctx context.Context, err error) error {
	err = c.fail(ctx, err)
	who := c.cfg.Username
	if who == "" {
		who = c.cfg.UserID
	}
	var what string
	switch {
	case c.cfg.ApplicationCredentialSecret != "":
		what = "the application credential " + first(c.cfg.ApplicationCredentialID, c.cfg.ApplicationCredentialName)
	case c.cfg.Token != "":
		what = "the token"
	default:
		what = fmt.Sprintf("the password of user %q", who)
	}
	var apiErr *backend.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized:
		return fmt.Errorf("authenticating with Keystone at %s: it refused %s; check the credentials, and the user's and project's domains (%w)", c.cfg.AuthURL, what, err)
	case errors.As(err, &apiErr):
		return fmt.Errorf("authenticating with Keystone at %s with %s: %w", c.cfg.AuthURL, what, err)
	}
	return fmt.Errorf("authenticating with Keystone at %s: %w", c.cfg.AuthURL, err)
}

// noImageService explains a catalog without the image service asked for, listing
// the image endpoints it has.
func (c *Client) noImageService(err error) error {
	var have []string
	if cat, cerr := c.authResult().ExtractServiceCatalog(); cerr == nil && cat != nil {
		for _, e := range cat.Entries {
			if e.Type != "image" {
				continue
			}
			for _, ep := range e.Endpoints {
				have = append(have, fmt.Sprintf("%s %s in region %q", ep.Interface, ep.URL, ep.Region))
			}
		}
	}
	region := c.cfg.Region
	if region == "" {
		region = "(any)"
	}
	found := "the catalog has no image service"
	if len(have) > 0 {
		found = "its image endpoints are: " + strings.Join(have, "; ")
	}
	return fmt.Errorf("the catalog of Keystone at %s lists no %s image (Glance) endpoint for region %s: %s (%v)", c.cfg.AuthURL, c.cfg.Interface, region, found, err)
}

// fail turns what gophercloud returns into the backend's errors: an answer into an
// APIError carrying the server's own message, an interruption into the reason the
// caller stopped, anything else that got no answer into ErrUnreachable.
func (c *Client) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var code gophercloud.ErrUnexpectedResponseCode
	var codePtr *gophercloud.ErrUnexpectedResponseCode
	var reauth *gophercloud.ErrUnableToReauthenticate
	switch {
	case errors.As(err, &code):
		return backend.NewAPIError(code.Method, code.URL, code.Actual, serverMessage(code.Body))
	case errors.As(err, &codePtr):
		return backend.NewAPIError(codePtr.Method, codePtr.URL, codePtr.Actual, serverMessage(codePtr.Body))
	case errors.As(err, &reauth):
		return fmt.Errorf("the token expired, and authenticating again with Keystone at %s failed: %w", c.cfg.AuthURL, c.fail(ctx, reauth.ErrReauth))
	}
	if stop := backend.Interrupted(ctx); stop != nil {
		return fmt.Errorf("%s: %w", c.where(err), stop)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		// The shared client's own url.Error sits inside http.Client's: name the
		// request once.
		for inner := uerr; errors.As(inner.Err, &inner); {
			uerr = inner
		}
		kind := backend.ErrUnreachable
		if httpclient.UntrustedServer(uerr.Err) {
			kind = backend.ErrUntrustedServer
		}
		return fmt.Errorf("%s: %w: %w", c.where(err), kind, httpclient.Explain(uerr.Err))
	}
	return err
}

// where names the request an error is about.
func (c *Client) where(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil {
			return strings.ToUpper(uerr.Op) + " " + httpclient.RedactURL(u)
		}
	}
	return c.cfg.AuthURL
}

var (
	htmlTag = regexp.MustCompile(`<[^>]*>`)
	spaces  = regexp.MustCompile(`\s+`)
)

// serverMessage is the message of an error answer: Glance's {"message"} (webob),
// Keystone's {"error": {"message"}}, or the text of an HTML page.
func serverMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
		Error   struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	text := string(body)
	if json.Unmarshal(body, &m) == nil {
		text = first(m.Message, m.Error.Message, text)
	} else if i := strings.Index(text, "</h1>"); i >= 0 {
		text = text[i+len("</h1>"):]
	}
	text = strings.TrimSpace(spaces.ReplaceAllString(htmlTag.ReplaceAllString(text, " "), " "))
	if len(text) > 500 {
		text = text[:500] + "..."
	}
	return text
}
