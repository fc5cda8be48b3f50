package oci_test

import (
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cabhq/cab/reconcile/target/oci"
)

// BenchmarkApply measures one Apply (observe, copy or retag, write the tag,
// read it back) against in-process registries on loopback, for each way
// an image reaches its destination. Every iteration writes a tag that does
// not exist yet.
func BenchmarkApply(b *testing.B) {
	const pool = 32
	src, dst := newRegistry(b), newRegistry(b)
	images := make([]name.Digest, pool)
	for i := range images {
		images[i] = src.pushImage(b, fmt.Sprintf("staging/app:build-%d", i))
	}
	cases := []struct {
		name     string
		registry string
		repo     func(i int) string
		tag      func(i int) string
	}{
		// The image is in the destination repository: only the tag is written.
		{"retag", src.Host, func(int) string { return "staging/app" }, func(i int) string { return fmt.Sprintf("env-%d", i) }},
		// Same registry, new repository each time: blobs are mounted.
		{"cross-repository", src.Host, func(i int) string { return fmt.Sprintf("prod-%d/app", i) }, func(int) string { return "prod" }},
		// Another registry, new repository each time: blobs are streamed.
		{"cross-registry", dst.Host, func(i int) string { return fmt.Sprintf("prod-%d/app", i) }, func(int) string { return "prod" }},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			d := oci.New()
			ctx := b.Context()
			i := 0
			for b.Loop() {
				c := change(images[i%pool].String(), bc.registry, bc.repo(i), bc.tag(i))
				s, err := d.Apply(ctx, c)
				if err != nil {
					b.Fatal(err)
				}
				if !s.Done {
					b.Fatalf("apply %d not done: %+v", i, s)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "applies/s")
		})
	}
}
