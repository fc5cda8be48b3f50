package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/atomicfile"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
)

// Open is a merged ticket whose window has not closed, as conflict
// detection sees it: when, and on which targets.
type Open struct {
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Targets are resources (model.Action.Resource,
	// "<environment>/<target>/<object>"): the same registry repository and
	// tag, file of an environment repository, or webhook path in the same
	// environment.
	Targets []string `json:"targets"`
	// DependsOn are the tickets this one is ordered after: it does not
	// conflict with them, nor they with it.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Kind and PostReviewOf serve the emergency post-review obligation.
	Kind         string `json:"kind,omitempty"`
	PostReviewOf string `json:"postReviewOf,omitempty"`
}

// targets lists the resources a ticket changes (model.Action.Resource),
// in every environment, sorted.
func targets(t model.Ticket) []string {
	var out []string
	for _, env := range t.Environments {
		out = append(out, t.Resources(env)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// conflicts returns the open tickets other than t whose window overlaps
// t's on a shared resource. A ticket that depends on t is ordered after it
// by the reconciler and is left out (t depending on the other is for the
// policy to weigh: it sees dependsOn).
func conflicts(t model.Ticket, open []Open) []policy.Conflict {
	start, err1 := time.Parse(time.RFC3339, t.Window.Start)
	end, err2 := time.Parse(time.RFC3339, t.Window.End)
	if err1 != nil || err2 != nil {
		return nil
	}
	mine := targets(t)
	out := []policy.Conflict{}
	for _, o := range open {
		if o.ID == t.ID || !start.Before(o.End) || !o.Start.Before(end) || slices.Contains(o.DependsOn, t.ID) {
			continue
		}
		for _, tg := range o.Targets {
			if _, ok := slices.BinarySearch(mine, tg); ok {
				env, rest, _ := strings.Cut(tg, "/")
				out = append(out, policy.Conflict{ID: o.ID, Environment: env, Target: rest,
					Start: o.Start.UTC().Format(time.RFC3339), End: o.End.UTC().Format(time.RFC3339)})
			}
		}
	}
	return out
}

// openTickets returns what the tickets added (their files) may
// conflict with: the merged tickets of base that change one of their
// resources and whose windows end after now, found through the index of
// targets (O(change), whatever the number of services), and the added
// tickets themselves, which may conflict with each other.
//
// The added tickets are always summarised from their bytes; the summary
// is kept in the session's cache (by blob id) for when the index of
// targets moves past them, as for any merged ticket.
func openTickets(base *object.Tree, added []File, now time.Time, session *Session) ([]Open, error) {
	var out []Open
	skip := map[string]bool{}
	for _, f := range added {
		skip[f.Name] = true
		sum := summarizeSource(f.Name, f.Source)
		if sum != nil {
			session.remember(plumbing.ComputeHash(plumbing.BlobObject, f.Source).String(), sum)
		}
		if sum != nil && len(sum.Targets) > 0 {
			out = append(out, *sum)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	idx, err := session.targetsOf(base)
	if err != nil {
		return nil, err
	}
	// Only what could conflict crosses to the evaluation: open at now,
	// and overlapping one of the added tickets on one of its resources.
	found := map[string]*Open{}
	for _, m := range out {
		after := now
		if m.Start.After(after) {
			after = m.Start
		}
		for _, r := range m.Targets {
			idx.lookup(found, r, after, m.End)
		}
	}
	for name, o := range found {
		if !skip[name] {
			out = append(out, *o)
		}
	}
	slices.SortFunc(out, func(a, b Open) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// serviceSummaries summarises the tickets of changes/<svc>/ in tree, by
// path, from the session's cache where it can.
func serviceSummaries(repo *git.Repository, tree *object.Tree, svc string, session *Session) (map[string]*Open, error) {
	cache := session.summaries(repo)
	out := map[string]*Open{}
	dir := ChangesDir + "/" + svc
	sub, err := tree.Tree(dir)
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/: %w", dir, err)
	}
	learned := false
	for _, e := range sub.Entries {
		full := dir + "/" + e.Name
		if !e.Mode.IsFile() || !strings.HasSuffix(e.Name, ".cue") {
			continue
		}
		sum, ok := cache[e.Hash.String()]
		if !ok {
			sum = summarize(tree, full)
			session.learn(e.Hash.String(), sum)
			learned = true
		}
		if sum != nil {
			out[full] = sum
		}
	}
	if learned && !session.batch {
		saveSummaries(repo, cache)
	}
	return out, nil
}

// summarize reads one merged ticket; nil when it does not parse (it was
// judged when it was merged; it cannot conflict with anything now).
func summarize(tree *object.Tree, name string) *Open {
	src, d, err := load.TreeFile(tree, name, schema.MaxTicketBytes)
	if err != nil || d != nil || src == nil {
		return nil
	}
	return summarizeSource(name, src)
}

// summarizeEntry is summarize for a file of a diff.
func summarizeEntry(c change) *Open {
	src := entrySource(c)
	if src == nil {
		return nil
	}
	return summarizeSource(c.Path, src)
}

// entrySource is the ticket a file of a diff leaves: nil when it is
// deleted, not a regular file, too large or unreadable.
func entrySource(c change) []byte {
	if c.Deleted() {
		return nil
	}
	src, d, err := c.read(schema.MaxTicketBytes)
	if err != nil || d != nil {
		return nil
	}
	return src
}

// summarizeChanges summarises the tickets cs leave (summarizeEntry, in
// the order of cs). The blobs are read one at a time, on this goroutine
// (the storer need not be safe for concurrent use), and parsed on every
// core: parsing is the cost of a clone's first index (every ticket).
func summarizeChanges(cs []change) []*Open {
	out := make([]*Open, len(cs))
	workers := min(runtime.GOMAXPROCS(0), len(cs)/16)
	if workers <= 1 {
		for i, c := range cs {
			out[i] = summarizeEntry(c)
		}
		return out
	}
	type job struct {
		i   int
		src []byte
	}
	jobs := make(chan job, 4*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				out[j.i] = summarizeSource(cs[j.i].Path, j.src)
			}
		})
	}
	for i, c := range cs {
		if src := entrySource(c); src != nil {
			jobs <- job{i, src}
		}
	}
	close(jobs)
	wg.Wait()
	return out
}

// summarizeSource reads a ticket as conflict detection sees it, without
// evaluating it (schema.DecodeMerged); nil when it does not parse.
func summarizeSource(name string, src []byte) *Open {
	t, err := schema.DecodeMerged(name, src)
	if err != nil {
		return nil
	}
	start, err1 := time.Parse(time.RFC3339, t.Window.Start)
	end, err2 := time.Parse(time.RFC3339, t.Window.End)
	if err1 != nil || err2 != nil {
		return nil
	}
	return &Open{ID: t.ID, Start: start.UTC(), End: end.UTC(), Targets: targets(t), DependsOn: t.DependsOn,
		Kind: t.Kind, PostReviewOf: t.PostReviewOf}
}

func summariesPath(repo *git.Repository) string {
	dir := gitx.GitDir(repo)
	if dir == "" {
		return ""
	}
	// v3: summaries are the data CUE sees (schema.DecodeMerged leaves
	// what it cannot convert exactly to CUE); v2's kept the last of a
	// label given twice, so none of them is reused.
	return filepath.Join(dir, "cab", "tickets-v3.json")
}

// loadSummaries reads the cache; a missing or unreadable cache is empty.
func loadSummaries(repo *git.Repository) map[string]*Open {
	out := map[string]*Open{}
	if p := summariesPath(repo); p != "" {
		if b, err := os.ReadFile(p); err == nil {
			_ = json.Unmarshal(b, &out)
		}
	}
	return out
}

// saveSummaries writes the cache atomically, through a temporary file of
// its own, so that concurrent checks never interleave (the last wins);
// failing to is not an error (the next run parses again).
func saveSummaries(repo *git.Repository, cache map[string]*Open) {
	p := summariesPath(repo)
	if p == "" {
		return
	}
	b, err := json.Marshal(cache)
	if err != nil || os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	_ = atomicfile.Write(p, b, 0o644)
}

// Session carries what several pull-request checks on one repository can
// share: the open repository, the ticket summaries, the index of targets
// and decoded configurations. A batch (cab sign judging every merge) keeps them in
// memory and saves the summaries once, with Close. The zero value (or nil)
// is a session of one check. Not safe for concurrent use.
type Session struct {
	repo  *git.Repository
	batch bool
	// cache holds the ticket summaries by blob id, read from the file
	// when first needed (see summaries); remembered holds what was learnt
	// before, folded in then (a check whose index of targets is current
	// never reads the file).
	cache      map[string]*Open
	remembered map[string]*Open
	loader     *load.Loader // base cab.cue, compiled once per blob
	dirty      bool
	// targets is the index of targets last used; targetsDirty says it
	// is not saved yet (batch).
	targets      *targetIndex
	targetsDirty bool
	// ids is the ticket index last made, signed the ledger's signed
	// tickets by author last read (see session_cache.go).
	ids      *idIndex
	idsDirty bool
	signed   *signedLog
	// closeRepo releases what reading repo holds (gitx.Open).
	closeRepo func() error
	// loaderMu serializes the uses of loader (see configAsync).
	loaderMu sync.Mutex
	// rules are the rules read from base trees, by rulesKey.
	rules map[rulesKey]load.Rules
}

// NewSession returns a batch session on the repository at dir, its
// objects read through gitx.Open. Close it when done.
func NewSession(dir string) (*Session, error) {
	repo, closeRepo, err := gitx.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Session{repo: repo, closeRepo: closeRepo, batch: true}, nil
}

// Close saves what the session learnt and releases the repository (its
// mapped packs): reports and objects read before stay valid.
func (s *Session) Close() {
	if s == nil {
		return
	}
	defer s.release()
	if s.dirty && s.cache != nil {
		saveSummaries(s.repo, s.cache)
		s.dirty = false
	}
	if s.targetsDirty && s.targets != nil {
		s.targets.save(s.repo)
		s.targetsDirty = false
	}
	if s.idsDirty && s.ids != nil {
		s.ids.save(s.repo)
		s.idsDirty = false
	}
}

// release releases the repository (its mapped packs).
func (s *Session) release() {
	if s.closeRepo != nil {
		_ = s.closeRepo()
		s.closeRepo = nil
	}
}

func (s *Session) summaries(repo *git.Repository) map[string]*Open {
	if s.cache == nil {
		s.cache = loadSummaries(repo)
		for key, sum := range s.remembered {
			s.learn(key, sum)
		}
		s.remembered = nil
	}
	return s.cache
}

// remember keeps sum as the summary of the blob key, replacing whatever
// the cache held: what the bytes say wins. Until the cache is needed it
// is only remembered (left unsaved if it never is: the next move of the
// index summarises that blob again).
func (s *Session) remember(key string, sum *Open) {
	if s.cache != nil {
		s.learn(key, sum)
		return
	}
	if s.remembered == nil {
		s.remembered = map[string]*Open{}
	}
	s.remembered[key] = sum
}

func (s *Session) learn(key string, sum *Open) {
	if _, ok := s.cache[key]; !ok {
		s.dirty = true
	}
	s.cache[key] = sum
}

// configAsync starts s.config(job) and returns a function that waits for
// its result. The decodings of a session run one at a time (its Loader is
// not safe for concurrent use).
func (s *Session) configAsync(job Job) func() (*model.Config, error) {
	var cfg *model.Config
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.loaderMu.Lock()
		defer s.loaderMu.Unlock()
		cfg, err = s.config(job)
	}()
	return func() (*model.Config, error) {
		<-done
		return cfg, err
	}
}

// config decodes the base's cab.cue, once per blob (the session's
// Loader caches it): nil when there is none or it is invalid. An invalid
// one is tolerated here because the evaluation reports every one of its
// diagnostics (prepare), and governanceRule then refuses rule changes.
func (s *Session) config(job Job) (*model.Config, error) {
	if job.Config == nil {
		return nil, nil
	}
	if s.loader == nil {
		s.loader = load.New()
	}
	cfg, err := s.loader.Config(load.Rules{Config: job.Config}, "the base")
	if load.Tolerable(err) {
		return nil, nil // reported by the evaluation, diagnostic by diagnostic
	}
	if err != nil {
		return nil, err
	}
	return &cfg.Config, nil
}
