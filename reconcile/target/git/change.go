package gittarget

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/docedit"
	"github.com/cabhq/cab/reconcile/target"
)

// DefaultBranch is the branch of the environment repository written when
// the target names none.
const DefaultBranch = "main"

var (
	digestRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^sha256:[a-f0-9]{64}$`) })
	tagRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`) })
)

// spec is a git change checked and parsed: where to write and what.
type spec struct {
	url      string   // the target's URL without credentials, for messages and records
	fetchURL string   // the URL the clone uses
	branch   string   // branch of the environment repository
	file     string   // the path in the repository, root and file joined
	elems    []string // file split into tree entries
	codec    docedit.Codec

	// exactly one of set and image
	set   *setSpec
	image *imageSpec
}

type setSpec struct {
	path docedit.Path
	want docedit.Scalar
}

type imageSpec struct {
	name, newName, newTag, digest string
}

// imageRef renders an images: entry the way kustomize renders the image it
// sets: [name][:tag][@digest] ("" for none of them).
func imageRef(name, tag, digest string) string {
	if tag != "" {
		name += ":" + tag
	}
	if digest != "" {
		name += "@" + digest
	}
	return name
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func unsafef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", target.ErrUnsafe, fmt.Sprintf(format, args...))
}

// repoPath joins a target's root and an action's file into the elements
// of a path inside the repository. Absolute paths, ".." elements, ".git"
// elements, backslashes and NUL bytes are refused as unsafe, whatever a
// clean would make of them.
func repoPath(root, file string) ([]string, error) {
	var elems []string
	for _, part := range []struct{ what, p string }{{"target root", root}, {"file", file}} {
		p := part.p
		if p == "" {
			continue
		}
		if strings.ContainsAny(p, "\\\x00") {
			return nil, unsafef("%s %q holds a backslash or NUL byte", part.what, p)
		}
		if path.IsAbs(p) {
			return nil, unsafef("%s %q is absolute: give a path relative to the repository root", part.what, p)
		}
		for _, e := range strings.Split(p, "/") {
			switch {
			case e == "" || e == ".":
				continue
			case e == "..":
				return nil, unsafef("%s %q leaves its directory (..)", part.what, p)
			case strings.EqualFold(e, ".git"):
				return nil, unsafef("%s %q names git's own directory", part.what, p)
			}
			elems = append(elems, e)
		}
	}
	if len(elems) == 0 || file == "" {
		return nil, unsafef("no file named: set the action's file")
	}
	return elems, nil
}

// newSpec checks c and parses it.
func newSpec(c target.Change) (*spec, error) {
	a, t := c.Action, c.Target
	if a.Type != "git" {
		return nil, fmt.Errorf("action %d of %s is of type %q, not git", c.Index, c.Ticket, a.Type)
	}
	if t.Type != "" && t.Type != "git" {
		return nil, fmt.Errorf("target %s of %s is of type %q, not git", c.TargetName, c.Env, t.Type)
	}
	if t.URL == "" {
		return nil, fmt.Errorf("target %s of %s has no url: set targets.%s.url in cab.cue", c.TargetName, c.Env, c.TargetName)
	}
	s := &spec{url: redactURL(t.URL), branch: t.Branch}
	if s.branch == "" {
		s.branch = DefaultBranch
	}
	if err := plumbing.NewBranchReferenceName(s.branch).Validate(); err != nil {
		return nil, fmt.Errorf("target %s of %s: branch %q: %w", c.TargetName, c.Env, s.branch, err)
	}
	var err error
	if s.fetchURL, err = transportURL(t.URL); err != nil {
		return nil, err
	}
	if s.elems, err = repoPath(t.Root, a.File); err != nil {
		return nil, fmt.Errorf("action %d of %s: %w", c.Index, c.Ticket, err)
	}
	s.file = strings.Join(s.elems, "/")
	s.codec = docedit.YAML{}
	if strings.EqualFold(path.Ext(s.file), ".json") {
		s.codec = docedit.JSON{}
	}
	switch {
	case (a.Set == nil) == (a.KustomizeImage == nil):
		return nil, fmt.Errorf("action %d of %s: a git action needs exactly one of set and kustomizeImage", c.Index, c.Ticket)
	case a.Set != nil:
		p, err := docedit.ParsePath(a.Set.Path)
		if err != nil {
			return nil, fmt.Errorf("action %d of %s: set.path: %w", c.Index, c.Ticket, err)
		}
		want, err := docedit.ScalarOf(a.Set.Value)
		if err != nil {
			return nil, fmt.Errorf("action %d of %s: %w", c.Index, c.Ticket, err)
		}
		s.set = &setSpec{path: p, want: want}
	default:
		k := a.KustomizeImage
		if k.Name == "" || strings.ContainsAny(k.Name, " \t\n") || strings.ContainsAny(k.NewName, " \t\n") {
			return nil, fmt.Errorf("action %d of %s: kustomizeImage needs a name without spaces", c.Index, c.Ticket)
		}
		if k.NewTag != "" && !tagRE().MatchString(k.NewTag) {
			return nil, unsafef("action %d of %s: kustomizeImage.newTag %q is not an image tag", c.Index, c.Ticket, k.NewTag)
		}
		if !digestRE().MatchString(k.Digest) {
			return nil, unsafef("action %d of %s: kustomizeImage.digest %q is not a sha256 digest (sha256:<64 hex>)", c.Index, c.Ticket, k.Digest)
		}
		s.image = &imageSpec{name: k.Name, newName: k.NewName, newTag: k.NewTag, digest: k.Digest}
	}
	return s, nil
}

