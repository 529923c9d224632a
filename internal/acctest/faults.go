package acctest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest/catalog"
)

// Fault is one way the FaultProxy spoils an exchange.
type Fault string

const (
	// Fault503 answers 503 without forwarding; Fault503After adds Retry-After: 1.
	Fault503      Fault = "503"
	Fault503After Fault = "503+retry-after"
	// Fault429 answers 429 without forwarding; Fault429After adds Retry-After: 1.
	Fault429      Fault = "429"
	Fault429After Fault = "429+retry-after"
	// FaultReset reads half of the request's body (none for a bodiless request)
	// and resets the connection: the server never sees the request.
	FaultReset Fault = "reset"
	// FaultDelay holds the request for the proxy's delay, then forwards it.
	FaultDelay Fault = "delay"
	// FaultCutBody forwards the request and cuts the answer's body half way.
	FaultCutBody Fault = "cut-body"
	// FaultDropResponse forwards the request, lets the server carry it out, and
	// closes the connection instead of passing the answer on.
	FaultDropResponse Fault = "drop-response"
	// FaultResponse503 forwards the request, lets the server carry it out, and
	// answers 503 instead of the server's answer.
	FaultResponse503 Fault = "response-503"
)

// WireFaults are the faults that spoil a request before the server acts on it or
// delay it, the mix a flaky network or an overloaded gateway produces.
var WireFaults = []Fault{Fault503, Fault503After, Fault429, Fault429After, FaultReset, FaultDelay, FaultCutBody}

// FaultRule says which requests a FaultProxy spoils: those of Method ("" any)
// whose path matches Path (nil any), a Share of them (0 to 1), each with one of
// Faults, at most Limit times (0: no limit).
type FaultRule struct {
	Method string
	Path   *regexp.Regexp
	Share  float64
	Faults []Fault
	Limit  int
}

// FaultProxy is a reverse proxy that spoils a share of the exchanges it forwards,
// as its rules say. Its choices are a function of the seed, the request's route
// (method and path, IDs folded) and how many requests of that route came before, so
// a run that sends as many requests of each route meets as many faults of each kind. It counts requests and
// faults per method and path (IDs folded into {id}), and the requests that repeat
// one it spoiled (same method, URL and body): the retries.
type FaultProxy struct {
	// URL is where clients send requests (http, or https for StartTLSFaultProxy).
	URL string

	server   *httptest.Server
	forward  *httputil.ReverseProxy
	seed     uint64
	rewrite  func(*http.Response) error
	upstream func() *url.URL

	// bandwidth caps how fast each request's body is forwarded, in bytes per
	// second (0: no cap); bodyBytes counts the body bytes forwarded.
	bandwidth atomic.Int64
	bodyBytes atomic.Int64

	mu      sync.Mutex
	rules   []*ruleState
	delay   time.Duration
	seen    map[string]int // requests so far per route, for the choice
	stats   map[string]*RouteStats
	spoiled map[string]bool // request fingerprints that met a fault
	retries int
}

type ruleState struct {
	FaultRule
	used int
}

// RouteStats is what the proxy saw of one method and path.
type RouteStats struct {
	Requests int
	Faults   map[Fault]int
	// Retries are requests identical to one that met a fault before.
	Retries int
}

// StartFaultProxy starts a proxy to upstream (http or https; an https upstream's
// certificate is not checked, and clientCert, when set, is presented to it). The
// Host header is passed through, so a server that builds URLs from it (the Air
// emulator's part URLs and next pages) points clients back at the proxy.
func StartFaultProxy(t *testing.T, upstream string, seed uint64, clientCert *tls.Certificate) *FaultProxy {
	t.Helper()
	return startFaultProxy(t, upstream, seed, clientCert, false)
}

// StartTLSFaultProxy is StartFaultProxy serving HTTPS with a certificate of its own
// (CertPEM), for clients that only speak HTTPS (Incus and LXD remotes).
func StartTLSFaultProxy(t *testing.T, upstream string, seed uint64, clientCert *tls.Certificate) *FaultProxy {
	t.Helper()
	return startFaultProxy(t, upstream, seed, clientCert, true)
}

