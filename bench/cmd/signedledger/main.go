// Command signedledger writes, for benchmarks, the ledger `cab sign` would
// have written after signing every ticket merged on a main line (package
// github.com/cabhq/cab/bench/signedledger), into the local ledger branch
// of a bench/synth repository:
//
//	go run ./bench/cmd/signedledger -dir bench/.repos/x -rev 'HEAD^'
//
// With -rev HEAD^ on a repository whose last commit is a merge, `cab sign`
// then has exactly that merge to sign (bench/sign-one.sh). The key is the
// one the generated cab.cue trusts (-key, default
// <dir>/.bench-keys/BENCH-ONLY-INSECURE-sign.key), so every signature
// verifies. It prints how many events it added and the ledger head.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/cabhq/cab/bench/signedledger"
	"github.com/cabhq/cab/sign"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	dir, rev, key, repository string
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.dir, "dir", "", "the repository (bench/synth, with history)")
	fs.StringVar(&o.rev, "rev", "HEAD", "the main line to sign up to (a revision)")
	fs.StringVar(&o.key, "key", "", "the signing key (default <dir>/.bench-keys/BENCH-ONLY-INSECURE-sign.key)")
	fs.StringVar(&o.repository, "repository", "github.com/acme/changes", "the repository name signed into each statement")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &options{}
	fs := flag.NewFlagSet("signedledger", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "signedledger: -dir is required, and nothing else")
		return 2
	}
	if o.key == "" {
		o.key = filepath.Join(o.dir, ".bench-keys", "BENCH-ONLY-INSECURE-sign.key")
	}
	signer, err := sign.LoadSigner(ctx, o.key, nil)
	if err != nil {
		fmt.Fprintf(stderr, "signedledger: %v\n", err)
		return 1
	}
	n, head, err := signedledger.Write(ctx, signedledger.Options{Dir: o.dir, Rev: o.rev, Signer: signer,
		Repository: o.repository, At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Fprintf(stderr, "signedledger: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d %s\n", n, head)
	return 0
}
