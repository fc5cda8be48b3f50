package gittarget_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
	gittarget "github.com/cabhq/cab/reconcile/target/git"
)

// An environment repository holds values.yaml; a ticket sets the image
// tag in it. The comment and the rest of the file stay as they were.
func ExampleDriver_Apply() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gittarget-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// The environment repository (here a local one; usually an https URL).
	envDir := filepath.Join(dir, "env")
	repo, err := git.PlainInitWithOptions(envDir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(envDir, "values.yaml"), []byte("image:\n  repository: ghcr.io/acme/payments\n  tag: \"1.4.1\" # set by cab\nreplicas: 3\n"), 0o644); err != nil {
		panic(err)
	}
	wt, _ := repo.Worktree()
	_, _ = wt.Add("values.yaml")
	if _, err := wt.Commit("seed", &git.CommitOptions{Author: &object.Signature{Name: "ops", Email: "ops@example.com", When: time.Now()}}); err != nil {
		panic(err)
	}

	d, err := gittarget.New(filepath.Join(dir, "cache"))
	if err != nil {
		panic(err)
	}
	c := target.Change{
		Ticket: "CHG-2026-0042", Env: "prod", Seq: 4, Commit: "9f1c2e7",
		Action: model.Action{Type: "git", Target: "payments", File: "values.yaml",
			Set: &model.SetValue{Path: ".image.tag", Value: "1.4.2"}},
		Target: model.Target{Type: "git", URL: envDir},
	}
	before, err := d.Observe(ctx, c)
	if err != nil {
		panic(err)
	}
	after, err := d.Apply(ctx, c)
	if err != nil {
		panic(err)
	}
	fmt.Println(before.Value, "->", after.Value, "done:", after.Done)

	// What the environment repository now holds on main.
	repo, err = git.PlainOpen(envDir)
	if err != nil {
		panic(err)
	}
	head, err := repo.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		panic(err)
	}
	commit, err := repo.CommitObject(head.Hash())
	if err != nil {
		panic(err)
	}
	f, err := commit.File("values.yaml")
	if err != nil {
		panic(err)
	}
	content, _ := f.Contents()
	fmt.Print(content, "---\n", commit.Message)
	// Output:
	// 1.4.1 -> 1.4.2 done: true
	// image:
	//   repository: ghcr.io/acme/payments
	//   tag: "1.4.2" # set by cab
	// replicas: 3
	// ---
	// cab: CHG-2026-0042 values.yaml
	//
	// Cab-Ticket: CHG-2026-0042
	// Cab-Env: prod
	// Cab-Seq: 4
	// Cab-Commit: 9f1c2e7
}
