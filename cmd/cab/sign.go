package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	gogit "github.com/go-git/go-git/v5"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/cabhq/cab/forge"
	forgegit "github.com/cabhq/cab/forge/git"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

type signOptions struct {
	Key    string
	Rev    string
	Remote string
	Branch string
	Forge  string
	Format string
	Actor  string
	Attach bool
	// Keyless signing: a Fulcio certificate for the CI's OIDC identity.
	Keyless       bool
	IdentityToken string
	FulcioURL     string
	RekorURL      string
}

func (o *signOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Key, "key", "", "signing key: file://cab.key, a path, or a KMS URI (password from "+keyPasswordEnv+")")
	fs.BoolVar(&o.Keyless, "keyless", false, "sign with a short-lived Fulcio certificate for the CI's OIDC identity, logged in Rekor, instead of --key (GitHub Actions: permissions: id-token: write; GitLab: id_tokens: SIGSTORE_ID_TOKEN with aud: sigstore)")
	fs.StringVar(&o.IdentityToken, "identity-token", "", "with --keyless: read the OIDC identity token from `FILE` (default: $SIGSTORE_ID_TOKEN, else GitHub Actions' token endpoint)")
	fs.StringVar(&o.FulcioURL, "fulcio-url", sign.DefaultFulcioURL, "with --keyless: the Fulcio instance")
	fs.StringVar(&o.RekorURL, "rekor-url", sign.DefaultRekorURL, "with --keyless: the Rekor instance")
	fs.StringVar(&o.Rev, "rev", "HEAD", "the main line to sign")
	fs.StringVar(&o.Remote, "remote", "origin", "remote the ledger branch is fetched from and pushed to (\"\" for local only)")
	fs.StringVar(&o.Branch, "ledger", ledger.DefaultBranch, "ledger branch")
	fs.StringVar(&o.Forge, "forge", "auto", "where the evidence of each merge comes from: github or gitlab (the pull/merge request the forge records as having made the merge commit), git (Approved-by trailers of a merge commit signed by a mergeSigners key), none, or auto")
	fs.StringVar(&o.Format, "format", "text", "output format: text or json")
	fs.StringVar(&o.Actor, "actor", "", "who records the events (default: the CI job, or cab)")
	fs.BoolVar(&o.Attach, "attach", false, "also attest each newly signed ticket on the images it promotes (cosign attestation layout; credentials from the docker config)")
}

func (o *signOptions) validate() error {
	switch {
	case o.Key == "" && !o.Keyless:
		return fmt.Errorf("--key or --keyless is required (e.g. --key file://cab.key)")
	case o.Key != "" && o.Keyless:
		return fmt.Errorf("--key and --keyless exclude each other")
	case o.Keyless && o.Attach:
		return fmt.Errorf("--attach signs with --key only: a keyless signature is a Sigstore bundle on the ledger")
	case !o.Keyless && o.IdentityToken != "":
		return fmt.Errorf("--identity-token needs --keyless")
	}
	if o.Format != "text" && o.Format != "json" {
		return fmt.Errorf("--format %q: want text or json", o.Format)
	}
	o.Forge = detectForge(o.Forge, os.Getenv)
	switch o.Forge {
	case "git", "github", "gitlab", "none":
	default:
		return fmt.Errorf("--forge %q: want git, github, gitlab, none or auto", o.Forge)
	}
	if o.Actor == "" {
		o.Actor = "cab"
		if run := runURL(); run != "" {
			o.Actor = run
		}
	}
	return nil
}

