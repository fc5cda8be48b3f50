package validate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
)

// Layout of a change repository.
const (
	ConfigFile = load.ConfigFile
	PolicyDir  = load.PolicyDir
	ChangesDir = "changes"
)

// ErrNotRepo is returned for a directory that is not inside a change
// repository.
var ErrNotRepo = errors.New("not a change repository")

// Options configure a check.
type Options struct {
	// Now is the time the check judges windows against (time.Now if zero).
	Now    time.Time
	Mode   policy.Mode
	Limits Limits
	// Progress, if not nil, is called after each ticket.
	Progress func(done, total int)
	// NoCache evaluates every ticket, neither using nor storing verdicts
	// of earlier checks (the verdict cache, see cache.go).
	NoCache bool
}

// Report is the outcome of a check.
type Report struct {
	// Tickets holds the verdict on every ticket checked, in file order.
	Tickets []Result `json:"tickets"`
	// Diagnostics holds every problem found, sorted.
	Diagnostics diag.List `json:"diagnostics"`
	// RulesDigest identifies the base rules a pull request was judged by
	// ("sha256:<hex>"); empty for checks on files.
	RulesDigest string `json:"rulesDigest,omitempty"`
	// Repository is the repository name the base cab.cue declares.
	Repository string `json:"repository,omitempty"`
	// Review is the review evidence the policies saw (pull-request mode):
	// what a signature about the change records.
	Review *model.Review `json:"review,omitempty"`
	// Reused counts the verdicts taken from the verdict cache (checks on
	// files; see Options.NoCache).
	Reused int `json:"reused,omitempty"`
}

// Errors counts the diagnostics that fail the check.
func (r *Report) Errors() int { return r.Diagnostics.Errors() }

// target is one unit of work: a repository (or none) and ticket files in it.
type target struct {
	root    string // absolute; "" outside any repository
	tickets []string
	refused diag.List
}

// CheckPaths checks the given paths. A directory is a change repository
// root (or a directory inside one): every ticket under it is checked. A
// file is checked against the repository it is in, or against the schema
// and the default policies outside any repository. Paths default to ".".
func CheckPaths(ctx context.Context, paths []string, opts Options) (*Report, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Mode == "" {
		opts.Mode = policy.Local
	}
	// One total budget for every evaluation of this check.
	opts.Limits = opts.Limits.withDefaults()
	targets, err := resolve(paths)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	secrets, err := scanPaths(paths)
	if err != nil {
		return nil, err
	}
	rep.Diagnostics = append(rep.Diagnostics, secrets...)
	for _, t := range targets {
		if err := checkTarget(ctx, t, opts, rep); err != nil {
			return nil, err
		}
	}
	rep.Diagnostics = rep.Diagnostics.Sort()
	return rep, nil
}

// resolve groups the paths by repository.
func resolve(paths []string) ([]*target, error) {
	byRoot := map[string]*target{}
	var order []string
	get := func(root string) *target {
		t, ok := byRoot[root]
		if !ok {
			t = &target{root: root}
			byRoot[root] = t
			order = append(order, root)
		}
		return t
	}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", p, err)
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", p, err)
		}
		if fi.IsDir() {
			root := load.FindRoot(abs)
			if root == "" {
				return nil, fmt.Errorf("%s: %w (no %s here or above); run `cab init` to make one, or name ticket files", p, ErrNotRepo, ConfigFile)
			}
			t := get(root)
			dir := abs
			if dir == root {
				dir = filepath.Join(root, ChangesDir)
			}
			files, refused, err := walkTickets(root, dir)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				t.tickets = append(t.tickets, asGiven(p, abs, f))
			}
			t.refused = append(t.refused, refused...)
			continue
		}
		t := get(load.FindRoot(filepath.Dir(abs)))
		t.tickets = append(t.tickets, filepath.Clean(p))
	}
	out := make([]*target, 0, len(order))
	for _, root := range order {
		t := byRoot[root]
		slices.Sort(t.tickets)
		t.tickets = slices.Compact(t.tickets)
		out = append(out, t)
	}
	return out, nil
}