var imagesPath = docedit.KeyPath("images")

// observation is what a file holds of a change.
type observation struct {
	value string
	done  bool
	// set: the value before (nil: absent) and the first step that did
	// not exist, which restoring onto a file others changed removes.
	prev    *docedit.Scalar
	created docedit.Path
	// image: whether images: and the entry exist, and the entry's fields.
	images, entry   bool
	digest, newName *string
	newTag          *string
}

func (s *spec) observe(content []byte) (*observation, error) {
	doc, err := s.codec.Parse(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.file, err)
	}
	if s.set != nil {
		return s.observeSet(doc)
	}
	return s.observeImage(doc)
}

func (s *spec) observeSet(doc docedit.Document) (*observation, error) {
	f, err := doc.Lookup(s.set.path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.file, err)
	}
	o := &observation{value: target.Absent}
	switch f.Kind {
	case docedit.KindMissing:
		for k := 1; k <= len(s.set.path); k++ {
			g, err := doc.Lookup(s.set.path[:k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.file, err)
			}
			if g.Kind == docedit.KindMissing {
				o.created = s.set.path[:k]
				break
			}
		}
		return o, nil
	case docedit.KindScalar:
		o.prev = &f.Scalar
		o.value = f.Scalar.String()
		o.done = f.Scalar.Equal(s.set.want)
		return o, nil
	}
	return nil, fmt.Errorf("%s: %w", s.file, docedit.MismatchKindError(s.set.path, f.Kind, "a scalar"))
}

// findImage returns the index of the images entry named name (-1: none),
// whether images: holds a list, and its length.
func findImage(doc docedit.Document, name string) (idx int, list bool, n int, err error) {
	f, err := doc.Lookup(imagesPath)
	if err != nil {
		return -1, false, 0, err
	}
	switch {
	case f.Kind == docedit.KindMissing, f.Kind == docedit.KindScalar && f.Scalar.Class == docedit.ClassNull:
		return -1, false, 0, nil
	case f.Kind != docedit.KindSeq:
		return -1, false, 0, fmt.Errorf("images holds a %s, not a list", f.Kind)
	}
	for i := 0; i < f.Len; i++ {
		g, err := doc.Lookup(imagesPath.Index(i).Key("name"))
		if err != nil {
			return -1, false, 0, err
		}
		if g.Kind == docedit.KindScalar && g.Scalar.Class == docedit.ClassString && g.Scalar.Text == name {
			return i, true, f.Len, nil
		}
	}
	return -1, true, f.Len, nil
}

func imageField(doc docedit.Document, idx int, key string) (*string, error) {
	f, err := doc.Lookup(imagesPath.Index(idx).Key(key))
	if err != nil {
		return nil, err
	}
	if f.Kind != docedit.KindScalar || f.Scalar.Class == docedit.ClassNull {
		return nil, nil
	}
	v := f.Scalar.Text
	return &v, nil
}

