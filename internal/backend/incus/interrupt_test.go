package incus

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// unixServer serves handler on a unix socket and returns a client for it.
func unixServer(t *testing.T, handler http.Handler) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, err := New(Config{Kind: backend.KindIncus, Address: "unix://" + sock,
		Retry: httpclient.Retry{MaxAttempts: 4, MinWait: time.Millisecond, MaxWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hang answers only when the client gives up, and tells when a request arrived.
func hang(arrived chan<- struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	})
}

// A request the caller stops waiting for is reported as cancelled or timed out, never
// as an unreachable endpoint: the server answered nothing wrong.
func TestInterruptedRequestIsNotUnreachable(t *testing.T) {
	tests := map[string]struct {
		ctx        func(arrived <-chan struct{}) (context.Context, context.CancelFunc)
		want       error
		wantText   string
		wantAdvice string
	}{
		"configured timeout": {
			ctx: func(<-chan struct{}) (context.Context, context.CancelFunc) {
				return backend.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			want: backend.ErrTimeout, wantText: "timed out after 50ms", wantAdvice: "`timeouts` block",
		},
		"plain deadline": {
			ctx: func(<-chan struct{}) (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			want: backend.ErrTimeout, wantText: "timed out", wantAdvice: "`timeouts` block",
		},
		"cancelled": {
			ctx: func(arrived <-chan struct{}) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				go func() { <-arrived; cancel() }()
				return ctx, cancel
			},
			want: backend.ErrCancelled, wantText: "cancelled", wantAdvice: "was cancelled",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			c := unixServer(t, hang(arrived))
			ctx, cancel := tc.ctx(arrived)
			defer cancel()
			err := c.get(ctx, "/1.0", nil)
			if !errors.Is(err, tc.want) || errors.Is(err, backend.ErrUnreachable) {
				t.Fatalf("error %v: want %v and not %v", err, tc.want, backend.ErrUnreachable)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("error %q does not say %q", err, tc.wantText)
			}
			if advice := backend.Advice(err); !strings.Contains(advice, tc.wantAdvice) {
				t.Fatalf("advice %q does not say %q", advice, tc.wantAdvice)
			}
		})
	}
}

// Waiting on an operation that outlives the timeout reports the timeout too.
func TestOperationWaitTimeout(t *testing.T) {
	c := unixServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/wait") {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"type":"async","status_code":100,"operation":"/1.0/operations/x"}`))
	}))
	ctx, cancel := backend.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r, err := c.do(ctx, http.MethodPost, "/1.0/images", map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.wait(ctx, r)
	if !errors.Is(err, backend.ErrTimeout) || errors.Is(err, backend.ErrUnreachable) || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Fatalf("error %v: want a timeout after 50ms", err)
	}
}

// A server that is not there is still unreachable.
func TestMissingSocketIsUnreachable(t *testing.T) {
	c, err := New(Config{Kind: backend.KindIncus, Address: "unix://" + filepath.Join(t.TempDir(), "none.socket"),
		Retry: httpclient.Retry{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.get(context.Background(), "/1.0", nil)
	if !errors.Is(err, backend.ErrUnreachable) || errors.Is(err, backend.ErrTimeout) || errors.Is(err, backend.ErrCancelled) {
		t.Fatalf("error %v is not only ErrUnreachable", err)
	}
	if !strings.Contains(backend.Advice(err), "server is running") {
		t.Fatalf("advice %q", backend.Advice(err))
	}
}
