package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"github.com/cabhq/cab/policy"
)

// StampFile is the file, at the root of a generated directory, that
// records what was generated there.
const StampFile = ".synth-stamp.json"

// Stamp records what a directory holds.
type Stamp struct {
	Version int     `json:"version"`
	Kind    string  `json:"kind"` // "repo" or "json"
	Options Options `json:"options"`
	// Policies is the digest of the default policies written into the
	// repository: they change with cab, not with Version.
	Policies string `json:"policies"`
}

func policiesDigest() string {
	h := sha256.New()
	for _, f := range policy.Defaults() {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Name, len(f.Source))
		h.Write(f.Source)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrNotGenerated is returned for an existing, non-empty directory that
// Generate did not write: it is never overwritten.
var ErrNotGenerated = errors.New("directory exists and was not written by synth")

// Generate writes the repository of opts into dir: with its git history
// when opts.Commits > 0, else the files only. A dir whose stamp records the
// same options and Version is reused as it is (reused is true); a dir
// written by an earlier Generate with other options is replaced. The
// result appears atomically: an interrupted run leaves no stamped
// half-written directory behind.
func Generate(ctx context.Context, dir string, opts Options) (reused bool, err error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return false, err
	}
	return cached(dir, Stamp{Version: Version, Kind: "repo", Options: opts, Policies: policiesDigest()}, func(tmp string) error {
		r, err := New(opts)
		if err != nil {
			return err
		}
		if opts.Commits == 0 {
			if err := r.WriteTree(tmp); err != nil {
				return err
			}
			return r.writeKeys(tmp)
		}
		if err := r.writeHistory(ctx, tmp); err != nil {
			return err
		}
		if err := r.writeKeys(tmp); err != nil {
			return err
		}
		// Keep the stamp and the keys out of `git status`.
		return appendFile(filepath.Join(tmp, ".git", "info", "exclude"), "/"+StampFile+"\n/"+KeyDir+"/\n")
	})
}

// ExportJSON writes the JSON export of every ticket of the repository of
// opts into dir, flat, as <id>.json: what `cue export` prints for each
// ticket file. It caches like Generate.
func ExportJSON(ctx context.Context, dir string, opts Options) (reused bool, err error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return false, err
	}
	return cached(dir, Stamp{Version: Version, Kind: "json", Options: opts}, func(tmp string) error {
		r, err := New(opts)
		if err != nil {
			return err
		}
		return r.WriteJSON(ctx, tmp)
	})
}

// WriteJSON writes the JSON export of every ticket into dir as <id>.json.
func (r *Repo) WriteJSON(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx := cuecontext.New() // one context per goroutine
			for i := w; i < len(r.Tickets); i += workers {
				if errs[w] = ctx.Err(); errs[w] != nil {
					return
				}
				t := r.Tickets[i]
				v := cctx.CompileBytes(t.Source, cue.Filename(t.Path))
				b, err := v.MarshalJSON()
				if err != nil {
					errs[w] = fmt.Errorf("exporting %s: %w", t.Path, err)
					return
				}
				var out bytes.Buffer
				if err := json.Indent(&out, b, "", "    "); err != nil {
					errs[w] = fmt.Errorf("exporting %s: %w", t.Path, err)
					return
				}
				out.WriteByte('\n')
				if err := os.WriteFile(filepath.Join(dir, t.ID+".json"), out.Bytes(), 0o644); err != nil {
					errs[w] = err
					return
				}
				if i%1000 == 999 { // contexts only grow
					cctx = cuecontext.New()
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ReadStamp returns the stamp of dir, or nil if it has none.
func ReadStamp(dir string) (*Stamp, error) {
	b, err := os.ReadFile(filepath.Join(dir, StampFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Stamp
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, StampFile), err)
	}
	return &s, nil
}

// cached makes dir hold what want describes, by calling make on a
// temporary sibling directory and renaming it into place, unless dir
// already holds it.
func cached(dir string, want Stamp, make func(tmp string) error) (bool, error) {
	have, err := ReadStamp(dir)
	if err != nil {
		return false, err
	}
	if have != nil && sameStamp(*have, want) {
		return true, nil
	}
	if have == nil {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		if len(entries) > 0 {
			return false, fmt.Errorf("%s: %w (no %s)", dir, ErrNotGenerated, StampFile)
		}
	}
	tmp := filepath.Clean(dir) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return false, err
	}
	if err := make(tmp); err != nil {
		os.RemoveAll(tmp)
		return false, err
	}
	b, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		return false, err
	}
	if err := os.WriteFile(filepath.Join(tmp, StampFile), append(b, '\n'), 0o644); err != nil {
		return false, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return false, fmt.Errorf("moving %s into place: %w", dir, err)
	}
	return false, nil
}

func sameStamp(a, b Stamp) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func appendFile(name, s string) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
