package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
)

// Open is a merged ticket whose window has not closed, as conflict
// detection sees it: when, and on which targets.
type Open struct {
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Targets are "<environment>/<target>/<object>": the same registry
	// repository and tag, file of an environment repository, or webhook
	// path in the same environment.
	Targets []string `json:"targets"`
	// Kind and PostReviewOf serve the emergency post-review obligation.
	Kind         string `json:"kind,omitempty"`
	PostReviewOf string `json:"postReviewOf,omitempty"`
}

// targets lists what a ticket changes, by environment.
func targets(t schema.Ticket) []string {
	var out []string
	for _, env := range t.Environments {
		for _, a := range t.Actions {
			var object string
			switch a.Type {
			case "oci":
				repo := a.Repository
				if repo == "" {
					repo, _, _ = strings.Cut(a.Image, "@")
					if i := strings.IndexByte(repo, '/'); i >= 0 {
						repo = repo[i+1:] // without the source registry host
					}
				}
				object = repo + ":" + a.Tag
			case "git":
				object = a.File
			case "http":
				object = a.Path
			}
			out = append(out, env+"/"+a.Target+"/"+object)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// conflicts returns the open tickets other than t whose window overlaps
// t's on a shared target.
func conflicts(t schema.Ticket, open []Open) []policy.Conflict {
	start, err1 := time.Parse(time.RFC3339, t.Window.Start)
	end, err2 := time.Parse(time.RFC3339, t.Window.End)
	if err1 != nil || err2 != nil {
		return nil
	}
	mine := targets(t)
	out := []policy.Conflict{}
	for _, o := range open {
		if o.ID == t.ID || !start.Before(o.End) || !o.Start.Before(end) {
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

// openTickets summarises the tickets in the service directories of tree
// named in services (except the files in skip) whose windows end after
// now. Conflicts are looked for within a service, so that the gate stays
// O(change) on a repository of any size; a service's changes are where
// targets are shared. Summaries are cached by blob hash under the
// repository's git directory (cab/tickets-v2.json): git stays the source
// of truth, and a ticket is parsed once in the life of the clone.
func openTickets(repo *git.Repository, tree *object.Tree, services []string, skip map[string]bool, now time.Time, session *Session) ([]Open, error) {
	var out []Open
	for _, svc := range services {
		sums, err := serviceSummaries(repo, tree, svc, session)
		if err != nil {
			return nil, err
		}
		for name, sum := range sums {
			if !skip[name] && sum.End.After(now) {
				out = append(out, *sum)
			}
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
	dirty := false
	for _, e := range sub.Entries {
		full := dir + "/" + e.Name
		if !e.Mode.IsFile() || !strings.HasSuffix(e.Name, ".cue") {
			continue
		}
		sum, ok := cache[e.Hash.String()]
		if !ok {
			sum = summarize(tree, full)
			cache[e.Hash.String()] = sum
			dirty = true
		}
		if sum != nil {
			out[full] = sum
		}
	}
	if dirty {
		session.dirty = true
		if !session.batch {
			saveSummaries(repo, cache)
		}
	}
	return out, nil
}

// summarize reads one merged ticket; nil when it does not parse (it was
// judged when it was merged; it cannot conflict with anything now).
func summarize(tree *object.Tree, name string) *Open {
	src, d, err := treeFile(tree, name, schema.MaxTicketBytes)
	if err != nil || d != nil || src == nil {
		return nil
	}
	t, err := schema.DecodeMerged(name, src)
	if err != nil {
		return nil
	}
	start, err1 := time.Parse(time.RFC3339, t.Window.Start)
	end, err2 := time.Parse(time.RFC3339, t.Window.End)
	if err1 != nil || err2 != nil {
		return nil
	}
	return &Open{ID: t.ID, Start: start.UTC(), End: end.UTC(), Targets: targets(t), Kind: t.Kind, PostReviewOf: t.PostReviewOf}
}

func summariesPath(repo *git.Repository) string {
	fs, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return ""
	}
	return filepath.Join(fs.Filesystem().Root(), "cab", "tickets-v2.json")
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

// saveSummaries writes the cache atomically; failing to is not an error
// (the next run parses again).
func saveSummaries(repo *git.Repository, cache map[string]*Open) {
	p := summariesPath(repo)
	if p == "" {
		return
	}
	b, err := json.Marshal(cache)
	if err != nil || os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	tmp := p + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, p)
	}
}

// Session carries what several pull-request checks on one repository can
// share: the open repository, the ticket summaries and decoded
// configurations. A batch (cab sign judging every merge) keeps them in
// memory and saves the summaries once, with Close. The zero value (or nil)
// is a session of one check. Not safe for concurrent use.
type Session struct {
	repo    *git.Repository
	batch   bool
	cache   map[string]*Open
	configs map[string]*schema.Config
	dirty   bool
}

// NewSession returns a batch session on the repository at dir.
func NewSession(dir string) (*Session, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository at %s: %w", dir, err)
	}
	return &Session{repo: repo, batch: true}, nil
}

// Close saves what the session learnt.
func (s *Session) Close() {
	if s != nil && s.dirty && s.cache != nil {
		saveSummaries(s.repo, s.cache)
		s.dirty = false
	}
}

func (s *Session) summaries(repo *git.Repository) map[string]*Open {
	if s.cache == nil {
		s.cache = loadSummaries(repo)
	}
	return s.cache
}

// config decodes a cab.cue once per content.
func (s *Session) config(job Job) *schema.Config {
	if job.Config == nil {
		return nil
	}
	key := string(job.Config.Source)
	if c, ok := s.configs[key]; ok {
		return c
	}
	c := parseConfig(job)
	if s.configs == nil {
		s.configs = map[string]*schema.Config{}
	}
	s.configs[key] = c
	return c
}
