package httptarget_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile/target"
)

// TestPlainHTTPCredentials: a URL's user:password never goes over plain
// http to a host that is not loopback, unless the target is insecure;
// nothing is sent when refused.
func TestPlainHTTPCredentials(t *testing.T) {
	w := &webhook{}
	srv := serve(t, w)
	d := fast()
	c := change("http://user:s3cret@hooks.example.invalid", `{}`)
	_, err := d.Apply(context.Background(), c)
	require.ErrorIs(t, err, target.ErrPlainHTTP)
	assert.NotContains(t, err.Error(), "s3cret")
	_, err = d.Observe(context.Background(), c)
	require.ErrorIs(t, err, target.ErrPlainHTTP)

	// Loopback is fine.
	c = change("http://user:s3cret@"+srv.Listener.Addr().String(), `{}`)
	_, err = d.Apply(context.Background(), c)
	assert.NotErrorIs(t, err, target.ErrPlainHTTP)
	assert.NotEmpty(t, w.seen(), "the loopback webhook was called")
}
