package httpclient

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// goText is what Explain exists to keep out of diagnostics.
var goText = regexp.MustCompile(`\b(Get|Post) "|\bdial (tcp|unix)\b|\bconnect: |\btls: |\bx509: |no such file or directory`)

// TestExplain sends real requests that fail in each way a user meets, and checks the
// words Explain puts on them, and that the cause stays in the chain.
func TestExplain(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := closed.Addr().String()
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	socket := filepath.Join(t.TempDir(), "missing.socket")
	unix := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	for _, tc := range []struct {
		name      string
		transport http.RoundTripper
		url       string
		want      string
		cause     error
	}{
		{"refused", http.DefaultTransport, "http://" + refusedAddr + "/", "nothing listens at " + refusedAddr + " (connection refused)", syscall.ECONNREFUSED},
		{"no socket", unix, "http://unix.socket/1.0", "there is no socket at " + socket, syscall.ENOENT},
		{"untrusted", &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}, tlsSrv.URL, "the server's certificate is signed by an authority this endpoint does not trust", nil},
		{"not TLS", http.DefaultTransport, strings.Replace(plain.URL, "http:", "https:", 1), "the server does not speak TLS (https) at this address", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tc.url, nil)
			_, err := (&http.Client{Transport: tc.transport}).Do(req)
			if err == nil {
				t.Fatal("the request did not fail")
			}
			got := Explain(err)
			if got.Error() != tc.want {
				t.Errorf("Explain(%v) = %q, want %q", err, got, tc.want)
			}
			if m := goText.FindString(got.Error()); m != "" {
				t.Errorf("Explain(%v) shows %q", err, m)
			}
			if !errors.Is(got, err) || (tc.cause != nil && !errors.Is(got, tc.cause)) {
				t.Errorf("Explain(%v) lost the cause", err)
			}
		})
	}
	t.Run("own check", func(t *testing.T) {
		err := RefuseCertificate("the server's certificate is not the pinned one")
		if got := Explain(err); got.Error() != "the server's certificate is not the pinned one" || !errors.Is(got, ErrCertificateRefused) {
			t.Errorf("Explain(%v) = %v", err, got)
		}
		if !UntrustedServer(err) || !isPermanent(err) {
			t.Error("a refused certificate is an untrusted server, never retried")
		}
	})
	t.Run("other errors unchanged", func(t *testing.T) {
		err := errors.New("something else")
		if Explain(err) != err || Explain(nil) != nil {
			t.Error("Explain changed an error it cannot tell apart")
		}
	})
}
