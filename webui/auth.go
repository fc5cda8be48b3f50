package webui

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Auth guards the UI: either a header a trusted reverse proxy sets after
// authenticating the user (requests without it are refused), or HTTP
// basic authentication against bcrypt hashes.
type Auth struct {
	// Header, when set, must be present and non-empty on every request.
	Header string
	// users maps a user name to its bcrypt hash.
	users map[string][]byte
	dummy []byte // a hash no password matches

	// ok remembers credentials that matched (by SHA-256 of user and
	// password), so that a page and its stylesheet cost one bcrypt, not
	// one each. A password change reloads the file, hence a new Auth.
	mu sync.Mutex
	ok map[[32]byte]bool
}

// ErrAuthFile is wrapped by the errors of a malformed password file.
var ErrAuthFile = errors.New("malformed password file")

// HeaderAuth trusts a reverse proxy's user header (e.g. X-Forwarded-User).
func HeaderAuth(header string) *Auth { return &Auth{Header: header} }

// LoadBasicAuth reads an htpasswd-style file of "user:bcrypt-hash" lines
// (as `htpasswd -nbB user password` prints them); blank lines and lines
// starting with # are ignored. Only bcrypt hashes ($2a$, $2b$, $2y$) are
// accepted.
func LoadBasicAuth(path string) (*Auth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the password file: %w", err)
	}
	a := &Auth{users: map[string][]byte{}, ok: map[[32]byte]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%w: %s:%d: want user:hash", ErrAuthFile, path, n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %s's hash is not bcrypt (make one with htpasswd -nbB): %w", ErrAuthFile, path, n, user, err)
		}
		a.users[user] = []byte(hash)
	}
	if a.dummy, err = bcrypt.GenerateFromPassword([]byte(rand.Text()), bcrypt.DefaultCost); err != nil {
		return nil, err
	}
	if len(a.users) == 0 {
		return nil, fmt.Errorf("%w: %s has no users", ErrAuthFile, path)
	}
	return a, nil
}

// allow answers 401 and returns false unless r is authenticated.
func (a *Auth) allow(w http.ResponseWriter, r *http.Request) bool {
	if a.Header != "" {
		if strings.TrimSpace(r.Header.Get(a.Header)) == "" {
			http.Error(w, "unauthenticated: this UI is served behind an authenticating proxy", http.StatusUnauthorized)
			return false
		}
		return true
	}
	user, pass, ok := r.BasicAuth()
	if ok && a.check(user, pass) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="cab", charset="UTF-8"`)
	http.Error(w, "unauthenticated", http.StatusUnauthorized)
	return false
}

func (a *Auth) check(user, pass string) bool {
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	a.mu.Lock()
	hit := a.ok[key]
	a.mu.Unlock()
	if hit {
		return true
	}
	hash, known := a.users[user]
	if !known {
		hash = a.dummy // spend the same time as for a known user
	}
	good := bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil && known
	if good {
		a.mu.Lock()
		if len(a.ok) > 1024 {
			clear(a.ok)
		}
		a.ok[key] = true
		a.mu.Unlock()
	}
	return good
}