func (s *spec) observeImage(doc docedit.Document) (*observation, error) {
	idx, list, _, err := findImage(doc, s.image.name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.file, err)
	}
	o := &observation{value: target.Absent, images: list}
	if idx < 0 {
		return o, nil
	}
	o.entry = true
	for _, fld := range []struct {
		key string
		dst **string
	}{{"digest", &o.digest}, {"newName", &o.newName}, {"newTag", &o.newTag}} {
		if *fld.dst, err = imageField(doc, idx, fld.key); err != nil {
			return nil, fmt.Errorf("%s: %w", s.file, err)
		}
	}
	if v := imageRef(deref(o.newName), deref(o.newTag), deref(o.digest)); v != "" {
		o.value = v
	}
	// Done when the digest (and newName, when given) are the change's and
	// the entry's newTag is the change's: its tag, or none without one, so
	// that the rendered image never shows a stale tag beside the digest.
	o.done = o.digest != nil && *o.digest == s.image.digest &&
		(s.image.newName == "" || o.newName != nil && *o.newName == s.image.newName) &&
		deref(o.newTag) == s.image.newTag && (s.image.newTag != "" || o.newTag == nil)
	return o, nil
}

// apply returns content with the change made.
func (s *spec) apply(content []byte) ([]byte, error) {
	out, err := s.applyEdit(content)
	if err != nil {
		return nil, fmt.Errorf("editing %s: %w", s.file, err)
	}
	return out, nil
}

