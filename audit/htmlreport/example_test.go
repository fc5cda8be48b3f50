package htmlreport_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/audit/htmlreport"
)

func ExampleWrite() {
	dir, err := os.MkdirTemp("", "cab-report")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	merged, _ := time.Parse(time.RFC3339, "2026-01-05T11:00:00Z")
	changes := []audit.Change{{ID: "CHG-2026-0001", Title: "Promote payments 1.4.2", Service: "payments",
		MergeCommit: "0123456789abcdef0123456789abcdef01234567", PR: 41, MergedAt: merged, Outcome: "pending"}}
	err = htmlreport.Write(context.Background(), dir, changes, htmlreport.Options{
		Title: "Q1 2026", Repository: "github.com/acme/changes", Now: merged,
		Verify: &audit.Report{Tickets: 1, Signed: 1, Events: 1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(filepath.Base(e.Name()))
	}
	// Output:
	// index.html
	// report.json
}
