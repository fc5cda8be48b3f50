package httptarget

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/cabhq/cab/reconcile/target"
)

// resolved is a request URL that stays below its configured base.
type resolved struct{ *url.URL }

// resolve joins an action's path onto a target's base URL. The path comes
// from a ticket, so it may only name something below the base: it must
// start with "/" and hold no "." or ".." segment, no empty segment (so
// no "//host"), no query or fragment, no backslash, no control character
// and no encoded slash or backslash. Errors about the path match
// target.ErrUnsafe; the base must be an absolute http or https URL.
func resolve(base, path string) (resolved, error) {
	b, err := url.Parse(base)
	if err != nil {
		return resolved{}, fmt.Errorf("target url: %w", err)
	}
	if b.Scheme != "http" && b.Scheme != "https" {
		return resolved{}, fmt.Errorf("target url %s: scheme %q: only http and https: %w", b.Redacted(), b.Scheme, target.ErrUnsafe)
	}
	if b.Host == "" || b.Opaque != "" {
		return resolved{}, fmt.Errorf("target url %s: want an absolute URL such as https://hooks.example.com/cab: %w", b.Redacted(), target.ErrUnsafe)
	}
	if b.Fragment != "" {
		return resolved{}, fmt.Errorf("target url %s: has a fragment: %w", b.Redacted(), target.ErrUnsafe)
	}
	u := *b
	if path == "" {
		return resolved{&u}, nil
	}
	clean, err := checkPath(path)
	if err != nil {
		return resolved{}, fmt.Errorf("action path %q: %w: %w", path, err, target.ErrUnsafe)
	}
	u.Path = strings.TrimSuffix(b.Path, "/") + clean
	// Keep the path's own escaping when it is a valid one (URL.String
	// falls back to escaping Path otherwise).
	u.RawPath = strings.TrimSuffix(b.EscapedPath(), "/") + path
	return resolved{&u}, nil
}

// checkPath validates an action path and returns it unescaped.
func checkPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("must start with /")
	}
	if strings.Contains(p, " ") {
		return "", fmt.Errorf("must not hold a space (write %%20)")
	}
	if err := plainChars(p); err != nil {
		return "", err
	}
	if strings.ContainsAny(p, "?#") {
		return "", fmt.Errorf("must not carry a query or fragment; put parameters in the body")
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return "", fmt.Errorf("bad escape: %w", err)
	}
	if strings.Count(dec, "/") != strings.Count(p, "/") {
		return "", fmt.Errorf("must not hold an encoded slash")
	}
	if err := plainChars(dec); err != nil {
		return "", err
	}
	segs := strings.Split(dec[1:], "/")
	for i, s := range segs {
		switch {
		case s == "." || s == "..":
			return "", fmt.Errorf("must not hold a %q segment", s)
		case s == "" && i != len(segs)-1:
			return "", fmt.Errorf("must not hold an empty segment (//)")
		}
	}
	return dec, nil
}

func plainChars(s string) error {
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("must not hold control characters")
		case r == '\\':
			return fmt.Errorf("must not hold a backslash")
		}
	}
	return nil
}
