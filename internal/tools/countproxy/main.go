// Command countproxy stands between the provider and the servers of the load bench
// (scripts/bench-load.sh) and writes one line per request it forwards, so the bench
// can say how many requests each kind of object costs:
//
//	BACKEND METHOD ROUTE STATUS MILLISECONDS
//
// tab-separated, ROUTE being the path with object names folded into {id}, and the
// query with its short values kept (limit=1) and the others folded, MILLISECONDS
// the time from the request's arrival to the end of the answer. With -conn-log it
// also writes a line "BACKEND" per connection a client opens to it: a client that
// keeps too few idle connections for its parallel requests opens many. It fronts,
// each on a port of its own:
//
//   - incus: an Incus daemon over HTTPS, presenting a client certificate the daemon
//     trusts; it serves HTTPS itself with a certificate it writes to -cert-out, for
//     the endpoint's server_cert;
//   - keystone and glance: Keystone, rewriting the image service of every token's
//     catalog to its Glance side, which forwards to the Glance the catalog named;
//   - air: the Air emulator, the Host header passed through so that the part URLs
//     and next pages the emulator builds point back at the proxy.
//
// It prints "countproxy: NAME URL" for each, then "countproxy: ready", and runs
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest/catalog"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "countproxy:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("countproxy", flag.ContinueOnError)
	logPath := fs.String("log", "", "`file` the request lines are appended to (required)")
	connLogPath := fs.String("conn-log", "", "`file` a line per client connection is appended to")
	names := fs.String("names", "", "`regexp` of the object names to fold into {id} besides IDs and digests (the bench's prefix)")
	incus := fs.String("incus", "", "Incus daemon `URL` (https)")
	clientCert := fs.String("client-cert", "", "client certificate `file` presented to the Incus daemon")
	clientKey := fs.String("client-key", "", "its key `file`")
	certOut := fs.String("cert-out", "", "`file` the incus side's own server certificate is written to (PEM)")
	keystone := fs.String("keystone", "", "Keystone `URL`")
	air := fs.String("air", "", "Air emulator `URL`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *logPath == "" {
		return errors.New("-log is required")
	}
	f, err := os.OpenFile(*logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	folder, err := newFolder(*names)
	if err != nil {
		return err
	}
	rec := &recorder{w: f, fold: folder}
	if *connLogPath != "" {
		c, err := os.OpenFile(*connLogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer c.Close()
		rec.conns = c
	}

	var servers []*http.Server
	serve := func(name string, h http.Handler, tlsCfg *tls.Config) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		// HTTP/1.1 only, as the daemons themselves answer the provider.
		srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute, ConnState: rec.connState(name),
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
		scheme := "http"
		if tlsCfg != nil {
			srv.TLSConfig = tlsCfg
			ln = tls.NewListener(ln, tlsCfg)
			scheme = "https"
		}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		_, err = fmt.Fprintf(stdout, "countproxy: %s %s://%s\n", name, scheme, ln.Addr())
		return err
	}

	if *incus != "" {
		up, err := url.Parse(*incus)
		if err != nil {
			return err
		}
		pair, err := tls.LoadX509KeyPair(*clientCert, *clientKey)
		if err != nil {
			return fmt.Errorf("the Incus client certificate: %w", err)
		}
		own, pemCert, err := selfSigned()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*certOut, pemCert, 0o644); err != nil {
			return err
		}
		rp := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(up) },
			Transport: &http.Transport{
				// The rig's daemon has a self-signed certificate; it is on loopback.
				TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true}, //nolint:gosec
				MaxIdleConnsPerHost: 64,
			},
		}
		if err := serve("incus", rec.wrap("incus", rp), &tls.Config{Certificates: []tls.Certificate{own}}); err != nil {
			return err
		}
	}
	if *keystone != "" {
		ks, err := url.Parse(*keystone)
		if err != nil {
			return err
		}
		o := &openstack{}
		glance := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(o.upstream()) }, Transport: transport()}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		o.front = "http://" + ln.Addr().String()
		gsrv := &http.Server{ReadHeaderTimeout: time.Minute, ConnState: rec.connState("glance"), Handler: rec.wrap("glance", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if o.upstream() == nil {
				http.Error(w, "no token has passed the proxy yet, so it knows no Glance", http.StatusBadGateway)
				return
			}
			glance.ServeHTTP(w, r)
		}))}
		servers = append(servers, gsrv)
		go func() { _ = gsrv.Serve(ln) }()
		rp := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(ks)
				// The catalog is rewritten as JSON: ask for it uncompressed.
				r.Out.Header.Del("Accept-Encoding")
			},
			ModifyResponse: o.rewriteCatalog,
			Transport:      transport(),
		}
		if err := serve("keystone", rec.wrap("keystone", rp), nil); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "countproxy: glance %s\n", o.front); err != nil {
			return err
		}
	}
	if *air != "" {
		up, err := url.Parse(*air)
		if err != nil {
			return err
		}
		rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(up)
			r.Out.Host = r.In.Host
		}, Transport: transport()}
		if err := serve("air", rec.wrap("air", rp), nil); err != nil {
			return err
		}
	}
	if len(servers) == 0 {
		return errors.New("nothing to proxy: give -incus, -keystone or -air")
	}
	if _, err := fmt.Fprintln(stdout, "countproxy: ready"); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	return nil
}

