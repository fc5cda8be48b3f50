// Command fakesigstore serves sign/sigstoretest's fake Fulcio, Rekor and
// GitHub Actions OIDC token endpoint on loopback outside `go test`, so that
// `make conformance` can sign a ticket with `cab sign --keyless` and hand
// the bundle to the real cosign. It is a test fixture: it is not part of
// the release (release/build.sh builds ./cmd/cab only), and its CA, log
// key and issuer key are generated at start and die with it.
//
//	fakesigstore --dir DIR   serve until SIGINT or SIGTERM
//
// Before it serves it writes into DIR:
//
//	trusted_root.json  Sigstore's trusted_root.json for the fake CA and log (no CT log)
//	env                ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN, as shell assignments
//	fulcio.url         the Fulcio base URL (for cab sign --fulcio-url)
//	rekor.url          the Rekor base URL (for cab sign --rekor-url)
//	issuer, subject    the identity Fulcio certifies (for cab.cue and cosign)
//	ready              written last: the other files are complete
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cabhq/cab/sign/sigstoretest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fakesigstore:", err)
		stop()
		os.Exit(2)
	}
}

// run starts the fakes, writes their files into --dir and serves until
// ctx is done.
func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fakesigstore", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to write trusted_root.json, env, URLs and the identity to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 0 {
		return errors.New("usage: fakesigstore --dir DIR")
	}
	ss, err := sigstoretest.Start()
	if err != nil {
		return fmt.Errorf("start the fakes: %w", err)
	}
	defer ss.Close()
	if err := writeFiles(*dir, ss); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// writeFiles writes what a client of the fakes needs into dir, "ready"
// last.
func writeFiles(dir string, ss *sigstoretest.Sigstore) error {
	tr, err := ss.TrustedRootJSON()
	if err != nil {
		return fmt.Errorf("trusted root: %w", err)
	}
	var env strings.Builder
	for _, kv := range ss.Env() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&env, "%s='%s'\n", k, v) // URLs and the request token hold no quote
	}
	for _, f := range []struct{ name, data string }{
		{"trusted_root.json", string(tr)},
		{"env", env.String()},
		{"fulcio.url", ss.Fulcio + "\n"},
		{"rekor.url", ss.Rekor + "\n"},
		{"issuer", sigstoretest.GitHubIssuer + "\n"},
		{"subject", sigstoretest.Subject + "\n"},
		{"ready", ""},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.data), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	return nil
}
