package gittarget

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// localScheme is the transport cab registers with go-git for repositories
// on the local file system (file:// URLs and plain paths), so that they
// are read and written in process rather than through the git-upload-pack
// and git-receive-pack binaries. It is a scheme of its own, so that the
// file:// transport of every other user of go-git stays as it was.
const localScheme = "cab-file"

func init() {
	// Registered at init, before any goroutine can read go-git's protocol
	// table: changing it later would race with fetches elsewhere.
	client.InstallProtocol(localScheme, &localTransport{})
}

// transportURL is the URL cab's clone fetches from and pushes to: the
// target's URL, with local repositories (file://path or a plain path)
// rewritten to the in-process transport.
func transportURL(raw string) (string, error) {
	var dir string
	switch {
	case strings.HasPrefix(raw, "file://"):
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("target url %q: %w", raw, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("target url %q: a file URL names a local path (file:///path), not host %q", raw, u.Host)
		}
		dir = u.Path
	case strings.Contains(raw, "://"):
		return raw, nil
	case isSCPLike(raw):
		return raw, nil
	default:
		dir = raw
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("target url %q: %w", raw, err)
	}
	return (&url.URL{Scheme: localScheme, Path: abs}).String(), nil
}

// redactURL drops the user information (which may be a token) from a
// URL: it goes into error messages, logs and the ledger.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || !strings.Contains(raw, "://") {
		return raw
	}
	u.User = nil
	return u.String()
}

// isSCPLike reports whether s is an scp-like ssh address, user@host:path.
func isSCPLike(s string) bool {
	i := strings.IndexByte(s, ':')
	return i > 0 && !strings.ContainsAny(s[:i], "/\\") && !strings.HasPrefix(s, ".")
}

// localTransport serves local repositories in process with go-git's
// server. Unlike go-git's server alone, a push updates each ref only if
// it still holds the old value the client sent (a compare-and-swap on the
// ref file), so two writers never lose each other's commits; and the
// calls of all sessions on one repository take turns, because go-git
// rewrites a ref file in place and a reader looking at the same time
// would find it empty. (That covers the writers of this process; C git's
// writers are safe anyway, as they rename a new ref file into place.)
// Hooks of the repository do not run.
type localTransport struct {
	locks sync.Map // repository path → *sync.Mutex
}

func (t *localTransport) lock(ep *transport.Endpoint) *sync.Mutex {
	m, _ := t.locks.LoadOrStore(filepath.Clean(ep.Path), &sync.Mutex{})
	return m.(*sync.Mutex)
}

func loadLocal(ep *transport.Endpoint) (storer.Storer, error) {
	repo, err := git.PlainOpen(ep.Path)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, transport.ErrRepositoryNotFound
	}
	if err != nil {
		return nil, err
	}
	return repo.Storer, nil
}

func (t *localTransport) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	st, err := loadLocal(ep)
	if err != nil {
		return nil, err
	}
	sess, err := server.NewClient(server.MapLoader{ep.String(): st}).NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	return &upSession{UploadPackSession: sess, mu: t.lock(ep)}, nil
}

func (t *localTransport) NewReceivePackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.ReceivePackSession, error) {
	st, err := loadLocal(ep)
	if err != nil {
		return nil, err
	}
	cs := &casStorer{Storer: st}
	sess, err := server.NewClient(server.MapLoader{ep.String(): cs}).NewReceivePackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	return &casSession{ReceivePackSession: sess, st: cs, mu: t.lock(ep)}, nil
}

// upSession serves a fetch, one call at a time per repository.
type upSession struct {
	transport.UploadPackSession
	mu *sync.Mutex
}

func (s *upSession) AdvertisedReferences() (*packp.AdvRefs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.UploadPackSession.AdvertisedReferences()
}

func (s *upSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.UploadPackSession.AdvertisedReferencesContext(ctx)
}

func (s *upSession) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.UploadPackSession.UploadPack(ctx, req)
}

// casStorer turns go-git's unconditional ref updates into checked ones.
type casStorer struct {
	storer.Storer
	mu  sync.Mutex
	old map[plumbing.ReferenceName]plumbing.Hash
}

func (s *casStorer) SetReference(r *plumbing.Reference) error {
	s.mu.Lock()
	old, ok := s.old[r.Name()]
	s.mu.Unlock()
	if ok && !old.IsZero() {
		return s.Storer.CheckAndSetReference(r, plumbing.NewHashReference(r.Name(), old))
	}
	return s.Storer.SetReference(r)
}

// PackfileWriter keeps pushed packs as packs.
func (s *casStorer) PackfileWriter() (io.WriteCloser, error) {
	pw, ok := s.Storer.(storer.PackfileWriter)
	if !ok {
		return nil, fmt.Errorf("storage cannot write packfiles")
	}
	return pw.PackfileWriter()
}

// casSession serves a push, one call at a time per repository.
type casSession struct {
	transport.ReceivePackSession
	st *casStorer
	mu *sync.Mutex
}

func (s *casSession) AdvertisedReferences() (*packp.AdvRefs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ReceivePackSession.AdvertisedReferences()
}

func (s *casSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ReceivePackSession.AdvertisedReferencesContext(ctx)
}

func (s *casSession) ReceivePack(ctx context.Context, req *packp.ReferenceUpdateRequest) (*packp.ReportStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := map[plumbing.ReferenceName]plumbing.Hash{}
	for _, c := range req.Commands {
		old[c.Name] = c.Old
	}
	s.st.mu.Lock()
	s.st.old = old
	s.st.mu.Unlock()
	return s.ReceivePackSession.ReceivePack(ctx, req)
}
