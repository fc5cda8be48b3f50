package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/atomicfile"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
)

// CheckpointFile is where a checkout keeps the ledger head its reconciler
// last acted on, relative to the git directory. It lives in the checkout,
// never on the remote: whoever can push to the ledger cannot move it.
const CheckpointFile = "cab/reconcile-checkpoint"

// ErrLedgerNotAppendOnly is matched (errors.Is) by the error of a pass
// that stopped because the ledger is not its checkpoint plus added events
// (a *ledger.CheckpointError is in the chain): nothing is applied until an
// operator reviews the ledger and accepts a new checkpoint (AcceptLedger,
// `cab reconcile --accept-ledger`).
var ErrLedgerNotAppendOnly = ledger.ErrNotAppendOnly

// defaultCheckpointPath is CheckpointFile in repo's git directory.
func defaultCheckpointPath(repo *git.Repository) (string, error) {
	dir := gitx.GitDir(repo)
	if dir == "" {
		return "", errors.New("the reconciler's checkpoint needs a repository on disk")
	}
	return filepath.Join(dir, filepath.FromSlash(CheckpointFile)), nil
}

// loadCheckpoint reads the checkpoint at path (zero when there is none
// yet: the first head read is trusted, and kept).
func loadCheckpoint(path string) (plumbing.Hash, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading the reconciler checkpoint: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if !plumbing.IsHash(s) {
		return plumbing.ZeroHash, fmt.Errorf("the reconciler checkpoint %s does not hold a commit hash", path)
	}
	return plumbing.NewHash(s), nil
}

// saveCheckpoint writes h to path atomically: a reader (or a crash) sees
// the old checkpoint or the new one, never a torn file.
func saveCheckpoint(path string, h plumbing.Hash) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing the reconciler checkpoint: %w", err)
	}
	f, err := atomicfile.Create(filepath.Dir(path), "")
	if err != nil {
		return fmt.Errorf("writing the reconciler checkpoint: %w", err)
	}
	defer f.Cleanup()
	_, err = io.WriteString(f, h.String()+"\n")
	if err == nil {
		err = f.Sync() // the checkpoint must survive a crash, not only be whole
	}
	if err == nil {
		err = f.Commit(path, 0o600)
	}
	if err != nil {
		return fmt.Errorf("writing the reconciler checkpoint: %w", err)
	}
	return nil
}

// AcceptLedger makes commit (a ledger commit, by hash or revision) the
// checkpoint of the reconciler of the checkout at dir, after an operator
// reviewed a ledger that stopped the reconciler. The commit must be on
// the first-parent chain of the ledger's head with only added events
// after it, so that the next pass acts again. It applies nothing.
// checkpointPath "" is the default (CheckpointFile in the git directory).
func AcceptLedger(ctx context.Context, dir, checkpointPath string, l *ledger.Ledger, commit string) (plumbing.Hash, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("opening the change repository at %s: %w", dir, err)
	}
	log, err := l.Read(ctx)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading the ledger: %w", err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(commit))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("--accept-ledger %s: %w", commit, err)
	}
	if err := ledger.CheckAppendOnly(ctx, repo, *h, log.Head); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("--accept-ledger %s: the ledger head %s is not that commit plus added events (accept the head itself once reviewed): %w", commit, log.Head, err)
	}
	if checkpointPath == "" {
		if checkpointPath, err = defaultCheckpointPath(repo); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	return *h, saveCheckpoint(checkpointPath, *h)
}
