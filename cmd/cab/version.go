package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// releaseVersion and releaseCommit are set by release builds:
//
//	go build -ldflags "-X main.releaseVersion=v1.2.0 -X main.releaseCommit=$(git rev-parse HEAD)" ./cmd/cab
//
// They override what the Go toolchain recorded in the binary.
var (
	releaseVersion string
	releaseCommit  string
)

// versionInfo is what `cab version` reports.
type versionInfo struct {
	// Version is the module version ("v1.2.0", or "(devel)" for a build
	// from a checkout).
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, "" when the
	// build recorded none (-buildvcs=false, or not built from git).
	Commit string `json:"commit,omitempty"`
	// Modified says the working tree had uncommitted changes.
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// String is the one line `cab --version` prints after "cab ".
func (v versionInfo) String() string {
	s := v.Version
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (" + c
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + v.Go
}

// buildVersion reads the version from the linker flags, else from the build
// information the Go toolchain embeds (module version, vcs.revision).
func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if releaseVersion != "" {
		v.Version = releaseVersion
	}
	if releaseCommit != "" {
		v.Commit, v.Modified = releaseCommit, false
	}
	return v
}

type versionOptions struct {
	Format string
}

func (o *versionOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Format, "format", "text", "output format: text or json")
}

func (o *versionOptions) validate() error {
	switch o.Format {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("--format %q: want text or json", o.Format)
}

func newVersionCmd() *cobra.Command {
	o := &versionOptions{}
	cmd := &cobra.Command{
		Use:   "version [--format text|json]",
		Short: "Print cab's version and the commit it was built from",
		Long: `Version prints the module version of this cab binary, the git commit it
was built from (when the build recorded one) and the Go version. ` + "`cab --version`" + `
prints the same line.`,
		Example: `  cab version
  cab version --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			v := buildVersion()
			w := cmd.OutOrStdout()
			if o.Format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			_, err := fmt.Fprintf(w, "cab %s\n", v)
			return err
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
