package schema

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const keylessConfig = `apiVersion: "cab.dev/v1"
environments: prod: {}
_root: {
	mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
	certificateAuthorities: [{uri: "https://fulcio.example.com"}]
	tlogs: [{baseUrl: "https://rekor.example.com"}]
}
keys: [{
	name: "ci"
	keyless: {
		issuer:        "https://token.actions.githubusercontent.com"
		subjectRegexp: "https://github.com/acme/app/.github/workflows/sign.yml@refs/heads/main"
		trustedRoot:   _root
	}
	roles: ["sign"]
}, {
	name:      "reconciler"
	publicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
	roles: ["reconcile"]
}]
`

func TestParseConfigKeyless(t *testing.T) {
	s := compileT(t)
	c, ds := s.ParseConfig("cab.cue", []byte(keylessConfig))
	require.Empty(t, ds, text(ds))
	require.Len(t, c.Config.Keys, 2)
	k := c.Config.Keys[0]
	require.NotNil(t, k.Keyless)
	assert.Empty(t, k.PublicKey)
	assert.Equal(t, "https://token.actions.githubusercontent.com", k.Keyless.Issuer)
	var root map[string]any
	require.NoError(t, json.Unmarshal(k.Keyless.TrustedRoot, &root), "trustedRoot decodes as JSON: %s", k.Keyless.TrustedRoot)
	assert.Equal(t, "application/vnd.dev.sigstore.trustedroot+json;version=0.1", root["mediaType"])
	assert.Nil(t, c.Config.Keys[1].Keyless, "a public key has no keyless identity")

	re := regexp.MustCompile(k.Keyless.AnchoredSubjectRegexp())
	assert.True(t, re.MatchString("https://github.com/acme/app/.github/workflows/sign.yml@refs/heads/main"))
	assert.False(t, re.MatchString("https://github.com/acme/app/.github/workflows/sign.yml@refs/heads/main-evil"), "the regexp is anchored at the end")
	assert.False(t, re.MatchString("https://github.com/evil/x?https://github.com/acme/app/.github/workflows/sign.yml@refs/heads/main"), "the regexp is anchored at the start")
}

func TestParseConfigKeylessErrors(t *testing.T) {
	s := compileT(t)
	for _, tc := range []struct {
		name, old, new string
		line, col      int // line 0: CUE gives no position to a missing field
		path, message  string
	}{
		{"subject regexp that does not compile", `subjectRegexp: "https://github.com/acme`, `subjectRegexp: "(https://github.com/acme`, 12, 3,
			"keys[0].keyless.subjectRegexp", "subjectRegexp does not compile"},
		{"both subject and regexp", `trustedRoot:   _root`, `trustedRoot:   _root, subject: "x"`, 12, 3,
			"keys[0].keyless.subjectRegexp", "both subject and subjectRegexp"},
		{"no subject", `subjectRegexp: "https://github.com/acme/app/.github/workflows/sign.yml@refs/heads/main"`, ``, 10, 2,
			"keys[0].keyless", "names no subject"},
		{"keyless with the reconcile role", `roles: ["sign"]`, `roles: ["sign", "reconcile"]`, 15, 2,
			"keys[0].roles", `may only have role "sign"`},
		{"both a key and an identity", `name: "ci"`, `name: "ci", publicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"`, 10, 2,
			"keys[0].keyless", "both publicKey and keyless"},
		{"neither a key nor an identity", `publicKey: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"`, ``, 16, 4,
			"keys[1]", "neither publicKey nor keyless"},
		{"issuer that is not a URL", `issuer:        "https://token.actions.githubusercontent.com"`, `issuer: "token.actions"`, 11, 11, "", ""},
		{"trusted root of another format", `mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1"`, `mediaType: "application/json"`, 4, 0, "", ""},
		{"trusted root without a log", `tlogs: [{baseUrl: "https://rekor.example.com"}]`, `tlogs: []`, 0, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(keylessConfig, tc.old, tc.new, 1)
			require.NotEqual(t, keylessConfig, src)
			_, ds := s.ParseConfig("cab.cue", []byte(src))
			require.NotEmpty(t, ds)
			d := ds[0]
			assert.Equal(t, "cab.cue", d.File)
			assert.Equal(t, tc.line, d.Line, text(ds))
			if tc.col > 0 {
				assert.Equal(t, tc.col, d.Column, text(ds))
			}
			if tc.path != "" {
				assert.Equal(t, tc.path, d.Path)
				assert.Contains(t, d.Message, tc.message)
				assert.NotEmpty(t, d.Hint)
			}
		})
	}
}
