package scaffold

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
)

//go:embed cab.cue.tmpl
var configTemplate string

// ErrExists is returned when scaffolding would overwrite a file.
var ErrExists = errors.New("already exists")

// Gitignore holds the patterns a change repository's .gitignore keeps out
// of git: private signing keys (`cab keygen` writes PREFIX.key, cosign
// writes cosign.key) and key passwords.
var gitignore = []string{
	"# Private signing keys never belong in a change repository: keep them in",
	"# CI secrets or a KMS (`cab keygen` writes PREFIX.key, cosign cosign.key).",
	"*.key",
	"cosign.key",
	"*.key.pem",
	"*.p12",
	"cosign.password",
}

// Init writes a new change repository into dir: cab.cue, the default
// policies under policy/, an empty changes/ and a .gitignore that keeps
// signing keys out (an existing .gitignore gets the missing patterns
// appended). It returns the files it wrote, relative to dir.
func Init(dir, repository string) ([]string, error) {
	if _, err := os.Lstat(filepath.Join(dir, "cab.cue")); err == nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "cab.cue"), ErrExists)
	}
	var cfg bytes.Buffer
	if err := template.Must(template.New("cab.cue").Parse(configTemplate)).Execute(&cfg, struct{ Repository string }{repository}); err != nil {
		return nil, fmt.Errorf("rendering cab.cue: %w", err)
	}
	files := map[string][]byte{"cab.cue": cfg.Bytes(), "changes/.gitkeep": nil}
	for _, p := range policy.Defaults() {
		files[p.Name] = p.Source
	}
	var written []string
	for name := range files {
		written = append(written, name)
	}
	sort.Strings(written)
	for _, name := range written {
		if err := writeNew(filepath.Join(dir, filepath.FromSlash(name)), files[name]); err != nil {
			return nil, err
		}
	}
	if err := ensureGitignore(filepath.Join(dir, ".gitignore")); err != nil {
		return nil, err
	}
	return append([]string{".gitignore"}, written...), nil
}

// ensureGitignore creates path with the key patterns, or appends those
// an existing file lacks.
func ensureGitignore(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(old), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	var add []string
	for _, l := range gitignore {
		if !have[l] {
			add = append(add, l)
		}
	}
	if len(add) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.Write(old)
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		b.WriteByte('\n')
	}
	b.WriteString(strings.Join(add, "\n") + "\n")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// GitInit makes dir a git repository with branch main unless it already is
// inside one. It reports whether it created one.
func GitInit(dir string) (bool, error) {
	if _, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true}); err == nil {
		return false, nil
	} else if !errors.Is(err, git.ErrRepositoryNotExists) {
		return false, fmt.Errorf("opening the git repository at %s: %w", dir, err)
	}
	if _, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}}); err != nil {
		return false, fmt.Errorf("git init %s: %w", dir, err)
	}
	return true, nil
}

func writeNew(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// Ticket describes the ticket NewTicket writes.
type Ticket struct {
	Service string
	Title   string
	// Template names a standard change template of cab.cue, or "".
	Template string
	Owner    string
	Now      time.Time
	// Environments overrides the promotion order of cab.cue.
	Environments []string
	// Start is when the window opens (default: the next full hour a day
	// after Now); it stays open two hours.
	Start time.Time
	// Actions, Prechecks and Postchecks are written as given; without
	// actions the ticket gets an empty list and a commented example.
	Actions    []model.Action
	Prechecks  []model.Check
	Postchecks []model.Check
}

var identPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`) })

var idPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^CHG-(\d{4})-(\d{4,6})\.cue$`) })

