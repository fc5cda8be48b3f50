package load

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
)

// Where a change repository keeps its rules.
const (
	// ConfigFile is the repository configuration, at the root.
	ConfigFile = "cab.cue"
	// PolicyDir holds the policies, one .cue file each.
	PolicyDir = "policy"
)

// ErrNoConfig is matched (errors.Is) when a revision or directory has no
// cab.cue.
var ErrNoConfig = errors.New("no " + ConfigFile)

// ConfigError is a cab.cue that exists but was refused (not a regular
// file, too large) or does not validate. It carries every diagnostic: a
// caller that tolerates a broken cab.cue says so by matching it
// (errors.As) and decides what to tell.
type ConfigError struct {
	// Where is the revision or directory the file was read at.
	Where string
	// Refused says the file was not read (not a regular file, too
	// large), rather than read and found invalid.
	Refused     bool
	Diagnostics diag.List
}

func (e *ConfigError) Error() string {
	msg := "no detail"
	for _, d := range e.Diagnostics {
		if d.Severity == diag.Error {
			msg = d.String()
			break
		}
	}
	at := ConfigFile
	if e.Where != "" {
		at += " at " + e.Where
	}
	if e.Refused {
		return at + ": " + msg
	}
	return at + " does not validate: " + msg
}

// Tolerable reports whether err says only that the repository has no
// usable cab.cue (ErrNoConfig or a *ConfigError), rather than that cab
// failed to read it.
func Tolerable(err error) bool {
	var ce *ConfigError
	return errors.Is(err, ErrNoConfig) || errors.As(err, &ce)
}

// File is one rules file: its name as diagnostics show it and its bytes.
type File struct {
	Name   string `json:"name"`
	Source []byte `json:"source"`
}

// Rules are a revision's or a directory's cab.cue and policies, read
// without trusting them and not yet compiled.
type Rules struct {
	// Config is cab.cue: nil when there is none or it was refused.
	Config *File
	// Policies are policy/*.cue in name order, refused ones left out.
	Policies []File
	// Refused says why files were left out (a symlink, a submodule, a
	// file over its size limit), one diagnostic each.
	Refused diag.List
	// configRefused is cab.cue's entry in Refused, if any.
	configRefused *diag.Diagnostic
}

// ReadTree reads the rules at the root of a git tree. Symlinks,
// submodules and blobs over their limit are refused by their tree entry,
// before any byte is read.
func ReadTree(tree *object.Tree) (Rules, error) {
	var r Rules
	src, d, err := TreeFile(tree, ConfigFile, schema.MaxConfigBytes)
	switch {
	case err != nil:
		return r, err
	case d != nil:
		r.Refused, r.configRefused = append(r.Refused, *d), d
	case src != nil:
		r.Config = &File{Name: ConfigFile, Source: src}
	}
	sub, err := tree.Tree(PolicyDir)
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("reading %s/: %w", PolicyDir, err)
	}
	var names []string
	for _, e := range sub.Entries {
		if e.Mode.IsFile() && strings.HasSuffix(e.Name, ".cue") {
			names = append(names, path.Join(PolicyDir, e.Name))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		src, d, err := TreeFile(tree, n, policy.MaxPolicyBytes)
		if err != nil {
			return r, err
		}
		if d != nil {
			r.Refused = append(r.Refused, *d)
			continue
		}
		r.Policies = append(r.Policies, File{Name: n, Source: src})
	}
	return r, nil
}

