package main

import (
	"fmt"

	gogit "github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/ledger"
)

type ledgerMigrateOptions struct {
	Remote string
	Branch string
}

func (o *ledgerMigrateOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Remote, "remote", "origin", "remote the ledger branch is fetched from and pushed to (\"\" for local only)")
	fs.StringVar(&o.Branch, "ledger", ledger.DefaultBranch, "ledger branch")
}

func newLedgerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Maintain the ledger branch",
		Long: `The ledger branch (cab/ledger) records every event of every ticket, one
commit each. cab writes it in layout 2 (LEDGER-VERSION at the root, tickets
under ledger/<last two digits of the id>/<id>/); a ledger written before is
read as it is, and moved to layout 2 by cab ledger migrate.`,
		Example: `  cab ledger migrate`,
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(newLedgerMigrateCmd())
	return cmd
}

func newLedgerMigrateCmd() *cobra.Command {
	o := &ledgerMigrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move a layout 1 ledger to layout 2, in one commit that cab verify proves lossless",
		Long: `Migrate rewrites nothing: it appends one commit to the ledger branch that
moves every ticket directory, byte for byte, from ledger/<id>/ to
ledger/<last two digits of the id>/<id>/ and adds the file LEDGER-VERSION
("2"). In layout 2 appending an event costs the same whatever the number of
tickets. cab verify, cab log and every reconciler accept this commit only
when it is exactly that migration (every file of the ledger before it at its
new path with the same blob, nothing dropped, edited or added); anything
else is a rewrite. A ledger already in layout 2, or none yet, is left alone.
Run it once, from CI or a maintainer's checkout, with push access to the
ledger branch; concurrent writers simply retry on top of it.`,
		Example: `  cab ledger migrate
  cab ledger migrate --remote '' --ledger cab/ledger`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := gogit.PlainOpenWithOptions(".", &gogit.PlainOpenOptions{DetectDotGit: true})
			if err != nil {
				return fmt.Errorf("opening the git repository: %w", err)
			}
			if err := requireRemote(repo, o.Remote, withoutRemote); err != nil {
				return err
			}
			m, err := ledger.Open(repo, o.Remote, o.Branch).Migrate(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch m.From {
			case 0:
				_, err = fmt.Fprintf(w, "no ledger on %s yet: it will start in layout %d\n", o.Branch, ledger.Version)
			case ledger.Version:
				_, err = fmt.Fprintf(w, "ledger %s is already in layout %d at %s\n", o.Branch, ledger.Version, m.Head)
			default:
				_, err = fmt.Fprintf(w, "migrated ledger %s from layout %d to %d: %d ticket(s) moved in commit %s\n", o.Branch, m.From, ledger.Version, m.Tickets, m.Head)
			}
			return err
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
