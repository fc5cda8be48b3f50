package oci_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/reconcile/target/oci"
)

// A ticket promotes an image built into a staging repository to the prod
// repository of the same registry, tagged prod; the driver observes the
// tag, applies the change and restores the state it observed.
func ExampleDriver_Apply() {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	// The build pushed an image to staging.
	img, _ := random.Image(1024, 1)
	staging, _ := name.NewTag(host + "/staging/payments:build-41")
	if err := remote.Write(staging, img); err != nil {
		log.Fatal(err)
	}
	digest, _ := img.Digest()

	c := target.Change{
		Ticket: "CHG-2026-0042", Env: "prod",
		Action: model.Action{Type: "oci", Target: "images",
			Image: host + "/staging/payments@" + digest.String(), Repository: "prod/payments", Tag: "prod"},
		Target:     model.Target{Type: "oci", Registry: host},
		TargetName: "images",
	}
	d := oci.New()
	ctx := context.Background()

	before, err := d.Observe(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("before:", before.Value)

	after, err := d.Apply(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied:", after.Value == digest.String(), after.Done)

	if err := d.Restore(ctx, c, before); err != nil {
		log.Fatal(err)
	}
	again, _ := d.Observe(ctx, c)
	fmt.Println("restored:", again.Value)
	// Output:
	// before: absent
	// applied: true true
	// restored: absent
}
