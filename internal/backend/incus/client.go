// Package incus is one thin client for the Incus and LXD REST APIs. Both speak the
// same /1.0 shapes; the dialect (header prefix, server name, extensions) is read once
// from GET /1.0 when the client connects.
package incus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// Config is how to reach one Incus or LXD server.
type Config struct {
	// Kind is backend.KindIncus or backend.KindLXD: what the user said the server is.
	Kind backend.Kind
	// Address is unix:///path, https://host:port, or empty for the local socket.
	Address string
	// ClientCert and ClientKey are PEM; ServerCert pins the server's certificate.
	ClientCert, ClientKey, ServerCert string
	// AcceptServerCert trusts whatever certificate the server presents.
	AcceptServerCert bool
	// TrustToken is exchanged for trust when the server does not trust the client yet.
	TrustToken string
	Project    string
	Retry      httpclient.Retry
}

// Client talks to one server.
type Client struct {
	cfg      Config
	http     *httpclient.Client
	base     string
	endpoint string
	server   serverInfo
	// making holds the creates of instances made with KeepMark until FinishCreate.
	making sync.Map
}

type serverInfo struct {
	APIExtensions []string `json:"api_extensions"`
	Auth          string   `json:"auth"`
	Environment   struct {
		Server        string   `json:"server"`
		ServerName    string   `json:"server_name"`
		ServerVersion string   `json:"server_version"`
		Architectures []string `json:"architectures"`
	} `json:"environment"`
}

// DefaultSocket is where the local daemon of kind listens, following each CLI's own
// environment variables.
func DefaultSocket(kind backend.Kind) string {
	prefix := strings.ToUpper(string(kind))
	if s := os.Getenv(prefix + "_SOCKET"); s != "" {
		return s
	}
	if d := os.Getenv(prefix + "_DIR"); d != "" {
		return filepath.Join(d, "unix.socket")
	}
	if kind == backend.KindLXD {
		if _, err := os.Stat("/var/snap/lxd/common/lxd/unix.socket"); err == nil {
			return "/var/snap/lxd/common/lxd/unix.socket"
		}
		return "/var/lib/lxd/unix.socket"
	}
	return "/var/lib/incus/unix.socket"
}

// responseTimeout bounds the wait for an answer once a request is sent. Long work runs
// in operations, waited on in slices of 30 s, so a request unanswered for this long
// means a stuck server: better an error naming it than an apply that never ends.
const responseTimeout = 2 * time.Minute

// writeBuffer sizes the transport's buffers: net/http's 4 KiB default turns a
// multi-gigabyte upload into millions of small reads, hashes and writes.
const writeBuffer = 1 << 20

// New builds a client without contacting the server; Connect does that.
func New(cfg Config) (*Client, error) {
	addr := cfg.Address
	if addr == "" {
		addr = "unix://" + DefaultSocket(cfg.Kind)
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q is not a URL: %w", addr, err)
	}
	if cfg.TrustToken != "" && tokenFingerprint(cfg.TrustToken) == "" {
		// A token that does not decode cannot pin the server: refuse it rather than
		// fall back to the system's CAs and fail as an untrusted certificate.
		return nil, errors.New("trust_token is not a trust token: give the single line of base64 that `config trust add` prints, nothing around it")
	}
	switch {
	case u.Scheme == "unix" && u.Host+u.Path == "":
		return nil, fmt.Errorf("address %q names no socket: write unix:///path/to/unix.socket, or leave address out for the local daemon", addr)
	case u.Scheme == "https" && u.Hostname() == "":
		return nil, fmt.Errorf("address %q names no host: write https://host:port", addr)
	}
	c := &Client{cfg: cfg, endpoint: addr}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		if u.Host != "" {
			sock = u.Host + u.Path
		}
		// No idle connections on the unix socket: incusd's accept loop reads the first
		// bytes of each new connection before accepting the next (to tell TLS from
		// plain HTTP), and net/http may dial a spare connection and park it unused,
		// which stalls every client of the daemon until it closes. A fresh connection
		// per request costs nothing locally.
		tr := &http.Transport{
			DisableKeepAlives:     true,
			ResponseHeaderTimeout: responseTimeout, WriteBufferSize: writeBuffer, ReadBufferSize: writeBuffer,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		}
		c.base = "http://unix.socket"
		c.http = httpclient.New(tr, cfg.Retry, cfg.TrustToken)
	case "https":
		tlsCfg, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		tr := &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 15 * time.Second, ResponseHeaderTimeout: responseTimeout,
			WriteBufferSize: writeBuffer, ReadBufferSize: writeBuffer, MaxIdleConnsPerHost: httpclient.IdleConnsPerHost}
		c.base = strings.TrimSuffix(u.Scheme+"://"+u.Host, "/")
		c.http = httpclient.New(tr, cfg.Retry, cfg.TrustToken, cfg.ClientKey)
	default:
		return nil, fmt.Errorf("address %q: scheme must be unix:// or https://", addr)
	}
	return c, nil
}

