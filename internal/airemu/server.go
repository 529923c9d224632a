package airemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Limits of the real service.
const (
	// DefaultChunkSize is the part size of the real service (and the SDK's
	// fallback).
	DefaultChunkSize = 100_000_000
	// MinPartSize is S3's minimum for every part but the last.
	MinPartSize = 5 << 20
	// MaxParts is S3's maximum number of parts.
	MaxParts = 10_000
	// MaxImageSize is the largest file start-upload accepts ("120GB").
	MaxImageSize = 120_000_000_000
)

// Options configures a Server. Every knob's zero value is "off": no bandwidth cap,
// validation and transitions as soon as their goroutine runs.
type Options struct {
	// Orgs maps each organisation's name to the bearer token that belongs to it.
	Orgs map[string]string
	// ChunkSize is the part size start-upload answers; DefaultChunkSize when 0.
	// The real service uses about 100 MB; smaller sizes keep tests fast.
	ChunkSize int64
	// DataDir keeps the part data; "" makes a temporary directory Close removes.
	DataDir string
	// Bandwidth caps the read side of each part request, in bytes per second.
	Bandwidth int64
	// ValidationDelay is how long an image stays VALIDATING before it is checked.
	ValidationDelay time.Duration
	// TransitionDelay is how long PUBLISHING, UNPUBLISHING and
	// COPYING_FROM_IMAGE_SHARE last.
	TransitionDelay time.Duration
	// ShareCleanupDelay is how long an expired share stays visible.
	ShareCleanupDelay time.Duration
	// DeleteClaimedShares deletes a share once its claim's copy completes.
	DeleteClaimedShares bool
}

// Server is the emulator: an http.Handler serving /api/v3/ and the presigned part
// URLs, plus knobs and introspection for tests. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the base address (http://127.0.0.1:port) when started by Start.
	URL string

	orgByToken map[string]string
	tokens     map[string]string
	orgNames   []string
	dataDir    string
	ownDataDir bool
	secret     []byte
	bandwidth  atomic.Int64

	ctx       context.Context
	cancel    context.CancelFunc
	tasks     sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	mu                sync.Mutex
	closing           bool
	chunkSize         int64
	validationDelay   time.Duration
	transitionDelay   time.Duration
	shareCleanupDelay time.Duration
	deleteClaimed     bool
	failValidation    string
	protected         map[string]bool
	partFailures      map[partKey]*partFailure
	images            map[string]*image
	shares            map[string]*share
	uploads           map[string]*upload
	partRequests      map[string]int
	partsInFlight     map[string]int
	maxPartsInFlight  map[string]int
}

// New makes a Server from opts; Close releases it.
func New(opts Options) (*Server, error) {
	if len(opts.Orgs) == 0 {
		return nil, errors.New("airemu: at least one org is needed")
	}
	s := &Server{
		orgByToken:        map[string]string{},
		tokens:            map[string]string{},
		chunkSize:         opts.ChunkSize,
		validationDelay:   opts.ValidationDelay,
		transitionDelay:   opts.TransitionDelay,
		shareCleanupDelay: opts.ShareCleanupDelay,
		deleteClaimed:     opts.DeleteClaimedShares,
		protected:         map[string]bool{},
		partFailures:      map[partKey]*partFailure{},
		images:            map[string]*image{},
		shares:            map[string]*share{},
		uploads:           map[string]*upload{},
		partRequests:      map[string]int{},
		partsInFlight:     map[string]int{},
		maxPartsInFlight:  map[string]int{},
	}
	if s.chunkSize == 0 {
		s.chunkSize = DefaultChunkSize
	}
	if s.chunkSize < 0 {
		return nil, fmt.Errorf("airemu: chunk size %d is negative", s.chunkSize)
	}
	for name, token := range opts.Orgs {
		switch {
		case name == "" || token == "":
			return nil, fmt.Errorf("airemu: org %q needs a name and a token", name)
		case s.orgByToken[token] != "":
			return nil, fmt.Errorf("airemu: orgs %q and %q share a token", s.orgByToken[token], name)
		}
		s.orgByToken[token] = name
		s.tokens[name] = token
		s.orgNames = append(s.orgNames, name)
	}
	sort.Strings(s.orgNames)
	s.bandwidth.Store(opts.Bandwidth)
	s.secret = make([]byte, 32)
	if _, err := rand.Read(s.secret); err != nil {
		return nil, err
	}
	s.dataDir = opts.DataDir
	if s.dataDir == "" {
		dir, err := os.MkdirTemp("", "air-emulator-")
		if err != nil {
			return nil, fmt.Errorf("airemu: %w", err)
		}
		s.dataDir, s.ownDataDir = dir, true
	} else if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("airemu: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start runs a new Server on a local httptest listener for the test's duration and
// sets its URL; DataDir defaults to a directory of the test's.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	s.URL = ts.URL
	t.Cleanup(func() {
		// Cancelling first ends throttled part reads, which Close would wait for.
		s.cancel()
		ts.CloseClientConnections()
		ts.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Close stops the background tasks (validation, transitions) and removes the data
// directory when New made it. The handler must no longer be serving.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.cancel()
		s.tasks.Wait()
		if s.ownDataDir {
			s.closeErr = os.RemoveAll(s.dataDir)
		}
	})
	return s.closeErr
}

// APIURL is the API base under URL, as clients configure it.
func (s *Server) APIURL() string { return s.URL + apiPrefix }

// DataDir is the directory holding the part data.
func (s *Server) DataDir() string { return s.dataDir }

// Orgs lists the organisations' names, sorted.
func (s *Server) Orgs() []string { return append([]string(nil), s.orgNames...) }

// Token is the bearer token of org, "" for an unknown org.
func (s *Server) Token(org string) string { return s.tokens[org] }

const (
	apiPrefix   = "/api/v3/"
	partsPrefix = "/s3/"
)

// Handler serves the API under /api/v3/ and the part URLs under /s3/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(apiPrefix, s.serveAPI)
	mux.HandleFunc(partsPrefix, s.servePart)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, notFound())
	})
	return mux
}

