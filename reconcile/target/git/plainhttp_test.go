package gittarget

import (
	"context"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile/target"
)

// TestPlainHTTPToken: the driver's token never goes over plain http to a
// host that is not loopback, unless the target says insecure: true (then
// the driver tries, and fails on the unresolvable host instead).
func TestPlainHTTPToken(t *testing.T) {
	d := newDriver(t, WithAuth(&githttp.BasicAuth{Username: "x-access-token", Password: "tok-123456"}))
	c := change("http://git.example.invalid/env.git", setAction("values.yaml", ".a", "x"))
	_, err := d.Observe(context.Background(), c)
	require.ErrorIs(t, err, target.ErrPlainHTTP)
	assert.ErrorIs(t, err, target.ErrUnsafe)

	yes := true
	c.Target.Insecure = &yes
	_, err = d.Observe(context.Background(), c)
	require.Error(t, err)
	assert.NotErrorIs(t, err, target.ErrPlainHTTP)
}
