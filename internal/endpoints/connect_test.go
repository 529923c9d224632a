package endpoints

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// fakeKind registers a kind whose connector counts its calls and waits for release
// (or for its own context to end, as a real connection would).
func fakeKind(t *testing.T, release <-chan struct{}, fail error) (backend.Kind, *atomic.Int32) {
	t.Helper()
	kind := backend.Kind("fake-" + t.Name())
	var calls atomic.Int32
	Register(Kind{Name: kind, Connect: func(ctx context.Context, cfg Config) (*Endpoint, error) {
		calls.Add(1)
		if err := context.Cause(ctx); err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, fmt.Errorf("dial: %w", context.Cause(ctx))
		}
		if fail != nil {
			return nil, fail
		}
		return &Endpoint{Name: cfg.Name, Kind: cfg.Kind, Server: "fake"}, nil
	}})
	return kind, &calls
}

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Concurrent callers share one connection.
func TestConnectsOnce(t *testing.T) {
	kind, calls := fakeKind(t, closed(), nil)
	reg, _ := NewRegistry("", []Config{{Name: "a", Kind: kind}})
	var wg sync.WaitGroup
	eps := make([]*Endpoint, 8)
	for i := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep, err := reg.Get(context.Background(), "a")
			if err != nil {
				t.Error(err)
			}
			eps[i] = ep
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("%d connections, want 1", calls.Load())
	}
	for _, ep := range eps {
		if ep != eps[0] {
			t.Fatal("callers got different endpoints")
		}
	}
}

// The first caller giving up, by cancellation or by its own deadline, does not fail
// the endpoint for the callers after it.
func TestFirstCallerGivingUpDoesNotPoison(t *testing.T) {
	for name, giveUp := range map[string]func() (context.Context, context.CancelFunc){
		"cancelled": func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		},
		"deadline": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Millisecond)
		},
	} {
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			kind, calls := fakeKind(t, release, nil)
			reg, _ := NewRegistry("", []Config{{Name: "a", Kind: kind}})
			ctx, cancel := giveUp()
			defer cancel()
			_, err := reg.Get(ctx, "a")
			if err == nil || errors.Is(err, backend.ErrUnreachable) || !errors.Is(err, backend.ErrCancelled) && !errors.Is(err, backend.ErrTimeout) {
				t.Fatalf("first caller: %v, want it cancelled or timed out, not unreachable", err)
			}
			close(release)
			ep, err := reg.Get(context.Background(), "a")
			if err != nil || ep.Server != "fake" {
				t.Fatalf("second caller: %v", err)
			}
			if calls.Load() != 1 {
				t.Fatalf("%d connections, want 1", calls.Load())
			}
		})
	}
}

// A connection that hangs is bounded by connectTimeout, reported as unreachable, and
// its failure is kept: the endpoint costs its timeout once per run.
func TestHangingConnectionIsBounded(t *testing.T) {
	old := connectTimeout
	connectTimeout = 10 * time.Millisecond
	t.Cleanup(func() { connectTimeout = old })
	kind, calls := fakeKind(t, make(chan struct{}), nil)
	reg, _ := NewRegistry("", []Config{{Name: "a", Kind: kind}})
	_, err1 := reg.Get(context.Background(), "a")
	_, err2 := reg.Get(context.Background(), "a")
	if !errors.Is(err1, backend.ErrUnreachable) || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("errors %v / %v", err1, err2)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d connections, want 1", calls.Load())
	}
}

// One endpoint failing leaves the others usable.
func TestFailureStaysWithItsEndpoint(t *testing.T) {
	bad, _ := fakeKind(t, closed(), errors.New("refused"))
	okKind := backend.Kind("fake-ok-" + t.Name())
	Register(Kind{Name: okKind, Connect: func(_ context.Context, cfg Config) (*Endpoint, error) { return &Endpoint{Name: cfg.Name}, nil }})
	reg, _ := NewRegistry("", []Config{{Name: "down", Kind: bad}, {Name: "up", Kind: okKind}})
	if _, err := reg.Get(context.Background(), "down"); err == nil || err.Error() != `connecting to endpoint "down" (`+string(bad)+`): refused` {
		t.Fatalf("down: %v", err)
	}
	if _, err := reg.Get(context.Background(), "up"); err != nil {
		t.Fatalf("up: %v", err)
	}
}

// An endpoint whose settings are not known yet resolves, but is never connected.
func TestUnknownSettingsNeverConnect(t *testing.T) {
	kind, calls := fakeKind(t, closed(), nil)
	reg, _ := NewRegistry("", []Config{{Name: "a", Kind: kind, Unknown: []string{`endpoints["a"].x.project`}}})
	if name, k, err := reg.Resolve(""); err != nil || name != "a" || k != kind {
		t.Fatalf("resolve: %s %s %v", name, k, err)
	}
	_, err := reg.Get(context.Background(), "a")
	var uerr *UnknownConfigError
	if !errors.As(err, &uerr) || calls.Load() != 0 {
		t.Fatalf("error %v after %d connections, want an UnknownConfigError and none", err, calls.Load())
	}
	want := `endpoint "a" (` + string(kind) + `) cannot be used before apply: endpoints["a"].x.project in the provider block is known only after apply`
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q, want it to start %q", err, want)
	}
}
