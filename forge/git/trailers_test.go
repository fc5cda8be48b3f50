package git

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

func TestTrailers(t *testing.T) {
	msg := "Merge pr/1\n\nBody mentioning Approved-by: nobody in prose.\n\nApproved-by: Alice <Alice@Example.com>\nSigned-off-by: Bob <bob@example.com>\napproved-by: Carol <carol@example.com>\n"
	assert.Equal(t, []string{"Alice <Alice@Example.com>", "Carol <carol@example.com>"}, Trailers(msg, "Approved-by"))
	assert.Empty(t, Trailers("no trailers", "Approved-by"))
}

// repo is a real repository driven by the git CLI, with keys made by
// ssh-keygen and gpg.
type repo struct {
	t   *testing.T
	dir string
	env []string
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install git openssh-client gnupg)", tool)
		}
	}
}

func (r *repo) run(name string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), r.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "%s %v: %s", name, args, out)
	return strings.TrimSpace(string(out))
}

// as runs git as the person email (author and committer).
func (r *repo) as(email string, args ...string) string {
	r.t.Helper()
	name := strings.Split(email, "@")[0]
	return r.run("git", append([]string{"-c", "user.name=" + name, "-c", "user.email=" + email}, args...)...)
}

// sshKey makes an ed25519 key pair and returns the private key's path and
// the public key line.
func (r *repo) sshKey(name string) (string, string) {
	r.t.Helper()
	path := filepath.Join(r.t.TempDir(), name)
	r.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path)
	pub, err := os.ReadFile(path + ".pub")
	require.NoError(r.t, err)
	return path, strings.TrimSpace(string(pub))
}

// signedMerge merges branch into the current branch as email, signed
// with the SSH key at key ("" for no signature).
func (r *repo) signedMerge(email, key, branch, msg string) string {
	r.t.Helper()
	args := []string{"-c", "gpg.format=ssh"}
	if key != "" {
		args = append(args, "-c", "user.signingkey="+key, "merge", "-q", "--no-ff", "-S", branch, "-m", msg)
	} else {
		args = append(args, "merge", "-q", "--no-ff", branch, "-m", msg)
	}
	r.as(email, args...)
	return r.run("git", "rev-parse", "HEAD")
}

const approvals = "Merge pr\n\nApproved-by: Alice <alice@example.com>\nApproved-by: Maintainer <maintainer@example.com>\n"

func cabCue(signers ...[2]string) string {
	var b strings.Builder
	b.WriteString("apiVersion: \"cab.dev/v1\"\nenvironments: staging: {}\nmergeSigners: [\n")
	for _, s := range signers {
		b.WriteString("\t{identity: \"" + s[0] + "\", publicKey: \"\"\"\n")
		for _, l := range strings.Split(strings.TrimSpace(s[1]), "\n") {
			b.WriteString("\t\t" + l + "\n")
		}
		b.WriteString("\t\t\"\"\"},\n")
	}
	b.WriteString("]\n")
	return b.String()
}

// newRepo is main with a cab.cue listing signers, and a branch pr with two
// commits by author@example.com and helper@example.com.
func newRepo(t *testing.T, signers ...[2]string) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir(), env: []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}}
	r.run("git", "init", "-q", "-b", "main")
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "cab.cue"), []byte(cabCue(signers...)), 0o644))
	r.as("root@example.com", "add", "cab.cue")
	r.as("root@example.com", "commit", "-q", "-m", "base")
	r.as("author@example.com", "checkout", "-q", "-b", "pr")
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "ticket.txt"), []byte("a\n"), 0o644))
	r.as("author@example.com", "add", "ticket.txt")
	r.as("author@example.com", "commit", "-q", "-m", "add ticket")
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "ticket.txt"), []byte("b\n"), 0o644))
	r.as("helper@example.com", "commit", "-q", "-am", "fix typo")
	r.as("author@example.com", "checkout", "-q", "main")
	return r
}

func (r *repo) review(base, head string) *Review {
	r.t.Helper()
	g, err := gogit.PlainOpen(r.dir)
	require.NoError(r.t, err)
	rd, err := NewReader(g)
	require.NoError(r.t, err)
	e, err := rd.Review(base, head)
	require.NoError(r.t, err)
	rv, err := e.Review(e.HeadSHA)
	require.NoError(r.t, err)
	return &Review{Evidence: e.Reasons, Merger: rv.Merger, Author: rv.Author, Pushers: rv.Pushers, MergeCommit: e.MergeCommit, IDs: ids(rv.Approvals)}
}

