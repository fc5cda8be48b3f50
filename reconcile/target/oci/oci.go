package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cabhq/cab/reconcile/target"
)

// Defaults of a [Driver] built without options.
const (
	// DefaultAttempts is how many times one registry request is tried
	// when it meets a 5xx, 408 or 429 answer or a network error.
	DefaultAttempts = 3
	// DefaultRetryWait is the wait before the second attempt; each later
	// wait is twice the one before.
	DefaultRetryWait = time.Second
	// DefaultTimeout bounds one Observe, Apply or Restore call, on top of
	// the caller's context.
	DefaultTimeout = 10 * time.Minute
)

// Driver is the reconciler's oci target driver: it points a tag of an
// environment registry at an image digest, copying the image there first
// when it is not in the destination repository yet, and reads the tag back
// after every write. It is safe for concurrent use; calls that touch one
// tag must not overlap (the reconciler applies one change at a time per
// target).
type Driver struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	attempts  int
	wait      time.Duration
	timeout   time.Duration
	log       *slog.Logger

	mu       sync.Mutex
	puller   *remote.Puller
	pulledAt time.Time
	// copying serializes copies into one destination repository (a
	// one-slot channel per repository, under mu).
	copying map[string]chan struct{}
}

// pullerTTL is how long one puller, which keeps the credentials it
// resolved and an authenticated transport per repository, is reused:
// long enough to save a ping and a token per request in a run, short
// enough to pick up rotated credentials in a daemon.
const pullerTTL = 5 * time.Minute

var _ target.Driver = (*Driver)(nil)

// Option configures a [Driver].
type Option func(*Driver)

// WithKeychain sets where registry credentials come from
// (default [authn.DefaultKeychain]: the docker config and its helpers).
func WithKeychain(k authn.Keychain) Option {
	return func(d *Driver) { d.keychain = k }
}

// WithTransport sets the HTTP round tripper registry requests go through
// (default [remote.DefaultTransport]), e.g. for a proxy or a test. Retries
// are added on top of it.
func WithTransport(rt http.RoundTripper) Option {
	return func(d *Driver) { d.transport = rt }
}

// WithRetry sets the retry budget of each registry request: at most
// attempts tries (1: no retry), waiting wait before the second and twice as
// long before each next one. Only answers 500, 502, 503, 504, 408, 429,
// 499 and 522 (go-containerregistry's list) and temporary network errors
// are retried; a context deadline never is.
func WithRetry(attempts int, wait time.Duration) Option {
	return func(d *Driver) {
		d.attempts = max(attempts, 1)
		d.wait = max(wait, 0)
	}
}

// WithTimeout bounds each Observe, Apply and Restore call (default
// [DefaultTimeout]); 0 leaves only the caller's context.
func WithTimeout(timeout time.Duration) Option {
	return func(d *Driver) { d.timeout = max(timeout, 0) }
}

// WithLogger sets where the driver logs what it does, at debug level
// (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(d *Driver) {
		if l != nil {
			d.log = l
		}
	}
}

// New returns a driver with the given options.
func New(opts ...Option) *Driver {
	d := &Driver{
		keychain:  authn.DefaultKeychain,
		transport: remote.DefaultTransport,
		attempts:  DefaultAttempts,
		wait:      DefaultRetryWait,
		timeout:   DefaultTimeout,
		log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(d)
	}
	if d.transport == nil {
		d.transport = remote.DefaultTransport
	}
	return d
}

// reader returns the puller for this call. A puller caches credentials and
// an authenticated transport per repository, never what it read, so it
// serves every read for [pullerTTL]. Writes use a pusher of their own:
// a pusher also remembers which blobs and manifests it wrote, and must not
// outlive one change.
func (d *Driver) reader() (*remote.Puller, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.puller == nil || time.Since(d.pulledAt) > pullerTTL {
		p, err := remote.NewPuller(d.remoteOptions()...)
		if err != nil {
			return nil, fmt.Errorf("configuring registry access: %w", err)
		}
		d.puller, d.pulledAt = p, time.Now()
	}
	return d.puller, nil
}

