package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cabhq/cab/schema"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the embedded CUE schema of tickets (#Ticket) and cab.cue (#Config)",
		Example: `  cab schema                  # every field a ticket and cab.cue may have
  cab schema > cab-schema.cue # keep a copy for editor tooling`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			for i, f := range schema.Files() {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "// schema/%s\n", f.Name)
				if _, err := w.Write(f.Source); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
