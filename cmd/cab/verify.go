package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/sign/statement"
)

type verifyOptions struct {
	Rev        string
	Remote     string
	Branch     string
	Checkpoint string
	Format     string
	NoCache    bool
	// Subject and Envelope name a ticket whose signed subject bytes or
	// signed envelope to print instead of verifying (see writeSigned).
	Subject  string
	Envelope string
}

func (o *verifyOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Rev, "rev", "HEAD", "the main line to verify")
	fs.StringVar(&o.Remote, "remote", "origin", "remote the ledger branch is fetched from (\"\" for local only)")
	fs.StringVar(&o.Branch, "ledger", ledger.DefaultBranch, "ledger branch")
	fs.StringVar(&o.Checkpoint, "checkpoint", "", "file holding the ledger head a previous run saw: fail, naming every ticket whose events were dropped or rewritten, if the ledger is not that head plus added events; moved on to the head seen now unless it was rewritten")
	fs.StringVar(&o.Format, "format", "text", "output format: text or json")
	fs.BoolVar(&o.NoCache, "no-cache", false, "neither read nor write the cache under .git/cab/verify: parse and judge every ticket afresh")
	fs.StringVar(&o.Subject, "subject", "", "print the exact bytes ticket `ID` was signed as (its canonical JSON at --rev, the in-toto subject) instead of verifying, for cosign verify-blob-attestation")
	fs.StringVar(&o.Envelope, "envelope", "", "print what the ledger holds as ticket `ID`'s signature instead of verifying: its DSSE envelope (for cosign verify-blob-attestation --signature), or its Sigstore bundle when it was signed keylessly (for --bundle)")
}

func (o *verifyOptions) validate() error {
	if o.Subject != "" && o.Envelope != "" {
		return fmt.Errorf("--subject and --envelope: give one")
	}
	if o.Format != "text" && o.Format != "json" {
		return fmt.Errorf("--format %q: want text or json", o.Format)
	}
	return nil
}