func (d *Driver) remoteOptions() []remote.Option {
	return []remote.Option{
		remote.WithAuthFromKeychain(d.keychain),
		remote.WithTransport(d.transport),
		remote.WithRetryBackoff(remote.Backoff{Duration: d.wait, Factor: 2, Jitter: 0.1, Steps: d.attempts}),
		remote.WithUserAgent("cab"),
	}
}

// restoreState is State.Restore: what Restore needs to point the tag back.
type restoreState struct {
	// Digest is the digest the tag pointed at, "" when it did not exist.
	Digest string `json:"digest"`
	// MediaType is that manifest's media type, for the humans reading the
	// ledger.
	MediaType string `json:"mediaType"`
}

// Observe reads the destination tag of c: State.Value is the digest it
// points at or [target.Absent] when the registry says the tag or the
// repository does not exist (any other failure, a 5xx or a timeout, is an
// error). Done reports whether it points at the action's digest.
func (d *Driver) Observe(ctx context.Context, c target.Change) (target.State, error) {
	dest, err := Resolve(c)
	if err != nil {
		return target.State{}, err
	}
	p, err := d.reader()
	if err != nil {
		return target.State{}, err
	}
	ctx, cancel := d.bound(ctx)
	defer cancel()
	s, err := d.observe(ctx, p, dest)
	if err != nil {
		return target.State{}, fmt.Errorf("observing %s: %w", dest.Tag, err)
	}
	return s, nil
}

var _ target.SourceReader = (*Driver)(nil)

// ReadSource checks that the image c copies can be read (a HEAD of it by
// digest in the source registry), without writing anything.
func (d *Driver) ReadSource(ctx context.Context, c target.Change) error {
	dest, err := Resolve(c)
	if err != nil {
		return err
	}
	ctx, cancel := d.bound(ctx)
	defer cancel()
	if _, err := remote.Head(dest.Source, append(d.remoteOptions(), remote.WithContext(ctx))...); err != nil {
		return fmt.Errorf("reading the source image %s: %w", dest.Source, d.explain(err))
	}
	return nil
}

// Apply points the destination tag of c at the action's digest. It does
// nothing when the tag already points there. Otherwise it copies the image
// (or index, with every platform's image) into the destination repository
// unless it is there already — blobs are mounted across repositories of
// one registry and streamed across registries — writes the tag, reads it
// back and returns what it read; a tag that then points elsewhere is an
// error matching [target.ErrMismatch].
func (d *Driver) Apply(ctx context.Context, c target.Change) (target.State, error) {
	dest, err := Resolve(c)
	if err != nil {
		return target.State{}, err
	}
	p, err := d.reader()
	if err != nil {
		return target.State{}, err
	}
	ctx, cancel := d.bound(ctx)
	defer cancel()

	before, err := d.observe(ctx, p, dest)
	if err != nil {
		return target.State{}, fmt.Errorf("observing %s before the apply: %w", dest.Tag, err)
	}
	if before.Done {
		d.log.DebugContext(ctx, "oci tag already at digest", "tag", dest.Tag.String(), "digest", dest.Digest())
		return before, nil
	}
	if err := d.write(ctx, p, dest); err != nil {
		return target.State{}, err
	}
	after, err := d.observe(ctx, p, dest)
	if err != nil {
		return target.State{}, fmt.Errorf("reading %s back after pointing it at %s: %w", dest.Tag, dest.Digest(), err)
	}
	if !after.Done {
		return after, fmt.Errorf("%w: %s reads %s after it was pointed at %s", target.ErrMismatch, dest.Tag, after.Value, dest.Digest())
	}
	return after, nil
}

