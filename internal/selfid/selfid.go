package selfid

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"
)

// Digest returns the sha256 of the running executable, computed on the
// first call.
func Digest() ([32]byte, error) { return digest() }

var digest = sync.OnceValues(func() ([32]byte, error) {
	var id [32]byte
	p, err := os.Executable()
	if err != nil {
		return id, fmt.Errorf("finding the cab executable: %w", err)
	}
	f, err := os.Open(p)
	if err != nil {
		return id, fmt.Errorf("reading the cab executable: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return id, fmt.Errorf("reading the cab executable: %w", err)
	}
	h.Sum(id[:0])
	return id, nil
})