// tokenFingerprint reads the server certificate's fingerprint out of a trust token:
// `incus config trust add` and `lxc config trust add` print base64 JSON holding it.
func tokenFingerprint(token string) string {
	var t struct {
		Fingerprint string `json:"fingerprint"`
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil || json.Unmarshal(raw, &t) != nil {
		return ""
	}
	return t.Fingerprint
}

// pin accepts only the server certificate that check approves of.
func pin(t *tls.Config, check func(der []byte) error) {
	// Incus servers use self-signed certificates: pin the exact certificate rather
	// than verify a chain and a host name.
	t.InsecureSkipVerify = true
	t.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return httpclient.RefuseCertificate("the server presented no certificate")
		}
		return check(raw[0])
	}
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.ClientCert != "" || cfg.ClientKey != "" {
		pair, err := clientPair(cfg.ClientCert, cfg.ClientKey)
		if err != nil {
			return nil, err
		}
		t.Certificates = []tls.Certificate{pair}
	}
	switch {
	case cfg.ServerCert != "":
		pinned, err := parseCertificate(cfg.ServerCert)
		if err != nil {
			return nil, fmt.Errorf("server_cert %w: give the server's own certificate, /var/lib/%s/server.crt on the server, or use trust_token for a first connection", err, cfg.Kind)
		}
		pin(t, func(der []byte) error {
			if !bytes.Equal(der, pinned.Raw) {
				return httpclient.RefuseCertificate("the server's certificate does not match the pinned server_cert")
			}
			return nil
		})
	case cfg.AcceptServerCert:
		t.InsecureSkipVerify = true
	case tokenFingerprint(cfg.TrustToken) != "":
		// The token names the server's certificate, as the CLIs use it on first
		// contact: trust on first use without accepting any certificate.
		want := tokenFingerprint(cfg.TrustToken)
		pin(t, func(der []byte) error {
			sum := sha256.Sum256(der)
			if got := hex.EncodeToString(sum[:]); got != want {
				return httpclient.RefuseCertificate("the server's certificate %s is not the one the trust token names (%s)", got, want)
			}
			return nil
		})
	}
	return t, nil
}

// parseCertificate reads the first certificate of a PEM text; its errors say what is
// wrong in words, not Go's.
func parseCertificate(text string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(text))
	switch {
	case block == nil:
		return nil, errors.New("is not in PEM form (no -----BEGIN CERTIFICATE----- line)")
	case block.Type != "CERTIFICATE":
		return nil, fmt.Errorf("holds a %q block, not a certificate", block.Type)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, errors.New("holds a PEM certificate block that is not a valid certificate")
	}
	return c, nil
}

// clientPair reads the client certificate and key, saying in words which of the two
// is wrong.
func clientPair(cert, key string) (tls.Certificate, error) {
	if _, err := parseCertificate(cert); err != nil {
		return tls.Certificate{}, fmt.Errorf("the client certificate %w: give client_cert the content of the certificate file (such as client.crt), or client_cert_file its path", err)
	}
	if block, _ := pem.Decode([]byte(key)); block == nil || !strings.HasSuffix(block.Type, "PRIVATE KEY") {
		return tls.Certificate{}, errors.New("the client key is not a private key in PEM form (no -----BEGIN PRIVATE KEY----- line): " +
			"give client_key the content of the key file (such as client.key), or client_key_file its path")
	}
	pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
	if err != nil {
		return tls.Certificate{}, errors.New("the client key is not the private key of the client certificate, or not a key this provider reads (PKCS #1, PKCS #8 or SEC 1): " +
			"give the key made together with the certificate")
	}
	return pair, nil
}

