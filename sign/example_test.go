package sign_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cabhq/cab/schema"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/sign"
)

func Example() {
	dir, _ := os.MkdirTemp("", "cab-sign")
	defer os.RemoveAll(dir)
	priv, pub, _ := sign.Keygen(sign.AlgEd25519)
	keyPath := filepath.Join(dir, "cab.key")
	_ = os.WriteFile(keyPath, priv, 0o600)

	// CI, after the merge: sign what passed.
	ticketJSON, _ := schema.Canonical([]byte(`{"id": "CHG-2026-0042"}`))
	st := sign.NewStatement("changes/CHG-2026-0042.cue", sign.Digest(ticketJSON), sign.Predicate{
		ID:           "CHG-2026-0042",
		Environments: []string{"staging"},
	})
	signer, err := sign.LoadSigner(context.Background(), "file://"+keyPath, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	envelope, _ := signer.Sign(context.Background(), st)

	// Reconciler: verify against the merged bytes before acting.
	trusted := []model.Key{{Name: "ci", PublicKey: string(pub)}}
	got, err := sign.Verify(envelope, trusted, sign.Expect{
		TicketPath:   "changes/CHG-2026-0042.cue",
		TicketDigest: sign.Digest(ticketJSON),
		ID:           "CHG-2026-0042",
		Environments: []string{"staging"},
	})
	fmt.Println(got.Predicate.ID, err)

	_, err = sign.Verify(envelope, trusted, sign.Expect{
		TicketPath:   "changes/CHG-2026-0042.cue",
		TicketDigest: sign.Digest(ticketJSON),
		ID:           "CHG-2026-0042",
		Environments: []string{"staging", "prod"},
	})
	fmt.Println(err)
	// Output:
	// CHG-2026-0042 <nil>
	// changes/CHG-2026-0042.cue: attestation does not match: predicate.environments is ["staging"], want ["staging" "prod"]
}

// In CI with an OIDC identity (GitHub Actions with permissions: id-token:
// write, or GitLab's id_tokens), sign without a key: the statement is
// signed with a Fulcio certificate for the job's identity and logged in
// Rekor. Verifiers trust it through a keyless identity in cab.cue.
func ExampleNewKeylessSigner() {
	ctx := context.Background()
	token, err := sign.IdentityToken(ctx, sign.IdentitySource{Getenv: os.Getenv})
	if err != nil {
		fmt.Println(err)
		return
	}
	signer, err := sign.NewKeylessSigner(sign.KeylessOptions{IDToken: token})
	if err != nil {
		fmt.Println(err)
		return
	}
	ticketJSON, _ := schema.Canonical([]byte(`{"id": "CHG-2026-0042"}`))
	bundle, err := signer.Sign(ctx, sign.NewStatement("changes/CHG-2026-0042.cue", sign.Digest(ticketJSON), sign.Predicate{ID: "CHG-2026-0042"}))
	fmt.Println(sign.IsBundle(bundle), err)
}
