package target

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrPlainHTTP is matched (errors.Is) when cab would send a credential
// over plain http to a host that is not loopback. Set insecure: true on
// the target in cab.cue to allow it.
var ErrPlainHTTP = errors.New("refusing to send credentials over plain http")

// CheckPlainHTTP returns an error matching ErrPlainHTTP (and ErrUnsafe:
// no retry helps) when rawURL is plain http to a host other than
// loopback and a credential would go with it: credentials is true (a
// token the driver adds) or the URL carries user:password. insecure
// (the target's insecure: true in cab.cue) allows it.
func CheckPlainHTTP(rawURL string, credentials, insecure bool) error {
	u, err := url.Parse(rawURL)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || insecure {
		return nil // not http: another check says what is wrong with it
	}
	if !credentials && u.User == nil {
		return nil
	}
	if Loopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%w to %s (use https, or set insecure: true on the target in cab.cue): %w", ErrPlainHTTP, u.Redacted(), ErrUnsafe)
}

// Loopback reports whether host is a loopback address or "localhost".
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
