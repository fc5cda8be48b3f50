package httptarget

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// FuzzResolve checks that no action path, however odd, yields a request
// URL outside the target's base.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/flags/checkout", "/", "", "/../x", "//evil.example/x", "/a?b", "/a#b", "/a%2fb",
		`/a\b`, "/a%5c", "/%2e%2e/x", "/a%20b", "/a%3Fb", "/./", "/a/", "/%", "/%zz", "/a%0d%0a",
		"/..;/x", "/\u2025/x", "/a/%2e", "/a/.%2e/b",
	} {
		f.Add(s)
	}
	const base = "https://hooks.example.com/base?token=t"
	f.Fuzz(func(t *testing.T, p string) {
		u, err := resolve(base, p)
		if err != nil {
			return
		}
		back, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("resolve(%q) = %q, which does not parse: %v", p, u.String(), err)
		}
		if back.Scheme != "https" || back.Host != "hooks.example.com" || back.User != nil {
			t.Fatalf("resolve(%q) = %q: left the host", p, u.String())
		}
		if back.RawQuery != "token=t" || back.Fragment != "" {
			t.Fatalf("resolve(%q) = %q: query or fragment changed", p, u.String())
		}
		if back.Path != "/base" && !strings.HasPrefix(back.Path, "/base/") {
			t.Fatalf("resolve(%q) = %q: path %q left /base", p, u.String(), back.Path)
		}
		if c := path.Clean(back.Path); c != strings.TrimSuffix(back.Path, "/") && c != back.Path {
			t.Fatalf("resolve(%q) = %q: path %q is not clean (%q)", p, u.String(), back.Path, c)
		}
		if strings.ContainsAny(back.Path, "\\\x00\r\n") {
			t.Fatalf("resolve(%q) = %q: path %q holds a backslash or control character", p, u.String(), back.Path)
		}
	})
}