// Restore points the destination tag of c back at the digest prev
// recorded, reading it back (a tag that then points elsewhere matches
// [target.ErrMismatch]). When the tag did not exist before, it deletes the
// tag, or, on a registry that refuses to delete tags, points it at the
// change's [Tombstone] (see untag).
func (d *Driver) Restore(ctx context.Context, c target.Change, prev target.State) error {
	dest, err := Resolve(c)
	if err != nil {
		return err
	}
	want, err := previousDigest(prev)
	if err != nil {
		return err
	}
	p, err := d.reader()
	if err != nil {
		return err
	}
	ctx, cancel := d.bound(ctx)
	defer cancel()

	now, err := d.observe(ctx, p, dest)
	if err != nil {
		return fmt.Errorf("observing %s before restoring it: %w", dest.Tag, err)
	}
	if want == "" {
		return d.untag(ctx, p, dest, c, now)
	}
	if now.Value == want {
		return nil
	}
	ref := dest.Tag.Context().Digest(want)
	desc, err := p.Get(ctx, ref)
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("restoring %s to %s: the previous image is no longer in the repository (%w); push it back, or point the tag by hand", dest.Tag, want, err)
		}
		return fmt.Errorf("restoring %s: reading %s: %w", dest.Tag, ref, d.explain(err))
	}
	pusher, err := remote.NewPusher(d.remoteOptions()...)
	if err != nil {
		return err
	}
	if err := pusher.Put(ctx, dest.Tag, desc); err != nil {
		return fmt.Errorf("restoring %s: pointing it at %s: %w", dest.Tag, want, d.explain(err))
	}
	after, err := d.observe(ctx, p, dest)
	if err != nil {
		return fmt.Errorf("reading %s back after restoring it to %s: %w", dest.Tag, want, err)
	}
	if after.Value != want {
		return fmt.Errorf("%w: %s reads %s after it was restored to %s", target.ErrMismatch, dest.Tag, after.Value, want)
	}
	d.log.DebugContext(ctx, "oci tag restored", "tag", dest.Tag.String(), "digest", want)
	return nil
}

// write makes dest.Tag point at the source digest, copying the image into
// the destination repository when it is not there.
// lockRepository waits (as long as ctx allows) until no other copy into
// repo is running in this driver, and returns the function that ends ours.
func (d *Driver) lockRepository(ctx context.Context, repo string) (func(), error) {
	d.mu.Lock()
	if d.copying == nil {
		d.copying = map[string]chan struct{}{}
	}
	slot := d.copying[repo]
	if slot == nil {
		slot = make(chan struct{}, 1)
		d.copying[repo] = slot
	}
	d.mu.Unlock()
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for another copy into %s: %w", repo, ctx.Err())
	}
}

func (d *Driver) write(ctx context.Context, p *remote.Puller, dest Destination) error {
	pusher, err := remote.NewPusher(d.remoteOptions()...)
	if err != nil {
		return err
	}
	// Already in the destination repository (the source repository
	// itself, an earlier apply, a restore): only the tag is written.
	desc, err := p.Get(ctx, dest.ByDigest())
	switch {
	case err == nil:
		d.log.DebugContext(ctx, "oci retag", "tag", dest.Tag.String(), "digest", dest.Digest())
		if err := pusher.Put(ctx, dest.Tag, desc); err != nil {
			return fmt.Errorf("pointing %s at %s: %w", dest.Tag, dest.Digest(), d.explain(err))
		}
		return nil
	case !notFound(err):
		return fmt.Errorf("looking for %s in the destination repository: %w", dest.ByDigest(), d.explain(err))
	case dest.SameRepository():
		return fmt.Errorf("source image %s not found (%w); push it first, or fix the ticket's image", dest.Source, err)
	}

	// One copy into a repository at a time: registries (distribution 2.8
	// among them) can fail a manifest whose blobs a concurrent upload into
	// the same repository is writing ("DIGEST_INVALID", "blob unknown").
	// Retags above stay concurrent.
	release, err := d.lockRepository(ctx, dest.Tag.Context().String())
	if err != nil {
		return err
	}
	defer release()
	desc, err = p.Get(ctx, dest.Source)
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("source image %s not found (%w); push it first, or fix the ticket's image", dest.Source, err)
		}
		return fmt.Errorf("reading source image %s: %w", dest.Source, d.explain(err))
	}
	if !desc.MediaType.IsImage() && !desc.MediaType.IsIndex() {
		return fmt.Errorf("source image %s has media type %q, neither an image manifest nor an index: cab copies only those", dest.Source, desc.MediaType)
	}
	d.log.DebugContext(ctx, "oci copy", "from", dest.Source.String(), "to", dest.Tag.String(), "mediaType", string(desc.MediaType))
	if err := pusher.Push(ctx, dest.Tag, desc); err != nil {
		return fmt.Errorf("copying %s to %s: %w", dest.Source, dest.Tag, d.explain(err))
	}
	return nil
}

