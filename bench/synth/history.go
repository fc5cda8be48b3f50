package synth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// writeHistory creates a git repository in dir (which must be empty or
// absent) holding the history of r, and checks out main.
func (r *Repo) writeHistory(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := gitCmd(ctx, dir, nil, "init", "-q", "--template=", "-b", "main"); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		err := r.fastImport(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		werr <- err
	}()
	err := gitCmd(ctx, dir, pr, "fast-import", "--quiet", "--done")
	pr.CloseWithError(errors.New("fast-import exited"))
	if e := <-werr; err == nil && e != nil {
		err = fmt.Errorf("writing the fast-import stream: %w", e)
	}
	if err != nil {
		return err
	}
	if err := gitCmd(ctx, dir, nil, "update-ref", "-d", "refs/heads/pr"); err != nil {
		return err
	}
	return gitCmd(ctx, dir, nil, "reset", "-q", "--hard", "main")
}

func gitCmd(ctx context.Context, dir string, stdin io.Reader, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Stdin = stdin
	// Identities and dates come from the stream; keep the user's
	// configuration from changing what is written.
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// stream writes git fast-import commands.
type stream struct {
	w    *bufio.Writer
	mark int
}

func (s *stream) next() int { s.mark++; return s.mark }

func (s *stream) data(b []byte) {
	fmt.Fprintf(s.w, "data %d\n", len(b))
	s.w.Write(b)
	s.w.WriteByte('\n')
}

func (s *stream) blob(b []byte) int {
	m := s.next()
	fmt.Fprintf(s.w, "blob\nmark :%d\n", m)
	s.data(b)
	return m
}

type change struct {
	path string
	blob int
}

type commit struct {
	ref       string
	author    string // "Name <email> <unix> <tz>"
	committer string
	message   string
	from      int // mark; 0 continues the ref
	merge     int
	changes   []change
}

func (s *stream) commit(c commit) int {
	m := s.next()
	fmt.Fprintf(s.w, "commit %s\nmark :%d\nauthor %s\ncommitter %s\n", c.ref, m, c.author, c.committer)
	s.data([]byte(c.message))
	if c.from != 0 {
		fmt.Fprintf(s.w, "from :%d\n", c.from)
	}
	if c.merge != 0 {
		fmt.Fprintf(s.w, "merge :%d\n", c.merge)
	}
	for _, ch := range c.changes {
		fmt.Fprintf(s.w, "M 100644 :%d %s\n", ch.blob, ch.path)
	}
	s.w.WriteByte('\n')
	return m
}

func (p *plan) sig(who int, at time.Time) string {
	pe := &p.people[who]
	return fmt.Sprintf("%s %d %s", pe.ident(), at.Unix(), pe.tz)
}

var editMessages = []string{
	"Address review comments on %s",
	"Clarify the description of %s",
	"Reword %s after review",
	"Fix a typo in %s",
	"Expand the testing notes of %s",
}

// fastImport writes the whole history as a fast-import stream.
func (r *Repo) fastImport(w *bufio.Writer) error {
	p := r.plan
	s := &stream{w: w}
	w.WriteString("feature done\n")

	// The initial commit: configuration and policies, no tickets yet.
	var initial []change
	for _, f := range r.Files() {
		if !strings.HasPrefix(f.Path, "changes/") || f.Path == "changes/.gitkeep" {
			initial = append(initial, change{f.Path, s.blob(f.Source)})
		}
	}
	root := p.opts.Start.Add(-24 * time.Hour)
	rootSig := p.sig(0, root)
	mainMarks := make([]int, len(p.prs)) // merge commit of each pull request
	rootMark := s.commit(commit{ref: "refs/heads/main", author: rootSig, committer: rootSig, changes: initial,
		message: "Initial commit: cab.cue and the default policies\n"})
	last := rootMark

	lastTouch := map[int]int{}
	for i := range p.prs {
		pr := &p.prs[i]
		base := rootMark
		if pr.base >= 0 {
			base = mainMarks[pr.base]
		}
		clear(lastTouch)
		for _, ti := range pr.tickets {
			lastTouch[ti] = 0
		}
		for e, edit := range pr.edits {
			for _, ti := range edit {
				lastTouch[ti] = e + 1
			}
		}
		steps := len(pr.edits) + 1
		span := pr.merge.Sub(pr.open) - time.Minute
		final := map[int]int{} // ticket -> blob of its final version
		tip := 0
		for c := 0; c < steps; c++ {
			touched := pr.tickets
			if c > 0 {
				touched = pr.edits[c-1]
			}
			var changes []change
			for _, ti := range touched {
				t := &p.tickets[ti]
				draft := c + 1
				if lastTouch[ti] == c {
					draft = 0
				}
				b := s.blob(p.render(t, draft))
				if draft == 0 {
					final[ti] = b
				}
				changes = append(changes, change{t.path(p), b})
			}
			at := pr.open.Add(span * time.Duration(c) / time.Duration(steps))
			sig := p.sig(pr.author, at)
			cm := commit{ref: "refs/heads/pr", author: sig, committer: sig, changes: changes, message: p.branchMessage(pr, c)}
			if c == 0 {
				cm.from = base
			}
			tip = s.commit(cm)
		}
		var changes []change
		for _, ti := range pr.tickets {
			changes = append(changes, change{p.tickets[ti].path(p), final[ti]})
		}
		ghSig := fmt.Sprintf("GitHub <noreply@github.com> %d +0000", pr.merge.Unix())
		last = s.commit(commit{ref: "refs/heads/main", author: p.sig(pr.merger, pr.merge), committer: ghSig,
			message: p.mergeMessage(pr), from: last, merge: tip, changes: changes})
		mainMarks[i] = last
	}
	w.WriteString("done\n")
	return nil
}

func (p *plan) branchMessage(pr *pr, c int) string {
	if c > 0 {
		ids := make([]string, len(pr.edits[c-1]))
		for i, ti := range pr.edits[c-1] {
			ids[i] = p.tickets[ti].id
		}
		return fmt.Sprintf(editMessages[(pr.num+c)%len(editMessages)], strings.Join(ids, ", ")) + "\n"
	}
	if len(pr.tickets) == 1 {
		t := &p.tickets[pr.tickets[0]]
		return fmt.Sprintf("Add %s: %s\n", t.id, t.title)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Add %d changes to %s\n\n", len(pr.tickets), p.services[pr.service].name)
	for _, ti := range pr.tickets {
		t := &p.tickets[ti]
		fmt.Fprintf(&b, "- %s: %s\n", t.id, t.title)
	}
	return b.String()
}

func (p *plan) mergeMessage(pr *pr) string {
	first := &p.tickets[pr.tickets[0]]
	var b strings.Builder
	fmt.Fprintf(&b, "Merge pull request #%d from %s/%s\n\n%s\n", pr.num, p.people[pr.author].login, strings.ToLower(first.id), first.title)
	if len(pr.approvers) > 0 {
		b.WriteByte('\n')
		for _, a := range pr.approvers {
			fmt.Fprintf(&b, "Approved-by: %s\n", p.people[a].ident())
		}
	}
	return b.String()
}
