package httpclient

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// answer is one response of a test server.
type answer struct {
	status      int
	contentType string
	body        string
}

func codes(statuses ...int) []answer {
	var as []answer
	for _, s := range statuses {
		as = append(as, answer{status: s})
	}
	return as
}

// server gives the answers in turn, then 200, and counts requests.
func server(t *testing.T, answers []answer, header http.Header) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		for k, v := range header {
			w.Header()[k] = v
		}
		if i < len(answers) {
			if answers[i].contentType != "" {
				w.Header().Set("Content-Type", answers[i].contentType)
			}
			w.WriteHeader(answers[i].status)
			_, _ = w.Write([]byte(answers[i].body))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

var fast = Retry{MaxAttempts: 4, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}

func send(t *testing.T, c *Client, method, u string) (int, string) {
	t.Helper()
	// Bounded, so a broken loopback fails the test in seconds rather than in dial
	// timeouts times retries.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// incusError is how Incus and LXD answer a request they refuse, here with a 500.
const incusError = `{"type":"error","status":"","status_code":0,"operation":"","error_code":500,"error":"Profile 'nope' doesn't exist","metadata":null}`

func TestRetryPolicy(t *testing.T) {
	apiError := answer{500, "application/json", incusError}
	proxyError := answer{500, "text/html", "<html><body>Internal Server Error</body></html>"}
	tests := []struct {
		name         string
		method       string
		answers      []answer
		wantStatus   int
		wantRequests int32
	}{
		{"GET retried on a bare 500 and a 502", http.MethodGet, codes(500, 502), 200, 3},
		{"GET gives up after max attempts", http.MethodGet, codes(500, 500, 500, 500, 500), 500, 4},
		{"GET retried on 504", http.MethodGet, codes(504), 200, 2},
		{"GET retried on a proxy's HTML 500", http.MethodGet, []answer{proxyError}, 200, 2},
		{"GET not retried on the API's JSON 500", http.MethodGet, []answer{apiError}, 500, 1},
		{"PUT not retried on the API's JSON 500", http.MethodPut, []answer{apiError}, 500, 1},
		{"PUT retried on a JSON 503", http.MethodPut, []answer{{503, "application/json", incusError}}, 200, 2},
		{"GET not retried on other 5xx", http.MethodGet, codes(507), 507, 1},
		{"POST not retried on 500", http.MethodPost, codes(500), 500, 1},
		{"POST not retried on 502", http.MethodPost, codes(502), 502, 1},
		{"POST not retried on 503: a gateway may say it after the server acted", http.MethodPost, codes(503), 503, 1},
		{"POST retried on 429", http.MethodPost, codes(429), 200, 2},
		{"PATCH retried on 429", http.MethodPatch, codes(429), 200, 2},
		{"4xx never retried", http.MethodGet, codes(404), 404, 1},
		{"501 never retried", http.MethodGet, codes(501), 501, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := server(t, tc.answers, nil)
			c := New(http.DefaultTransport, fast)
			if got, _ := send(t, c, tc.method, srv.URL); got != tc.wantStatus {
				t.Fatalf("status %d, want %d", got, tc.wantStatus)
			}
			if got := n.Load(); got != tc.wantRequests {
				t.Fatalf("%d requests, want %d", got, tc.wantRequests)
			}
		})
	}
}

// The body read to tell an API answer from a proxy's reaches the caller whole, also
// when it is longer than what is read ahead.
func TestErrorBodyIsKept(t *testing.T) {
	big := `{"type":"error","error_code":500,"error":"` + strings.Repeat("x", 2*peekLimit) + `"}`
	once := Retry{MaxAttempts: 1}
	for _, body := range []string{incusError, big} {
		srv, _ := server(t, []answer{{500, "application/json", body}}, nil)
		status, got := send(t, New(http.DefaultTransport, once), http.MethodGet, srv.URL)
		if status != 500 || got != body {
			t.Fatalf("status %d, body of %d bytes, want 500 and the server's %d bytes", status, len(got), len(body))
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv, n := server(t, codes(429), http.Header{"Retry-After": {"1"}})
	c := New(http.DefaultTransport, fast)
	start := time.Now()
	if got, _ := send(t, c, http.MethodGet, srv.URL); got != 200 {
		t.Fatalf("status %d", got)
	}
	// max_wait is 5ms, so only the server's Retry-After can explain a wait of 1s.
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("retried after %v, before the 1s the server asked for", waited)
	}
	if n.Load() != 2 {
		t.Fatalf("%d requests", n.Load())
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	var attempts atomic.Int32
	counting := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		attempts.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	c := New(counting, Retry{MaxAttempts: 3, MinWait: time.Millisecond, MaxWait: time.Millisecond})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, addr, strings.NewReader("x"))
	if _, err := c.Do(req); err == nil {
		t.Fatal("request to a closed server succeeded")
	}
	if attempts.Load() != 3 {
		t.Fatalf("%d attempts, want 3 (a refused dial is safe to retry, even for POST)", attempts.Load())
	}
}

func TestRedactURL(t *testing.T) {
	u, _ := url.Parse("https://user:pw@air.example.com/api/v3/images/?X-Amz-Signature=abc&token=t&limit=10")
	got := RedactURL(u)
	for _, secret := range []string{"pw", "abc", "token=t"} {
		if strings.Contains(got, secret) {
			t.Fatalf("%q leaks %q", got, secret)
		}
	}
	if !strings.Contains(got, "limit=10") {
		t.Fatalf("%q dropped a harmless parameter", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A JSON answer to a GET cut short on the way, and a connection reset after a GET
// went out, are sent again; the same faults after a POST are not, since the server
// may have carried it out.
func TestConnectionFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		fault    func(w http.ResponseWriter)
		attempts int32
		ok       bool
	}{
		{"GET answer cut short", http.MethodGet, cutBody, 2, true},
		{"GET connection reset", http.MethodGet, reset, 2, true},
		{"POST answer cut short", http.MethodPost, cutBody, 1, false},
		{"POST connection reset", http.MethodPost, reset, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					tc.fault(w)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true}`)
			}))
			defer srv.Close()
			c := New(http.DefaultTransport, Retry{MaxAttempts: 3, MinWait: time.Millisecond, MaxWait: time.Millisecond})
			req, _ := http.NewRequestWithContext(context.Background(), tc.method, srv.URL, nil)
			resp, err := c.Do(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if got := n.Load(); got != tc.attempts || (err == nil) != tc.ok || (tc.ok && string(body) != `{"ok":true}`) {
				t.Fatalf("%d attempts, error %v, body %q; want %d attempts, success %v", got, err, body, tc.attempts, tc.ok)
			}
		})
	}
}

// cutBody promises a longer JSON body than it sends, then closes the connection.
func cutBody(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "100")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"ok":`)
	_ = http.NewResponseController(w).Flush()
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
