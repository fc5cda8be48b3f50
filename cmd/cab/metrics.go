package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newMetricsCmd is a placeholder until cab metrics lands.
func newMetricsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "metrics",
		Short:  "(not yet available)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("cab metrics is not available yet")
		},
	}
}
