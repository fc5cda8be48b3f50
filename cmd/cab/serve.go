package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newServeCmd is a placeholder until cab serve lands.
func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "serve",
		Short:  "(not yet available)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("cab serve is not available yet")
		},
	}
}