// transport keeps enough idle connections for Terraform's parallel requests, so the
// proxy does not add connection set-ups the provider itself would not make.
func transport() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
}

// recorder writes a line per request, and one per connection when conns is set.
type recorder struct {
	mu    sync.Mutex
	w     io.Writer
	conns io.Writer
	fold  *folder
}

func (rec *recorder) wrap(backend string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		line := fmt.Sprintf("%s\t%s\t%s\t%d\t%.1f\n", backend, r.Method, rec.fold.route(r.URL), sw.status, float64(time.Since(start).Microseconds())/1000)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		_, _ = io.WriteString(rec.w, line)
	})
}

func (rec *recorder) connState(backend string) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, state http.ConnState) {
		if state != http.StateNew || rec.conns == nil {
			return
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		_, _ = io.WriteString(rec.conns, backend+"\n")
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (upgrades, deadlines).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// folder turns a URL into its route.
type folder struct{ names *regexp.Regexp }

// idSegment matches what names one object whatever the backend: UUIDs, hex digests
// (Incus fingerprints), numbers (part numbers).
var idSegment = regexp.MustCompile(`^([0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9a-fA-F]{32,}|[0-9]+)$`)

func newFolder(names string) (*folder, error) {
	f := &folder{}
	if names != "" {
		re, err := regexp.Compile("^(" + names + ")$")
		if err != nil {
			return nil, fmt.Errorf("-names: %w", err)
		}
		f.names = re
	}
	return f, nil
}

func (f *folder) route(u *url.URL) string {
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		if p, err := url.PathUnescape(s); err == nil {
			s = p
		}
		if idSegment.MatchString(s) || (f.names != nil && f.names.MatchString(s)) {
			segs[i] = "{id}"
		}
	}
	route := strings.Join(segs, "/")
	if q := u.Query(); len(q) > 0 {
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + "=" + f.value(q.Get(k))
		}
		route += "?" + strings.Join(keys, "&")
	}
	return route
}

// value is a query value as the route shows it: short settings (limit=1,
// recursion=1) as they are, names, IDs and signatures folded.
func (f *folder) value(v string) string {
	if len(v) > 16 || (len(v) > 4 && idSegment.MatchString(v)) || (f.names != nil && f.names.MatchString(v)) {
		return "{id}"
	}
	return v
}

// openstack is the Keystone side's memory of where Glance is.
type openstack struct {
	front string // the proxy's Glance side

	mu     sync.Mutex
	glance *url.URL
}

func (o *openstack) upstream() *url.URL {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.glance
}

// rewriteCatalog points the image service of a token's catalog (POST and GET
// /v3/auth/tokens) at the Glance side; the first such endpoint is where it forwards.
func (o *openstack) rewriteCatalog(resp *http.Response) error {
	return catalog.Redirect(resp, o.front, func(u *url.URL) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.glance == nil {
			o.glance = u
		}
	})
}

// selfSigned makes the incus side's server certificate, for 127.0.0.1.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "countproxy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
