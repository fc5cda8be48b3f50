package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/scaffold"
)

type initOptions struct {
	Repository string
}

func (o *initOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Repository, "repository", "", "canonical name of the repository, e.g. github.com/acme/changes (default: the directory name)")
}

func newInitCmd() *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Scaffold a change repository: cab.cue, default policies, changes/",
		Long: `Init writes a new change repository into dir (default: the current
directory): a cab.cue to adapt, the default policy set under policy/, and an
empty changes/. It never overwrites: a directory that already has a cab.cue
is refused.`,
		Example: `  cab init payments-changes
  cab init --repository github.com/acme/changes .`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			repo := o.Repository
			if repo == "" {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return err
				}
				repo = filepath.Base(abs)
			}
			files, err := scaffold.Init(dir, repo)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, f := range files {
				fmt.Fprintf(w, "created %s\n", filepath.Join(dir, f))
			}
			fmt.Fprintf(w, "next: edit %s, then `cab new --service platform --title \"...\"`\n", filepath.Join(dir, "cab.cue"))
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
