package incus

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// What a create does when its caller's context ends while the server runs the
// operation it started, shared by images and instances.

// cancelAndWait asks the server to cancel the operation r started (it may refuse:
// uploads, url downloads and instance creates cannot be cancelled) and waits for it
// to end. cancelled says whether the server took the cancellation.
func (c *Client) cancelAndWait(ctx context.Context, r *response) (op *operation, cancelled bool, err error) {
	_, cerr := c.do(ctx, http.MethodDelete, operationPath(r), nil, nil)
	op, err = c.wait(ctx, r)
	return op, cerr == nil, err
}

// operationPath is the path of the operation an async answer started.
func operationPath(r *response) string { return strings.SplitN(r.Operation, "?", 2)[0] }

// operationStart is when the server created the operation, by its own clock; zero
// when the answer does not say.
func operationStart(r *response) time.Time {
	var op struct {
		CreatedAt time.Time `json:"created_at"`
	}
	_ = json.Unmarshal(r.Metadata, &op)
	return op.CreatedAt
}
