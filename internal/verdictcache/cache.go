package verdictcache

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cabhq/cab/internal/atomicfile"
)

// secretSize is the size of the HMAC secret, in bytes.
const secretSize = 32

// maxEntry bounds what Get reads: a verdict is a few kilobytes.
const maxEntry = 4 << 20

// Cache is a verdict store in one git directory.
type Cache struct {
	dir    string
	secret []byte
}

// Open returns the cache of the repository whose git directory is gitDir,
// with the secret at secretFile (created if missing). It fails when the
// secret cannot be read or created, or is not a private regular file of
// the right size: callers then run without a cache.
func Open(gitDir, secretFile string) (*Cache, error) {
	if gitDir == "" {
		return nil, errors.New("no git directory")
	}
	secret, err := loadSecret(secretFile)
	if err != nil {
		return nil, err
	}
	return &Cache{dir: filepath.Join(gitDir, "cab", "verdicts"), secret: secret}, nil
}

// SecretFile is where the secret is kept by default:
// <user config dir>/cab/verdict-cache.key.
func SecretFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the verdict cache secret: %w", err)
	}
	return filepath.Join(dir, "cab", "verdict-cache.key"), nil
}

func loadSecret(file string) ([]byte, error) {
	b, err := readPrivate(file)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	if err := createSecret(file); err != nil {
		return nil, err
	}
	// Read what is there: another process may have won the race.
	return readPrivate(file)
}

// createSecret writes a new random secret to file, unless file exists.
func createSecret(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("creating the verdict cache secret: %w", err)
	}
	secret := make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("creating the verdict cache secret: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating the verdict cache secret: %w", err)
	}
	_, err = f.Write(secret)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return fmt.Errorf("creating the verdict cache secret: %w", err)
	}
	return nil
}

// readPrivate reads the secret, refusing anything but a regular file of
// secretSize bytes that only its owner, the current user, can read or
// write.
func readPrivate(file string) ([]byte, error) {
	fi, err := os.Lstat(file)
	if err != nil {
		return nil, fmt.Errorf("reading the verdict cache secret: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 || fi.Size() != secretSize {
		return nil, fmt.Errorf("verdict cache secret %s: want a regular %d-byte file of mode 0600", file, secretSize)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return nil, fmt.Errorf("verdict cache secret %s: owned by uid %d, not by the current user", file, st.Uid)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the verdict cache secret: %w", err)
	}
	if len(b) != secretSize {
		return nil, fmt.Errorf("verdict cache secret %s changed while read", file)
	}
	return b, nil
}

// Key hashes parts into a cache key: each part is length-prefixed, so no
// two different lists of parts share a key.
func Key(parts ...[]byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *Cache) path(key [sha256.Size]byte) string {
	h := hex.EncodeToString(key[:])
	return filepath.Join(c.dir, h[:2], h)
}

func (c *Cache) tag(key [sha256.Size]byte, payload []byte) []byte {
	m := hmac.New(sha256.New, c.secret)
	m.Write(key[:])
	m.Write(payload)
	return m.Sum(nil)
}

// Get returns the payload stored under key, if there is one whose tag
// verifies.
func (c *Cache) Get(key [sha256.Size]byte) ([]byte, bool) {
	// Not through a symlink, and without waiting on a FIFO: whatever sits
	// at the path, only a regular file is read.
	f, err := os.OpenFile(c.path(key), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxEntry || fi.Size() < sha256.Size {
		return nil, false
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, false
	}
	tag, payload := b[:sha256.Size], b[sha256.Size:]
	if !hmac.Equal(tag, c.tag(key, payload)) {
		return nil, false
	}
	return payload, true
}

// Put stores payload under key, replacing what was there.
func (c *Cache) Put(key [sha256.Size]byte, payload []byte) error {
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("storing a verdict: %w", err)
	}
	if err := atomicfile.Write(p, append(c.tag(key, payload), payload...), 0o600); err != nil {
		return fmt.Errorf("storing a verdict: %w", err)
	}
	return nil
}

// MaxEntries is how many entries Trim leaves a cache at most (about 250 MB
// at the 2.5 kB a ticket's verdict takes): ten sets of rules over 10,000
// tickets.
const MaxEntries = 100_000

// staleTemp is the age past which a temporary file is a crashed Put's.
const staleTemp = time.Hour

// Trim bounds the cache to limit entries: when it holds more, the entries
// written longest ago are removed until a quarter of limit is free (a
// removed entry is only a verdict evaluated again). Temporary files left
// by a Put that died are removed too. Counting costs one directory read
// per shard; only a cache over its bound is stat'ed entry by entry.
func (c *Cache) Trim(limit int) error {
	shards, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("trimming the verdict cache: %w", err)
	}
	type entry struct {
		path string
		mod  time.Time
	}
	var names []string
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		dir := filepath.Join(c.dir, sh.Name())
		es, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range es {
			p := filepath.Join(dir, e.Name())
			if strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
				if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
					os.Remove(p)
				}
				continue
			}
			names = append(names, p)
		}
	}
	if len(names) <= limit {
		return nil
	}
	entries := make([]entry, 0, len(names))
	for _, p := range names {
		if fi, err := os.Lstat(p); err == nil {
			entries = append(entries, entry{p, fi.ModTime()})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.mod.Compare(b.mod) })
	keep := limit - limit/4
	for _, e := range entries[:max(len(entries)-keep, 0)] {
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("trimming the verdict cache: %w", err)
		}
	}
	return nil
}

// GitDir finds the git directory of the repository that holds dir: the
// .git directory of dir or of its nearest parent that has one, or the
// directory a .git file (a linked worktree) names. It returns "" when
// there is none.
func GitDir(dir string) string {
	for d := dir; ; {
		p := filepath.Join(d, ".git")
		if fi, err := os.Lstat(p); err == nil {
			switch {
			case fi.IsDir():
				return p
			case fi.Mode().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return ""
				}
				g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
				if !ok {
					return ""
				}
				if !filepath.IsAbs(g) {
					g = filepath.Join(d, g)
				}
				return g
			}
			return ""
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}