// observe reads dest.Tag. It GETs the manifest (rather than HEAD) so that
// the digest is computed from what the registry serves, also from
// registries that send no Docker-Content-Digest header.
func (d *Driver) observe(ctx context.Context, p *remote.Puller, dest Destination) (target.State, error) {
	desc, err := p.Get(ctx, dest.Tag)
	if err != nil {
		if notFound(err) {
			return target.State{Value: target.Absent, Restore: mustJSON(restoreState{})}, nil
		}
		return target.State{}, d.explain(err)
	}
	digest := desc.Digest.String()
	return target.State{
		Value:   digest,
		Done:    digest == dest.Digest(),
		Restore: mustJSON(restoreState{Digest: digest, MediaType: string(desc.MediaType)}),
	}, nil
}

// bound applies the driver's per-call timeout.
func (d *Driver) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.timeout > 0 {
		return context.WithTimeout(ctx, d.timeout)
	}
	return context.WithCancel(ctx)
}

// explain adds the retry budget to an error the registry kept answering
// with a status the driver retries.
func (d *Driver) explain(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && d.attempts > 1 && slices.Contains(retried, te.StatusCode) {
		return fmt.Errorf("gave up after %d attempts: %w", d.attempts, err)
	}
	return err
}

// retried are the statuses go-containerregistry retries by default.
var retried = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway,
	http.StatusServiceUnavailable, http.StatusGatewayTimeout,
	499, 522,
}

// notFound reports whether err is a registry saying that a manifest (or
// its repository) does not exist: a 404, or a 4xx carrying NAME_UNKNOWN or
// MANIFEST_UNKNOWN, in answer to a manifest request. A failed ping, a 5xx
// or a network error is never "not found".
func notFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.Request != nil && !strings.Contains(te.Request.URL.Path, "/manifests/") {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	if te.StatusCode < 400 || te.StatusCode >= 500 {
		return false
	}
	for _, e := range te.Errors {
		if e.Code == transport.NameUnknownErrorCode || e.Code == transport.ManifestUnknownErrorCode {
			return true
		}
	}
	return false
}

// previousDigest is the digest prev recorded ("" for an absent tag).
func previousDigest(prev target.State) (string, error) {
	var r restoreState
	if len(prev.Restore) > 0 {
		if err := json.Unmarshal(prev.Restore, &r); err != nil {
			return "", fmt.Errorf("%w: the recorded previous state %s is not what the oci driver wrote: %v", target.ErrUnsafe, prev.Restore, err)
		}
	} else if prev.Value != target.Absent {
		r.Digest = prev.Value
	}
	if r.Digest == "" {
		return "", nil
	}
	if _, err := v1.NewHash(r.Digest); err != nil {
		return "", fmt.Errorf("%w: the recorded previous digest %q is not a digest: %v", target.ErrUnsafe, r.Digest, err)
	}
	return r.Digest, nil
}

func mustJSON(v restoreState) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // two strings always marshal
	}
	return b
}
