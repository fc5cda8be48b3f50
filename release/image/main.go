// Command image builds cab's container image without Docker, from the
// static binaries `make release` wrote, with go-containerregistry: one
// layer on an empty base (no shell, no package manager) holding
//
//	/usr/local/bin/cab                   the static binary (CGO_ENABLED=0)
//	/etc/ssl/certs/ca-certificates.crt   CA certificates (Debian's ca-certificates)
//	/etc/passwd, /etc/group              the non-root user cab (65532:65532)
//	/tmp                                 mode 1777, for cab's temporary files
//
// with the entrypoint cab, user 65532:65532 and the OCI labels
// (org.opencontainers.image.version, revision, source, created, title,
// description). Every file has a fixed time (SOURCE_DATE_EPOCH,
// default 0), so the same binaries give the same digest. One image per
// platform, under one OCI image index.
//
// Usage:
//
//	go run ./release/image --dist dist --version v1.2.3 --commit abc123 \
//	    --push registry.example.com/cab:v1.2.3 [--insecure]
//	go run ./release/image --dist dist ... --layout dist/image   # an OCI layout, no registry
//
// It prints the digest of the index it wrote.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type options struct {
	dist, version, commit, source string
	platforms                     string
	caCerts                       string
	push, layout                  string
	insecure                      bool
	created                       time.Time
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		stop()
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&o.dist, "dist", "dist", "directory holding cab-<os>-<arch> binaries")
	fs.StringVar(&o.version, "version", "dev", "version label")
	fs.StringVar(&o.commit, "commit", "unknown", "revision label")
	fs.StringVar(&o.source, "source", "https://github.com/cabhq/cab", "source label")
	fs.StringVar(&o.platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to include (Debian package ca-certificates)")
	fs.StringVar(&o.push, "push", "", "push the index to this reference")
	fs.StringVar(&o.layout, "layout", "", "write the index to this OCI layout directory")
	fs.BoolVar(&o.insecure, "insecure", false, "the registry of --push speaks plain HTTP (loopback tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (o.push == "") == (o.layout == "") {
		return errors.New("give one of --push and --layout")
	}
	epoch := int64(0)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var err error
		if epoch, err = strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
	}
	o.created = time.Unix(epoch, 0).UTC()

	idx, err := build(o)
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	switch {
	case o.layout != "":
		p, err := layout.Write(o.layout, empty.Index)
		if err != nil {
			return fmt.Errorf("writing %s: %w", o.layout, err)
		}
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": o.version})); err != nil {
			return fmt.Errorf("writing %s: %w", o.layout, err)
		}
	default:
		var nopts []name.Option
		if o.insecure {
			nopts = append(nopts, name.Insecure)
		}
		ref, err := name.ParseReference(o.push, nopts...)
		if err != nil {
			return fmt.Errorf("--push: %w", err)
		}
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
	}
	_, err = fmt.Fprintln(stdout, d)
	return err
}

// build returns the index of one image per platform.
func build(o options) (v1.ImageIndex, error) {
	certs, err := os.ReadFile(o.caCerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (install Debian's ca-certificates)", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range strings.Split(o.platforms, ",") {
		osName, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return nil, fmt.Errorf("--platforms: %q is not os/arch", p)
		}
		bin, err := os.ReadFile(filepath.Join(o.dist, "cab-"+osName+"-"+arch))
		if err != nil {
			return nil, fmt.Errorf("binary for %s: %w (run make release first)", p, err)
		}
		img, err := image(o, osName, arch, bin, certs)
		if err != nil {
			return nil, fmt.Errorf("image for %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: osName, Architecture: arch}},
		})
	}
	return idx, nil
}

// uid is the user cab runs as (distroless's "nonroot").
const uid = 65532

func image(o options, osName, arch string, bin, certs []byte) (v1.Image, error) {
	files := []file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\ncab:x:%d:\n", uid))},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\ncab:x:%d:%d:cab:/home/cab:/sbin/nologin\n", uid, uid))},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/cab/", mode: 0o700, dir: true, owner: uid},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: "usr/local/bin/cab", mode: 0o755, data: bin},
	}
	layerTar, err := tarOf(files, o.created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = osName, arch
	cf.Created = v1.Time{Time: o.created}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, uid),
		Entrypoint: []string{"/usr/local/bin/cab"},
		Env:        []string{"PATH=/usr/local/bin", "HOME=/home/cab", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		WorkingDir: "/home/cab",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "cab",
			"org.opencontainers.image.description": "cab: change tickets as code (check, sign, reconcile, audit)",
			"org.opencontainers.image.version":     o.version,
			"org.opencontainers.image.revision":    o.commit,
			"org.opencontainers.image.source":      o.source,
			"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
		},
	}
	cf.History = []v1.History{{Created: v1.Time{Time: o.created}, CreatedBy: "release/image: cab " + o.version, Comment: "static binary, CA certificates, non-root user"}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, map[string]string{
		"org.opencontainers.image.version":  o.version,
		"org.opencontainers.image.revision": o.commit,
		"org.opencontainers.image.source":   o.source,
		"org.opencontainers.image.created":  o.created.Format(time.RFC3339),
	}).(v1.Image), nil
}

type file struct {
	name  string
	mode  int64
	dir   bool
	owner int
	data  []byte
}

// tarOf writes files as a tar with fixed times and owners: the same files
// give the same bytes.
func tarOf(files []file, mtime time.Time) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: mtime, Uid: f.owner, Gid: f.owner, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
