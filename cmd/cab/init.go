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
	NoGit      bool
}

func (o *initOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Repository, "repository", "", "canonical name of the repository, e.g. github.com/acme/changes (default: the directory name)")
	fs.BoolVar(&o.NoGit, "no-git", false, "do not run git init when dir is not inside a git repository")
}

func newInitCmd() *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Scaffold a change repository: cab.cue, default policies, changes/",
		Long: `Init writes a new change repository into dir (default: the current
directory): a cab.cue to adapt, the default policy set under policy/, an
empty changes/ and a .gitignore that keeps signing keys out. When dir is not
inside a git repository, init makes it one (branch main).

Before the first commit, fill in the governance group of cab.cue: the first
commit is the only one not judged by earlier rules, and every later change
of cab.cue or policy/ needs approvals from that group. It never overwrites:
a directory that already has a cab.cue is refused.`,
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
			if !o.NoGit {
				created, err := scaffold.GitInit(dir)
				if err != nil {
					return err
				}
				if created {
					fmt.Fprintf(w, "initialized a git repository in %s (branch main)\n", dir)
				}
			}
			cfg := filepath.Join(dir, "cab.cue")
			fmt.Fprintf(w, "next: in %s, put the people who approve rule changes under governance (before the first commit),\n"+
				"      point environments at your registries and repositories, commit, push, then\n"+
				"      `cab new --service platform --title \"...\"`\n", cfg)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