func newVerifyCmd() *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify the chain from every merged ticket to its signature on the ledger",
		Long: `Verify walks main by first parent and the ledger, and checks that every
merged ticket was signed by a key its base cab.cue trusts, that the ticket on
main is byte for byte what was signed (nothing changed after merge), that
no ticket reached main without passing the gate, that every outcome event
(applying, applied, verified, failed, ...) is signed by a key cab.cue trusts
with roles: ["reconcile"], that every ticket's ledger entries read and
replay, and, with --checkpoint, that the ledger is the last run's head plus
added events (naming every ticket whose events were dropped or rewritten).
Exit status 1 names each break: the ticket, the commit and what broke.

Every signature is verified on every run. What verify may reuse it keeps
under .git/cab/verify (never in the tree, where a push could write), each
entry keyed by the sha256 of every input and by the cab binary: the parse
of each ticket (by its exact bytes and path), the main line and the ledger
head a run proved append-only (by commit id). With --checkpoint, the
verdict on a ticket is carried over from the run that recorded the
checkpoint only when main still descends from the commit that run read,
the ticket's file is not among the paths changed since, and its signed
envelope on the ledger is byte for byte the same; everything else is
judged again. --no-cache ignores the cache.`,
		Example: `  cab verify
  cab verify --checkpoint .cab-checkpoint --format json

  # check one signature with cosign instead of cab
  cab verify --subject CHG-2026-0042 > ticket.json
  cab verify --envelope CHG-2026-0042 > ticket.dsse
  cosign verify-blob-attestation --key cab.pub --type https://cab.dev/change/v1 \
    --signature ticket.dsse --insecure-ignore-tlog ticket.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			repo, err := gogit.PlainOpenWithOptions(".", &gogit.PlainOpenOptions{DetectDotGit: true})
			if err != nil {
				return fmt.Errorf("opening the git repository: %w", err)
			}
			if err := requireRemote(repo, o.Remote, withoutRemote); err != nil {
				return err
			}
			if o.Subject != "" || o.Envelope != "" {
				return o.writeSigned(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), repo)
			}
			var checkpoint plumbing.Hash
			if o.Checkpoint != "" {
				b, err := os.ReadFile(o.Checkpoint)
				switch {
				case errors.Is(err, fs.ErrNotExist):
				case err != nil:
					return fmt.Errorf("--checkpoint: %w", err)
				default:
					s := strings.TrimSpace(string(b))
					if !plumbing.IsHash(s) {
						return fmt.Errorf("--checkpoint %s: not a commit hash", o.Checkpoint)
					}
					checkpoint = plumbing.NewHash(s)
				}
			}
			rep, err := audit.Verify(cmd.Context(), audit.VerifyOptions{
				Dir: ".", Rev: o.Rev, Ledger: ledger.Open(repo, o.Remote, o.Branch), Checkpoint: checkpoint, NoCache: o.NoCache,
			})
			if err != nil {
				return err
			}
			// A rewritten ledger does not move the checkpoint: the next
			// run reports it again until the file is replaced by hand,
			// after review.
			rewritten := slices.ContainsFunc(rep.Breaks, func(b audit.Break) bool { return b.What == "ledger-rewritten" })
			if o.Checkpoint != "" && rep.LedgerHead != plumbing.ZeroHash.String() && !rewritten {
				if err := os.WriteFile(o.Checkpoint, []byte(rep.LedgerHead+"\n"), 0o644); err != nil {
					return fmt.Errorf("--checkpoint: %w", err)
				}
			}
			if err := writeVerify(cmd.OutOrStdout(), o.Format, rep); err != nil {
				return err
			}
			if len(rep.Breaks) > 0 {
				return errViolations
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

func writeVerify(w io.Writer, format string, rep *audit.Report) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	for _, b := range rep.Breaks {
		where := b.Path
		if b.Commit != "" {
			where += "@" + b.Commit[:min(12, len(b.Commit))]
		}
		sentence, details := b.Readable()
		fmt.Fprintf(w, "BROKEN %s %s: %s: %s\n", b.Ticket, where, b.What, sentence)
		for _, d := range details {
			fmt.Fprintf(w, "    %s\n", d)
		}
	}
	verdict := "chain intact"
	if len(rep.Breaks) > 0 {
		verdict = fmt.Sprintf("%d break(s)", len(rep.Breaks))
	}
	carried := ""
	if rep.Carried > 0 {
		carried = fmt.Sprintf(" (%d ticket(s) unchanged since the checkpoint: verdict carried over)", rep.Carried)
	}
	_, err := fmt.Fprintf(w, "%d merged ticket(s), %d verified%s, %d ledger event(s): %s\n", rep.Tickets, rep.Signed, carried, rep.Events, verdict)
	return err
}

// writeSigned prints, for the ticket --subject or --envelope names, the
// bytes its signature covers: with --envelope the DSSE envelope of its
// signed event, as the ledger holds it; with --subject the ticket's
// canonical JSON at --rev (the subject of the in-toto statement, whose
// sha256 the statement names). Together they let cosign check a signature
// without cab. It fails (exit 1) when the ticket on --rev is no longer what
// was signed, so that the bytes it prints are exactly the subject.
func (o *verifyOptions) writeSigned(ctx context.Context, w, stderr io.Writer, repo *gogit.Repository) error {
	id := cmp.Or(o.Subject, o.Envelope)
	broken := func(format string, args ...any) error {
		fmt.Fprintf(stderr, "BROKEN %s: %s\n", id, fmt.Sprintf(format, args...))
		return errViolations
	}
	log, err := ledger.Open(repo, o.Remote, o.Branch).Read(ctx)
	if err != nil {
		return err
	}
	var env []byte
	for _, ev := range log.Ticket(id) {
		if ev.Kind == ledger.KindSigned {
			env = ev.Envelope
		}
	}
	if env == nil {
		return broken("no signed event on the ledger %s", o.Branch)
	}
	if o.Envelope != "" {
		_, err := w.Write(env)
		return err
	}
	st, err := statement.StatementOf(env)
	if err != nil || len(st.Subject) != 1 {
		return fmt.Errorf("%s: the signed envelope holds no statement about one ticket (%v)", id, err)
	}
	subject := st.Subject[0]
	hash, err := repo.ResolveRevision(plumbing.Revision(o.Rev))
	if err != nil {
		return fmt.Errorf("--rev %s: %w", o.Rev, err)
	}
	commit, err := repo.CommitObject(*hash)
	if err != nil {
		return fmt.Errorf("--rev %s: %w", o.Rev, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return fmt.Errorf("--rev %s: %w", o.Rev, err)
	}
	src, err := gitx.ReadFile(tree, subject.Name, schema.MaxTicketBytes)
	switch {
	case errors.Is(err, gitx.ErrNotFound), errors.Is(err, gitx.ErrNotRegular), errors.Is(err, gitx.ErrTooLarge), errors.Is(err, gitx.ErrInvalidPath):
		return broken("%s at %s: %v", subject.Name, o.Rev, err)
	case err != nil:
		return fmt.Errorf("%s: %s: %w", id, subject.Name, err)
	}
	s, err := load.New().Schema()
	if err != nil {
		return err
	}
	parsed, ds := s.ParseTicket(subject.Name, src)
	if parsed == nil {
		return broken("%s at %s no longer parses: %s", subject.Name, o.Rev, ds[0].String())
	}
	if got, want := sign.Digest(parsed.JSON), subject.Digest["sha256"]; got != want {
		return broken("%s at %s has sha256 %s, but sha256 %s was signed: the ticket changed after merge", subject.Name, o.Rev, got, want)
	}
	_, err = w.Write(parsed.JSON)
	return err
}