// after runs fn after d in the background, unless the server closes first. The
// caller holds s.mu, so that no task is added once Close waits for them.
func (s *Server) after(d time.Duration, fn func()) {
	if s.closing {
		return
	}
	s.tasks.Add(1)
	go func() {
		defer s.tasks.Done()
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		fn()
	}()
}

// call is one authenticated API request.
type call struct {
	r   *http.Request
	org string
}

// handlerFunc answers a call with a status and a JSON body (nil for none).
type handlerFunc func(c *call) (int, any, *apiError)

// route maps the path under /api/v3/ to a handler per method.
func (s *Server) route(path string) map[string]handlerFunc {
	if !strings.HasSuffix(path, "/") {
		return nil
	}
	seg := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if seg[0] != "images" {
		return nil
	}
	switch {
	case len(seg) == 1:
		return map[string]handlerFunc{http.MethodGet: s.listImages, http.MethodPost: s.createImage}
	case len(seg) == 2 && seg[1] == "shares":
		return map[string]handlerFunc{http.MethodGet: s.listShares, http.MethodPost: s.createShare}
	case len(seg) == 3 && seg[1] == "shares" && isUUID(seg[2]):
		id := seg[2]
		return map[string]handlerFunc{
			http.MethodGet:    func(c *call) (int, any, *apiError) { return s.getShare(c, id) },
			http.MethodDelete: func(c *call) (int, any, *apiError) { return s.deleteShare(c, id) },
		}
	case len(seg) == 2 && seg[1] == "claim-image-share":
		return map[string]handlerFunc{http.MethodPost: s.claimShare}
	case len(seg) == 2 && isUUID(seg[1]):
		id := seg[1]
		return map[string]handlerFunc{
			http.MethodGet:    func(c *call) (int, any, *apiError) { return s.getImage(c, id) },
			http.MethodPatch:  func(c *call) (int, any, *apiError) { return s.patchImage(c, id) },
			http.MethodDelete: func(c *call) (int, any, *apiError) { return s.deleteImage(c, id) },
		}
	case len(seg) == 3 && isUUID(seg[1]):
		id := seg[1]
		actions := map[string]func(*call, string) (int, any, *apiError){
			"start-upload":    s.startUpload,
			"complete-upload": s.completeUpload,
			"abort-upload":    s.abortUpload,
			"clear-upload":    s.clearUpload,
			"publish":         s.publish,
			"unpublish":       s.unpublish,
		}
		if action, ok := actions[seg[2]]; ok {
			return map[string]handlerFunc{http.MethodPatch: func(c *call) (int, any, *apiError) { return action(c, id) }}
		}
	}
	return nil
}

// serveAPI resolves the route, then authenticates, then checks the method: the
// order Django REST framework answers in (404, then 401, then 405).
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	methods := s.route(strings.TrimPrefix(r.URL.Path, apiPrefix))
	if methods == nil {
		writeError(w, notFound())
		return
	}
	org, aerr := s.authenticate(r)
	if aerr != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeError(w, aerr)
		return
	}
	h, ok := methods[r.Method]
	if !ok {
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, detail: fmt.Sprintf("Method %q not allowed.", r.Method)})
		return
	}
	status, body, aerr := h(&call{r: r, org: org})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

func (s *Server) authenticate(r *http.Request) (string, *apiError) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", &apiError{status: http.StatusUnauthorized, detail: "Authentication credentials were not provided."}
	}
	org, ok := s.orgByToken[strings.TrimSpace(token)]
	if !ok {
		return "", &apiError{status: http.StatusUnauthorized, detail: "Invalid token."}
	}
	return org, nil
}

// apiError is a non-2xx answer of the API.
type apiError struct {
	status    int
	detail    string
	kind      string // the "type" of a 400: VALIDATION or PROTECTED
	protected []map[string]string
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, detail: fmt.Sprintf(format, args...), kind: "VALIDATION"}
}

func notFound() *apiError {
	return &apiError{status: http.StatusNotFound, detail: "Not found."}
}

func forbidden() *apiError {
	return &apiError{status: http.StatusForbidden, detail: "You do not have permission to perform this action."}
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"detail": e.detail, "request_id": newUUID()}
	if e.kind != "" {
		body["type"] = e.kind
	}
	if e.protected != nil {
		body["protected_instances"] = e.protected
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}

// baseURL is the scheme and host the client reached, for absolute links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c rune) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// now is the emulator's clock, at the microsecond precision it writes.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// timestamp writes t as Django REST framework does for a non-zero microsecond.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func userEmail(org string) string { return "user@" + org + ".example.com" }