// Review is what a test asserts about evidence.
type Review struct {
	Evidence    []string // reasons
	Merger      string
	Author      string
	Pushers     []string
	MergeCommit string
	IDs         []string
}

func ids(as []model.Approval) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// Trailers count only on a merge commit signed by a listed signer who
// wrote nothing it merges; everything else yields no approval and a reason.
func TestReviewSignedMerge(t *testing.T) {
	need(t, "git", "ssh-keygen")
	probe := &repo{t: t, dir: t.TempDir()}
	maintKey, maintPub := probe.sshKey("maintainer")
	authorKey, authorPub := probe.sshKey("author")
	outsiderKey, _ := probe.sshKey("outsider")
	signers := [][2]string{{"git:maintainer@example.com", maintPub}, {"git:author@example.com", authorPub}}

	tests := []struct {
		name string
		// make builds the change on main and returns its head.
		make      func(r *repo) string
		wantIDs   []string
		wantWhy   string
		wantMerge bool
	}{
		{
			name:      "merge signed by a listed outsider counts, without the merger's own approval",
			make:      func(r *repo) string { return r.signedMerge("maintainer@example.com", maintKey, "pr", approvals) },
			wantIDs:   []string{"git:alice@example.com"},
			wantMerge: true,
		},
		{
			name:    "unsigned merge",
			make:    func(r *repo) string { return r.signedMerge("maintainer@example.com", "", "pr", approvals) },
			wantWhy: "the merge commit is not signed",
		},
		{
			name:    "merge signed by a key cab.cue does not list",
			make:    func(r *repo) string { return r.signedMerge("maintainer@example.com", outsiderKey, "pr", approvals) },
			wantWhy: "its SSH signature is not made by any key in mergeSigners",
		},
		{
			name:    "merge signed by the author of a commit it merges",
			make:    func(r *repo) string { return r.signedMerge("author@example.com", authorKey, "pr", approvals) },
			wantWhy: "signed by git:author@example.com, who wrote or committed a commit it merges",
		},
		{
			name: "trailers on an ordinary commit",
			make: func(r *repo) string {
				r.as("author@example.com", "-c", "gpg.format=ssh", "-c", "user.signingkey="+maintKey, "commit", "-q", "-S", "--allow-empty", "-m", approvals)
				return r.run("git", "rev-parse", "HEAD")
			},
			wantWhy: "it is not a merge commit",
		},
		{
			name: "trailers on a fast-forward",
			make: func(r *repo) string {
				r.as("author@example.com", "checkout", "-q", "pr")
				r.as("author@example.com", "-c", "gpg.format=ssh", "-c", "user.signingkey="+maintKey, "commit", "-q", "-S", "--allow-empty", "-m", approvals)
				r.as("author@example.com", "checkout", "-q", "main")
				r.as("author@example.com", "merge", "-q", "--ff-only", "pr")
				return r.run("git", "rev-parse", "HEAD")
			},
			wantWhy: "it is not a merge commit",
		},
		{
			name: "signed merge that does not merge into the base",
			make: func(r *repo) string {
				r.as("root@example.com", "commit", "-q", "--allow-empty", "-m", "meanwhile on main")
				r.as("author@example.com", "checkout", "-q", "pr")
				h := r.signedMerge("maintainer@example.com", maintKey, "main", approvals)
				r.as("author@example.com", "checkout", "-q", "main")
				r.as("author@example.com", "merge", "-q", "--ff-only", "pr")
				return h
			},
			wantWhy: "it does not merge into the base",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t, signers...)
			base := r.run("git", "rev-parse", "main")
			head := tc.make(r)
			got := r.review(base, head)
			assert.Equal(t, tc.wantIDs, got.IDs, "approvals counted")
			assert.Equal(t, "git:author@example.com", got.Author)
			if tc.wantWhy != "" {
				require.Len(t, got.Evidence, 1)
				assert.Contains(t, got.Evidence[0], tc.wantWhy)
				assert.Empty(t, got.Merger)
				assert.Empty(t, got.MergeCommit)
				return
			}
			assert.Empty(t, got.Evidence)
			assert.Equal(t, "git:maintainer@example.com", got.Merger, "the signer is the merger")
			assert.Equal(t, head, got.MergeCommit)
			assert.ElementsMatch(t, []string{"git:author@example.com", "git:helper@example.com"}, got.Pushers)
		})
	}
}

