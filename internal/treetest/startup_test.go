package treetest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startupDenied lists packages the cab binary must not link, each with
// why: Go runs the init of every linked package at start-up, whatever the
// command, so a package linked for one command's convenience costs every
// command (`cab --help` included). bench/startup.sh measures the start-up.
//
// Still linked, and why (they are chosen dependencies or what these need):
// sigstore-go's bundle and verify packages, which pull rekor's go-openapi
// models and with them github.com/asaskevich/govalidator (the largest init,
// ~40 regular expressions), go-openapi/strfmt and gRPC; CUE, which pulls
// cockroachdb/apd (its constants), encoding/gob and protobuf's protodesc
// (cue/inject/embed → txtpbfmt); go-git's openpgp and url patterns;
// go-containerregistry's zstd (klauspost snapref's CRC table).
var startupDenied = map[string]string{
	"cuelang.org/go/cue/load":             "schema builds its one embedded instance with cue/build; cue/load brings CUE's module resolution, registry client and file-format support",
	"cuelabs.dev/go/oci/ociregistry":      "CUE's module registry client, linked only through cue/load",
	"github.com/prometheus/client_golang": "its init builds a default registry with Go and process collectors in every command; internal/prom keeps cab serve's metrics and writes cab metrics' exposition over prometheus/common/expfmt (tests may still use client_golang)",
	"github.com/prometheus/procfs":        "client_golang's /proc reader; internal/prom reads the few /proc files the process series need",
	"expvar":                              "linked only by client_golang; it registers /debug/vars on http.DefaultServeMux at init",
}

// TestStartupDenylist fails when the cab binary links a package of
// startupDenied again (directly or through anything it imports).
func TestStartupDenylist(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/cabhq/cab/cmd/cab").Output()
	require.NoError(t, err, "go list -deps ./cmd/cab")
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/cabhq/cab/cmd/cab", "go list names the command itself")
	for _, d := range deps {
		for denied, why := range startupDenied {
			if d == denied || strings.HasPrefix(d, denied+"/") {
				assert.Fail(t, "cab links a package denied for start-up", "%s (denied: %s): %s; see `go list -deps` and the import chain with `go mod why %s`", d, denied, why, d)
			}
		}
	}
}
