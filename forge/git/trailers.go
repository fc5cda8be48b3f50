package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/schema/load"
)

// MaxCommits bounds how many commits of a change are read for pushers.
const MaxCommits = 1000

// ErrTooManyCommits is returned for a change of more than MaxCommits commits.
var ErrTooManyCommits = errors.New("too many commits in the change")

// Reader reads plain-git review evidence from one repository. Make one
// with NewReader; it compiles the schema once, and each distinct base
// cab.cue once. Not safe for concurrent use.
type Reader struct {
	repo   *gogit.Repository
	loader *load.Loader
}

// NewReader returns a Reader of repo.
func NewReader(repo *gogit.Repository) (*Reader, error) {
	return &Reader{repo: repo, loader: load.New()}, nil
}

// Review builds the review evidence of the change base..head. The author
// is the author of the change's first commit; pushers are the authors and
// committers of every commit head brings in; the approvals are head's
// Approved-by trailers, and they count only when head is a merge commit
// whose first parent is base, signed (SSH or OpenPGP) by a key that the
// mergeSigners of base's cab.cue list, by someone who is neither the
// author nor the committer of any commit it brings in. The signer is the
// merger. Otherwise the evidence has no approval and says why (Reasons);
// a commit message without trailers is simply unapproved.
func (r *Reader) Review(base, head string) (*forge.Evidence, error) {
	bh, err := r.repo.ResolveRevision(plumbing.Revision(base))
	if err != nil {
		return nil, fmt.Errorf("base revision %q: %w", base, err)
	}
	hh, err := r.repo.ResolveRevision(plumbing.Revision(head))
	if err != nil {
		return nil, fmt.Errorf("head revision %q: %w", head, err)
	}
	baseCommit, err := r.repo.CommitObject(*bh)
	if err != nil {
		return nil, fmt.Errorf("reading base %s: %w", base, err)
	}
	headCommit, err := r.repo.CommitObject(*hh)
	if err != nil {
		return nil, fmt.Errorf("reading head %s: %w", head, err)
	}
	commits, err := changeCommits(baseCommit, headCommit)
	if err != nil {
		return nil, err
	}
	e := &forge.Evidence{Forge: "git", HeadSHA: hh.String(), Pushers: []string{}, Approvals: []forge.Approval{}, Labels: []string{}}
	isMerge := headCommit.NumParents() > 1
	for _, c := range commits {
		if c.Hash == headCommit.Hash && isMerge {
			continue // the merge commit carries the approvals; its signer merges, not pushes
		}
		for _, id := range []string{Identity(c.Author.Email), Identity(c.Committer.Email)} {
			if !slices.Contains(e.Pushers, id) {
				e.Pushers = append(e.Pushers, id)
			}
		}
		e.Author = Identity(c.Author.Email) // commits are newest first: the last is the first
	}
	trailers := Trailers(headCommit.Message, "Approved-by")
	if len(trailers) == 0 {
		return e, nil
	}
	signer, why, err := r.mergeSigner(base, baseCommit, headCommit)
	if err != nil {
		return nil, err
	}
	if why == "" && slices.Contains(e.Pushers, signer) {
		why = fmt.Sprintf("it is signed by %s, who wrote or committed a commit it merges", signer)
	}
	if why != "" {
		e.Reasons = append(e.Reasons, fmt.Sprintf("the Approved-by trailers of %s do not count: %s", forge.Short(hh.String()), why))
		return e, nil
	}
	e.Merger, e.MergeCommit = signer, hh.String()
	at := headCommit.Committer.When.UTC().Format("2006-01-02T15:04:05Z")
	for _, a := range trailers {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("head commit %s: Approved-by %q: want \"Name <email>\": %w", forge.Short(hh.String()), a, err)
		}
		e.Approvals = append(e.Approvals, forge.Approval{ID: Identity(addr.Address), Login: addr.Name, At: at, Commit: hh.String()})
	}
	return e, nil
}

// mergeSigner returns the identity of the merge signer whose key, listed
// in base's cab.cue, signed merge; or why there is none.
func (r *Reader) mergeSigner(base string, baseCommit, merge *object.Commit) (identity, why string, err error) {
	switch {
	case merge.NumParents() < 2:
		return "", "it is not a merge commit (only a signed merge commit carries approvals)", nil
	case merge.ParentHashes[0] != baseCommit.Hash:
		return "", fmt.Sprintf("it does not merge into the base (its first parent is %s, not %s)", forge.Short(merge.ParentHashes[0].String()), forge.Short(baseCommit.Hash.String())), nil
	case merge.PGPSignature == "":
		return "", "the merge commit is not signed", nil
	}
	cfg, err := r.loader.ConfigAtCommit(r.repo, baseCommit.Hash, baseCommit.Hash.String())
	switch {
	case errors.Is(err, load.ErrNoConfig):
		return "", "the base has no cab.cue, so no merge signer is trusted", nil
	case err != nil:
		// Refused, invalid or unreadable: the evidence says why it has no
		// approval; the gate reports the base cab.cue's diagnostics.
		return "", fmt.Sprintf("the base cab.cue cannot be read (%v), so no merge signer is trusted", err), nil
	case len(cfg.Config.MergeSigners) == 0:
		return "", "the base cab.cue lists no mergeSigners", nil
	}
	id, err := verifyCommit(merge, cfg.Config.MergeSigners)
	if err != nil {
		return "", err.Error(), nil
	}
	return id, "", nil
}

