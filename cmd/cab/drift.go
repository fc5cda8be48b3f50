package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/reconcile"
)

func newDriftCmd() *cobra.Command {
	o := &reconcileOptions{}
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Find environments changed outside cab: compare what verified tickets set with the live targets",
		Long: `Drift reads, for every (environment, target, key) that a verified ticket last
set, what the target holds now (a registry tag's digest, a value in an
environment-repository file, a webhook's reported state) and compares it with
what the ledger says the apply left there. It changes no target.

A key that differs is recorded once on the ledger as a drifted event, signed
with --key like every outcome; when it holds its value again, a drift-cleared
event follows. Polling again records nothing new while nothing changes. With
--dry-run nothing is recorded (and no key is needed). A target that cannot be
read is "unknown" and records nothing. cab serve --drift-interval runs the
same check on a timer and sets the cab_drift{env,target,key} gauge.

With --heal, a drifted key in an environment whose cab.cue says
drift: heal: true (a protected one also needs healProtected: true) is
restored to what the ticket set, through the reconciler's own apply path
(observe, apply, read back; an http target gets the idempotency key
<ticket>/<env>/<seq of the drifted event>/<action>, not the apply's), and a
signed drift-cleared event with "healed": true records it. Never while a
freeze holds in the environment, nor while a change is being applied there;
the finding then says why it was not healed. A drifted event is sent to the
notify: sinks whose routes take "drifted".

Exit status: 0 when nothing drifted (or every drifted key was healed), 1
when a key drifted or a target could not be read, 2 on a usage or internal
error.`,
		Example: `  cab drift --dry-run                    # table of every key, nothing recorded
  cab drift --key file://reconciler.key  # record drifted / drift-cleared events
  cab drift --dry-run --format json
  cab drift --key file://reconciler.key --heal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			logger := o.logger(cmd.ErrOrStderr())
			var observer reconcile.Observer
			n, err := o.newNotifier(".", logger)
			if err != nil {
				return err
			}
			if n != nil {
				observer = n.Observer(nil) // drifted events reach the sinks
				defer o.flushNotifier(cmd.Context(), n, logger)
			}
			r, err := o.reconciler(".", logger, observer)
			if err != nil {
				return err
			}
			defer r.Close()
			rep, err := r.Drift(gitpush.WithTimeout(cmd.Context(), o.GitTimeout), o.TargetTimeout)
			if err != nil {
				notifyLedgerStop(n, err)
				return ledgerStop(cmd.ErrOrStderr(), err)
			}
			if o.Format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := writeDrift(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			for _, p := range rep.Problems {
				fmt.Fprintf(cmd.ErrOrStderr(), "cab: %s not checked: %s\n", p.Ticket, p.Message)
			}
			for _, f := range rep.Findings {
				if f.Drifted || f.Unknown != "" {
					return errViolations
				}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Rev, "rev", "HEAD", "the main line whose cab.cue names the targets")
	fs.StringVar(&o.MainBranch, "branch", "main", "the branch tickets are merged into, fetched from --remote first")
	fs.BoolVar(&o.NoFetch, "no-fetch", false, "do not fetch --branch first")
	fs.BoolVar(&o.DryRun, "dry-run", false, "compare and print, record nothing")
	fs.BoolVar(&o.Heal, "heal", false, "restore drifted keys in the environments whose cab.cue allows it (drift: heal: true)")
	fs.StringVar(&o.Format, "format", "table", "output format: table or json")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	o.addEngineFlags(fs)
	return cmd
}

// writeDrift prints one row per key.
func writeDrift(w io.Writer, rep *reconcile.DriftReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tTARGET\tKEY\tSTATE\tTICKET\tWANT\tLIVE")
	for _, f := range rep.Findings {
		state, live := "ok", f.Live
		switch {
		case f.Unknown != "":
			state, live = "unknown", "("+f.Unknown+")"
		case f.Healed:
			state = "HEALED"
		case f.Drifted && f.NotHealed != "":
			state = "DRIFTED (not healed: " + f.NotHealed + ")"
		case f.Drifted:
			state = "DRIFTED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Env, f.Target, f.Key, state, f.Ticket, f.Want, live)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range rep.Recorded {
		fmt.Fprintf(w, "recorded %s %s %s\n", st.Kind, st.Ticket, st.Env)
	}
	return nil
}