// walkTickets lists the ticket files under dir without following symlinks.
// Symlinks and special files are refused; tickets must sit at
// changes/<service>/<id>.cue.
func walkTickets(root, dir string) ([]string, diag.List, error) {
	name := namer(root)
	var files []string
	var refused diag.List
	changes := filepath.Join(root, ChangesDir)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipDir
			}
			return err
		}
		base := d.Name()
		if strings.HasPrefix(base, ".") && p != dir {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		refuse := func(msg, hint string) {
			refused = append(refused, diag.Diagnostic{File: name(p), Line: 1, Column: 1, Severity: diag.Error, Code: "file", Message: msg, Hint: hint})
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			refuse(load.SymlinkMessage(p), "replace the symlink with the file itself")
		case d.IsDir():
		case !d.Type().IsRegular():
			refuse("not a regular file", "only ticket files belong under changes/")
		case filepath.Ext(base) != ".cue":
		default:
			rel, err := filepath.Rel(changes, p)
			if err != nil || strings.Count(filepath.ToSlash(rel), "/") != 1 || strings.HasPrefix(rel, "..") {
				refuse("ticket files live at changes/<service>/<id>.cue", "move the file to changes/<service>/")
				return nil
			}
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing tickets in %s: %w", dir, err)
	}
	return files, refused, nil
}

// repo is what a check reads of a change repository.
type repo struct {
	config   *File
	policies []File
	// ids maps every ticket id in the repository (from file names) to its
	// files, by absolute path.
	ids map[string][]string
}

func loadRepo(root string) (*repo, diag.List, error) {
	r := &repo{ids: map[string][]string{}}
	rules, err := load.ReadDir(root, namer(root))
	if err != nil {
		return nil, nil, err
	}
	r.config, r.policies = rules.Config, rules.Policies
	all, _, err := walkTickets(root, filepath.Join(root, ChangesDir))
	if err != nil {
		return nil, nil, err
	}
	for _, f := range all {
		id := strings.TrimSuffix(filepath.Base(f), ".cue")
		r.ids[id] = append(r.ids[id], f)
	}
	return r, rules.Refused, nil
}

func checkTarget(ctx context.Context, t *target, opts Options, rep *Report) error {
	rep.Diagnostics = append(rep.Diagnostics, t.refused...)
	job := Job{Mode: opts.Mode, Now: opts.Now}
	ids := map[string][]string{}
	if t.root != "" {
		r, refused, err := loadRepo(t.root)
		if err != nil {
			return err
		}
		rep.Diagnostics = append(rep.Diagnostics, refused...)
		job.Config, job.Policies, ids = r.config, r.policies, r.ids
		if len(r.policies) == 0 {
			rep.Diagnostics = append(rep.Diagnostics, diag.Diagnostic{File: namer(t.root)(filepath.Join(t.root, PolicyDir)), Severity: diag.Warning, Code: "policy",
				Message: "no policies found; tickets were checked against the schema only", Hint: "`cab init` writes the default policy set"})
		}
	} else {
		for _, p := range policy.Defaults() {
			job.Policies = append(job.Policies, File{Name: "(default) " + p.Name, Source: p.Source})
		}
	}
	var files []File
	for _, name := range t.tickets {
		b, d, err := load.ReadFile(name, schema.MaxTicketBytes)
		if err != nil {
			return err
		}
		if d != nil {
			rep.Tickets = append(rep.Tickets, Result{File: name, Diags: diag.List{*d}})
			rep.Diagnostics = append(rep.Diagnostics, *d)
			continue
		}
		files = append(files, File{Name: name, Source: b})
	}
	if len(files) == 0 && t.root == "" {
		return nil
	}
	r := newRunner(job, files, opts.Limits, opts.Progress)
	var vc *verdicts
	if !opts.NoCache && t.root != "" {
		vc = openVerdicts(t.root, job)
	}
	if vc != nil {
		r.cached = vc.lookup(files)
		r.facts = make([]*facts, len(files))
	}
	results, setup, err := r.run(ctx)
	if err != nil {
		return err
	}
	rep.Reused += r.reused
	if vc != nil && r.limits.lost.d == 0 && len(r.job.Skip) == 0 && r.job.Config == job.Config {
		// Nothing blew a budget: every fresh verdict was made by the job
		// the key names.
		vc.store(files, results, r.facts)
	}
	rep.Diagnostics = append(rep.Diagnostics, setup...)
	if t.root == "" {
		for _, f := range files {
			id := strings.TrimSuffix(filepath.Base(f.Name), ".cue")
			ids[id] = append(ids[id], absolute(f.Name))
		}
	}
	name := namer(t.root)
	for i := range results {
		results[i].Diags = append(results[i].Diags, crossCheck(results[i], absolute(results[i].File), ids, name)...).Sort()
		rep.Diagnostics = append(rep.Diagnostics, results[i].Diags...)
	}
	rep.Tickets = append(rep.Tickets, results...)
	return nil
}

