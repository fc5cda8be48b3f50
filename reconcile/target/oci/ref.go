package oci

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cabhq/cab/reconcile/target"
)

// The OCI distribution spec's grammar for repository names and tags.
var (
	repositoryRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	})
	tagRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`) })
	// digestLikeRE matches tags that spell a digest: "sha256:<hex>" (no
	// valid tag, but a likely mistake), and the sha256-<hex>[.suffix] tags
	// that cosign signatures and attestations and the OCI referrers
	// fallback index live under. Pointing an environment tag there would
	// overwrite them.
	digestLikeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(sha256|sha384|sha512)[:-][a-fA-F0-9]{32,}`) })
)

// Destination is where an oci action points a tag, worked out from the
// action and the environment's target, with the image it points it at.
type Destination struct {
	// Source is the image the action names, by digest.
	Source name.Digest
	// Tag is <registry>/<repository>:<tag> in the environment registry.
	Tag name.Tag
}

// Digest returns the digest the tag must point at (sha256:<hex>).
func (d Destination) Digest() string { return d.Source.DigestStr() }

// ByDigest returns the destination repository's reference to the digest.
func (d Destination) ByDigest() name.Digest {
	return d.Tag.Context().Digest(d.Digest())
}

// SameRepository reports whether the source image already lives in the
// destination repository, so that only the tag has to be written.
func (d Destination) SameRepository() bool {
	return d.Source.Context().Name() == d.Tag.Context().Name()
}

// Resolve works out the destination of an oci change: the tag
// <Target.Registry>/<Action.Repository, or the source's repository
// path>:<Action.Tag>, and the source image it must point at. It refuses,
// with an error matching [target.ErrUnsafe], anything that is not an oci
// action on an oci target, an image not named by digest or without an
// explicit registry, a malformed registry, repository or tag, and a tag
// that spells a digest. Target.Insecure allows plain http to the target
// registry, and to the source registry when it is the same host.
func Resolve(c target.Change) (Destination, error) {
	a, t := c.Action, c.Target
	if a.Type != "oci" {
		return Destination{}, unsafef("action type is %q, not oci", a.Type)
	}
	if t.Type != "oci" {
		return Destination{}, unsafef("target %q is of type %q, not oci; point the action at an oci target of environment %s in cab.cue", c.TargetName, t.Type, c.Env)
	}
	host, prefix, _ := strings.Cut(t.Registry, "/")
	if !explicitHost(host) {
		return Destination{}, unsafef("target %q registry %q does not start with a registry host (host[:port], with a dot, a port or localhost)", c.TargetName, t.Registry)
	}
	insecure := t.Insecure != nil && *t.Insecure
	var destOpts []name.Option
	if insecure {
		destOpts = append(destOpts, name.Insecure)
	}

	src, err := parseImage(a.Image, host, insecure)
	if err != nil {
		return Destination{}, err
	}

	repo := a.Repository
	if repo == "" {
		repo = src.RepositoryStr()
	}
	if prefix != "" {
		repo = prefix + "/" + repo
	}
	if !repositoryRE().MatchString(repo) || len(repo) > 255 {
		return Destination{}, unsafef("repository %q is not a valid repository name (lowercase path components of letters, digits and . _ - separators)", repo)
	}
	if err := checkTag(a.Tag); err != nil {
		return Destination{}, err
	}
	tag, err := name.NewTag(host+"/"+repo+":"+a.Tag, append(destOpts, name.StrictValidation)...)
	if err != nil {
		return Destination{}, unsafef("destination %s/%s:%s: %v", host, repo, a.Tag, err)
	}
	if tag.RepositoryStr() != repo {
		return Destination{}, unsafef("destination %s/%s:%s does not parse back to repository %s (got %s)", host, repo, a.Tag, repo, tag.RepositoryStr())
	}
	return Destination{Source: src, Tag: tag}, nil
}

// parseImage parses a source image reference, which must name its registry
// and a digest.
func parseImage(image, destHost string, insecure bool) (name.Digest, error) {
	if image == "" {
		return name.Digest{}, unsafef("the action names no image; set image to registry/repository@sha256:<hex>")
	}
	if !strings.Contains(image, "@") {
		return name.Digest{}, unsafef("image %q is not named by digest; use registry/repository@sha256:<hex> (crane digest IMAGE prints it)", image)
	}
	first, _, _ := strings.Cut(image, "/")
	if !explicitHost(first) {
		return name.Digest{}, unsafef("image %q does not name its registry; write it as registry/repository@sha256:<hex>", image)
	}
	ref, err := name.ParseReference(image, name.StrictValidation)
	if err != nil {
		return name.Digest{}, unsafef("image %q is not a valid reference: %v", image, err)
	}
	if _, ok := ref.(name.Digest); !ok {
		return name.Digest{}, unsafef("image %q is not named by digest; use registry/repository@sha256:<hex> (crane digest IMAGE prints it)", image)
	}
	if !strings.HasPrefix(ref.(name.Digest).DigestStr(), "sha256:") {
		return name.Digest{}, unsafef("image %q is not named by a sha256 digest", image)
	}
	if !repositoryRE().MatchString(ref.Context().RepositoryStr()) {
		return name.Digest{}, unsafef("image %q: repository %q is not a valid repository name", image, ref.Context().RepositoryStr())
	}
	if insecure && first == destHost {
		// Same host as the insecure target: parse again allowing http.
		ref, err = name.ParseReference(image, name.StrictValidation, name.Insecure)
		if err != nil {
			return name.Digest{}, unsafef("image %q is not a valid reference: %v", image, err)
		}
	}
	return ref.(name.Digest), nil
}

// checkTag refuses tags that are malformed or spell a digest.
func checkTag(tag string) error {
	switch {
	case tag == "":
		return unsafef("the action names no tag; set tag to the environment's tag, e.g. prod")
	case digestLikeRE().MatchString(tag):
		return unsafef("tag %q spells a digest (or a cosign/referrers tag); a tag names an environment, e.g. prod", tag)
	case !tagRE().MatchString(tag):
		return unsafef("tag %q is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)", tag)
	}
	return nil
}

// explicitHost reports whether s is what go-containerregistry takes for a
// registry host rather than a repository path component: it has a dot or a
// port, or is localhost.
func explicitHost(s string) bool {
	if s == "" || strings.ContainsAny(s, "@/") {
		return false
	}
	if s != "localhost" && !strings.ContainsAny(s, ".:") {
		return false
	}
	_, err := name.NewRegistry(s, name.StrictValidation)
	return err == nil
}

func unsafef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", target.ErrUnsafe, fmt.Sprintf(format, args...))
}
