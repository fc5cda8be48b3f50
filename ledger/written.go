package ledger

import (
	"context"
	"fmt"
)

// Written is what appending one event writes on the ledger branch (see
// Ledger.Update): one commit, with this message, whose tree is its
// parent's with these files added.
type Written struct {
	Message string
	// Files are at their paths in a ledger of layout Version.
	Files []File
}

// File is one file of a ledger tree.
type File struct {
	Path    string
	Content []byte
}

// WrittenOf is what Update writes for ev, which must have its Seq and At
// filled in (and its envelope, for an outcome: see SignOutcome): the same
// bytes, for writers that lay down many events at once with other tools
// (bench/signedledger). It checks ev on its own, not against the log.
func WrittenOf(ev *Event) (Written, error) {
	if err := ev.check(); err != nil {
		return Written{}, err
	}
	data, err := encodeEvent(ev)
	if err != nil {
		return Written{}, fmt.Errorf("encoding event: %w", err)
	}
	w := Written{Message: message(ev), Files: []File{{Path: Path(ev.Ticket, ev.name()+".json"), Content: data}}}
	if len(ev.Envelope) > 0 {
		w.Files = append(w.Files, File{Path: Path(ev.Ticket, ev.name()+".dsse"), Content: ev.Envelope})
	}
	return w, nil
}

// SignOutcome wraps outcome event ev (Seq and At filled in) in an
// envelope signed by s, as Update does with Ledger.Signer.
func SignOutcome(ctx context.Context, s EventSigner, ev *Event) error {
	if !IsOutcome(ev.Kind) {
		return fmt.Errorf("ledger: %s is not an outcome event", ev.Kind)
	}
	return signOutcome(ctx, s, ev)
}

// VersionFileContent is the content of VersionFile in a ledger of layout
// Version, which its first commit writes.
func VersionFileContent() []byte { return append([]byte(nil), versionContent...) }