// crossCheck enforces the repository-wide invariants on one ticket: its id
// is unique and the tickets it refers to exist.
// ids holds the files of each id, self is the ticket's own file in the same
// form, and name turns one into what the user reads.
func crossCheck(r Result, self string, ids map[string][]string, name func(string) string) diag.List {
	if r.ID == "" {
		return nil
	}
	var out diag.List
	at := func(key string) (int, int) {
		p := r.Positions[key]
		return p[0], p[1]
	}
	var others []string
	for _, f := range ids[r.ID] {
		if f != self {
			others = append(others, name(f))
		}
	}
	if len(others) > 0 {
		l, c := at("id")
		out = append(out, diag.Diagnostic{File: r.File, Line: l, Column: c, Path: "id", Severity: diag.Error, Code: "duplicate-id",
			Message: fmt.Sprintf("id %s is also used by %s", r.ID, strings.Join(others, ", ")),
			Hint:    "ticket ids are unique across the repository; `cab new` picks the next free id"})
	}
	ref := func(key, id string) {
		l, c := at(key)
		switch {
		case id == r.ID:
			out = append(out, diag.Diagnostic{File: r.File, Line: l, Column: c, Path: key, Severity: diag.Error, Code: "reference",
				Message: fmt.Sprintf("%s refers to the ticket itself", key), Hint: "name another ticket"})
		case len(ids[id]) == 0:
			out = append(out, diag.Diagnostic{File: r.File, Line: l, Column: c, Path: key, Severity: diag.Error, Code: "reference",
				Message: fmt.Sprintf("ticket %s does not exist", id), Hint: "refer to an existing ticket id under changes/"})
		}
	}
	for i, id := range r.DependsOn {
		ref(fmt.Sprintf("dependsOn.%d", i), id)
	}
	if r.Supersedes != "" {
		ref("supersedes", r.Supersedes)
	}
	if r.Cancels != "" {
		ref("cancels", r.Cancels)
	}
	if r.PostReviewOf != "" {
		ref("postReviewOf", r.PostReviewOf)
	}
	return out
}

// absolute returns the absolute form of a path named relative to the
// working directory, or the path itself if there is none.
func absolute(name string) string {
	abs, err := filepath.Abs(name)
	if err != nil {
		return name
	}
	return abs
}

// asGiven names file, found under the directory dir (absolute: abs) the
// user named, starting with the user's own spelling of dir.
func asGiven(dir, abs, file string) string {
	rel, err := filepath.Rel(abs, file)
	if err != nil {
		return namer(load.FindRoot(dir))(file)
	}
	return filepath.Join(dir, rel)
}

// namer names the files of the repository at root for the user: relative
// to the working directory (as compilers do) when that is inside the
// repository or the file is inside the working directory, else absolute.
func namer(root string) func(abs string) string {
	cwd, err := os.Getwd()
	if err != nil {
		return func(abs string) string { return abs }
	}
	inRepo := root != "" && !escapes(relOrEmpty(root, cwd))
	return func(abs string) string {
		rel, err := filepath.Rel(cwd, abs)
		if err != nil || (escapes(rel) && !inRepo) {
			return abs
		}
		return rel
	}
}

func relOrEmpty(base, target string) string {
	rel, err := filepath.Rel(base, target)
	if err != nil {
		return ".."
	}
	return rel
}

func escapes(rel string) bool {
	return rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