// Connect reads GET /1.0, checks the server is of the configured kind, and asks for
// trust with the trust token when the server does not trust this client yet.
func (c *Client) Connect(ctx context.Context) error {
	if err := c.get(ctx, "/1.0", &c.server); err != nil {
		return err
	}
	if c.server.Auth == "trusted" {
		return c.checkKind()
	}
	if c.cfg.TrustToken == "" {
		return fmt.Errorf("%s does not trust this client: set trust_token, or add the client certificate to the server's trust store", c.endpoint)
	}
	body := map[string]any{"type": "client"}
	if c.cfg.Kind == backend.KindIncus || c.HasExtension("explicit_trust_token") {
		body["trust_token"] = c.cfg.TrustToken
	} else {
		// LXD before explicit_trust_token takes the token in the password field.
		body["password"] = c.cfg.TrustToken
	}
	if _, err := c.do(ctx, http.MethodPost, "/1.0/certificates", body, nil); err != nil {
		return fmt.Errorf("exchanging the trust token with %s: %w", c.endpoint, err)
	}
	if err := c.get(ctx, "/1.0", &c.server); err != nil {
		return err
	}
	if c.server.Auth != "trusted" {
		return fmt.Errorf("%s accepted the trust token but still does not trust this client", c.endpoint)
	}
	return c.checkKind()
}

// checkKind compares the server with the kind the endpoint is configured as. Only a
// trusted client is told what the server is.
func (c *Client) checkKind() error {
	got := backend.Kind(c.server.Environment.Server)
	if got == "" {
		got = backend.KindLXD // LXD before 5.x did not report environment.server
	}
	if got != c.cfg.Kind {
		return fmt.Errorf("%s is a %s server (version %s), but the endpoint is configured as %s: use the %s kind for it",
			c.endpoint, got, c.server.Environment.ServerVersion, c.cfg.Kind, got)
	}
	return nil
}

// Server describes the connected server, for logs and diagnostics.
func (c *Client) Server() string {
	return fmt.Sprintf("%s %s at %s", c.server.Environment.Server, c.server.Environment.ServerVersion, c.endpoint)
}

// HasExtension reports whether the server announces an API extension.
func (c *Client) HasExtension(name string) bool {
	for _, e := range c.server.APIExtensions {
		if e == name {
			return true
		}
	}
	return false
}

func (c *Client) header(name string) string {
	if c.cfg.Kind == backend.KindLXD {
		return "X-LXD-" + name
	}
	return "X-Incus-" + name
}

// response is the envelope every /1.0 answer comes in.
type response struct {
	Type       string          `json:"type"`
	StatusCode int             `json:"status_code"`
	Operation  string          `json:"operation"`
	ErrorCode  int             `json:"error_code"`
	Error      string          `json:"error"`
	Metadata   json.RawMessage `json:"metadata"`
	etag       string
}

func (c *Client) url(path string) string { return c.urlIn(c.cfg.Project, path) }

// urlIn addresses path in project (none for the server-wide /1.0 and certificates).
func (c *Client) urlIn(project, path string) string {
	u := c.base + path
	if project != "" && !strings.HasPrefix(path, "/1.0/certificates") && path != "/1.0" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u += sep + "project=" + url.QueryEscape(project)
	}
	return u
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodGet, path, nil, out)
	return err
}

// do sends a JSON request (retried where safe) and decodes the metadata into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (*response, error) {
	return c.doIn(ctx, c.cfg.Project, method, path, in, out)
}

// doIn is do in another project than the endpoint's.
func (c *Client) doIn(ctx context.Context, project, method, path string, in, out any) (*response, error) {
	var req *http.Request
	var err error
	if in != nil {
		req, err = c.jsonRequest(ctx, method, c.urlIn(project, path), in)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, c.urlIn(project, path), nil)
	}
	if err != nil {
		return nil, err
	}
	return c.finish(req, out, c.http.Do)
}

func (c *Client) finish(req *http.Request, out any, send func(*http.Request) (*http.Response, error)) (*response, error) {
	resp, err := send(req)
	if err != nil {
		return nil, c.sendError(req, err)
	}
	defer resp.Body.Close()
	var r response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		if stop := backend.Interrupted(req.Context()); stop != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, c.endpoint, stop)
		}
		return nil, &foreignAnswer{backend.NewAPIError(req.Method, c.endpoint+req.URL.Path, resp.StatusCode, "response is not an API answer: "+err.Error())}
	}
	if r.Type == "error" || resp.StatusCode >= 400 {
		code := r.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return nil, backend.NewAPIError(req.Method, c.endpoint+req.URL.Path, code, r.Error)
	}
	r.etag = resp.Header.Get("ETag")
	if out != nil && r.Type != "async" && len(r.Metadata) > 0 {
		if err := json.Unmarshal(r.Metadata, out); err != nil {
			return nil, fmt.Errorf("%s %s: decoding answer: %w", req.Method, req.URL.Path, err)
		}
	}
	return &r, nil
}

