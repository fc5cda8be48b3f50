package schema

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
)

// keyRefs checks what #Key cannot say in CUE: a key is a public key or a
// keyless identity (exactly one), a keyless identity names its subject
// one way and only signs tickets, and its regexp compiles.
func (p *ParsedConfig) keyRefs() diag.List {
	var ds diag.List
	add := func(path, msg, hint string) {
		l, c := p.Position(path)
		ds = append(ds, diag.Diagnostic{File: p.File, Line: l, Column: c, Path: path, Severity: diag.Error,
			Code: "config", Message: msg, Hint: hint})
	}
	for i, k := range p.Config.Keys {
		at := fmt.Sprintf("keys[%d]", i)
		switch {
		case k.PublicKey == "" && k.Keyless == nil:
			add(at, fmt.Sprintf("key %q has neither publicKey nor keyless", k.Name),
				"give the PEM public key, or keyless: {issuer, subject, trustedRoot} for a Sigstore identity")
			continue
		case k.PublicKey != "" && k.Keyless != nil:
			add(at+".keyless", fmt.Sprintf("key %q has both publicKey and keyless", k.Name),
				"declare the key and the keyless identity as two entries of keys")
			continue
		case k.Keyless == nil:
			continue
		}
		kl := k.Keyless
		if slices.ContainsFunc(k.Roles, func(r string) bool { return r != model.RoleSign }) {
			add(at+".roles", fmt.Sprintf("keyless identity %q may only have role %q", k.Name, model.RoleSign),
				"the reconciler signs its outcome events with a key: declare one with publicKey")
		}
		switch {
		case kl.Subject == "" && kl.SubjectRegexp == "":
			add(at+".keyless", fmt.Sprintf("keyless identity %q names no subject", k.Name),
				`set subject (exact) or subjectRegexp, e.g. "^https://github.com/acme/app/.github/workflows/sign.yml@refs/heads/main$"`)
		case kl.Subject != "" && kl.SubjectRegexp != "":
			add(at+".keyless.subjectRegexp", fmt.Sprintf("keyless identity %q has both subject and subjectRegexp", k.Name),
				"keep one of them")
		case kl.SubjectRegexp != "":
			if _, err := regexp.Compile(kl.SubjectRegexp); err != nil {
				add(at+".keyless.subjectRegexp", fmt.Sprintf("subjectRegexp does not compile: %v", err),
					"write an RE2 regular expression (https://github.com/google/re2/wiki/Syntax)")
			}
		}
	}
	return ds
}
