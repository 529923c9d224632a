package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestInterrupted(t *testing.T) {
	if Interrupted(context.Background()) != nil {
		t.Fatal("a live context is not interrupted")
	}
	ctx, cancel := WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	err := Interrupted(ctx)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "timed out after 1ns" {
		t.Fatalf("configured timeout: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := Interrupted(ctx); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// A cause that is not ours is not trusted to classify the error.
	ctx, cancelCause := context.WithCancelCause(context.Background())
	cancelCause(errors.New("whatever"))
	if err := Interrupted(ctx); !errors.Is(err, ErrCancelled) {
		t.Fatalf("foreign cause: %v", err)
	}
}

func TestAdvice(t *testing.T) {
	transport := fmt.Errorf("dial: %w", context.Canceled)
	for err, want := range map[error]string{
		fmt.Errorf("GET x: %w", &TimeoutError{After: time.Minute}): "`timeouts` block",
		fmt.Errorf("GET x: %w: %w", ErrUnreachable, transport):     "was cancelled",
		fmt.Errorf("GET x: %w", ErrUnreachable):                    "server is running",
		NewAPIError("GET", "x", 403, "no"):                         "credentials",
	} {
		if got := Advice(err); !strings.Contains(got, want) {
			t.Errorf("Advice(%v) = %q, want it to say %q", err, got, want)
		}
	}
}