// NextID returns the next free ticket id of the year of now in the change
// repository at root: one more than the highest sequence any file uses.
func NextID(root string, now time.Time) (string, error) {
	year := now.UTC().Year()
	highest := 0
	err := filepath.WalkDir(filepath.Join(root, "changes"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		m := idPattern().FindStringSubmatch(d.Name())
		if m == nil || m[1] != strconv.Itoa(year) {
			return nil
		}
		if n, _ := strconv.Atoi(m[2]); n > highest {
			highest = n
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("listing tickets: %w", err)
	}
	return fmt.Sprintf("CHG-%d-%04d", year, highest+1), nil
}

// NewTicket writes a new ticket for t into the change repository at root
// and returns its path. cfg is the repository's configuration.
func NewTicket(root string, cfg model.Config, t Ticket) (string, error) {
	if _, ok := cfg.Services[t.Service]; !ok && len(cfg.Services) > 0 {
		return "", fmt.Errorf("service %q is not declared in cab.cue (declared: %s)", t.Service, strings.Join(slices.Sorted(maps.Keys(cfg.Services)), ", "))
	}
	id, err := NextID(root, t.Now)
	if err != nil {
		return "", err
	}
	fields := []field{
		{"apiVersion", schema.APIVersion},
		{"id", id},
		{"title", t.Title},
		{"description", "What changes, why, and how it was tested."},
		{"kind", "normal"},
	}
	risk := "low"
	extra := map[string]any{}
	if t.Template != "" {
		tmpl, ok := cfg.Templates[t.Template]
		if !ok {
			return "", fmt.Errorf("template %q is not declared in cab.cue (declared: %s)", t.Template, strings.Join(slices.Sorted(maps.Keys(cfg.Templates)), ", "))
		}
		fields[4] = field{"kind", "standard"}
		fields = append(fields, field{"template", t.Template})
		risk = tmpl.MaxRisk
		for k, v := range tmpl.Ticket {
			extra[k] = v
		}
	}
	owner := t.Owner
	if owner == "" {
		owner = cfg.Services[t.Service].Owner
	}
	if owner == "" {
		owner = "team-" + t.Service
	}
	envs := t.Environments
	if len(envs) == 0 {
		envs = cfg.Promotion
	}
	if len(envs) == 0 {
		envs = slices.Sorted(maps.Keys(cfg.Environments))
	}
	start := t.Start.UTC()
	if t.Start.IsZero() {
		start = t.Now.UTC().Add(24 * time.Hour).Truncate(time.Hour)
	}
	fields = append(fields,
		field{"risk", risk},
		field{"owner", owner},
		field{"service", t.Service},
		field{"environments", envs},
		field{"window", model.Window{Start: start.Format(time.RFC3339), End: start.Add(2 * time.Hour).Format(time.RFC3339)}},
	)
	// What the caller gives wins over the template's defaults.
	for k, given := range map[string]bool{"actions": len(t.Actions) > 0, "prechecks": len(t.Prechecks) > 0, "postchecks": len(t.Postchecks) > 0} {
		if given {
			delete(extra, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		fields = append(fields, field{k, extra[k]})
	}
	if len(t.Actions) > 0 {
		extra["actions"] = t.Actions
		fields = append(fields, field{"actions", t.Actions})
	}
	if len(t.Prechecks) > 0 {
		fields = append(fields, field{"prechecks", t.Prechecks})
	}
	if len(t.Postchecks) > 0 {
		fields = append(fields, field{"postchecks", t.Postchecks})
	}
	src, err := render(fields, extra)
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, "changes", t.Service, id+".cue")
	if err := writeNew(path, src); err != nil {
		return "", err
	}
	return path, nil
}

type field struct {
	name  string
	value any
}

// render writes fields as plain CUE data in the given order, with a
// commented example of what is still missing.
func render(fields []field, extra map[string]any) ([]byte, error) {
	ctx := cuecontext.New()
	var b bytes.Buffer
	b.WriteString("// A change ticket: plain CUE data, checked by `cab check`.\n")
	for _, f := range fields {
		v := ctx.Encode(f.value)
		if err := v.Err(); err != nil {
			return nil, fmt.Errorf("encoding %s: %w", f.name, err)
		}
		out, err := format.Node(v.Syntax())
		if err != nil {
			return nil, fmt.Errorf("formatting %s: %w", f.name, err)
		}
		fmt.Fprintf(&b, "%s: %s\n", label(f.name), out)
	}
	if _, ok := extra["actions"]; !ok {
		b.WriteString(`// What the reconciler does in each environment, for example:
//   {type: "oci", target: "images", image: "registry.example.com/app@sha256:<digest>", tag: "app"}
//   {type: "git", target: "deploy", file: "apps/app/values.yaml", set: {path: ".image.tag", value: "1.4.2"}}
actions: []
`)
	}
	if _, ok := extra["rollback"]; !ok {
		b.WriteString("rollback: auto: true\n")
	}
	return b.Bytes(), nil
}

func label(name string) string {
	if identPattern().MatchString(name) {
		return name
	}
	q, _ := json.Marshal(name)
	return string(q)
}
