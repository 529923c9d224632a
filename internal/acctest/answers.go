package acctest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
)

// AnswerFault is how an AnswerProxy spoils an exchange.
type AnswerFault string

const (
	// LoseAnswer forwards the request, lets the server carry it out, and closes the
	// connection instead of passing the answer on.
	LoseAnswer AnswerFault = "lose answer"
	// Gateway503After forwards the request, lets the server carry it out, and
	// answers a gateway's 503 in its place.
	Gateway503After AnswerFault = "503 after"
	// Gateway503Before answers a gateway's 503 without forwarding the request.
	Gateway503Before AnswerFault = "503 before"
	// HoldAnswer forwards the request, lets the server carry it out, and keeps the
	// answer until the client goes away: a run killed while it waits.
	HoldAnswer AnswerFault = "hold answer"
)

// AnswerProxy is a reverse proxy on a unix socket in front of a daemon's own socket,
// for the answers of requests the server carried out to be lost on the way.
type AnswerProxy struct {
	// Address is the proxy's socket as an endpoint's address (unix:///...).
	Address string

	forward *httputil.ReverseProxy
	mu      sync.Mutex
	rules   []*answerRule
}

type answerRule struct {
	method string
	path   *regexp.Regexp
	fault  AnswerFault
	left   int
	hits   int
}

// StartAnswerProxy starts a proxy to b's local daemon, spoiling nothing yet.
func StartAnswerProxy(t *testing.T, b Backend) *AnswerProxy {
	t.Helper()
	return StartAnswerProxyAt(t, b, ProxySocket(t))
}

// ProxySocket is a path for a proxy's socket, in a directory removed after the test.
func ProxySocket(t *testing.T) string {
	t.Helper()
	// A short directory: a socket's path is limited to about 100 bytes, and
	// t.TempDir's holds the test's name.
	dir, err := os.MkdirTemp("", "ifproxy") //nolint:usetesting // see above
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "proxy.socket")
}

// StartAnswerProxyAt starts a proxy to b's local daemon listening on sock, which
// may be left over from a proxy in a process that was killed.
func StartAnswerProxyAt(t *testing.T, b Backend, sock string) *AnswerProxy {
	t.Helper()
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	upstream := incus.DefaultSocket(b.Kind)
	p := &AnswerProxy{Address: "unix://" + sock}
	p.forward = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "unix.socket"})
		},
		// No idle connections to the daemon: it reads the first bytes of a new
		// connection before it accepts the next one.
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", upstream)
		}},
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// Spoil makes the next times requests of method whose path matches meet fault.
func (p *AnswerProxy) Spoil(method string, path *regexp.Regexp, fault AnswerFault, times int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &answerRule{method: method, path: path, fault: fault, left: times})
}

// Spoiled is how many requests met a fault.
func (p *AnswerProxy) Spoiled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.rules {
		n += r.hits
	}
	return n
}

func (p *AnswerProxy) choose(r *http.Request) AnswerFault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rule := range p.rules {
		if rule.left > 0 && rule.method == r.Method && rule.path.MatchString(r.URL.Path) {
			rule.left--
			rule.hits++
			return rule.fault
		}
	}
	return ""
}

func (p *AnswerProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p.choose(r) {
	case "":
		p.forward.ServeHTTP(w, r)
	case LoseAnswer:
		p.forward.ServeHTTP(&loseWriter{w}, r)
	case Gateway503After:
		p.forward.ServeHTTP(&gatewayWriter{ResponseWriter: w}, r)
	case Gateway503Before:
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "injected gateway fault", http.StatusServiceUnavailable)
	case HoldAnswer:
		p.forward.ServeHTTP(&holdWriter{w, r.Context()}, r)
	}
}

// holdWriter keeps the server's answer until the client goes away.
type holdWriter struct {
	http.ResponseWriter
	ctx context.Context
}

func (h *holdWriter) WriteHeader(int) {
	<-h.ctx.Done()
	panic(http.ErrAbortHandler)
}

func (h *holdWriter) Write([]byte) (int, error) {
	h.WriteHeader(0)
	return 0, nil
}

// loseWriter closes the client's connection when the server's answer arrives.
type loseWriter struct{ http.ResponseWriter }

func (l *loseWriter) WriteHeader(int) {
	if conn, _, err := http.NewResponseController(l.ResponseWriter).Hijack(); err == nil {
		_ = conn.Close()
	}
	panic(http.ErrAbortHandler)
}

func (l *loseWriter) Write([]byte) (int, error) {
	l.WriteHeader(0)
	return 0, nil
}

// gatewayWriter answers a gateway's 503 in place of the server's answer.
type gatewayWriter struct {
	http.ResponseWriter
	done bool
}

func (g *gatewayWriter) WriteHeader(int) {
	if g.done {
		return
	}
	g.done = true
	for k := range g.Header() {
		g.Header().Del(k)
	}
	g.Header().Set("Content-Type", "text/plain")
	g.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
	_, _ = g.ResponseWriter.Write([]byte("injected gateway fault after the server answered\n"))
}

func (g *gatewayWriter) Write(b []byte) (int, error) {
	g.WriteHeader(0)
	return len(b), nil
}
