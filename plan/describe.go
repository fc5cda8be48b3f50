package plan

import (
	"fmt"
	"strings"

	"github.com/cabhq/cab/model"
)

// Describe renders what action a does to a target whose observed value is
// from, in one line: "oci images:v1 sha256:aaa → sha256:bbb". The
// reconciler records it on applying events and prints it in a dry run;
// plans print it too. It is the one place that words an action.
func Describe(a model.Action, from string) string {
	switch {
	case a.Type == "git" && (a.Set != nil || a.KustomizeImage != nil):
		return fmt.Sprintf("git %s: %s → %s", Subject(a), from, To(a))
	case a.Type == "git":
		return fmt.Sprintf("git %s:%s %s", a.Target, a.File, from)
	}
	return fmt.Sprintf("%s %s %s → %s", a.Type, Subject(a), from, To(a))
}

// Subject names what an action changes within its target:
// "images:v1" (a tag), "prod:deploy/app.yaml spec.image" (a value in a
// file), "hooks/deploy" (a webhook path).
func Subject(a model.Action) string {
	switch a.Type {
	case "oci":
		return a.Target + ":" + a.Tag
	case "git":
		switch {
		case a.Set != nil:
			return a.Target + ":" + a.File + " " + a.Set.Path
		case a.KustomizeImage != nil:
			return a.Target + ":" + a.File + " image " + a.KustomizeImage.Name
		}
		return a.Target + ":" + a.File
	}
	return a.Target + a.Path
}

// To is the value an action sets, in the words Observe reports values:
// an image digest, a file's value, "(webhook call)".
func To(a model.Action) string {
	switch a.Type {
	case "oci":
		to := a.Image
		if i := strings.LastIndexByte(to, '@'); i >= 0 {
			to = to[i+1:]
		}
		return to
	case "git":
		switch {
		case a.Set != nil:
			return fmt.Sprint(a.Set.Value)
		case a.KustomizeImage != nil:
			return a.KustomizeImage.Digest
		}
	}
	return "(webhook call)"
}