// ReadDir reads the rules of the change repository rooted at root, naming
// files as display returns (nil: as they are). A missing cab.cue leaves
// Config nil; a symlink, a non-regular file or one over its limit is
// refused.
func ReadDir(root string, display func(string) string) (Rules, error) {
	if display == nil {
		display = func(s string) string { return s }
	}
	var r Rules
	read := func(p string, max int64) (*File, *diag.Diagnostic, error) {
		src, d, err := ReadFile(p, max)
		switch {
		case err != nil:
			return nil, nil, err
		case d != nil:
			d.File = display(p)
			r.Refused = append(r.Refused, *d)
			return nil, d, nil
		}
		return &File{Name: display(p), Source: src}, nil, nil
	}
	cfg := filepath.Join(root, ConfigFile)
	if _, err := os.Lstat(cfg); err == nil {
		if r.Config, r.configRefused, err = read(cfg, schema.MaxConfigBytes); err != nil {
			return r, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return r, fmt.Errorf("reading %s: %w", cfg, err)
	}
	names, err := filepath.Glob(filepath.Join(root, PolicyDir, "*.cue"))
	if err != nil {
		return r, fmt.Errorf("listing policies: %w", err)
	}
	sort.Strings(names)
	for _, n := range names {
		f, _, err := read(n, policy.MaxPolicyBytes)
		if err != nil {
			return r, err
		}
		if f != nil {
			r.Policies = append(r.Policies, *f)
		}
	}
	return r, nil
}

// Loader compiles cab's schema once and a repository's cab.cue once per
// distinct file: a parse is cached by the file's name and git blob hash,
// so a revision whose cab.cue blob is unchanged is not compiled again,
// and its diagnostics are returned again as they were.
//
// A Loader holds one cue.Context (see schema.Schema) and is not safe for
// concurrent use: give each goroutine its own. CUE contexts only grow;
// a long run calls Recycle now and then.
type Loader struct {
	schema   *schema.Schema
	parsed   map[cacheKey]parse
	compiles int
}

type cacheKey struct {
	name string
	blob plumbing.Hash
}

type parse struct {
	cfg   *schema.ParsedConfig
	diags diag.List
}

// New returns a Loader; the schema is compiled on first use.
func New() *Loader {
	return &Loader{parsed: map[cacheKey]parse{}}
}

// Schema returns the compiled schema, compiling it on first use.
func (l *Loader) Schema() (*schema.Schema, error) {
	if l.schema == nil {
		s, err := schema.Compile(nil)
		if err != nil {
			return nil, err
		}
		l.schema = s
	}
	return l.schema, nil
}

// Compiles counts the cab.cue files l compiled: its cache misses.
func (l *Loader) Compiles() int { return l.compiles }

// Recycle drops the CUE context and every cached parse: the next call
// compiles afresh. Values returned before stay usable.
func (l *Loader) Recycle() {
	l.schema = nil
	clear(l.parsed)
}

// Parse validates f as cab.cue against #Config. It returns the parse, or
// nil and the diagnostics saying why not; the error is kept for failures
// of cab itself.
func (l *Loader) Parse(f File) (*schema.ParsedConfig, diag.List, error) {
	key := cacheKey{name: f.Name, blob: plumbing.ComputeHash(plumbing.BlobObject, f.Source)}
	if p, ok := l.parsed[key]; ok {
		return p.cfg, p.diags, nil
	}
	s, err := l.Schema()
	if err != nil {
		return nil, nil, err
	}
	cfg, ds := s.ParseConfig(f.Name, f.Source)
	l.compiles++
	l.parsed[key] = parse{cfg: cfg, diags: ds}
	return cfg, ds, nil
}

// Config validates rules' cab.cue: ErrNoConfig when there is none, a
// *ConfigError with every diagnostic when it was refused or does not
// validate. where names the revision or directory for messages.
func (l *Loader) Config(r Rules, where string) (*schema.ParsedConfig, error) {
	if r.Config == nil {
		if d := r.configRefused; d != nil {
			return nil, &ConfigError{Where: where, Refused: true, Diagnostics: diag.List{*d}}
		}
		if where == "" {
			return nil, ErrNoConfig
		}
		return nil, fmt.Errorf("%w at %s", ErrNoConfig, where)
	}
	cfg, ds, err := l.Parse(*r.Config)
	if err != nil {
		return nil, err
	}
	return l.result(parse{cfg: cfg, diags: ds}, where)
}

func (l *Loader) result(p parse, where string) (*schema.ParsedConfig, error) {
	if p.cfg == nil {
		return nil, &ConfigError{Where: where, Diagnostics: p.diags}
	}
	return p.cfg, nil
}

// ConfigAtTree reads and validates cab.cue at the root of tree (see
// Config); where names the revision for messages. A cab.cue whose blob
// was parsed before is neither read nor compiled again.
func (l *Loader) ConfigAtTree(tree *object.Tree, where string) (*schema.ParsedConfig, error) {
	if e, err := tree.FindEntry(ConfigFile); err == nil && e.Mode.IsRegular() {
		if p, ok := l.parsed[cacheKey{name: ConfigFile, blob: e.Hash}]; ok {
			return l.result(p, where)
		}
	}
	var r Rules
	src, d, err := TreeFile(tree, ConfigFile, schema.MaxConfigBytes)
	switch {
	case err != nil:
		return nil, err
	case d != nil:
		r.Refused, r.configRefused = diag.List{*d}, d
	case src != nil:
		r.Config = &File{Name: ConfigFile, Source: src}
	}
	return l.Config(r, where)
}

// ConfigAt reads and validates cab.cue at rev of repo (see Config).
func (l *Loader) ConfigAt(repo *git.Repository, rev string) (*schema.ParsedConfig, error) {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	return l.ConfigAtCommit(repo, *h, rev)
}

// ConfigAtCommit reads and validates cab.cue at commit of repo (see
// Config); where names it for messages ("" : the commit id).
func (l *Loader) ConfigAtCommit(repo *git.Repository, commit plumbing.Hash, where string) (*schema.ParsedConfig, error) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	if where == "" {
		where = commit.String()
	}
	return l.ConfigAtTree(tree, where)
}

// ConfigIn reads and validates the cab.cue of the change repository
// rooted at dir (see Config), naming it dir/cab.cue.
func (l *Loader) ConfigIn(dir string) (*schema.ParsedConfig, error) {
	name := filepath.Join(dir, ConfigFile)
	var r Rules
	src, d, err := ReadFile(name, schema.MaxConfigBytes)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w in %s", ErrNoConfig, dir)
	case err != nil:
		return nil, err
	case d != nil:
		r.Refused, r.configRefused = diag.List{*d}, d
	default:
		r.Config = &File{Name: name, Source: src}
	}
	return l.Config(r, dir)
}
