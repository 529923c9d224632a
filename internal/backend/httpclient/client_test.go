package httpclient

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server answers with the given statuses in turn, then 200, and counts requests.
func server(t *testing.T, statuses []int, header http.Header) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		for k, v := range header {
			w.Header()[k] = v
		}
		if i < len(statuses) {
			w.WriteHeader(statuses[i])
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

var fast = Retry{MaxAttempts: 4, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}

func send(t *testing.T, c *Client, method, u string) int {
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
	resp.Body.Close()
	return resp.StatusCode
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name         string
		method       string
		statuses     []int
		wantStatus   int
		wantRequests int32
	}{
		{"GET retried on 5xx", http.MethodGet, []int{500, 502}, 200, 3},
		{"GET gives up after max attempts", http.MethodGet, []int{500, 500, 500, 500, 500}, 500, 4},
		{"POST not retried on 500", http.MethodPost, []int{500}, 500, 1},
		{"POST retried on 503", http.MethodPost, []int{503}, 200, 2},
		{"PATCH retried on 429", http.MethodPatch, []int{429}, 200, 2},
		{"4xx never retried", http.MethodGet, []int{404}, 404, 1},
		{"501 never retried", http.MethodGet, []int{501}, 501, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := server(t, tc.statuses, nil)
			c := New(http.DefaultTransport, fast)
			if got := send(t, c, tc.method, srv.URL); got != tc.wantStatus {
				t.Fatalf("status %d, want %d", got, tc.wantStatus)
			}
			if got := n.Load(); got != tc.wantRequests {
				t.Fatalf("%d requests, want %d", got, tc.wantRequests)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv, n := server(t, []int{429}, http.Header{"Retry-After": {"1"}})
	c := New(http.DefaultTransport, fast)
	start := time.Now()
	if got := send(t, c, http.MethodGet, srv.URL); got != 200 {
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
