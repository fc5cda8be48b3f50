package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newReconcileCmd is a placeholder until cab reconcile lands.
func newReconcileCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "reconcile",
		Short:  "(not yet available)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("cab reconcile is not available yet")
		},
	}
}