// A signature copied onto another commit does not verify: the signature
// covers the commit's content, not only its presence.
func TestReviewForgedSignature(t *testing.T) {
	need(t, "git", "ssh-keygen")
	probe := &repo{t: t, dir: t.TempDir()}
	key, pub := probe.sshKey("maintainer")
	r := newRepo(t, [2]string{"git:maintainer@example.com", pub})
	base := r.run("git", "rev-parse", "main")
	signed := r.signedMerge("maintainer@example.com", key, "pr", "Merge pr\n\nApproved-by: Alice <alice@example.com>\n")

	g, err := gogit.PlainOpen(r.dir)
	require.NoError(t, err)
	c, err := g.CommitObject(plumbing.NewHash(signed))
	require.NoError(t, err)
	forged := &object.Commit{Author: c.Author, Committer: c.Committer, TreeHash: c.TreeHash, ParentHashes: c.ParentHashes,
		PGPSignature: c.PGPSignature, Message: "Merge pr\n\nApproved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>\n"}
	obj := g.Storer.NewEncodedObject()
	require.NoError(t, forged.Encode(obj))
	h, err := g.Storer.SetEncodedObject(obj)
	require.NoError(t, err)

	got := r.review(base, h.String())
	assert.Empty(t, got.IDs)
	require.Len(t, got.Evidence, 1)
	assert.Contains(t, got.Evidence[0], "its SSH signature is not made by any key in mergeSigners")

	// Only the listed key's own identity is the merger, not the committer
	// the commit claims.
	assert.Equal(t, []string{"git:alice@example.com"}, r.review(base, signed).IDs)
}

// An OpenPGP-signed merge verifies against an armored key in mergeSigners.
func TestReviewPGPSignedMerge(t *testing.T) {
	need(t, "git", "gpg")
	home, err := os.MkdirTemp("", "gpg")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(home) })
	probe := &repo{t: t, dir: t.TempDir(), env: []string{"GNUPGHOME=" + home}}
	probe.run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Maintainer <maintainer@example.com>", "ed25519", "sign", "never")
	armored := probe.run("gpg", "--armor", "--export", "maintainer@example.com")
	fpr := strings.Split(probe.run("gpg", "--with-colons", "--fingerprint", "maintainer@example.com"), "\n")
	var fingerprint string
	for _, l := range fpr {
		if strings.HasPrefix(l, "fpr:") {
			fingerprint = strings.Split(l, ":")[9]
			break
		}
	}
	require.NotEmpty(t, fingerprint)

	r := newRepo(t, [2]string{"git:maintainer@example.com", armored})
	r.env = append(r.env, "GNUPGHOME="+home)
	base := r.run("git", "rev-parse", "main")
	r.as("maintainer@example.com", "-c", "gpg.format=openpgp", "-c", "user.signingkey="+fingerprint, "merge", "-q", "--no-ff", "-S", "pr", "-m", approvals)
	head := r.run("git", "rev-parse", "HEAD")
	got := r.review(base, head)
	assert.Equal(t, []string{"git:alice@example.com"}, got.IDs)
	assert.Equal(t, "git:maintainer@example.com", got.Merger)
	assert.Empty(t, got.Evidence)
}

// TestFirstParents reads the first-parent chain below a tip: a merge's
// first parent, never the merged branch, at most n commits.
func TestFirstParents(t *testing.T) {
	need(t, "git")
	r := newRepo(t)
	base := r.run("git", "rev-parse", "main")
	prTip := r.run("git", "rev-parse", "pr")
	merge := r.signedMerge("maintainer@example.com", "", "pr", "Merge pr")
	r.as("root@example.com", "commit", "-q", "--allow-empty", "-m", "after")
	tip := r.run("git", "rev-parse", "HEAD")
	repo, err := gogit.PlainOpen(r.dir)
	require.NoError(t, err)
	chain := FirstParents(repo)

	tests := []struct {
		name    string
		tip     string
		n       int
		want    []string
		wantErr string
	}{
		{name: "through the merge by first parent", tip: tip, n: 10, want: []string{tip, merge, base}},
		{name: "at most n", tip: tip, n: 2, want: []string{tip, merge}},
		{name: "the merged branch when it is the tip", tip: prTip, n: 10, want: []string{prTip, r.run("git", "rev-parse", "pr~1"), base}},
		{name: "not a SHA", tip: "main", n: 1, wantErr: `commit "main" is not a commit SHA`},
		{name: "not fetched", tip: strings.Repeat("1", 40), n: 1, wantErr: "fetch the branch first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chain(t.Context(), tt.tip, tt.n)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = chain(ctx, tip, 10)
	assert.ErrorIs(t, err, context.Canceled, "a cancelled walk stops")
}
