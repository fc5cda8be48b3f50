// Command demoenv is the environment `make demo` deploys to: an OCI
// registry (go-containerregistry's registry, in process), health endpoints
// for http pre- and postchecks and a minimal Prometheus query endpoint for
// prometheus checks, on loopback. It also pushes a build image and reads
// tags, so the demo needs nothing but Go.
//
// The Prometheus endpoint answers GET or POST /api/v1/query in the shape of
// Prometheus' HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/):
// every instant query gets a vector of one sample with the value 0 — a
// service without errors. It evaluates nothing; a query it cannot answer
// (none given) gets Prometheus' error envelope with errorType bad_data.
//
//	demoenv serve --addr-file F   serve until killed; writes host:port to F
//	demoenv push HOST REPO        push a small image to HOST/REPO, print its digest reference
//	demoenv tag HOST/REPO:TAG     print the digest the tag points at, or "absent"
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demoenv:", err)
		os.Exit(2)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: demoenv serve --addr-file F | push HOST REPO | tag HOST/REPO:TAG")
	}
	switch args[0] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		addrFile := fs.String("addr-file", "", "file to write host:port to")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return serve(*addrFile)
	case "push":
		if len(args) != 3 {
			return errors.New("usage: demoenv push HOST REPO")
		}
		img, err := random.Image(1024, 1)
		if err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		ref, err := name.NewDigest(args[1]+"/"+args[2]+"@"+d.String(), name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Write(ref, img); err != nil {
			return err
		}
		fmt.Fprintln(out, ref.Name())
		return nil
	case "tag":
		if len(args) != 2 {
			return errors.New("usage: demoenv tag HOST/REPO:TAG")
		}
		tag, err := name.NewTag(args[1], name.Insecure)
		if err != nil {
			return err
		}
		desc, err := remote.Head(tag)
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			fmt.Fprintln(out, "absent")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(out, desc.Digest)
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// serve answers the registry API under /v2/, 200 on /healthz and
// /health/ok, 503 on /health/fail, and Prometheus instant queries on
// /api/v1/query.
func serve(addrFile string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: handler()}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler is demoenv's HTTP surface (see serve).
func handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v2/", registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	ok := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/health/ok", ok)
	mux.HandleFunc("/api/v1/query", query)
	mux.HandleFunc("/health/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "connection pool exhausted", http.StatusServiceUnavailable)
	})
	return mux
}

// query answers a Prometheus instant query: a vector of one sample, 0 at
// the time of the query (or at the time parameter, when given).
func query(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": "method not allowed"})
		return
	}
	if err := r.ParseForm(); err != nil || r.Form.Get("query") == "" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": "invalid parameter \"query\": no query given"})
		return
	}
	at := float64(time.Now().UnixMilli()) / 1000
	if t, err := strconv.ParseFloat(r.Form.Get("time"), 64); err == nil {
		at = t
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data": map[string]any{
			"resultType": "vector",
			"result":     []any{map[string]any{"metric": map[string]string{}, "value": []any{at, "0"}}},
		},
	})
}
