package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/plan"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/validate"
)

// planOptions are the flags of cab plan and of cab check --plan.
type planOptions struct {
	Timeout  time.Duration
	CacheDir string
}

func (o *planOptions) addFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.Timeout, "plan-timeout", plan.DefaultTimeout, "bound on reading one target for the plan; a target that does not answer in time is unknown")
	fs.StringVar(&o.CacheDir, "plan-cache-dir", "", "where environment repositories are cloned to read them (default .git/cab/env)")
}

// make plans the tickets of rep that parsed against the targets the base
// cab.cue of the repository at dir names.
func (o *planOptions) make(ctx context.Context, dir, base string, rep *validate.Report, now time.Time) (*plan.Plan, error) {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository at %s: %w", dir, err)
	}
	parsed, err := load.New().ConfigAt(repo, base)
	if err != nil {
		return nil, fmt.Errorf("the base cab.cue: %w", err)
	}
	cfg := &parsed.Config
	cacheDir := o.CacheDir
	if cacheDir == "" {
		wt, err := repo.Worktree()
		if err != nil {
			return nil, fmt.Errorf("--plan-cache-dir is needed outside a work tree: %w", err)
		}
		cacheDir = filepath.Join(wt.Filesystem.Root(), ".git", "cab", "env")
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	drivers, err := newDrivers(cacheDir, 1, o.Timeout, &http.Client{Timeout: o.Timeout}, logger)
	if err != nil {
		return nil, err
	}
	in, err := plan.Inputs(rep)
	if err != nil {
		return nil, err
	}
	return plan.Make(ctx, plan.Options{Config: cfg, Drivers: drivers, Now: now, Timeout: o.Timeout}, in), nil
}

func newPlanCmd() *cobra.Command {
	var (
		po                 planOptions
		base, head, format string
		nowFlag            string
	)
	cmd := &cobra.Command{
		Use:   "plan --base REF [--head REF] [dir]",
		Short: "Say what the tickets a change adds would change in each environment, read from the live targets",
		Long: `Plan reads, without writing, what each ticket the change base..head adds
would change in each of its environments, in promotion order: the digest a
registry tag points at now and the one it would point at (or that the tag is
created), the value of the environment-repository file at its head and the
new one (as a small diff), the webhook that would be called and with which
body. Targets are only those the base cab.cue names; a target that does not
answer within --plan-timeout is "unknown (why)".

It also flags what would make the apply fail: a target that refuses the
credentials or does not exist (a warning: the reconciler's own credentials
may read it) and a window that a freeze closes before the earliest possible
apply (an error). cab check --plan adds the same to the gate's report.

Exit status is 0 when no error was found, 1 when one was, 2 on a usage or
internal error.`,
		Example: `  cab plan --base origin/main --head HEAD
  cab plan --base origin/main --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if base == "" {
				return fmt.Errorf("--base is required")
			}
			if format != "text" && format != "json" && format != "markdown" {
				return fmt.Errorf("--format %q: want text, json or markdown", format)
			}
			now := time.Now()
			if nowFlag != "" {
				var err error
				if now, err = time.Parse(time.RFC3339, nowFlag); err != nil {
					return fmt.Errorf("--now: %w", err)
				}
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			ctx := cmd.Context()
			rep, err := validate.CheckPR(ctx, validate.PROptions{Dir: dir, Base: base, Head: head, Now: now})
			if err != nil {
				return err
			}
			p, err := po.make(ctx, dir, base, rep, now)
			if err != nil {
				return err
			}
			if err := writePlan(cmd.OutOrStdout(), format, p); err != nil {
				return err
			}
			if p.Diagnostics().Errors() > 0 {
				return errViolations
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "the target revision whose cab.cue names the targets (e.g. origin/main)")
	cmd.Flags().StringVar(&head, "head", "HEAD", "the proposed revision")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, json or markdown")
	cmd.Flags().StringVar(&nowFlag, "now", "", "plan at this RFC 3339 time instead of the current time")
	po.addFlags(cmd.Flags())
	return cmd
}

// writePlan prints p in format.
func writePlan(w io.Writer, format string, p *plan.Plan) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	case "markdown":
		_, err := io.WriteString(w, plan.Markdown(p))
		return err
	}
	var b strings.Builder
	if err := plan.WriteText(&b, p); err != nil {
		return err
	}
	return writeFenced(w, b.String(), os.Getenv("GITHUB_ACTIONS") == "true")
}
