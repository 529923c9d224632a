package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// ErrCertificateRefused is what a client's own check of the server's certificate (a
// pinned certificate, a trust token's fingerprint) wraps when it refuses one: it is
// neither retried nor taken for a server that cannot be reached.
var ErrCertificateRefused = errors.New("server certificate refused")

// RefuseCertificate is the error of a client's own certificate check: its message is
// why, and it wraps ErrCertificateRefused.
func RefuseCertificate(format string, args ...any) error {
	return &explained{msg: fmt.Sprintf(format, args...), err: ErrCertificateRefused}
}

// explained is a transport error worded for the user; the error itself stays in the
// chain for errors.Is and errors.As.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// Explain words why a request got no answer (refused, no such host, a certificate not
// trusted, a timeout...) as a user reads it, instead of Go's own text with its
// "dial tcp" and quoted URLs. An error it cannot tell apart is returned as is.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		record           tls.RecordHeaderError
		dnsErr           *net.DNSError
		opErr            *net.OpError
		netErr           net.Error
		alert            tls.AlertError
	)
	addr := ""
	if errors.As(err, &opErr) && opErr.Addr != nil {
		addr = opErr.Addr.String()
	}
	var msg string
	switch {
	case errors.Is(err, ErrCertificateRefused):
		var own *explained
		errors.As(err, &own)
		msg = own.msg
	case errors.As(err, &unknownAuthority):
		msg = "the server's certificate is signed by an authority this endpoint does not trust"
	case errors.As(err, &hostname):
		msg = fmt.Sprintf("the server's certificate is not valid for %s", hostname.Host)
		if names := hostname.Certificate.DNSNames; len(names) > 0 {
			msg += fmt.Sprintf(" (it names %s)", strings.Join(names, ", "))
		}
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		msg = fmt.Sprintf("the server's certificate is not valid now (valid from %s to %s)",
			invalid.Cert.NotBefore.UTC().Format(time.RFC3339), invalid.Cert.NotAfter.UTC().Format(time.RFC3339))
	case errors.As(err, &invalid):
		msg = "the server's certificate is not valid for this use"
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http words the tls.RecordHeaderError it meets in its own text.
		msg = "the server does not speak TLS (https) at this address"
	case errors.As(err, &alert):
		msg = fmt.Sprintf("the server refused the TLS connection (%s)", strings.TrimPrefix(alert.Error(), "tls: "))
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		msg = fmt.Sprintf("the host name %s is not known (no DNS record)", dnsErr.Name)
	case errors.As(err, &dnsErr):
		msg = fmt.Sprintf("the host name %s could not be looked up", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED) && isUnix(opErr):
		msg = fmt.Sprintf("nothing listens on the socket %s (connection refused)", addr)
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("nothing listens at %s (connection refused)", addr)
	case errors.Is(err, syscall.ENOENT) && isUnix(opErr):
		msg = fmt.Sprintf("there is no socket at %s", addr)
	case errors.Is(err, syscall.EACCES) && isUnix(opErr):
		msg = fmt.Sprintf("the user running Terraform may not use the socket %s (permission denied)", addr)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		msg = fmt.Sprintf("there is no route to %s", addr)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the connection was closed before the server answered"
	case errors.As(err, &netErr) && netErr.Timeout():
		msg = "the server did not answer in time"
	default:
		return err
	}
	return &explained{msg: msg, err: err}
}

func isUnix(opErr *net.OpError) bool {
	return opErr != nil && strings.HasPrefix(opErr.Net, "unix")
}
