package reconcile_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/bench/signedledger"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/reconcile/target/oci"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// TestMain serves the sandboxed evaluation child the reconciler spawns.
func TestMain(m *testing.M) {
	if sandbox.Role() == validate.ChildRole {
		os.Exit(validate.ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// now is the fixed clock of the tests; ticket windows are around it.
var now = time.Date(2026, 12, 1, 22, 30, 0, 0, time.UTC)

// registryServer is an in-process OCI registry that counts the manifest
// writes per tag: how many times something was really applied.
type registryServer struct {
	*httptest.Server
	host string
	mu   sync.Mutex
	puts map[string]int // "repo:tag" → manifest PUTs
	// fail, when positive, answers that many requests with 500.
	fail atomic.Int32
}

func newRegistry(t testing.TB) *registryServer {
	r := &registryServer{puts: map[string]int{}}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.fail.Load() > 0 {
			r.fail.Add(-1)
			http.Error(w, "injected", http.StatusInternalServerError)
			return
		}
		if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
			p := strings.TrimPrefix(req.URL.Path, "/v2/")
			repo, ref, _ := strings.Cut(p, "/manifests/")
			if !strings.HasPrefix(ref, "sha256:") {
				r.mu.Lock()
				r.puts[repo+":"+ref]++
				r.mu.Unlock()
			}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	u, _ := url.Parse(r.URL)
	r.host = u.Host
	return r
}

// Puts returns the manifest writes to repo:tag.
func (r *registryServer) Puts(ref string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.puts[ref]
}

// push uploads a random image to repo and returns its digest reference.
func (r *registryServer) push(t testing.TB, repo string) string {
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	ref, err := name.ParseReference(r.host+"/"+repo+"@"+d.String(), name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	return ref.Name()
}

// tagDigest returns the digest repo:tag points at ("" when absent).
func (r *registryServer) tagDigest(t testing.TB, ref string) string {
	tag, err := name.NewTag(r.host+"/"+ref, name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Head(tag)
	if err != nil {
		return ""
	}
	return desc.Digest.String()
}

// setTag points repo:tag at the image digest ref (a previous state).
func (r *registryServer) setTag(t testing.TB, digestRef, tagRef string) {
	src, err := name.NewDigest(digestRef, name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Get(src)
	require.NoError(t, err)
	img, err := desc.Image()
	require.NoError(t, err)
	tag, err := name.NewTag(r.host+"/"+tagRef, name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, img))
}

var _ v1.Image // the registry stores images

// fixture is a change repository (a bare remote and a working clone of
// main), a signing key and a registry for the environments.
type fixture struct {
	t      testing.TB
	root   string
	bare   string
	work   string
	reg    *registryServer
	signer *sign.Signer
	key    model.Key
	// keyFile is the signer's private key (trusted to sign and reconcile).
	keyFile string
	// extraConfig is appended to cab.cue.
	extraConfig string
	schema      *schema.Schema
}

func sh(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Maintainer", "GIT_COMMITTER_EMAIL=maintainer@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%v: %s", args, out)
	return strings.TrimSpace(string(out))
}

func newKey(t testing.TB) (*sign.Signer, model.Key) {
	s, k, _ := newKeyFile(t)
	return s, k
}

// newKeyFile is newKey and the path of its private key.
func newKeyFile(t testing.TB) (*sign.Signer, model.Key, string) {
	priv, pub, err := sign.Keygen(sign.AlgECDSAP256)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "cab.key")
	require.NoError(t, os.WriteFile(path, priv, 0o600))
	s, err := sign.LoadSigner(context.Background(), path, nil)
	require.NoError(t, err)
	return s, model.Key{Name: "ci", PublicKey: string(pub)}, path
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		b.WriteString("\t" + l + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// newFixture makes the repository with cab.cue (and policies) on main.
func newFixture(t testing.TB, extraConfig string, policies map[string]string) *fixture {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	f := &fixture{t: t, root: t.TempDir(), reg: newRegistry(t), extraConfig: extraConfig}
	f.signer, f.key, f.keyFile = newKeyFile(t)
	f.work = filepath.Join(f.root, "work")
	f.bare = filepath.Join(f.root, "remote.git")
	require.NoError(t, os.MkdirAll(filepath.Join(f.work, "changes"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(f.work, "cab.cue"), []byte(f.config(f.key)), 0o644))
	for n, src := range policies {
		require.NoError(t, os.MkdirAll(filepath.Join(f.work, "policy"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(f.work, "policy", n), []byte(src), 0o644))
	}
	sh(t, f.root, "git", "init", "-q", "--bare", "-b", "main", f.bare)
	// The remote's housekeeping (git gc --auto after each push) is the
	// forge's work, done off the request path there: not a cost of the
	// reconciler's pass.
	sh(t, f.bare, "git", "config", "receive.autogc", "false")
	sh(t, f.work, "git", "init", "-q", "-b", "main")
	sh(t, f.work, "git", "remote", "add", "origin", f.bare)
	sh(t, f.work, "git", "add", "-A")
	sh(t, f.work, "git", "commit", "-q", "-m", "base")
	sh(t, f.work, "git", "push", "-q", "origin", "main")
	var err error
	f.schema, err = schema.Compile(nil)
	require.NoError(t, err)
	return f
}

func (f *fixture) config(k model.Key) string {
	return fmt.Sprintf(`apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
promotion: ["staging", "prod"]
environments: {
	staging: targets: images: {type: "oci", registry: "%[1]s/staging", insecure: true}
	prod: targets: images: {type: "oci", registry: "%[1]s/prod", insecure: true}
}
approvers: payments: members: ["git:alice@example.com", "git:bob@example.com"]
services: payments: approvers: "payments"
keys: [{name: "ci", roles: ["sign", "reconcile"], publicKey: """
%[2]s
	"""}]
%[3]s
`, f.reg.host, indent(k.PublicKey), f.extraConfig)
}

// spec describes a ticket for ticketSource.
type spec struct {
	id        string
	envs      []string
	image     string // digest reference
	tag       string
	kind      string
	start     time.Time
	end       time.Time
	dependsOn []string
	extra     string
	// actions replaces the oci action (a CUE list's elements).
	actions string
	// service is the ticket's service and directory ("payments" when
	// empty); cab.cue must name it (the fixture's extraConfig).
	service string
}

// serviceOf is the ticket's service.
func (s spec) serviceOf() string { return cmp.Or(s.service, "payments") }

// path is where the ticket is merged.
func (s spec) path() string { return "changes/" + s.serviceOf() + "/" + s.id + ".cue" }

// tagOf is the tag the ticket's action writes.
func (s spec) tagOf() string {
	if s.tag != "" {
		return s.tag
	}
	return strings.ToLower(s.id)
}

func (s spec) source() string {
	if s.kind == "" {
		s.kind = "normal"
	}
	if s.start.IsZero() {
		s.start, s.end = now.Add(-time.Hour), now.Add(time.Hour)
	}
	if len(s.envs) == 0 {
		s.envs = []string{"staging", "prod"}
	}
	s.tag = s.tagOf()
	if s.actions == "" {
		s.actions = fmt.Sprintf(`{type: "oci", target: "images", image: %q, repository: "payments", tag: %q}`, s.image, s.tag)
	}
	envs := `"` + strings.Join(s.envs, `", "`) + `"`
	deps := ""
	if len(s.dependsOn) > 0 {
		deps = `dependsOn: ["` + strings.Join(s.dependsOn, `", "`) + `"]`
	}
	incident := ""
	if s.kind == "emergency" {
		incident = `incident: {id: "INC-1", url: "https://status.example.com/INC-1"}`
	}
	return fmt.Sprintf(`apiVersion: "cab.dev/v1"
id: %q
title: "Promote payments for %s"
kind: %q
risk: "low"
owner: "team-payments"
service: %q
environments: [%s]
window: {start: %q, end: %q}
%s
%s
actions: [%s]
%s
`, s.id, s.id, s.kind, s.serviceOf(), envs, s.start.Format(time.RFC3339), s.end.Format(time.RFC3339), deps, incident, s.actions, s.extra)
}

// merge merges the tickets onto main in one merge commit and returns it:
// a commit adding them on a branch from main, merged with --no-ff. It
// writes both commits with plumbing (the merge's tree is the branch's),
// so that merging 100,000 tickets does not check them out three times.
func (f *fixture) merge(specs ...spec) string {
	t := f.t
	for _, s := range specs {
		p := filepath.Join(f.work, filepath.FromSlash(s.path()))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(s.source()), 0o644))
	}
	sh(t, f.work, "git", "add", "-A")
	tree := sh(t, f.work, "git", "write-tree")
	pr := sh(t, f.work, "git", "commit-tree", tree, "-p", "HEAD", "-m", "tickets")
	m := sh(t, f.work, "git", "commit-tree", tree, "-p", "HEAD", "-p", pr, "-m", "Merge pr")
	sh(t, f.work, "git", "update-ref", "refs/heads/main", m)
	sh(t, f.work, "git", "push", "-q", "origin", "main")
	return m
}

// signed returns a signed event for the merged ticket id, signed by
// signer with the environments envs (the ticket's own when nil).
func (f *fixture) signed(signer *sign.Signer, id, commit string, envs []string) ledger.Event {
	t := f.t
	p := spec{id: id}.path()
	src, err := os.ReadFile(filepath.Join(f.work, p))
	require.NoError(t, err)
	parsed, ds := f.schema.ParseTicket(p, src)
	require.NotNil(t, parsed, "%v", ds)
	if envs == nil {
		envs = parsed.Ticket.Environments
	}
	return f.signedDigest(signer, id, p, commit, envs, sign.Digest(parsed.JSON))
}

// signedDigest is signed for a ticket merged at p whose canonical JSON
// has digest.
func (f *fixture) signedDigest(signer *sign.Signer, id, p, commit string, envs []string, digest string) ledger.Event {
	st := sign.NewStatement(p, digest, sign.Predicate{
		ID: id, MergeCommit: commit, Environments: envs, Repository: "example.com/acme/changes",
		Author: "git:dev@example.com", SignedAt: now,
	})
	env, err := signer.Sign(context.Background(), st)
	require.NoError(f.t, err)
	return ledger.Event{Ticket: id, Kind: ledger.KindSigned, Commit: commit, At: now,
		Data: []byte(fmt.Sprintf(`{"path":%q}`, p)), Envelope: env}
}

// digests returns the digest of the canonical JSON of each merged ticket
// of specs, which differ only by id and service (the same fields
// otherwise, as spec.source writes them): the first of each service is
// parsed and the others are its canonical JSON with the id (and the tag
// made of it) replaced, which a
// parse of every 500th ticket and of the last checks byte for byte.
// Parsing 100,000 tickets would take most of the fixture's time.
func (f *fixture) digests(specs []spec) []string {
	t := f.t
	parse := func(s spec) []byte {
		parsed, ds := f.schema.ParseTicket(s.path(), []byte(s.source()))
		require.NotNil(t, parsed, "%v", ds)
		return parsed.JSON
	}
	// The first ticket of each service is the template of its service.
	type template struct {
		first spec
		js    []byte
	}
	tmpls := map[string]template{}
	out := make([]string, len(specs))
	for i, s := range specs {
		tm, ok := tmpls[s.serviceOf()]
		if !ok {
			tm = template{first: s, js: parse(s)}
			tmpls[s.serviceOf()] = tm
		}
		first := tm.first
		require.Equal(t, len(first.id), len(s.id), "ids of one length")
		js := bytes.ReplaceAll(tm.js, []byte(first.id), []byte(s.id))
		js = bytes.ReplaceAll(js, []byte(first.tagOf()), []byte(s.tagOf()))
		if i%500 == 0 || i == len(specs)-1 {
			require.Equal(t, string(parse(s)), string(js), "the canonical JSON of %s", s.id)
		}
		out[i] = sign.Digest(js)
	}
	return out
}

// signWith records a signed event (see signed).
func (f *fixture) signWith(signer *sign.Signer, id, commit string, envs []string) {
	ev := f.signed(signer, id, commit, envs)
	_, err := f.ledger().Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) {
		return []ledger.Event{ev}, nil
	})
	require.NoError(f.t, err)
}

// signAll signs the tickets merged together in commit, in one update.
func (f *fixture) signAll(commit string, specs []spec) {
	var evs []ledger.Event
	for i, s := range specs {
		ev := f.signed(f.signer, s.id, commit, nil)
		ev.At = now.Add(time.Duration(i) * time.Second) // merge order
		evs = append(evs, ev)
	}
	_, err := f.ledger().Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) { return evs, nil })
	require.NoError(f.t, err)
}

// signLookalikes signs the tickets merged together in commit, which
// differ only by id (see digests), in one update.
func (f *fixture) signLookalikes(commit string, specs []spec) {
	digests := f.digests(specs)
	evs := make([]ledger.Event, len(specs))
	for i, s := range specs {
		evs[i] = f.signedDigest(f.signer, s.id, s.path(), commit, s.envs, digests[i])
		evs[i].At = now.Add(time.Duration(i) * time.Second) // merge order
	}
	_, err := f.ledger().Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) { return evs, nil })
	require.NoError(f.t, err)
}

