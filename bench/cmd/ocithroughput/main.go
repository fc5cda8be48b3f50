// Command ocithroughput measures the oci driver's reconcile throughput
// against a registry on loopback, for bench/compare-reconcile.sh:
//
//	ocithroughput serve -addr-file F            # an in-memory registry (pkg/registry) until killed
//	ocithroughput seed -registry H -repo staging/app -n 1000 -out images.txt
//	ocithroughput apply -registry H -images images.txt -repo prod/app
//	ocithroughput verify -registry H -images images.txt -repo prod-crane/app
//
// seed pushes n small random images and writes their digest references,
// one a line. apply points <repo>:t<NNNN> at line NNNN's image through the
// driver (observe, copy, tag, read back), one change after another unless
// -jobs says otherwise, and prints the throughput. verify checks, untimed,
// that every such tag points at its image (to check another tool's copies).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/reconcile/target/oci"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = "usage: ocithroughput serve|seed|apply|verify [flags] (-h for each)"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("ocithroughput "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr     = fs.String("addr", "127.0.0.1:0", "serve: loopback address to listen on")
		addrFile = fs.String("addr-file", "", "serve: write host:port here once listening")
		serveFor = fs.Duration("for", 15*time.Minute, "serve: stop after this long at the latest")
		reg      = fs.String("registry", "", "registry host:port (loopback)")
		repo     = fs.String("repo", "", "repository: seed pushes to it, apply and verify tag in it")
		n        = fs.Int("n", 1000, "seed: number of images")
		size     = fs.Int64("size", 1024, "seed: bytes per layer")
		layers   = fs.Int64("layers", 1, "seed: layers per image")
		out      = fs.String("out", "", "seed: file to write the digest references to")
		images   = fs.String("images", "", "apply, verify: file of digest references written by seed")
		jobs     = fs.Int("jobs", 1, "seed, apply, verify: changes in flight at once")
		stats    = fs.Bool("stats", false, "apply: print the requests the driver made, by method and kind, with their total time, to stderr")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ocithroughput %s: unexpected arguments %q\n", cmd, fs.Args())
		return 2
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, *addr, *addrFile, *serveFor, stderr)
	case "seed":
		err = seed(ctx, *reg, *repo, *n, *size, *layers, *jobs, *out, stdout)
	case "apply":
		var st *requestStats
		if *stats {
			st = &requestStats{next: http.DefaultTransport, byKind: map[string]*kindStats{}}
			defer st.print(stderr)
		}
		err = apply(ctx, *reg, *repo, *images, *jobs, st, stdout)
	case "verify":
		err = verify(ctx, *reg, *repo, *images, *jobs, stdout)
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ocithroughput %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// serve runs an in-memory registry on a loopback address until ctx ends
// or limit passes.
func serve(ctx context.Context, addr, addrFile string, limit time.Duration, stderr io.Writer) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("address %q is not on loopback", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{
		Handler:           registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing the address: %w", err)
		}
	}
	fmt.Fprintf(stderr, "ocithroughput serve: registry on %s\n", ln.Addr())
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// seed pushes n random images to reg/repo, tagged build-<i>, and writes
// their digest references to out.
func seed(ctx context.Context, reg, repo string, n int, size, layers int64, jobs int, out string, stdout io.Writer) error {
	if reg == "" || repo == "" || out == "" {
		return errors.New("-registry, -repo and -out are required")
	}
	pusher, err := remote.NewPusher(remote.WithJobs(4))
	if err != nil {
		return err
	}
	refs := make([]string, n)
	start := time.Now()
	err = each(ctx, n, jobs, func(ctx context.Context, i int) error {
		img, err := random.Image(size, layers)
		if err != nil {
			return err
		}
		tag, err := name.NewTag(fmt.Sprintf("%s/%s:build-%04d", reg, repo, i))
		if err != nil {
			return err
		}
		if err := pusher.Push(ctx, tag, img); err != nil {
			return fmt.Errorf("pushing %s: %w", tag, err)
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		refs[i] = tag.Context().Digest(d.String()).String()
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(strings.Join(refs, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed: %d images in %s/%s in %.2fs\n", n, reg, repo, time.Since(start).Seconds())
	return nil
}

// changes reads the digest references in file and makes the change
// pointing reg/repo:t<NNNN> at line NNNN's image.
func changes(reg, repo, file string) ([]target.Change, error) {
	if reg == "" || repo == "" || file == "" {
		return nil, errors.New("-registry, -repo and -images are required")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var cs []target.Change
	for i, line := range strings.Fields(string(b)) {
		cs = append(cs, target.Change{
			Ticket: fmt.Sprintf("CHG-2026-%04d", i), Env: "prod", Seq: i,
			Action:     model.Action{Type: "oci", Target: "images", Image: line, Repository: repo, Tag: fmt.Sprintf("t%04d", i)},
			Target:     model.Target{Type: "oci", Registry: reg},
			TargetName: "images",
		})
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%s holds no image", file)
	}
	return cs, nil
}

// apply applies every change through the driver and prints the
// throughput.
func apply(ctx context.Context, reg, repo, file string, jobs int, st *requestStats, stdout io.Writer) error {
	cs, err := changes(reg, repo, file)
	if err != nil {
		return err
	}
	var opts []oci.Option
	if st != nil {
		opts = append(opts, oci.WithTransport(st))
	}
	d := oci.New(opts...)
	start := time.Now()
	err = each(ctx, len(cs), jobs, func(ctx context.Context, i int) error {
		s, err := d.Apply(ctx, cs[i])
		if err != nil {
			return err
		}
		if !s.Done {
			return fmt.Errorf("%s: not done after Apply: %+v", cs[i].Action.Tag, s)
		}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "apply: %d applies in %.3fs: %.1f applies/s (jobs %d)\n", len(cs), elapsed.Seconds(), float64(len(cs))/elapsed.Seconds(), jobs)
	return nil
}

// verify checks that every change is done.
func verify(ctx context.Context, reg, repo, file string, jobs int, stdout io.Writer) error {
	cs, err := changes(reg, repo, file)
	if err != nil {
		return err
	}
	d := oci.New()
	err = each(ctx, len(cs), jobs, func(ctx context.Context, i int) error {
		s, err := d.Observe(ctx, cs[i])
		if err != nil {
			return err
		}
		if !s.Done {
			return fmt.Errorf("%s/%s:%s reads %s, want %s", reg, repo, cs[i].Action.Tag, s.Value, cs[i].Action.Image)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "verify: %d tags in %s/%s point at their images\n", len(cs), reg, repo)
	return nil
}

// each runs f for 0..n-1, jobs at a time, and returns the first error.
func each(ctx context.Context, n, jobs int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(jobs, 1) {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// requestStats is a round tripper that counts requests and their time by
// method and kind of path (ping, manifests, blobs, uploads).
type requestStats struct {
	next   http.RoundTripper
	mu     sync.Mutex
	byKind map[string]*kindStats
}

type kindStats struct {
	n     int
	total time.Duration
}

// RoundTrip implements [http.RoundTripper].
func (s *requestStats) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := s.next.RoundTrip(r)
	elems := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	k := "ping"
	if len(elems) >= 3 {
		k = elems[len(elems)-2]
		if k == "blobs" && elems[len(elems)-1] == "uploads" {
			k = "uploads"
		}
	}
	status := "error"
	if resp != nil {
		status = fmt.Sprint(resp.StatusCode)
	}
	key := fmt.Sprintf("%s %s://%s %s", r.Method, r.URL.Scheme, k, status)
	s.mu.Lock()
	ks := s.byKind[key]
	if ks == nil {
		ks = &kindStats{}
		s.byKind[key] = ks
	}
	ks.n++
	ks.total += time.Since(start)
	s.mu.Unlock()
	return resp, err
}

func (s *requestStats) print(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.byKind))
	for k := range s.byKind {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ks := s.byKind[k]
		fmt.Fprintf(w, "%-40s %6d requests %8.3fs  %6.2f ms each\n", k, ks.n, ks.total.Seconds(), ks.total.Seconds()*1000/float64(ks.n))
	}
}
