package model

import "strings"

// Resource names what a applies to in env: "<env>/<target>/<object>",
// where the object is the registry repository and tag of an oci action
// (the repository defaults to the source image's path, as the oci driver
// does), the file of a git action, or the webhook path of an http action.
//
// It is the one definition of "the same thing changed": the reconciler
// never runs two changes to one resource at once, and the gate reports two
// tickets whose windows overlap on one resource as a conflict, whatever
// their services.
func (a Action) Resource(env string) string {
	r := env + "/" + a.Target + "/"
	switch a.Type {
	case "oci":
		repo := a.Repository
		if repo == "" {
			repo = imageRepository(a.Image)
		}
		r += repo + ":" + a.Tag
	case "git":
		r += a.File
	default:
		r += a.Path
	}
	return r
}

// Resources lists the resource of each action of t in env, in order.
func (t Ticket) Resources(env string) []string {
	out := make([]string, 0, len(t.Actions))
	for _, a := range t.Actions {
		out = append(out, a.Resource(env))
	}
	return out
}

// imageRepository is the repository path of an image reference
// "registry/path@digest": the path without the registry host, as
// go-containerregistry's RepositoryStr gives it.
func imageRepository(image string) string {
	repo, _, _ := strings.Cut(image, "@")
	if i := strings.IndexByte(repo, '/'); i >= 0 {
		repo = repo[i+1:]
	}
	return repo
}