// signedVerified lays down on the remote's ledger, for the tickets merged
// together in commit, the events a reconciler would have recorded after
// promoting each to env: signed (in merge order), then applying, applied
// and verified, each outcome signed with the fixture's key as the
// reconciler signs it, without applying anything. It writes them in one
// git fast-import (bench/signedledger.Append: the commits Ledger.Update
// would write), so that ledgers of 100,000 tickets take minutes, and
// fetches them into the working clone.
func (f *fixture) signedVerified(commit string, specs []spec, env string) {
	t := f.t
	evs := make([]ledger.Event, 0, 4*len(specs))
	digests := f.digests(specs)
	for i, s := range specs {
		ev := f.signedDigest(f.signer, s.id, s.path(), commit, s.envs, digests[i])
		ev.At = now.Add(time.Duration(i) * time.Second) // merge order
		evs = append(evs, ev)
	}
	for _, kind := range []string{ledger.KindApplying, ledger.KindApplied, ledger.KindVerified} {
		for _, s := range specs {
			evs = append(evs, ledger.Event{Ticket: s.id, Env: env, Kind: kind, Actor: "test", At: now})
		}
	}
	fmt.Fprintf(os.Stderr, "%d signed events made\n", len(specs))
	// Up to 10,000 tickets, a commit per event (the commits the reconciler
	// would have written); beyond, a commit per kind (the same head tree):
	// a pass reads the head tree, and the commits since its checkpoint,
	// never the history before it.
	per := 1
	if len(specs) > 10_000 {
		per = len(specs)
	}
	_, err := signedledger.Append(context.Background(), signedledger.AppendOptions{Dir: f.bare, Signer: f.signer, PerCommit: per}, evs)
	require.NoError(t, err)
	sh(t, f.work, "git", "fetch", "-q", "origin", "+refs/heads/"+ledger.DefaultBranch+":refs/remotes/origin/"+ledger.DefaultBranch)
}