func (s *spec) applyEdit(content []byte) ([]byte, error) {
	if s.set != nil {
		return s.codec.Edit(content, docedit.Set(s.set.path, docedit.ScalarValue(s.set.want)))
	}
	str := docedit.StringValue
	doc, err := s.codec.Parse(content)
	if err != nil {
		return nil, err
	}
	idx, list, n, err := findImage(doc, s.image.name)
	if err != nil {
		return nil, err
	}
	if idx >= 0 {
		entry := imagesPath.Index(idx)
		ops := []docedit.Op{docedit.Set(entry.Key("digest"), str(s.image.digest))}
		if s.image.newName != "" {
			ops = append(ops, docedit.Set(entry.Key("newName"), str(s.image.newName)))
		}
		tag, err := imageField(doc, idx, "newTag")
		if err != nil {
			return nil, err
		}
		switch {
		case s.image.newTag != "" && deref(tag) != s.image.newTag:
			ops = append(ops, docedit.Set(entry.Key("newTag"), str(s.image.newTag)))
		case s.image.newTag == "" && tag != nil:
			ops = append(ops, docedit.Delete(entry.Key("newTag")))
		}
		out := content
		for _, o := range ops {
			if out, err = s.codec.Edit(out, o); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	keys, vals := []string{"name"}, []*docedit.Value{str(s.image.name)}
	if s.image.newName != "" {
		keys, vals = append(keys, "newName"), append(vals, str(s.image.newName))
	}
	if s.image.newTag != "" {
		keys, vals = append(keys, "newTag"), append(vals, str(s.image.newTag))
	}
	keys, vals = append(keys, "digest"), append(vals, str(s.image.digest))
	e := docedit.Mapping(keys, vals)
	if list {
		return s.codec.Edit(content, docedit.Set(imagesPath.Index(n), e))
	}
	return s.codec.Edit(content, docedit.Set(imagesPath, docedit.Sequence(e)))
}

// revert returns content with the value s writes put back to what rd
// recorded, leaving everything else in the file as it is.
func (s *spec) revert(content []byte, rd *restoreData) ([]byte, error) {
	out, err := s.revertEdit(content, rd)
	if err != nil {
		return nil, fmt.Errorf("restoring %s: %w", s.file, err)
	}
	return out, nil
}

func (s *spec) revertEdit(content []byte, rd *restoreData) ([]byte, error) {
	if s.set != nil {
		if rd.Value != nil {
			return s.codec.Edit(content, docedit.Set(s.set.path, docedit.ScalarValue(*rd.Value)))
		}
		del := s.set.path
		if rd.Created != "" {
			p, err := docedit.ParsePath(rd.Created)
			if err != nil {
				return nil, fmt.Errorf("recorded path: %w", err)
			}
			del = p
		}
		return s.codec.Edit(content, docedit.Delete(del))
	}
	doc, err := s.codec.Parse(content)
	if err != nil {
		return nil, err
	}
	idx, _, n, err := findImage(doc, s.image.name)
	if err != nil {
		return nil, err
	}
	if !rd.Entry {
		if idx < 0 {
			return content, nil
		}
		if n == 1 && !rd.Images {
			return s.codec.Edit(content, docedit.Delete(imagesPath))
		}
		return s.codec.Edit(content, docedit.Delete(imagesPath.Index(idx)))
	}
	if idx < 0 {
		return nil, fmt.Errorf("the images entry %s was removed since it was applied: nothing to restore it in", s.image.name)
	}
	out := content
	fields := []struct {
		key  string
		prev *string
	}{{"digest", rd.Digest}}
	if s.image.newName != "" {
		fields = append(fields, struct {
			key  string
			prev *string
		}{"newName", rd.NewName})
	}
	// The newTag was set (a change with one) or removed (a change without,
	// on an entry that had one): put back what was there.
	if s.image.newTag != "" || rd.NewTag != nil {
		fields = append(fields, struct {
			key  string
			prev *string
		}{"newTag", rd.NewTag})
	}
	for _, fld := range fields {
		p := imagesPath.Index(idx).Key(fld.key)
		o := docedit.Delete(p)
		if fld.prev != nil {
			o = docedit.Set(p, docedit.StringValue(*fld.prev))
		}
		if out, err = s.codec.Edit(out, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// restoreData is State.Restore of this driver: enough to put the file
// back as it was when observed.
type restoreData struct {
	URL    string `json:"url"`
	Branch string `json:"branch"`
	File   string `json:"file"`
	// Head is the branch head observed; Blob the file's blob there.
	Head string `json:"head"`
	Blob string `json:"blob"`
	// Content is the whole file (omitted above maxRestoreContent; Blob
	// then finds it in the repository's history).
	Content []byte `json:"content,omitempty"`

	// set: the value at Path (nil: absent) and the first step of it that
	// did not exist.
	Path    string          `json:"path,omitempty"`
	Value   *docedit.Scalar `json:"value,omitempty"`
	Created string          `json:"created,omitempty"`

	// kustomizeImage: the entry named Image, whether images: and the
	// entry existed, and the entry's digest, newName and newTag (nil:
	// absent).
	Image   string  `json:"image,omitempty"`
	Images  bool    `json:"images,omitempty"`
	Entry   bool    `json:"entry,omitempty"`
	Digest  *string `json:"digest,omitempty"`
	NewName *string `json:"newName,omitempty"`
	NewTag  *string `json:"newTag,omitempty"`
}

// maxRestoreContent bounds the file content recorded in State.Restore.
const maxRestoreContent = 1 << 20

func (s *spec) restoreData(o *observation, head, blob plumbing.Hash, content []byte) *restoreData {
	rd := &restoreData{URL: s.url, Branch: s.branch, File: s.file, Head: head.String(), Blob: blob.String()}
	if len(content) <= maxRestoreContent {
		rd.Content = content
	}
	if s.set != nil {
		rd.Path, rd.Value, rd.Created = s.set.path.String(), o.prev, o.created.String()
	} else {
		rd.Image, rd.Images, rd.Entry, rd.Digest, rd.NewName, rd.NewTag = s.image.name, o.images, o.entry, o.digest, o.newName, o.newTag
	}
	return rd
}

// matches checks that rd was recorded for the same target file and edit.
func (rd *restoreData) matches(s *spec) error {
	what := ""
	if s.set != nil {
		what = s.set.path.String()
	}
	if rd.URL != s.url || rd.Branch != s.branch || rd.File != s.file || rd.Path != what || (s.image != nil && rd.Image != s.image.name) {
		return fmt.Errorf("the recorded state is of %s %s:%s %s%s, not of this change (%s %s:%s %s)",
			rd.URL, rd.Branch, rd.File, rd.Path, rd.Image, s.url, s.branch, s.file, what)
	}
	return nil
}
