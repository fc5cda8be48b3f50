package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/scaffold"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/validate"
)

type newOptions struct {
	Service    string
	Title      string
	Template   string
	Owner      string
	Dir        string
	Envs       []string
	Start      string
	Image      string
	Target     string
	Tag        string
	Prechecks  []string
	Postchecks []string

	start time.Time
}

func (o *newOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Service, "service", "", "service the change is for (required)")
	fs.StringVar(&o.Title, "title", "", "one-line title of the change (required)")
	fs.StringVar(&o.Template, "template", "", "standard change template from cab.cue")
	fs.StringVar(&o.Owner, "owner", "", "accountable team or person (default: the service's owner)")
	fs.StringVarP(&o.Dir, "repo", "C", ".", "change repository to write the ticket into")
	fs.StringSliceVar(&o.Envs, "env", nil, "environments in promotion order (default: promotion: of cab.cue)")
	fs.StringVar(&o.Start, "start", "", "when the two-hour window opens, RFC 3339 (default: the next full hour, a day from now)")
	fs.StringVar(&o.Image, "image", "", "an oci action: the image to promote, by digest (registry/repo@sha256:...)")
	fs.StringVar(&o.Target, "target", "images", "the oci target of cab.cue that --image is promoted to")
	fs.StringVar(&o.Tag, "tag", "", "the tag --image gets in the target registry (default: the service)")
	fs.StringArrayVar(&o.Prechecks, "precheck", nil, "an http precheck: a URL that must answer 2xx before the change (repeatable)")
	fs.StringArrayVar(&o.Postchecks, "postcheck", nil, "an http postcheck: a URL that must answer 2xx after the change (repeatable)")
}

func (o *newOptions) validate() error {
	var missing []string
	if o.Service == "" {
		missing = append(missing, "--service")
	}
	if o.Title == "" {
		missing = append(missing, "--title")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %v", missing)
	}
	if o.Start != "" {
		t, err := time.Parse(time.RFC3339, o.Start)
		if err != nil {
			return fmt.Errorf("--start: want an RFC 3339 time such as 2026-12-01T22:00:00Z: %w", err)
		}
		o.start = t
	}
	return nil
}

// ticket is what the flags say the new ticket holds.
func (o *newOptions) ticket(now time.Time) scaffold.Ticket {
	t := scaffold.Ticket{
		Service: o.Service, Title: o.Title, Template: o.Template, Owner: o.Owner, Now: now,
		Environments: o.Envs, Start: o.start,
	}
	if o.Image != "" {
		tag := o.Tag
		if tag == "" {
			tag = o.Service
		}
		t.Actions = append(t.Actions, model.Action{Type: "oci", Target: o.Target, Image: o.Image, Tag: tag})
	}
	for _, u := range o.Prechecks {
		t.Prechecks = append(t.Prechecks, model.Check{Type: "http", URL: u})
	}
	for _, u := range o.Postchecks {
		t.Postchecks = append(t.Postchecks, model.Check{Type: "http", URL: u})
	}
	return t
}

func newNewCmd() *cobra.Command {
	o := &newOptions{}
	cmd := &cobra.Command{
		Use:   "new --service S --title T [--image REF] [--precheck URL] [--postcheck URL] [--template NAME]",
		Short: "Write a new ticket with the next free id, if cab check accepts it",
		Long: `New writes changes/<service>/<id>.cue with the next free id of this year,
filled with what cab.cue knows (promotion order, owner, template), a two-hour
window starting a day from now, and what the flags give: an oci action
(--image), http pre- and postchecks.

New writes only tickets that ` + "`cab check`" + ` accepts: the ticket is checked
exactly as ` + "`cab check FILE`" + ` would check it, against the schema, cab.cue and
the policies of the repository. When it fails, nothing is kept, the problems
are printed, and new exits 1: add what they ask for (every change needs an
action; protected environments need pre- and postchecks) and run it again.
Warnings, such as the approvals the pull request will need, are printed too.`,
		Example: `  cab new --service payments --title "Promote payments 1.4.2" \
    --image ghcr.io/acme/payments@sha256:4f1b... \
    --precheck https://payments.example.com/healthz --postcheck https://payments.example.com/healthz
  cab new --service payments --title "Try 1.4.3 in staging" --env staging --image ghcr.io/acme/payments@sha256:...
  cab new --service payments --title "Bump base image" --template image-bump --image ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			cfg, err := load.New().ConfigIn(o.Dir)
			var invalid *load.ConfigError
			switch {
			case errors.As(err, &invalid):
				_ = diag.WriteText(cmd.ErrOrStderr(), invalid.Diagnostics)
				return errViolations
			case errors.Is(err, load.ErrNoConfig):
				return fmt.Errorf("%s is not a change repository; run `cab init` first: %w", o.Dir, err)
			case err != nil:
				return err
			}
			now := time.Now()
			path, err := scaffold.NewTicket(o.Dir, cfg.Config, o.ticket(now))
			if err != nil {
				return err
			}
			// The file exists only for this check: it is the way cab check
			// sees a ticket (its path is part of what is judged). What fails
			// is removed; NewTicket created it, so nothing else is lost.
			rep, err := validate.CheckPaths(cmd.Context(), []string{path}, validate.Options{Now: now})
			if err == nil && rep.Errors() > 0 {
				err = errViolations
				_ = diag.WriteText(cmd.ErrOrStderr(), rep.Diagnostics)
				fmt.Fprintf(cmd.ErrOrStderr(), "cab new: %s would not pass cab check (%d error(s)); nothing was written\n"+
					"    hint: give what is missing with --image, --precheck, --postcheck, --env or --start (cab new --help)\n",
					path, rep.Errors())
			}
			if err != nil {
				if rmErr := os.Remove(path); rmErr != nil {
					err = errors.Join(err, rmErr)
				}
				_ = os.Remove(filepath.Dir(path)) // the service's directory, if NewTicket made it and it is empty
				return err
			}
			_ = diag.WriteText(cmd.ErrOrStderr(), rep.Diagnostics) // warnings only
			fmt.Fprintf(cmd.OutOrStdout(), "created %s\n", path)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