// verifyCommit returns the identity of the signer whose key made c's
// signature.
func verifyCommit(c *object.Commit, signers []model.MergeSigner) (string, error) {
	sig := c.PGPSignature
	switch {
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		parsed, err := parseSSHSig([]byte(sig))
		if err != nil {
			return "", err
		}
		obj := &plumbing.MemoryObject{}
		if err := c.EncodeWithoutSignature(obj); err != nil {
			return "", fmt.Errorf("encoding the signed commit: %w", err)
		}
		rd, err := obj.Reader()
		if err != nil {
			return "", err
		}
		payload, err := io.ReadAll(rd)
		if err != nil {
			return "", err
		}
		for _, s := range signers {
			key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.PublicKey))
			if err != nil {
				continue // an OpenPGP key, or a key that does not parse
			}
			if verifySSHSig(parsed, payload, key) == nil {
				return Identity(strings.TrimPrefix(s.Identity, "git:")), nil
			}
		}
		return "", fmt.Errorf("its SSH signature is not made by any key in mergeSigners")
	case strings.HasPrefix(sig, "-----BEGIN PGP SIGNATURE-----"):
		for _, s := range signers {
			if !strings.HasPrefix(s.PublicKey, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
				continue
			}
			if _, err := c.Verify(s.PublicKey); err == nil {
				return Identity(strings.TrimPrefix(s.Identity, "git:")), nil
			}
		}
		return "", fmt.Errorf("its OpenPGP signature is not made by any key in mergeSigners")
	}
	return "", fmt.Errorf("its signature is neither an SSH nor an OpenPGP signature")
}

// Identity is the stable identity of a plain-git user.
func Identity(email string) string { return "git:" + strings.ToLower(strings.TrimSpace(email)) }

// changeCommits lists the commits of head back to its merge base with
// base, newest first, bounded by MaxCommits. (Commits of base merged into
// the change after the merge base are counted too: their authors are
// treated as pushers, which can only remove approvals, never add them.)
func changeCommits(base, head *object.Commit) ([]*object.Commit, error) {
	bases, err := head.MergeBase(base)
	if err != nil {
		return nil, fmt.Errorf("finding the merge base: %w", err)
	}
	stop := map[plumbing.Hash]bool{}
	for _, b := range bases {
		stop[b.Hash] = true
	}
	var out []*object.Commit
	seen := map[plumbing.Hash]bool{}
	queue := []*object.Commit{head}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if seen[c.Hash] || stop[c.Hash] {
			continue
		}
		seen[c.Hash] = true
		if len(out) == MaxCommits {
			return nil, fmt.Errorf("%w (more than %d)", ErrTooManyCommits, MaxCommits)
		}
		out = append(out, c)
		err := c.Parents().ForEach(func(p *object.Commit) error {
			queue = append(queue, p)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walking the change: %w", err)
		}
	}
	return out, nil
}

// Trailers returns the values of the trailers named key in the last
// paragraph of a commit message, in order.
func Trailers(message, key string) []string {
	paras := strings.Split(strings.TrimSpace(strings.ReplaceAll(message, "\r\n", "\n")), "\n\n")
	last := paras[len(paras)-1]
	var out []string
	for _, line := range strings.Split(last, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) && strings.TrimSpace(v) != "" {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// FirstParents returns the first-parent chain reader of repo that forge
// adapters use to recognise the commits a rebase merge landed.
func FirstParents(repo *gogit.Repository) forge.FirstParents {
	return func(ctx context.Context, tip string, n int) ([]string, error) {
		if !forge.IsSHA(tip) {
			return nil, fmt.Errorf("commit %q is not a commit SHA", tip)
		}
		var out []string
		if n = min(n, MaxCommits); n <= 0 {
			return out, nil
		}
		for c, err := range gitx.FirstParents(ctx, repo.Storer, plumbing.NewHash(tip)) {
			switch {
			case err != nil && len(out) == 0:
				return nil, fmt.Errorf("reading commit %s (fetch the branch first): %w", forge.Short(tip), err)
			case err != nil:
				return nil, fmt.Errorf("reading the first parent of %s: %w", forge.Short(out[len(out)-1]), err)
			}
			if out = append(out, c.Hash.String()); len(out) == n {
				break
			}
		}
		return out, nil
	}
}