// mergeAndSign merges and signs each ticket in its own merge, in order.
func (f *fixture) mergeAndSign(specs ...spec) {
	for _, s := range specs {
		c := f.merge(s)
		f.signWith(f.signer, s.id, c, nil)
	}
}

// ledger opens the ledger of the working clone, on the remote.
func (f *fixture) ledger() *ledger.Ledger {
	repo, err := git.PlainOpen(f.work)
	require.NoError(f.t, err)
	l := ledger.Open(repo, "origin", "")
	l.Now = func() time.Time { return now }
	return l
}

// clone makes another working clone of the remote (another reconciler).
func (f *fixture) clone() string {
	dir := filepath.Join(f.t.TempDir(), "clone")
	sh(f.t, "", "git", "clone", "-q", f.bare, dir)
	return dir
}

// options are reconciler options for dir with the oci driver.
func (f *fixture) options(dir string) reconcile.Options {
	// The ledger's repository as cab reconcile opens it (gitx.Open).
	repo, closeRepo, err := gitx.Open(dir)
	require.NoError(f.t, err)
	f.t.Cleanup(func() { _ = closeRepo() })
	l := ledger.Open(repo, "origin", "")
	l.Now = func() time.Time { return now }
	l.Signer = f.signer
	return reconcile.Options{
		Dir: dir, Ledger: l, Instance: "test",
		Drivers: map[string]target.Driver{"oci": oci.New(oci.WithRetry(2, time.Millisecond))},
		Now:     func() time.Time { return now },
	}
}

// events returns each ticket's events as "env:kind" ("kind" ticket-wide).
func (f *fixture) events() map[string][]string {
	log, err := f.ledger().Read(context.Background())
	require.NoError(f.t, err)
	out := map[string][]string{}
	for _, ev := range log.Events() {
		k := ev.Kind
		if ev.Env != "" {
			k = ev.Env + ":" + k
		}
		out[ev.Ticket] = append(out[ev.Ticket], k)
	}
	return out
}

// reason returns the reason recorded with the last event of id in env.
func (f *fixture) reason(id, env string) string {
	log, err := f.ledger().Read(context.Background())
	require.NoError(f.t, err)
	r := ""
	for _, ev := range log.Ticket(id) {
		if ev.Env == env {
			r = string(ev.Data)
		}
	}
	return r
}