func startFaultProxy(t *testing.T, upstream string, seed uint64, clientCert *tls.Certificate, serveTLS bool) *FaultProxy {
	t.Helper()
	p := &FaultProxy{seed: seed, delay: 200 * time.Millisecond, seen: map[string]int{}, stats: map[string]*RouteStats{}, spoiled: map[string]bool{}}
	if upstream != "" {
		u, err := url.Parse(upstream)
		if err != nil {
			t.Fatal(err)
		}
		p.upstream = func() *url.URL { return u }
	}
	tlsCfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the rig's daemons have self-signed certificates
	if clientCert != nil {
		tlsCfg.Certificates = []tls.Certificate{*clientCert}
	}
	p.forward = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.upstream())
			r.Out.Host = r.In.Host
			// Bodies are rewritten or cut as bytes: ask for them uncompressed.
			r.Out.Header.Del("Accept-Encoding")
			if r.Out.Body != nil {
				r.Out.Body = &pacedBody{ReadCloser: r.Out.Body, p: p, ctx: r.In.Context()}
			}
		},
		Transport: &http.Transport{TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: 16},
		ModifyResponse: func(resp *http.Response) error {
			if p.rewrite != nil {
				return p.rewrite(resp)
			}
			return nil
		},
		ErrorLog: nil,
	}
	if serveTLS {
		p.server = httptest.NewTLSServer(p)
	} else {
		p.server = httptest.NewServer(p)
	}
	p.URL = p.server.URL
	t.Cleanup(func() {
		p.server.CloseClientConnections()
		p.server.Close()
	})
	return p
}

// CertPEM is the certificate of a proxy StartTLSFaultProxy started.
func (p *FaultProxy) CertPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.server.Certificate().Raw}))
}

// Add adds a rule; the first rule that matches a request decides for it.
func (p *FaultProxy) Add(r FaultRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &ruleState{FaultRule: r})
}

// Clear removes every rule: the proxy forwards faithfully from now on.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// SetDelay sets how long FaultDelay holds a request (200 ms unless set).
func (p *FaultProxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// SetBandwidth caps how fast each request's body is forwarded, in bytes per second
// (0: no cap), so that an upload lasts long enough to be interrupted half way;
// bodies under way follow the new rate.
func (p *FaultProxy) SetBandwidth(bytesPerSecond int64) { p.bandwidth.Store(bytesPerSecond) }

// BodyBytes is how many bytes of request bodies the proxy has forwarded so far.
func (p *FaultProxy) BodyBytes() int64 { return p.bodyBytes.Load() }

// pacedBody forwards a request's body no faster than the proxy's bandwidth, and
// counts it.
type pacedBody struct {
	io.ReadCloser
	p     *FaultProxy
	ctx   context.Context
	start time.Time
	n     int64
	rate  int64
}

func (b *pacedBody) Read(buf []byte) (int, error) {
	rate := b.p.bandwidth.Load()
	if rate != b.rate || b.start.IsZero() {
		b.start, b.n, b.rate = time.Now(), 0, rate
	}
	if rate > 0 && int64(len(buf)) > rate/20+1 {
		buf = buf[:rate/20+1] // at most 50 ms worth at a time, so the pace is smooth
	}
	n, err := b.ReadCloser.Read(buf)
	b.n += int64(n)
	b.p.bodyBytes.Add(int64(n))
	if rate > 0 && n > 0 {
		timer := time.NewTimer(time.Until(b.start.Add(time.Duration(float64(b.n) / float64(rate) * float64(time.Second)))))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-b.ctx.Done():
			return n, b.ctx.Err()
		}
	}
	return n, err
}

// idSegment matches the path segments that name one object: UUIDs, digests, the
// emulator's and Glance's IDs, part numbers.
var idSegment = regexp.MustCompile(`^([0-9a-fA-F-]{8,}|[0-9]+|[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]{15,})$`)

