package main

import (
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
	"github.com/cabhq/cab/ledger"
)

type verifyOptions struct {
	Rev        string
	Remote     string
	Branch     string
	Checkpoint string
	Format     string
}

func (o *verifyOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Rev, "rev", "HEAD", "the main line to verify")
	fs.StringVar(&o.Remote, "remote", "origin", "remote the ledger branch is fetched from (\"\" for local only)")
	fs.StringVar(&o.Branch, "ledger", ledger.DefaultBranch, "ledger branch")
	fs.StringVar(&o.Checkpoint, "checkpoint", "", "file holding the ledger head a previous run saw: fail, naming every ticket whose events were dropped or rewritten, if the ledger is not that head plus added events; moved on to the head seen now unless it was rewritten")
	fs.StringVar(&o.Format, "format", "text", "output format: text or json")
}

func (o *verifyOptions) validate() error {
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
Exit status 1 names each break: the ticket, the commit and what broke.`,
		Example: `  cab verify
  cab verify --checkpoint .cab-checkpoint --format json`,
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
				Dir: ".", Rev: o.Rev, Ledger: ledger.Open(repo, o.Remote, o.Branch), Checkpoint: checkpoint,
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
	_, err := fmt.Fprintf(w, "%d merged ticket(s), %d verified, %d ledger event(s): %s\n", rep.Tickets, rep.Signed, rep.Events, verdict)
	return err
}
