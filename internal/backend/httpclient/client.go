// Package httpclient builds the one retrying HTTP client every backend uses: it retries
// what is safe to retry, honours Retry-After, and logs through tflog with secrets
// redacted.
package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Retry says how hard to try.
type Retry struct {
	MaxAttempts int
	MinWait     time.Duration
	MaxWait     time.Duration
}

// DefaultRetry is used when the provider block sets nothing.
var DefaultRetry = Retry{MaxAttempts: 4, MinWait: time.Second, MaxWait: 30 * time.Second}

// IdleConnsPerHost is how many idle connections a transport keeps to one server:
// above Terraform's default parallelism (10), so a refresh of many objects reuses
// connections rather than opening one, with a TLS handshake and its buffers, for
// almost every request (net/http keeps 2).
const IdleConnsPerHost = 32

// Client sends requests: Do retries, Stream sends once (its body cannot be replayed).
type Client struct {
	rc      *retryablehttp.Client
	secrets []string
}

// logSubsystem keeps HTTP logs filterable with TF_LOG_PROVIDER_IMAGEFLEET_HTTP.
const logSubsystem = "http"

// New wraps transport in a retrying client. Secrets are masked wherever they would
// appear in a log line.
func New(transport http.RoundTripper, retry Retry, secrets ...string) *Client {
	if retry.MaxAttempts < 1 {
		retry.MaxAttempts = 1
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: transport}
	rc.Logger = nil
	rc.RetryMax = retry.MaxAttempts - 1
	rc.RetryWaitMin = retry.MinWait
	rc.RetryWaitMax = retry.MaxWait
	rc.CheckRetry = checkRetry
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, attempt int) {
		tflog.SubsystemDebug(req.Context(), logSubsystem, "request", map[string]any{
			"method": req.Method, "url": RedactURL(req.URL), "attempt": attempt + 1,
		})
	}
	rc.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
		tflog.SubsystemDebug(resp.Request.Context(), logSubsystem, "response", map[string]any{
			"method": resp.Request.Method, "url": RedactURL(resp.Request.URL), "status": resp.StatusCode,
		})
	}
	return &Client{rc: rc, secrets: secrets}
}

// withLogging sets up the HTTP log subsystem on the request's context; its level can
// be set alone with TF_LOG_PROVIDER_IMAGEFLEET_HTTP.
func (c *Client) withLogging(req *http.Request) *http.Request {
	ctx := tflog.NewSubsystem(req.Context(), logSubsystem, tflog.WithLevelFromEnv("TF_LOG_PROVIDER_IMAGEFLEET_HTTP"))
	for _, s := range c.secrets {
		if s != "" {
			ctx = tflog.SubsystemMaskAllFieldValuesStrings(ctx, logSubsystem, s)
		}
	}
	return req.WithContext(tflog.SubsystemMaskFieldValuesWithFieldKeys(ctx, logSubsystem, "authorization", "token"))
}

// methodKey carries the request's method to checkRetry, which sees only the context
// of a request that got no answer.
type methodKey struct{}

// bufferLimit bounds the JSON answers Do reads whole, so that one cut short is
// retried like a failed request; larger and non-JSON bodies are streamed.
const bufferLimit = 16 << 20

// Do sends a request whose body (if any) is in memory, retrying as checkRetry allows.
// The JSON answer to an idempotent request is read whole before Do returns, so one
// cut short on the way is sent again rather than fail the caller's decoding.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	req = c.withLogging(req)
	req = req.WithContext(context.WithValue(req.Context(), methodKey{}, req.Method))
	for attempt := 1; ; attempt++ {
		rreq, err := retryablehttp.FromRequest(req)
		if err != nil {
			return nil, err
		}
		resp, err := c.rc.Do(rreq)
		if err != nil || !idempotent(req.Method) || !jsonBody(resp) || resp.ContentLength > bufferLimit {
			return resp, err
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, bufferLimit+1))
		resp.Body.Close()
		if rerr == nil {
			resp.Body = io.NopCloser(bytes.NewReader(body))
			return resp, nil
		}
		if attempt >= c.rc.RetryMax+1 || req.Context().Err() != nil {
			return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, RedactURL(req.URL), rerr)
		}
		tflog.SubsystemDebug(req.Context(), logSubsystem, "answer cut short; sending again", map[string]any{
			"method": req.Method, "url": RedactURL(req.URL), "error": rerr.Error(),
		})
	}
}

func jsonBody(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// Stream sends a request whose body is a one-shot stream. It is not retried: a
// stream cannot be replayed, and callers retry at a level that can reopen it.
func (c *Client) Stream(req *http.Request) (*http.Response, error) {
	req = c.withLogging(req)
	ctx := req.Context()
	tflog.SubsystemDebug(ctx, logSubsystem, "request", map[string]any{"method": req.Method, "url": RedactURL(req.URL), "streamed": true})
	resp, err := c.rc.HTTPClient.Do(req)
	if err == nil {
		tflog.SubsystemDebug(ctx, logSubsystem, "response", map[string]any{"method": req.Method, "url": RedactURL(req.URL), "status": resp.StatusCode})
	}
	return resp, err
}

// RedactURL drops credentials and query values that look like secrets.
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "token") || strings.Contains(lk, "secret") || strings.Contains(lk, "signature") || strings.Contains(lk, "password") {
			q.Set(k, "REDACTED")
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// checkRetry retries what a later attempt can change. Connection failures: a failed
// dial never reached the server, so whatever the method; a connection reset or cut
// short after the request went out, for idempotent methods only. Answers: 429 (the
// server refused to take the request, so whatever the method); 503, 502 and 504 for
// idempotent methods only, since a gateway may answer them after the server carried
// out a POST; and 500 for idempotent methods only when it is not the API's own
// answer. The APIs answer validation failures with a
// 500 and a JSON error body (Incus and LXD: "Profile 'x' doesn't exist"), which no
// retry changes; an HTML or plain 500 comes from a proxy in the way.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if isPermanent(err) {
			return false, err
		}
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return true, err
		}
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return true, err
		}
		method, _ := ctx.Value(methodKey{}).(string)
		if idempotent(method) && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE)) {
			return true, err
		}
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true, nil
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return idempotent(resp.Request.Method), nil
	case http.StatusInternalServerError:
		return idempotent(resp.Request.Method) && !apiAnswer(resp), nil
	}
	return false, nil
}

// peekLimit bounds how much of an error body apiAnswer reads; API error bodies are
// small, and a larger body is not taken for one.
const peekLimit = 64 << 10

// apiAnswer reports whether resp carries a JSON body, which is how the APIs themselves
// answer errors. It reads the start of the body and puts it back for the caller.
func apiAnswer(resp *http.Response) bool {
	if !jsonBody(resp) {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, peekLimit))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return err == nil && json.Valid(head)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// UntrustedServer reports a connection refused because the server's certificate is
// not one the client trusts: no configured CA signs it, it names another host, or it
// is not valid.
func UntrustedServer(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) ||
		errors.Is(err, ErrCertificateRefused)
}

// isPermanent spots errors no retry can fix: bad TLS material and unknown hosts.
func isPermanent(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		(errors.As(err, &dnsErr) && dnsErr.IsNotFound) || errors.Is(err, ErrCertificateRefused) || strings.Contains(err.Error(), "tls:")
}