// foreignAnswer is an error status whose body is not the API's JSON: a proxy or a
// gateway on the way answered, not the server. After a 502, 503 or 504 the server
// may have received the request and carried it out, so for a POST it tells nothing
// about what the server did.
type foreignAnswer struct{ *backend.APIError }

func (e *foreignAnswer) Unwrap() error { return e.APIError }

// fromGateway reports whether err is a foreignAnswer, and its status.
func fromGateway(err error) (status int, ok bool) {
	var f *foreignAnswer
	if !errors.As(err, &f) {
		return 0, false
	}
	return f.Status, true
}

// unreachable is why a request got no answer: a server it does not trust, or one it
// could not reach.
func unreachable(err error) error {
	if httpclient.UntrustedServer(err) {
		return backend.ErrUntrustedServer
	}
	return backend.ErrUnreachable
}

// sendError classifies a request that got no answer: the caller's cancellation or
// deadline says nothing about the server, anything else means it could not be reached.
func (c *Client) sendError(req *http.Request, err error) error {
	if stop := backend.Interrupted(req.Context()); stop != nil {
		return fmt.Errorf("%s %s: %w", req.Method, c.endpoint, stop)
	}
	return fmt.Errorf("%s %s: %w: %w", req.Method, c.endpoint, unreachable(err), httpclient.Explain(innermost(err)))
}

// innermost is the cause of a request error, without the url.Errors that repeat
// the request (Go's own "Get \"http://unix.socket/1.0\"" for a socket).
func innermost(err error) error {
	var uerr *url.Error
	for errors.As(err, &uerr) {
		err = uerr.Err
	}
	return err
}

// failed turns a response already received (for a request whose success is not
// JSON, such as a download) into the API error it carries.
func (c *Client) failed(req *http.Request, resp *http.Response) error {
	_, err := c.finish(req, nil, func(*http.Request) (*http.Response, error) { return resp, nil })
	return err
}

// operation is a background task on the server.
type operation struct {
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	StatusCode int            `json:"status_code"`
	Err        string         `json:"err"`
	Metadata   map[string]any `json:"metadata"`
}

// wait blocks until the operation ends or ctx is done, polling the server's own long
// wait in slices so the context's deadline is honoured.
func (c *Client) wait(ctx context.Context, r *response) (*operation, error) {
	if r.Type != "async" || r.Operation == "" {
		return nil, fmt.Errorf("expected a background operation, got a %s answer", r.Type)
	}
	opPath := strings.SplitN(r.Operation, "?", 2)[0]
	for {
		slice := 30 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			if left := time.Until(dl); left < slice {
				slice = left.Truncate(time.Second)
			}
		}
		if slice < time.Second {
			slice = time.Second
		}
		var op operation
		err := c.get(ctx, fmt.Sprintf("%s/wait?timeout=%d", opPath, int(slice.Seconds())), &op)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("waiting for operation %s on %s: %w", opPath, c.endpoint, backend.Interrupted(ctx))
			}
			return nil, err
		}
		switch {
		case op.StatusCode >= 400 || op.Status == "Failure" || op.Status == "Cancelled":
			return &op, backend.NewAPIError("operation", c.endpoint+opPath, classifyOpErr(op.Err), op.Err)
		case op.StatusCode == 200 || op.Status == "Success":
			return &op, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for operation %s on %s: %w", opPath, c.endpoint, backend.Interrupted(ctx))
		}
	}
}

// classifyOpErr maps an operation's free-text error to a status, since operations
// report failures with status_code 400 whatever went wrong.
func classifyOpErr(msg string) int {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "already exists"):
		return http.StatusConflict
	case strings.Contains(m, "not found"):
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

// jsonRequest builds a request with a JSON body for a full URL (see url and urlIn).
func (c *Client) jsonRequest(ctx context.Context, method, u string, in any) (*http.Request, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
