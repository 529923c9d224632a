package acctest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest/catalog"
)

// KeystoneURL is the test rig's Keystone, as its clouds.yaml names it (without the
// version: the proxy forwards every path).
const KeystoneURL = "http://127.0.0.1:5000"

// OpenStackProxy stands between the provider and the rig's Keystone and Glance, so a
// test can damage what reaches Glance. Its Keystone side rewrites the catalog of
// every token it hands out so that the image service is its Glance side, which
// forwards to the Glance the catalog named. Nothing is altered until a test asks.
type OpenStackProxy struct {
	// AuthURL is the proxy's Keystone v3 URL, for an endpoint's auth_url.
	AuthURL string

	glance *httptest.Server

	mu       sync.Mutex
	upstream *url.URL // the real Glance, learnt from the first catalog

	corruptAt atomic.Int64 // offset of the byte flipped in uploads; -1 for none
	corrupted atomic.Int32
}

// StartOpenStackProxy starts a proxy in front of the rig; it stops with the test.
func StartOpenStackProxy(t *testing.T) *OpenStackProxy {
	t.Helper()
	keystone, err := url.Parse(KeystoneURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &OpenStackProxy{}
	p.corruptAt.Store(-1)
	glance := &httputil.ReverseProxy{Rewrite: p.toGlance}
	p.glance = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.glanceUpstream() == nil {
			http.Error(w, "the proxy has handed out no catalog yet, so it knows no Glance", http.StatusBadGateway)
			return
		}
		glance.ServeHTTP(w, r)
	}))
	t.Cleanup(p.glance.Close)
	ks := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(keystone)
			// The catalog is rewritten as JSON: ask for it uncompressed.
			r.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: p.rewriteCatalog,
	})
	t.Cleanup(ks.Close)
	p.AuthURL = ks.URL + "/v3"
	return p
}

// CorruptUploads makes the proxy flip the byte at offset in the body of every
// later image upload (PUT /v2/images/{id}/file), its length unchanged; a negative
// offset stops it.
func (p *OpenStackProxy) CorruptUploads(offset int64) { p.corruptAt.Store(offset) }

// Corrupted is how many uploads the proxy has altered.
func (p *OpenStackProxy) Corrupted() int { return int(p.corrupted.Load()) }

var uploadPath = regexp.MustCompile(`^/v2/images/[^/]+/file$`)

func (p *OpenStackProxy) glanceUpstream() *url.URL {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upstream
}

func (p *OpenStackProxy) toGlance(r *httputil.ProxyRequest) {
	r.SetURL(p.glanceUpstream())
	if at := p.corruptAt.Load(); at >= 0 && r.In.Method == http.MethodPut && uploadPath.MatchString(r.In.URL.Path) {
		p.corrupted.Add(1)
		r.Out.Body = &flipper{ReadCloser: r.In.Body, at: at}
	}
}

// flipper inverts the byte at offset at of what it reads.
type flipper struct {
	io.ReadCloser
	n, at int64
}

func (f *flipper) Read(b []byte) (int, error) {
	n, err := f.ReadCloser.Read(b)
	if i := f.at - f.n; i >= 0 && i < int64(n) {
		b[i] ^= 0xff
	}
	f.n += int64(n)
	return n, err
}

// rewriteCatalog points the image service of a token's catalog at the proxy's
// Glance side; the first endpoint seen is where that side forwards.
func (p *OpenStackProxy) rewriteCatalog(resp *http.Response) error {
	return catalog.Redirect(resp, p.glance.URL, func(u *url.URL) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.upstream == nil {
			p.upstream = u
		}
	})
}
