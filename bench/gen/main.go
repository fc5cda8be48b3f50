// Command gen writes a synthetic change repository for benchmarks (see
// package github.com/cabhq/cab/bench/synth):
//
//	go run ./bench/gen -tickets 10000 -commits 100000 -seed 1 -out bench/.repos/big
//
// It prints the directory it wrote. An output directory that already
// holds the same repository is reused; -json DIR also writes the JSON
// export of every ticket into DIR, for `cue vet`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/cabhq/cab/bench/synth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	synth.Options
	out  string
	json string
}

func (o *options) addFlags(fs *flag.FlagSet) {
	d := synth.DefaultOptions()
	fs.IntVar(&o.Tickets, "tickets", d.Tickets, "number of tickets in the final tree")
	fs.IntVar(&o.Commits, "commits", d.Commits, "number of commits of the history, merges included (0: files only, no git)")
	fs.Uint64Var(&o.Seed, "seed", d.Seed, "seed of every random choice")
	fs.IntVar(&o.Services, "services", 0, "number of services (default: tickets/50, between 3 and 200)")
	fs.IntVar(&o.Authors, "authors", 0, "number of people (default: 1.5 per service, between 12 and 300)")
	fs.StringVar(&o.out, "out", "", "output directory (default: bench/.repos/t<tickets>-c<commits>-s<seed>)")
	fs.StringVar(&o.json, "json", "", "also write the JSON export of each ticket into this directory")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &options{}
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gen: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if o.out == "" {
		o.out = filepath.Join("bench", ".repos", fmt.Sprintf("t%d-c%d-s%d", o.Tickets, o.Commits, o.Seed))
	}
	start := time.Now()
	reused, err := synth.Generate(ctx, o.out, o.Options)
	if err != nil {
		fmt.Fprintf(stderr, "gen: %v\n", err)
		if errors.Is(err, synth.ErrOptions) {
			return 2
		}
		return 1
	}
	say(stderr, o.out, reused, start)
	if o.json != "" {
		start = time.Now()
		reused, err := synth.ExportJSON(ctx, o.json, o.Options)
		if err != nil {
			fmt.Fprintf(stderr, "gen: %v\n", err)
			return 1
		}
		say(stderr, o.json, reused, start)
	}
	fmt.Fprintln(stdout, o.out)
	return 0
}

func say(w io.Writer, dir string, reused bool, start time.Time) {
	if reused {
		fmt.Fprintf(w, "gen: %s is up to date\n", dir)
		return
	}
	fmt.Fprintf(w, "gen: wrote %s in %s\n", dir, time.Since(start).Round(time.Millisecond))
}
