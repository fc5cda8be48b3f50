package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/validate"
)

func TestMain(m *testing.M) {
	if sandbox.Role() == validate.ChildRole {
		os.Exit(validate.ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"cab": func() { os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the txtar scripts in testdata/script: cab's command
// line end to end, as a user types it.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: false,
		// Every script starts with the default policies in policy/.
		Setup: func(env *testscript.Env) error {
			dir := filepath.Join(env.WorkDir, "policy")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, p := range policy.Defaults() {
				if err := os.WriteFile(filepath.Join(env.WorkDir, p.Name), p.Source, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	})
}