// route is the method and path with the object names folded, the key of the stats.
func route(r *http.Request) string {
	segs := strings.Split(r.URL.Path, "/")
	for i, s := range segs {
		if idSegment.MatchString(s) {
			segs[i] = "{id}"
		}
	}
	return r.Method + " " + strings.Join(segs, "/")
}

// fingerprint identifies a request's content: method, URL and (for a small body,
// which it buffers and puts back) the body's digest.
func fingerprint(r *http.Request) string {
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.String())
	if r.Body != nil && r.ContentLength >= 0 && r.ContentLength <= 64<<10 {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.Write(body)
	}
	return string(h.Sum(nil))
}

// choose picks the fault for a request ("" for none) and records it.
func (p *FaultProxy) choose(r *http.Request) (Fault, time.Duration) {
	key := route(r)
	fp := fingerprint(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats[key]
	if st == nil {
		st = &RouteStats{Faults: map[Fault]int{}}
		p.stats[key] = st
	}
	st.Requests++
	if p.spoiled[fp] {
		st.Retries++
		p.retries++
	}
	n := p.seen[key]
	p.seen[key]++
	for _, rule := range p.rules {
		if (rule.Method != "" && rule.Method != r.Method) || (rule.Path != nil && !rule.Path.MatchString(r.URL.Path)) {
			continue
		}
		if rule.Limit > 0 && rule.used >= rule.Limit {
			return "", 0
		}
		roll := p.roll(key, n)
		if float64(roll%1_000_000)/1_000_000 >= rule.Share || len(rule.Faults) == 0 {
			return "", 0
		}
		f := rule.Faults[(roll/1_000_000)%uint64(len(rule.Faults))]
		rule.used++
		st.Faults[f]++
		if f != FaultDelay {
			p.spoiled[fp] = true
		}
		return f, p.delay
	}
	return "", 0
}

// roll is the deterministic random number of the nth request of a route.
func (p *FaultProxy) roll(route string, n int) uint64 {
	h := sha256.New()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], p.seed)
	binary.BigEndian.PutUint64(b[8:], uint64(n))
	h.Write(b[:])
	h.Write([]byte(route))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.upstream == nil || p.upstream() == nil {
		http.Error(w, "the fault proxy knows no upstream yet", http.StatusBadGateway)
		return
	}
	f, delay := p.choose(r)
	switch f {
	case "":
		p.forward.ServeHTTP(w, r)
	case Fault503, Fault503After, Fault429, Fault429After:
		status := http.StatusServiceUnavailable
		if f == Fault429 || f == Fault429After {
			status = http.StatusTooManyRequests
		}
		if f == Fault503After || f == Fault429After {
			w.Header().Set("Retry-After", "1")
		}
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		http.Error(w, "injected fault", status)
	case FaultReset:
		if r.Body != nil && r.ContentLength > 0 {
			_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
		}
		reset(w)
	case FaultDelay:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		p.forward.ServeHTTP(w, r)
	case FaultCutBody:
		p.forward.ServeHTTP(&cutWriter{ResponseWriter: w}, r)
	case FaultDropResponse:
		p.forward.ServeHTTP(&dropWriter{ResponseWriter: w}, r)
	case FaultResponse503:
		p.forward.ServeHTTP(&replaceWriter{ResponseWriter: w}, r)
	}
}

// reset closes the client's connection with a TCP reset, no answer sent.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// cutWriter passes on the headers and half of the body (at least one byte short
// of it, as the Content-Length announces it), then resets the connection.
type cutWriter struct {
	http.ResponseWriter
	limit, written int64
}

func (c *cutWriter) WriteHeader(status int) {
	n, _ := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64)
	c.limit = n / 2
	c.ResponseWriter.WriteHeader(status)
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if left := c.limit - c.written; int64(len(b)) > left {
		_, _ = c.ResponseWriter.Write(b[:left])
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		reset(c.ResponseWriter)
		panic(http.ErrAbortHandler)
	}
	c.written += int64(len(b))
	return c.ResponseWriter.Write(b)
}

