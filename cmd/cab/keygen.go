package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gogit "github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cabhq/cab/sign"
)

// keyPasswordEnv names the environment variable holding the password of an
// encrypted private key; passwords never come from argv.
const keyPasswordEnv = "CAB_KEY_PASSWORD"

type keygenOptions struct {
	Alg         string
	Out         string
	ForceInRepo bool
}

func (o *keygenOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Alg, "alg", sign.AlgECDSAP256, "key algorithm: ecdsa-p256 or ed25519")
	fs.StringVar(&o.Out, "out", "cab", "write the key pair to PREFIX.key and PREFIX.pub")
	fs.BoolVar(&o.ForceInRepo, "force-in-repo", false, "write the private key even inside the working tree of a git repository")
}

func (o *keygenOptions) validate() error {
	switch o.Alg {
	case sign.AlgECDSAP256, sign.AlgEd25519:
	default:
		return fmt.Errorf("--alg %q: want %s or %s", o.Alg, sign.AlgECDSAP256, sign.AlgEd25519)
	}
	if o.Out == "" {
		return errors.New("--out must not be empty")
	}
	if o.ForceInRepo {
		return nil
	}
	if top, ok := gitWorkTree(filepath.Dir(o.Out)); ok {
		return fmt.Errorf("%s.key would be inside the working tree of the git repository %s, one `git add` away from being published; "+
			"keep signing keys outside any repository (e.g. --out ~/.config/cab/signing) and give CI the private key as a secret, "+
			"or pass --force-in-repo if %s is ignored on purpose", o.Out, top, o.Out)
	}
	return nil
}

// gitWorkTree returns the top of the git working tree dir is in, if any.
func gitWorkTree(dir string) (string, bool) {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return "", false
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", false // a bare repository has no working tree to leak from
	}
	return wt.Filesystem.Root(), true
}

// keyPassword returns the key password from the environment: nil when the
// variable is unset, the (possibly empty) password otherwise.
func keyPassword() ([]byte, error) {
	pw, ok := os.LookupEnv(keyPasswordEnv)
	if !ok {
		return nil, nil
	}
	return []byte(pw), nil
}

func newKeygenCmd() *cobra.Command {
	o := &keygenOptions{}
	cmd := &cobra.Command{
		Use:   "keygen [--alg ecdsa-p256|ed25519] [--out PREFIX]",
		Short: "Generate a key pair for signing merged tickets",
		Long: `Keygen writes a new signing key pair: PREFIX.key (private, mode 0600) and
PREFIX.pub (public, PEM, to add under keys in cab.cue), creating PREFIX's
directory (mode 0700) when it is missing. It never overwrites an existing
key, and it refuses to write inside the working tree of a git repository (a
change repository is the last place a signing key belongs): keep it
outside, e.g. under ~/.config/cab, and hand it to CI as a secret.

If ` + keyPasswordEnv + ` is set, the private key is encrypted with it in the
cosign/sigstore format (cosign reads it too); otherwise it is written as
unencrypted PKCS#8. cab sign reads the password from the same variable.`,
		Example: `  CAB_KEY_PASSWORD=$(pass show cab/signing) cab keygen --out ci/cab
  cab keygen --alg ed25519 --out ~/.config/cab/signing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			pw, _ := keyPassword()
			var opts []sign.KeygenOption
			if pw != nil {
				opts = append(opts, sign.WithPassword(pw))
			}
			priv, pub, err := sign.Keygen(o.Alg, opts...)
			if err != nil {
				return err
			}
			keyPath, pubPath := o.Out+".key", o.Out+".pub"
			// The directory is made for the key (private: 0700), as in
			// the example's ~/.config/cab of a fresh machine.
			if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
				return fmt.Errorf("creating the directory of %s: %w", keyPath, err)
			}
			if _, err := os.Stat(pubPath); err == nil {
				return fmt.Errorf("%s already exists: refusing to overwrite", pubPath)
			}
			f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists: refusing to overwrite", keyPath)
			}
			if err != nil {
				return fmt.Errorf("writing private key: %w", err)
			}
			if _, err := f.Write(priv); err != nil {
				f.Close()
				return fmt.Errorf("writing private key %s: %w", keyPath, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("writing private key %s: %w", keyPath, err)
			}
			if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
				return fmt.Errorf("writing public key %s: %w", pubPath, err)
			}
			w := cmd.OutOrStdout()
			enc := "unencrypted"
			if pw != nil {
				enc = "encrypted with $" + keyPasswordEnv
			}
			fmt.Fprintf(w, "wrote %s (%s, %s) and %s\n", keyPath, o.Alg, enc, pubPath)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
