package air

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// Client talks to one Air API with one API key, which belongs to one organisation.
type Client struct {
	cfg  Config
	base *url.URL
	http *httpclient.Client
}

// What an Air endpoint provides.
var (
	_ backend.ImageStore = (*Client)(nil)
	_ backend.ShareStore = (*Client)(nil)
)

// responseTimeout bounds the wait for an answer once a request is sent: the API
// answers at once (validation and copies run in the background, and are polled), and
// a part's answer comes as soon as its last byte is stored.
const responseTimeout = 2 * time.Minute

// bufferSize sizes the transport's buffers, so a part is not written in net/http's
// 4 KiB pieces.
const bufferSize = 1 << 20

// New builds a client without contacting the API; Connect does that. cfg is a
// Config that Resolve returned.
func New(cfg Config) (*Client, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	base, err := normalizeURL(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	// HTTP/1.1 only (a custom TLS config keeps net/http from HTTP/2): each part then
	// has a connection of its own, which is what sending them in parallel is for
	// when a connection's bandwidth is capped.
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACertFile != "" {
		pem, err := os.ReadFile(cfg.CACertFile)
		if err != nil {
			return nil, backend.LocalFile("ca_cert_file", cfg.CACertFile, err)
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_cert_file %s holds no PEM certificate: give the file (PEM, -----BEGIN CERTIFICATE-----) of the CA that signs the server's certificate", cfg.CACertFile)
		}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: responseTimeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   cfg.UploadWorkers + 2,
		WriteBufferSize:       bufferSize,
		ReadBufferSize:        bufferSize,
	}
	return &Client{cfg: cfg, base: u, http: httpclient.New(tr, cfg.Retry, cfg.APIKey)}, nil
}

// Server is the API base the client uses.
func (c *Client) Server() string { return c.base.String() }

// Connect checks that the API answers and takes the key, with the cheapest
// authenticated request there is: one image of the list.
func (c *Client) Connect(ctx context.Context) error {
	var page struct {
		Count   *int              `json:"count"`
		Results []json.RawMessage `json:"results"`
	}
	err := c.do(ctx, http.MethodGet, "images/?limit=1", nil, &page)
	var apiErr *backend.APIError
	switch {
	case errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden):
		return fmt.Errorf("NVIDIA Air at %s refused the API key from %s: check that it is a valid NGC API key (nvapi-...) with access to Air (%w)",
			c.Server(), c.cfg.keyFrom, err)
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		return fmt.Errorf("%s has no Air image API (%w): check api_url", c.Server(), err)
	case err != nil:
		return err
	case page.Count == nil:
		return fmt.Errorf("%s answered the image list without a count: check that api_url is the Air API", c.Server())
	}
	return nil
}

// ref is the URL of a path under the API base (such as "images/<id>/?x=y"), whose
// segments the caller escaped.
func (c *Client) ref(path string) string { return c.base.String() + path }

// imagePath is the path of an image, or of one of its actions.
func imagePath(id string, action ...string) string {
	p := "images/" + url.PathEscape(id) + "/"
	for _, a := range action {
		p += a + "/"
	}
	return p
}

// do sends a JSON request to an API path (or to an absolute URL of the API, such as a
// list's next page), retried where safe, and decodes the answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.sendError(req, err)
	}
	defer resp.Body.Close()
	return c.decode(req, resp, out)
}

// request builds a request with the bearer token; path is relative to the base,
// unless it is an absolute URL of the same server.
func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	target := path
	if u, err := url.Parse(path); err != nil || !u.IsAbs() {
		target = c.ref(path)
	} else if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		// The bearer token goes to the API's own server only.
		return nil, fmt.Errorf("the API pointed at %s, away from %s: not followed, so the API key is not sent there", httpclient.RedactURL(u), c.Server())
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "terraform-provider-imagefleet")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// decode reads an answer: an error status becomes a backend.APIError carrying the
// API's message, a success is decoded into out (when not nil).
func (c *Client) decode(req *http.Request, resp *http.Response, out any) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return c.sendError(req, err)
	}
	if resp.StatusCode >= 300 {
		return c.apiError(req, resp.StatusCode, body)
	}
	if out == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what the Air API sends: %w", req.Method, httpclient.RedactURL(req.URL), err)
	}
	return nil
}

func (c *Client) apiError(req *http.Request, status int, body []byte) *backend.APIError {
	return backend.NewAPIError(req.Method, httpclient.RedactURL(req.URL), status, apiMessage(body))
}

// sendError classifies a request that got no answer: the caller's cancellation or
// deadline says nothing about the server, anything else means it could not be
// reached.
func (c *Client) sendError(req *http.Request, err error) error {
	where := req.Method + " " + httpclient.RedactURL(req.URL)
	if stop := backend.Interrupted(req.Context()); stop != nil {
		return fmt.Errorf("%s: %w", where, stop)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		// The shared client's url.Error sits inside http.Client's: name the request once.
		for inner := uerr; errors.As(inner.Err, &inner); {
			uerr = inner
		}
		err = uerr.Err
	}
	kind := backend.ErrUnreachable
	if httpclient.UntrustedServer(err) {
		kind = backend.ErrUntrustedServer
	}
	return fmt.Errorf("%s: %w: %w", where, kind, httpclient.Explain(err))
}

var (
	htmlTag = regexp.MustCompile(`<[^>]*>`)
	spaces  = regexp.MustCompile(`\s+`)
)

// apiMessage is the message of an error answer: the API's {"detail": ...}, a
// validation error's fields and their messages ({"name": ["..."], ...}), the Code
// and Message of a storage service's XML error, or the text of whatever else
// answered. The API's request_id ends it, for NVIDIA's support; its type is left
// out when it is VALIDATION, which the status says already.
func apiMessage(body []byte) string {
	var m map[string]any
	var s3 struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	text := ""
	switch {
	case json.Unmarshal(body, &m) == nil && len(m) > 0:
		var parts []string
		if d, ok := m["detail"]; ok {
			parts = append(parts, flatten(d))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			switch {
			case k == "detail" || k == "request_id":
			case k == "type" && m[k] == "VALIDATION":
			default:
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "non_field_errors" {
				parts = append(parts, flatten(m[k]))
				continue
			}
			parts = append(parts, k+": "+flatten(m[k]))
		}
		text = strings.Join(parts, "; ")
		if id, ok := m["request_id"].(string); ok && id != "" {
			text += " (request_id " + id + ")"
		}
	case xml.Unmarshal(body, &s3) == nil && s3.Code != "":
		text = s3.Code + ": " + s3.Message
	default:
		text = htmlTag.ReplaceAllString(string(body), " ")
	}
	text = strings.TrimSpace(spaces.ReplaceAllString(text, " "))
	if len(text) > 500 {
		text = text[:500] + "..."
	}
	return text
}

// flatten writes a JSON value of an error answer as text.
func flatten(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			parts = append(parts, flatten(e))
		}
		return strings.Join(parts, " ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Timestamps: the API writes RFC 3339 with no fraction or 3 or 6 fractional digits
// (Django's), and takes RFC 3339.

// apiTime is a timestamp of an answer; null or empty is the zero time.
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil || *s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := parseTime(*s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", s)
	}
	return t, nil
}

// formatTime writes t in UTC as the SDK does: whole seconds without a fraction,
// else with microseconds, the precision the service keeps.
func formatTime(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04:05.000000Z07:00")
}
