package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestResource(t *testing.T) {
	const img = "ghcr.io/acme/payments@sha256:0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		name string
		a    Action
		want string
	}{
		{"oci, repository from the image", Action{Type: "oci", Target: "images", Image: img, Tag: "v1"}, "prod/images/acme/payments:v1"},
		{"oci, explicit repository", Action{Type: "oci", Target: "images", Image: img, Repository: "pay", Tag: "v1"}, "prod/images/pay:v1"},
		{"oci, registry with a port", Action{Type: "oci", Target: "images", Image: "localhost:5000/pay@sha256:00", Tag: "v1"}, "prod/images/pay:v1"},
		{"git file", Action{Type: "git", Target: "envrepo", File: "apps/pay.yaml"}, "prod/envrepo/apps/pay.yaml"},
		{"http path", Action{Type: "http", Target: "hooks", Path: "/deploy"}, "prod/hooks//deploy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.a.Resource("prod"))
		})
	}
	// The same registry repository and tag is one resource, however the
	// actions spell it.
	a := Action{Type: "oci", Target: "images", Image: img, Tag: "v1"}
	b := Action{Type: "oci", Target: "images", Image: "ghcr.io/other/x@sha256:11", Repository: "acme/payments", Tag: "v1"}
	assert.Equal(t, a.Resource("prod"), b.Resource("prod"))
	assert.Equal(t, []string{"staging/images/acme/payments:v1"}, Ticket{Actions: []Action{a}}.Resources("staging"))
}
