package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newLogCmd is a placeholder until cab log lands.
func newLogCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "log",
		Short:  "(not yet available)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("cab log is not available yet")
		},
	}
}
