package main

import (
	"os"

	"github.com/cabhq/cab/internal/redact"
)

// heldSecretEnvs name the environment variables whose values are secrets
// cab holds: every output of the reconciler scrubs them.
var heldSecretEnvs = []string{gitTokenEnv, webhookSecretEnv, "GITHUB_TOKEN", "CAB_GITLAB_TOKEN", "GITLAB_TOKEN", "CAB_KEY_PASSWORD"}

// processRedactor returns the redactor of this process: the known token
// formats, the secrets in heldSecretEnvs and extra (webhook secrets read
// from files). A secret shorter than redact.MinSecret is too short to
// scrub without garbling text; it is left out (such a secret protects
// nothing anyway).
func processRedactor(getenv func(string) string, extra ...[]byte) *redact.Redactor {
	var secrets []string
	for _, e := range heldSecretEnvs {
		secrets = append(secrets, getenv(e))
	}
	for _, b := range extra {
		secrets = append(secrets, string(b))
	}
	var keep []string
	for _, s := range secrets {
		if r, err := redact.New(s); err == nil && r != nil {
			keep = append(keep, s)
		}
	}
	r, err := redact.New(keep...)
	if err != nil {
		return nil // unreachable: each was accepted alone
	}
	return r
}

// envRedactor is processRedactor over the process environment.
func envRedactor(extra ...[]byte) *redact.Redactor { return processRedactor(os.Getenv, extra...) }
