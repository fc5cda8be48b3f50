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
	"github.com/cabhq/cab/scaffold"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/validate"
)

type newOptions struct {
	Service  string
	Title    string
	Template string
	Owner    string
	Dir      string
}

func (o *newOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Service, "service", "", "service the change is for (required)")
	fs.StringVar(&o.Title, "title", "", "one-line title of the change (required)")
	fs.StringVar(&o.Template, "template", "", "standard change template from cab.cue")
	fs.StringVar(&o.Owner, "owner", "", "accountable team or person (default: the service's owner)")
	fs.StringVarP(&o.Dir, "repo", "C", ".", "change repository to write the ticket into")
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
	return nil
}

func newNewCmd() *cobra.Command {
	o := &newOptions{}
	cmd := &cobra.Command{
		Use:   "new --service S --title T [--template NAME]",
		Short: "Scaffold a new ticket with the next free id",
		Long: `New writes changes/<service>/<id>.cue with the next free id of this year,
filled with what cab.cue knows (promotion order, owner, template) and a window
starting tomorrow. Edit it, then run ` + "`cab check`" + `.`,
		Example: `  cab new --service payments --title "Promote payments 1.4.2"
  cab new --service payments --title "Bump base image" --template image-bump`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			src, err := readConfig(o.Dir)
			if err != nil {
				return err
			}
			s, err := schema.Compile(nil)
			if err != nil {
				return err
			}
			cfg, ds := s.ParseConfig(filepath.Join(o.Dir, validate.ConfigFile), src)
			if cfg == nil {
				_ = diag.WriteText(cmd.ErrOrStderr(), ds)
				return errViolations
			}
			path, err := scaffold.NewTicket(o.Dir, cfg.Config, scaffold.Ticket{
				Service: o.Service, Title: o.Title, Template: o.Template, Owner: o.Owner, Now: time.Now(),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s\n", path)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

func readConfig(dir string) ([]byte, error) {
	src, err := os.ReadFile(filepath.Join(dir, validate.ConfigFile))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s is not a change repository; run `cab init` first", dir), err)
	}
	return src, nil
}
