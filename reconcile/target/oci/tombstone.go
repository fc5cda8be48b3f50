package oci

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cabhq/cab/reconcile/target"
)

// Labels of a tombstone image's config.
const (
	// TombstoneLabel marks a tombstone image; its value is always "true".
	TombstoneLabel = "dev.cab.tombstone"
	// TombstoneTicketLabel names the ticket whose rollback withdrew the tag.
	TombstoneTicketLabel = "dev.cab.tombstone.ticket"
	// TombstoneTagLabel names the tag the tombstone stands in for.
	TombstoneTagLabel = "dev.cab.tombstone.tag"
)

// Tombstone returns the image a rollback points a tag at when the tag did
// not exist before the change and the registry refuses to delete it (as
// distribution does unless storage.delete is enabled, and as registries
// with immutable or protected tags do): an OCI image with no layers, no
// entrypoint and no command, whose config labels say it is a tombstone,
// for which ticket and which tag. Nothing can run it: a deployment that
// pulls the withdrawn tag fails to start its container instead of running
// the release that was rolled back. The image depends on the ticket and
// the tag only, so the same rollback writes the same digest every time.
func Tombstone(ticket string, tag string) (v1.Image, error) {
	img, err := mutate.ConfigFile(
		mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON),
		&v1.ConfigFile{
			Architecture: "unknown",
			OS:           "unknown",
			RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}},
			Config: v1.Config{Labels: map[string]string{
				TombstoneLabel:       "true",
				TombstoneTicketLabel: ticket,
				TombstoneTagLabel:    tag,
				"org.opencontainers.image.description": fmt.Sprintf(
					"tombstone: %s was withdrawn by the rollback of %s; this image has no content and cannot run", tag, ticket),
			}},
		})
	if err != nil {
		return nil, fmt.Errorf("building the tombstone of %s: %w", tag, err)
	}
	return img, nil
}

// untag withdraws a tag that did not exist before the change: it deletes
// the tag, and when the registry answers that it will not (any answer but
// "not found"; a network error or a 5xx after the retries is an error, to
// be retried) it points the tag at the [Tombstone] of the change instead.
// The tag then reads the tombstone's digest, which Restore reports as
// restored; the log says so at warning level.
func (d *Driver) untag(ctx context.Context, p *remote.Puller, dest Destination, c target.Change, now target.State) error {
	if now.Value == target.Absent {
		return nil
	}
	stone, err := Tombstone(c.Ticket, dest.Tag.String())
	if err != nil {
		return err
	}
	stoneDigest, err := stone.Digest()
	if err != nil {
		return fmt.Errorf("building the tombstone of %s: %w", dest.Tag, err)
	}
	if now.Value == stoneDigest.String() {
		return nil // withdrawn before
	}
	delErr := remote.Delete(dest.Tag, append(d.remoteOptions(), remote.WithContext(ctx))...)
	var te *transport.Error
	switch {
	case delErr == nil || notFound(delErr):
		after, err := d.observe(ctx, p, dest)
		if err != nil {
			return fmt.Errorf("reading %s back after deleting it: %w", dest.Tag, err)
		}
		if after.Value != target.Absent {
			return fmt.Errorf("%w: %s still reads %s after it was deleted", target.ErrMismatch, dest.Tag, after.Value)
		}
		d.log.DebugContext(ctx, "oci tag deleted", "tag", dest.Tag.String())
		return nil
	case !errors.As(delErr, &te) || te.StatusCode >= 500:
		return fmt.Errorf("restoring %s: deleting the tag, which did not exist before the change: %w", dest.Tag, d.explain(delErr))
	}
	if err := remote.Write(dest.Tag, stone, append(d.remoteOptions(), remote.WithContext(ctx))...); err != nil {
		return fmt.Errorf("restoring %s: the tag did not exist before the change, the registry refused to delete it (%v), "+
			"and pointing it at a tombstone failed: %w; a human must delete the tag or point it at a known-good digest", dest.Tag, delErr, d.explain(err))
	}
	after, err := d.observe(ctx, p, dest)
	if err != nil {
		return fmt.Errorf("reading %s back after pointing it at a tombstone: %w", dest.Tag, err)
	}
	if after.Value != stoneDigest.String() {
		return fmt.Errorf("%w: %s reads %s after it was pointed at the tombstone %s", target.ErrMismatch, dest.Tag, after.Value, stoneDigest)
	}
	d.log.WarnContext(ctx, "oci tag withdrawn: the registry does not delete tags, so the tag now points at a tombstone image that cannot run",
		"tag", dest.Tag.String(), "tombstone", stoneDigest.String(), "ticket", c.Ticket)
	return nil
}
