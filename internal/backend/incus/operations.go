package incus

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
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

// listedOperation is an operation as GET /1.0/operations?recursion=1 lists it.
type listedOperation struct {
	ID          string              `json:"id"`
	Description string              `json:"description"`
	Resources   map[string][]string `json:"resources"`
}

// imageOperation is the description of the operations that create images: uploads,
// url downloads and pulls alike, on both daemons.
const imageOperation = "Downloading image"

// settleSlice is how long waitRunning waits for one operation before it returns,
// so that its caller can look again for what it expects.
const settleSlice = 5 * time.Second

// waitRunning waits, for settleSlice at most, for one running operation of project
// that matches to end, and reports whether one was running. A create whose answer
// was lost is known by what it leaves once its operation ended; the operation
// itself cannot be told from others, as its ID came with the lost answer.
func (c *Client) waitRunning(ctx context.Context, project string, match func(listedOperation) bool) (bool, error) {
	var ops map[string][]listedOperation
	if _, err := c.doIn(ctx, project, http.MethodGet, "/1.0/operations?recursion=1", nil, &ops); err != nil {
		return false, err
	}
	for _, op := range ops["running"] {
		if !match(op) {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, settleSlice)
		_, err := c.wait(wctx, &response{Type: "async", Operation: "/1.0/operations/" + op.ID})
		cancel()
		// Its failure is no concern here, nor a slice that ran out: the caller
		// looks at what the server holds.
		var failed *backend.APIError
		if err != nil && !errors.As(err, &failed) && ctx.Err() == nil && wctx.Err() == nil {
			return true, err
		}
		if ctx.Err() != nil {
			return true, backend.Interrupted(ctx)
		}
		return true, nil
	}
	return false, nil
}

// touches reports whether op works on the object at path (/1.0/instances/web): the
// servers list the objects an operation acts on as URLs, with a project query.
func touches(op listedOperation, kind, path string) bool {
	for _, u := range op.Resources[kind] {
		if strings.SplitN(u, "?", 2)[0] == path {
			return true
		}
	}
	return false
}
