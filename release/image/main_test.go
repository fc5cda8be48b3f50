package main

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeDist writes stand-in binaries and a CA bundle; returns the options.
func fakeDist(t *testing.T) options {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{"linux-amd64", "linux-arm64"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cab-"+p), []byte("binary for "+p), 0o755))
	}
	certs := filepath.Join(dir, "ca.crt")
	require.NoError(t, os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644))
	return options{dist: dir, version: "v1.2.3", commit: "abc123", source: "https://github.com/cabhq/cab",
		platforms: "linux/amd64,linux/arm64", caCerts: certs, created: time.Unix(1700000000, 0).UTC()}
}

func TestImage(t *testing.T) {
	o := fakeDist(t)
	idx, err := build(o)
	require.NoError(t, err)
	again, err := build(o)
	require.NoError(t, err)
	d1, err := idx.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "the same binaries give the same index digest")

	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 2)
	for i, arch := range []string{"amd64", "arm64"} {
		desc := m.Manifests[i]
		assert.Equal(t, v1.Platform{OS: "linux", Architecture: arch}, *desc.Platform)
		img, err := idx.Image(desc.Digest)
		require.NoError(t, err)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, arch, cf.Architecture)
		assert.Equal(t, "65532:65532", cf.Config.User, "non-root")
		assert.Equal(t, []string{"/usr/local/bin/cab"}, cf.Config.Entrypoint)
		assert.Equal(t, "v1.2.3", cf.Config.Labels["org.opencontainers.image.version"])
		assert.Equal(t, "abc123", cf.Config.Labels["org.opencontainers.image.revision"])
		assert.Equal(t, o.created, cf.Created.Time.UTC())

		layers, err := img.Layers()
		require.NoError(t, err)
		require.Len(t, layers, 1)
		rc, err := layers[0].Uncompressed()
		require.NoError(t, err)
		files := map[string]*tar.Header{}
		contents := map[string]string{}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			files[h.Name] = h
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			contents[h.Name] = string(b)
			assert.True(t, h.ModTime.Equal(o.created), "%s: mtime %s", h.Name, h.ModTime)
		}
		require.NoError(t, rc.Close())
		require.Contains(t, files, "usr/local/bin/cab")
		assert.Equal(t, int64(0o755), files["usr/local/bin/cab"].Mode)
		assert.Equal(t, "binary for linux-"+arch, contents["usr/local/bin/cab"], "each platform gets its own binary")
		assert.Contains(t, contents["etc/passwd"], "cab:x:65532:65532:")
		assert.Contains(t, contents["etc/ssl/certs/ca-certificates.crt"], "BEGIN CERTIFICATE")
		assert.Equal(t, int64(0o1777), files["tmp/"].Mode)
	}

	o.version = "v1.2.4"
	other, err := build(o)
	require.NoError(t, err)
	d3, err := other.Digest()
	require.NoError(t, err)
	assert.NotEqual(t, d1, d3, "another version is another image")
}

func TestImagePush(t *testing.T) {
	o := fakeDist(t)
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"--dist", o.dist, "--ca-certs", o.caCerts, "--version", "v9", "--push", host + "/cab:v9", "--insecure"}, &out))
	ref, err := name.ParseReference(host+"/cab:v9", name.Insecure)
	require.NoError(t, err)
	desc, err := remote.Get(ref)
	require.NoError(t, err)
	assert.Equal(t, desc.Digest.String()+"\n", out.String(), "prints the digest it pushed")
	assert.True(t, desc.MediaType.IsIndex())

	assert.Error(t, run(t.Context(), []string{"--dist", o.dist, "--ca-certs", o.caCerts}, &out), "neither --push nor --layout")
	assert.ErrorContains(t, run(t.Context(), []string{"--dist", t.TempDir(), "--ca-certs", o.caCerts, "--layout", t.TempDir()}, &out), "run make release first")
}