// dropWriter resets the connection when the server's answer arrives.
type dropWriter struct{ http.ResponseWriter }

func (d *dropWriter) WriteHeader(int) {
	reset(d.ResponseWriter)
	panic(http.ErrAbortHandler)
}

func (d *dropWriter) Write([]byte) (int, error) {
	d.WriteHeader(0)
	return 0, nil
}

// replaceWriter answers 503 in place of the server's answer.
type replaceWriter struct {
	http.ResponseWriter
	done bool
}

func (r *replaceWriter) WriteHeader(int) {
	if r.done {
		return
	}
	r.done = true
	for k := range r.Header() {
		r.Header().Del(k)
	}
	r.Header().Set("Content-Type", "text/plain")
	r.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
	_, _ = r.ResponseWriter.Write([]byte("injected fault after the server answered\n"))
}

func (r *replaceWriter) Write(b []byte) (int, error) {
	r.WriteHeader(0)
	return len(b), nil
}

// Stats is a copy of the per-route counts.
func (p *FaultProxy) Stats() map[string]RouteStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]RouteStats, len(p.stats))
	for k, v := range p.stats {
		c := RouteStats{Requests: v.Requests, Retries: v.Retries, Faults: map[Fault]int{}}
		for f, n := range v.Faults {
			c.Faults[f] = n
		}
		out[k] = c
	}
	return out
}

// Totals sums the stats: requests, faults injected (delays excluded: they spoil
// nothing) and retries seen.
func (p *FaultProxy) Totals() (requests, faults, retries int) {
	for _, s := range p.Stats() {
		requests += s.Requests
		retries += s.Retries
		for f, n := range s.Faults {
			if f != FaultDelay {
				faults += n
			}
		}
	}
	return requests, faults, retries
}

// Log writes the stats as table rows, "| name | route | requests | faults | retries |",
// one per route, sorted, then a total row.
func (p *FaultProxy) Log(t *testing.T, name string) {
	t.Helper()
	stats := p.Stats()
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "| proxy | route | requests | faults | retries |\n")
	for _, k := range keys {
		s := stats[k]
		var fs []string
		for f, n := range s.Faults {
			fs = append(fs, fmt.Sprintf("%s:%d", f, n))
		}
		sort.Strings(fs)
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %d |\n", name, k, s.Requests, strings.Join(fs, " "), s.Retries)
	}
	req, faults, retries := p.Totals()
	fmt.Fprintf(&b, "| %s | total | %d | %d | %d |", name, req, faults, retries)
	t.Log("\n" + b.String())
}

// OpenStackFaults is a pair of fault proxies in front of the rig's Keystone and
// Glance: the Keystone one rewrites the catalog of every token it hands out so that
// the image service is the Glance one, which forwards to the Glance the catalog
// named.
type OpenStackFaults struct {
	// AuthURL is the Keystone proxy's v3 URL, for an endpoint's auth_url.
	AuthURL          string
	Keystone, Glance *FaultProxy

	mu     sync.Mutex
	glance *url.URL
}

// StartOpenStackFaults starts the two proxies, with no rules yet.
func StartOpenStackFaults(t *testing.T, seed uint64) *OpenStackFaults {
	t.Helper()
	o := &OpenStackFaults{}
	o.Glance = StartFaultProxy(t, "", seed+1, nil)
	o.Glance.upstream = func() *url.URL {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.glance
	}
	o.Keystone = StartFaultProxy(t, KeystoneURL, seed, nil)
	o.Keystone.rewrite = o.rewriteCatalog
	o.AuthURL = o.Keystone.URL + "/v3"
	return o
}

// rewriteCatalog points the image service of a token's catalog at the Glance proxy;
// the first endpoint seen is where that proxy forwards.
func (o *OpenStackFaults) rewriteCatalog(resp *http.Response) error {
	return catalog.Redirect(resp, o.Glance.URL, func(u *url.URL) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.glance == nil {
			o.glance = u
		}
	})
}
