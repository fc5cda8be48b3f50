package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newReportCmd is a placeholder until cab report lands.
func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "report",
		Short:  "(not yet available)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("cab report is not available yet")
		},
	}
}
