package backend

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, and then says why (Interrupted).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return Interrupted(ctx)
	case <-t.C:
		return nil
	}
}

// Backoff paces polling: fast at first, as most waits end within a second, then
// slower up to every 2 s.
type Backoff struct{ d time.Duration }

func NewBackoff() *Backoff { return &Backoff{d: 100 * time.Millisecond} }

// Sleep waits the next pause, or until ctx ends.
func (b *Backoff) Sleep(ctx context.Context) error {
	err := Sleep(ctx, b.d)
	b.d = min(2*b.d, 2*time.Second)
	return err
}