func newSignCmd() *cobra.Command {
	o := &signOptions{}
	cmd := &cobra.Command{
		Use:   "sign --key REF | --keyless",
		Short: "Sign every ticket merged on main and record it on the ledger",
		Long: `Sign runs in CI on every push to main. It walks main by first parent from
the last commit the ledger recorded, judges each merge again with the gate
(the rules of its first parent, the approvals of the merge), signs each
ticket that passes (an in-toto statement in a DSSE envelope) and appends a
"signed" event to the ledger branch; a ticket that reached main without
passing (a direct push, an admin bypass) is recorded "unsigned" with the
reason and is never applied. The ledger is appended by compare-and-swap:
concurrent runs record each ticket exactly once.

With --keyless there is no key to keep: each ticket is signed with an
ephemeral key certified by Fulcio for the CI job's OIDC identity and logged
in Rekor, and the ledger stores the Sigstore bundle. Verifiers accept it
only if cab.cue lists that identity (keys: [{keyless: {issuer, subject,
trustedRoot}}]).`,
		Example: `  cab keygen --out cab                       # once; put cab.pub in cab.cue keys
  CAB_KEY_PASSWORD=... cab sign --key file://cab.key --forge git
  cab sign --key file://cab.key --remote "" --format json   # local ledger only
  cab sign --keyless --forge github          # in GitHub Actions with id-token: write`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			// Objects are read through gitobj (gitx.Open): the rules, the
			// ledger and the merges, without decoding every pack index.
			repo, closeRepo, err := gitx.Open(".")
			if err != nil {
				return err
			}
			defer closeRepo()
			if err := requireRemote(repo, o.Remote, withoutRemote); err != nil {
				return err
			}
			signer, err := o.signer(ctx)
			if err != nil {
				return err
			}
			if msg := untrustedKey(repo, o.Rev, signer); msg != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "cab sign: warning:", msg)
			}
			review, err := o.reviewFunc(repo)
			if err != nil {
				return err
			}
			l := ledger.Open(repo, o.Remote, o.Branch)
			opts := sign.Options{Dir: ".", Rev: o.Rev, Ledger: l, Signer: signer, Review: review, Actor: o.Actor}
			stderr := cmd.ErrOrStderr()
			if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				draw := progress(stderr)
				opts.Progress = func(done, total int) { draw(done, total) }
			}
			outcomes, err := sign.Run(ctx, opts)
			if opts.Progress != nil {
				fmt.Fprint(stderr, "\r\033[K")
			}
			if err != nil {
				return err
			}
			if err := writeOutcomes(cmd.OutOrStdout(), o.Format, outcomes); err != nil {
				return err
			}
			if o.Attach {
				attached, err := sign.AttachImages(ctx, signer, outcomes, remote.WithAuthFromKeychain(authn.DefaultKeychain))
				for _, d := range attached {
					fmt.Fprintf(cmd.OutOrStdout(), "attached %s\n", d)
				}
				if err != nil {
					return fmt.Errorf("--attach: %w", err)
				}
			}
			for _, out := range outcomes {
				if out.Kind == ledger.KindUnsigned {
					return errViolations // recorded, and a human should look
				}
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// signer loads the key, or makes a keyless signer for the CI's identity.
func (o *signOptions) signer(ctx context.Context) (*sign.Signer, error) {
	if !o.Keyless {
		return sign.LoadSigner(ctx, o.Key, keyPassword)
	}
	tok, err := sign.IdentityToken(ctx, sign.IdentitySource{File: o.IdentityToken, Getenv: os.Getenv})
	if err != nil {
		return nil, err
	}
	return sign.NewKeylessSigner(sign.KeylessOptions{FulcioURL: o.FulcioURL, RekorURL: o.RekorURL, IDToken: tok})
}

// reviewFunc returns where the evidence of each merge comes from: the
// forge's record of the pull or merge request that produced the merge
// commit (the message's number is only a hint of which to ask about), or
// for plain git the signed merge commit itself.
func (o *signOptions) reviewFunc(repo *gogit.Repository) (sign.ReviewFunc, error) {
	switch o.Forge {
	case "git":
		r, err := forgegit.NewReader(repo)
		if err != nil {
			return nil, err
		}
		return func(_ context.Context, m validate.Merge) (*forge.Evidence, error) {
			return r.Review(m.Parent, m.Commit)
		}, nil
	case "github", "gitlab":
		r, err := openForgeRepo("--forge", o.Forge)
		if err != nil {
			return nil, err
		}
		if r.github != nil {
			chain := forgegit.FirstParents(repo)
			return func(ctx context.Context, m validate.Merge) (*forge.Evidence, error) {
				return r.github.MergeEvidence(ctx, r.owner, r.name, m.Commit, forge.NumberHint(m.Message), chain)
			}, nil
		}
		return func(ctx context.Context, m validate.Merge) (*forge.Evidence, error) {
			return r.gitlab.MergeEvidence(ctx, r.project, m.Commit, forge.NumberHint(m.Message))
		}, nil
	}
	return nil, nil
}

func writeOutcomes(w io.Writer, format string, outcomes []sign.Outcome) error {
	if format == "json" {
		if outcomes == nil {
			outcomes = []sign.Outcome{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"outcomes": outcomes})
	}
	signed, unsigned := 0, 0
	for _, o := range outcomes {
		switch o.Kind {
		case ledger.KindSigned:
			signed++
			fmt.Fprintf(w, "signed   %s  %s  (merge %s)\n", o.Ticket, o.Path, o.Commit[:12])
		case ledger.KindUnsigned:
			unsigned++
			fmt.Fprintf(w, "UNSIGNED %s  %s  (merge %s): %s\n", o.Ticket, o.Path, o.Commit[:12], o.Reason)
		default:
			fmt.Fprintf(w, "skipped  %s  (already on the ledger)\n", o.Ticket)
		}
	}
	_, err := fmt.Fprintf(w, "%d signed, %d unsigned\n", signed, unsigned)
	return err
}

// untrustedKey says why the reconciler will refuse what signer signs ("" when
// cab.cue at rev trusts its key): signing with a key cab.cue does not list
// is allowed (a rotation lands the key first) but almost always a mistake.
func untrustedKey(repo *gogit.Repository, rev string, signer *sign.Signer) string {
	cfg, err := load.New().ConfigAt(repo, rev)
	if errors.Is(err, load.ErrNoConfig) {
		return "there is no cab.cue: nothing trusts the signing key, and cab reconcile will refuse these signatures"
	}
	if load.Tolerable(err) {
		return fmt.Sprintf("%v: until it is fixed it trusts no key, and cab reconcile will refuse these signatures", err)
	}
	if err != nil {
		return "" // cab sign itself reads the revision and reports what fails
	}
	for _, k := range model.KeysFor(cfg.Config.Keys, model.RoleSign) {
		if signer.Keyless() {
			if k.Keyless != nil {
				return "" // which identity signs is known only to the verifier
			}
			continue
		}
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(k.PublicKey))
		if err != nil {
			continue
		}
		if id, err := sign.KeyID(pub); err == nil && id == signer.KeyID() {
			return ""
		}
	}
	if signer.Keyless() {
		return "cab.cue trusts no keyless identity to sign tickets: cab reconcile and cab verify will refuse these signatures (add keys: [{name, keyless: {issuer, subject, trustedRoot}}])"
	}
	return fmt.Sprintf("the signing key %s is not among the keys cab.cue trusts to sign tickets: cab reconcile and cab verify will refuse these signatures (add its public half to keys: in cab.cue)", signer.KeyID())
}
