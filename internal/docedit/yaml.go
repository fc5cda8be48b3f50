package docedit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxDocuments bounds the documents of one YAML file.
const maxDocuments = 10000

// YAML reads and edits YAML files with the yaml.v3 node API. Paths
// name values in the first document of a multi-document file.
//
// An edit is made on the node tree (which keeps comments and key order)
// and, where the geometry of the file allows it, also as a splice of the
// original bytes: the scalar's token replaced, a new key inserted after
// the last line of its mapping, a new list item after the last line of
// its list. The splice is kept only when parsing it again gives exactly
// the edited tree; otherwise the whole stream is re-encoded from the tree
// (comments and order kept, blank lines and some spacing lost).
type YAML struct{}

type yamlFile struct {
	src    []byte
	starts []int // starts[i] is the offset of line i+1
	docs   []*yaml.Node
	crlf   bool
	unit   int
}

func parseYAMLDocs(src []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing YAML: %w", err)
		}
		if len(docs) == maxDocuments {
			return nil, fmt.Errorf("parsing YAML: more than %d documents", maxDocuments)
		}
		docs = append(docs, &n)
	}
}

func parseYAMLFile(src []byte) (*yamlFile, error) {
	docs, err := parseYAMLDocs(src)
	if err != nil {
		return nil, err
	}
	f := &yamlFile{src: src, docs: docs, starts: []int{0}, crlf: bytes.Contains(src, []byte("\r\n"))}
	for i, c := range src {
		if c == '\n' {
			f.starts = append(f.starts, i+1)
		}
	}
	f.unit = f.indentUnit()
	return f, nil
}

func (f *yamlFile) root() *yaml.Node {
	if len(f.docs) == 0 || len(f.docs[0].Content) == 0 {
		return nil
	}
	return f.docs[0].Content[0]
}

// Parse reads a YAML stream; paths name values in its first document.
func (YAML) Parse(src []byte) (Document, error) { return parseYAMLFile(src) }

// Lookup returns what p names in the first document.
func (f *yamlFile) Lookup(p Path) (Found, error) {
	n, err := yamlWalk(f.root(), p, false)
	if err != nil || n == nil {
		return Found{}, err
	}
	return yamlFound(n), nil
}

func yamlFound(n *yaml.Node) Found {
	switch n.Kind {
	case yaml.MappingNode:
		return Found{Kind: KindMap, Len: len(n.Content) / 2}
	case yaml.SequenceNode:
		return Found{Kind: KindSeq, Len: len(n.Content)}
	}
	return Found{Kind: KindScalar, Scalar: yamlScalar(n)}
}

func yamlScalar(n *yaml.Node) Scalar {
	switch n.ShortTag() {
	case "!!int", "!!float":
		return Scalar{ClassNumber, n.Value}
	case "!!bool":
		return Scalar{ClassBool, strings.ToLower(n.Value)}
	case "!!null":
		return Scalar{Class: ClassNull}
	}
	return Scalar{ClassString, n.Value}
}

func yamlKind(n *yaml.Node) Kind {
	switch n.Kind {
	case yaml.MappingNode:
		return KindMap
	case yaml.SequenceNode:
		return KindSeq
	}
	return KindScalar
}

func isYAMLNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func yamlMapIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return i
		}
	}
	return -1
}

func sharedError(p Path, why string) error {
	return fmt.Errorf("%s goes through %s: the value is shared, and cab does not edit shared YAML; write it out in place", p, why)
}

// yamlWalk returns the node p names below n (nil when it does not
// exist). With writing, a node carrying an anchor on the way is refused:
// editing it would change its aliases too.
func yamlWalk(n *yaml.Node, p Path, writing bool) (*yaml.Node, error) {
	for i, s := range p {
		if n == nil {
			return nil, nil
		}
		if n.Kind == yaml.AliasNode {
			return nil, sharedError(p[:i], "an alias (*"+n.Value+")")
		}
		if writing && n.Anchor != "" {
			return nil, sharedError(p[:i], "an anchor (&"+n.Anchor+")")
		}
		switch {
		case !s.isIdx && n.Kind == yaml.MappingNode:
			if k := yamlMapIndex(n, s.key); k >= 0 {
				n = n.Content[k+1]
			} else {
				n = nil
			}
		case s.isIdx && n.Kind == yaml.SequenceNode:
			if s.index < len(n.Content) {
				n = n.Content[s.index]
			} else {
				n = nil
			}
		case isYAMLNull(n):
			return nil, nil
		default:
			want := "a mapping"
			if s.isIdx {
				want = "a list"
			}
			return nil, fmt.Errorf("%s holds a %s, not %s: cannot reach %s", p[:i], yamlKind(n), want, p)
		}
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil, sharedError(p, "an alias (*"+n.Value+")")
	}
	if n != nil && writing && n.Anchor != "" {
		return nil, sharedError(p, "an anchor (&"+n.Anchor+")")
	}
	return n, nil
}

func yamlTag(s Scalar) string {
	switch s.Class {
	case ClassNumber:
		if isIntText(s.Text) {
			return "!!int"
		}
		return "!!float"
	case ClassBool:
		return "!!bool"
	case ClassNull:
		return "!!null"
	}
	return "!!str"
}

func isIntText(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func yamlScalarNode(s Scalar) *yaml.Node {
	v := s.Text
	if s.Class == ClassNull {
		v = "null"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yamlTag(s), Value: v}
}

func toYAMLNode(v *Value) *yaml.Node {
	switch {
	case v.sc != nil:
		return yamlScalarNode(*v.sc)
	case v.isSeq:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, it := range v.items {
			n.Content = append(n.Content, toYAMLNode(it))
		}
		return n
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i, k := range v.keys {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, toYAMLNode(v.vals[i]))
	}
	return n
}

// setYAMLScalar writes s into the scalar node n, keeping its quoting
// style for strings.
func setYAMLScalar(n *yaml.Node, s Scalar) {
	nn := yamlScalarNode(s)
	n.Tag, n.Value = nn.Tag, nn.Value
	if s.Class != ClassString || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		n.Style = 0
	} else {
		n.Style &= yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
	}
}

// Edit returns src with o applied: spliced into the original bytes when
// the result parses back to the intended tree, re-encoded otherwise.
func (YAML) Edit(src []byte, o Op) ([]byte, error) {
	f, err := parseYAMLFile(src)
	if err != nil {
		return nil, err
	}
	if len(f.docs) == 0 {
		f.docs = []*yaml.Node{{Kind: yaml.DocumentNode}}
	}
	var (
		changed bool
		sp      *splice
	)
	if o.del {
		changed, sp, err = f.del(o.path)
	} else {
		changed, sp, err = f.set(o.path, o.val)
	}
	if err != nil || !changed {
		return src, err
	}
	want, err := decodeYAMLDocs(f.docs)
	if err != nil {
		return nil, fmt.Errorf("decoding the edited YAML: %w", err)
	}
	if sp != nil {
		out := sp.apply(src)
		if docs, err := parseYAMLDocs(out); err == nil {
			if got, err := decodeYAMLDocs(docs); err == nil && reflect.DeepEqual(got, want) {
				return out, nil
			}
		}
	}
	// Re-encode the whole stream from the edited tree.
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(f.unit)
	for _, d := range f.docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encoding YAML: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding YAML: %w", err)
	}
	out := buf.Bytes()
	if f.crlf {
		out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
	}
	docs, err := parseYAMLDocs(out)
	if err != nil {
		return nil, fmt.Errorf("re-encoded YAML does not parse: %w", err)
	}
	if got, err := decodeYAMLDocs(docs); err != nil || !reflect.DeepEqual(got, want) {
		return nil, fmt.Errorf("re-encoded YAML does not hold the edit (%v): the file uses YAML cab cannot rewrite safely", err)
	}
	return out, nil
}

func decodeYAMLDocs(docs []*yaml.Node) ([]any, error) {
	out := make([]any, len(docs))
	for i, d := range docs {
		if len(d.Content) == 0 {
			continue
		}
		if err := d.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (f *yamlFile) set(p Path, v *Value) (bool, *splice, error) {
	if len(p) == 0 {
		return false, nil, fmt.Errorf("empty path")
	}
	doc := f.docs[0]
	if len(doc.Content) == 0 {
		keys, ok := keysOf(p)
		if !ok {
			return false, nil, fmt.Errorf("cannot create %s in an empty document: cab creates mappings, not list items", p)
		}
		doc.Kind = yaml.DocumentNode
		doc.Content = []*yaml.Node{toYAMLNode(nest(keys, v))}
		return true, nil, nil
	}
	n := doc.Content[0]
	for i, s := range p {
		if n.Kind == yaml.AliasNode {
			return false, nil, sharedError(p[:i], "an alias (*"+n.Value+")")
		}
		if n.Anchor != "" {
			return false, nil, sharedError(p[:i], "an anchor (&"+n.Anchor+")")
		}
		last := i == len(p)-1
		if !s.isIdx {
			if n.Kind == yaml.MappingNode {
				k := yamlMapIndex(n, s.key)
				if k < 0 {
					keys, ok := keysOf(p[i+1:])
					if !ok {
						return false, nil, fmt.Errorf("cannot create %s: %s does not exist, and cab creates mappings, not list items", p, p[:i+1])
					}
					nv := nest(keys, v)
					sp := f.insertKey(n, s.key, nv)
					if len(n.Content) == 0 {
						n.Style &^= yaml.FlowStyle // {} becomes a block mapping
					}
					n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.key}, toYAMLNode(nv))
					return true, sp, nil
				}
				if last {
					return f.replace(n, k+1, p, v)
				}
				n = n.Content[k+1]
				continue
			}
			if isYAMLNull(n) {
				keys, _ := keysOf(p[i:])
				if keys == nil {
					return false, nil, fmt.Errorf("cannot create %s: cab creates mappings, not list items", p)
				}
				nv := toYAMLNode(nest(keys, v))
				nv.HeadComment, nv.LineComment, nv.FootComment = n.HeadComment, n.LineComment, n.FootComment
				*n = *nv
				return true, nil, nil
			}
			return false, nil, fmt.Errorf("%s holds a %s, not a mapping: cannot set %s", p[:i], yamlKind(n), p)
		}
		if n.Kind != yaml.SequenceNode {
			return false, nil, fmt.Errorf("%s holds a %s, not a list: cannot set %s", p[:i], yamlKind(n), p)
		}
		switch {
		case s.index < len(n.Content) && last:
			return f.replace(n, s.index, p, v)
		case s.index < len(n.Content):
			n = n.Content[s.index]
		case s.index == len(n.Content) && last:
			sp := f.appendItem(n, v)
			if len(n.Content) == 0 {
				n.Style &^= yaml.FlowStyle // [] becomes a block list
			}
			n.Content = append(n.Content, toYAMLNode(v))
			return true, sp, nil
		default:
			return false, nil, fmt.Errorf("%s: index %d is out of range, the list has %d items (cab does not invent list items)", p, s.index, len(n.Content))
		}
	}
	return false, nil, fmt.Errorf("unreachable: %s", p)
}

// replace writes v over parent.Content[i].
func (f *yamlFile) replace(parent *yaml.Node, i int, p Path, v *Value) (bool, *splice, error) {
	old := parent.Content[i]
	if old.Kind == yaml.AliasNode {
		return false, nil, sharedError(p, "an alias (*"+old.Value+")")
	}
	if old.Anchor != "" {
		return false, nil, sharedError(p, "an anchor (&"+old.Anchor+")")
	}
	if v.sc != nil {
		if old.Kind != yaml.ScalarNode {
			return false, nil, MismatchKindError(p, yamlKind(old), "a scalar")
		}
		if yamlScalar(old).Equal(*v.sc) {
			return false, nil, nil
		}
		sp := f.replaceScalar(old, *v.sc)
		setYAMLScalar(old, *v.sc)
		return true, sp, nil
	}
	if !isYAMLNull(old) {
		return false, nil, fmt.Errorf("%s already holds a %s", p, yamlKind(old))
	}
	nv := toYAMLNode(v)
	nv.HeadComment, nv.LineComment, nv.FootComment = old.HeadComment, old.LineComment, old.FootComment
	parent.Content[i] = nv
	return true, nil, nil
}

func hasAnchor(n *yaml.Node) bool {
	if n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAnchor(c) {
			return true
		}
	}
	return false
}

func (f *yamlFile) del(p Path) (bool, *splice, error) {
	if len(p) == 0 {
		return false, nil, fmt.Errorf("empty path")
	}
	parent, err := yamlWalk(f.root(), p[:len(p)-1], true)
	if err != nil || parent == nil {
		return false, nil, err
	}
	s := p[len(p)-1]
	switch {
	case !s.isIdx && parent.Kind == yaml.MappingNode:
		k := yamlMapIndex(parent, s.key)
		if k < 0 {
			return false, nil, nil
		}
		if hasAnchor(parent.Content[k+1]) {
			return false, nil, sharedError(p, "an anchor")
		}
		sp := f.deleteKey(parent, k)
		parent.Content = append(parent.Content[:k:k], parent.Content[k+2:]...)
		return true, sp, nil
	case s.isIdx && parent.Kind == yaml.SequenceNode:
		if s.index >= len(parent.Content) {
			return false, nil, nil
		}
		if hasAnchor(parent.Content[s.index]) {
			return false, nil, sharedError(p, "an anchor")
		}
		sp := f.deleteItem(parent, s.index)
		parent.Content = append(parent.Content[:s.index:s.index], parent.Content[s.index+1:]...)
		return true, sp, nil
	}
	return false, nil, nil
}

// --- splices -------------------------------------------------------------

// splice replaces src[from:to] with text.
type splice struct {
	from, to int
	text     string
}

func (s *splice) apply(src []byte) []byte {
	out := make([]byte, 0, len(src)-(s.to-s.from)+len(s.text))
	out = append(out, src[:s.from]...)
	out = append(out, s.text...)
	return append(out, src[s.to:]...)
}

func (f *yamlFile) lines() int { return len(f.starts) }

// line returns line ln (1-based) without its line break.
func (f *yamlFile) line(ln int) []byte {
	l := f.src[f.starts[ln-1]:f.lineEnd(ln)]
	l = bytes.TrimSuffix(l, []byte("\n"))
	return bytes.TrimSuffix(l, []byte("\r"))
}

// lineEnd is the offset just after line ln's line break.
func (f *yamlFile) lineEnd(ln int) int {
	if ln < len(f.starts) {
		return f.starts[ln]
	}
	return len(f.src)
}

// offset converts a yaml.v3 position (1-based line, column in runes) to
// a byte offset.
func (f *yamlFile) offset(line, col int) (int, bool) {
	if line < 1 || line > len(f.starts) || col < 1 {
		return 0, false
	}
	off, end := f.starts[line-1], f.lineEnd(line)
	for c := 1; c < col; c++ {
		if off >= end {
			return 0, false
		}
		_, size := utf8.DecodeRune(f.src[off:end])
		off += size
	}
	return off, true
}

func indentOf(l []byte) int {
	n := 0
	for n < len(l) && l[n] == ' ' {
		n++
	}
	return n
}

func blankOrComment(l []byte) bool {
	t := bytes.TrimLeft(l, " \t")
	return len(t) == 0 || t[0] == '#'
}

func docMarker(l []byte) bool {
	return (bytes.HasPrefix(l, []byte("---")) || bytes.HasPrefix(l, []byte("..."))) &&
		(len(l) == 3 || l[3] == ' ' || l[3] == '\t')
}

func dashAt(l []byte, i int) bool {
	return i < len(l) && l[i] == '-' && (i+1 == len(l) || l[i+1] == ' ' || l[i+1] == '\t')
}

// blockEnd returns the last content line of a block that starts on line
// start and whose own lines are indented by ind: following lines belong
// to it while they are indented deeper (or, with dash, are "- " entries
// at the same indentation, a list that is the value of a key).
func (f *yamlFile) blockEnd(start, ind int, dash bool) int {
	end := start
	for ln := start + 1; ln <= f.lines(); ln++ {
		l := f.line(ln)
		if blankOrComment(l) {
			continue
		}
		if docMarker(l) {
			break
		}
		i := indentOf(l)
		if i > ind || dash && i == ind && dashAt(l, i) {
			end = ln
			continue
		}
		break
	}
	return end
}

// startsLine reports whether the node at line:col is the first thing on
// its line after spaces, and returns the indentation.
func (f *yamlFile) startsLine(n *yaml.Node) (int, bool) {
	off, ok := f.offset(n.Line, n.Column)
	if !ok {
		return 0, false
	}
	ls := f.starts[n.Line-1]
	ind := off - ls
	return ind, indentOf(f.src[ls:off]) == ind
}

func (f *yamlFile) indentUnit() int {
	unit := 0
	for ln := 1; ln <= f.lines(); ln++ {
		l := f.line(ln)
		if blankOrComment(l) {
			continue
		}
		if i := indentOf(l); i > 0 && (unit == 0 || i < unit) {
			unit = i
		}
	}
	return min(max(unit, 2), 8)
}

// render encodes v as block YAML with every line indented by ind spaces.
func (f *yamlFile) render(v *Value, ind int) (string, bool) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(f.unit)
	if enc.Encode(toYAMLNode(v)) != nil || enc.Close() != nil {
		return "", false
	}
	nl := "\n"
	if f.crlf {
		nl = "\r\n"
	}
	pad := strings.Repeat(" ", ind)
	var b strings.Builder
	for _, l := range strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		b.WriteString(pad + strings.TrimSuffix(l, "\n") + nl)
	}
	return b.String(), true
}

func (f *yamlFile) insertAfter(ln int, text string) *splice {
	at := f.lineEnd(ln)
	if at == len(f.src) && at > 0 && f.src[at-1] != '\n' {
		if f.crlf {
			text = "\r\n" + text
		} else {
			text = "\n" + text
		}
	}
	return &splice{at, at, text}
}

// insertKey is the splice adding key: v at the end of block mapping m.
func (f *yamlFile) insertKey(m *yaml.Node, key string, v *Value) *splice {
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) < 2 {
		return nil
	}
	k0 := m.Content[0]
	off, ok := f.offset(k0.Line, k0.Column)
	if !ok {
		return nil
	}
	ind := off - f.starts[k0.Line-1]
	if strings.Trim(string(f.src[f.starts[k0.Line-1]:off]), " -") != "" {
		return nil
	}
	end := f.blockEnd(m.Content[len(m.Content)-2].Line, ind, true)
	text, ok := f.render(&Value{keys: []string{key}, vals: []*Value{v}}, ind)
	if !ok {
		return nil
	}
	return f.insertAfter(end, text)
}

// appendItem is the splice adding v at the end of block list s.
func (f *yamlFile) appendItem(s *yaml.Node, v *Value) *splice {
	if s.Style&yaml.FlowStyle != 0 || len(s.Content) == 0 {
		return nil
	}
	ind, ok := f.startsLine(s)
	if !ok || !dashAt(f.line(s.Line), ind) {
		return nil
	}
	end := f.blockEnd(s.Content[len(s.Content)-1].Line, ind, false)
	text, ok := f.render(&Value{isSeq: true, items: []*Value{v}}, ind)
	if !ok {
		return nil
	}
	return f.insertAfter(end, text)
}

// deleteKey is the splice removing the entry whose key is m.Content[k].
func (f *yamlFile) deleteKey(m *yaml.Node, k int) *splice {
	if m.Style&yaml.FlowStyle != 0 {
		return nil
	}
	key := m.Content[k]
	ind, ok := f.startsLine(key)
	if !ok {
		return nil
	}
	end := f.blockEnd(key.Line, ind, true)
	return &splice{f.starts[key.Line-1], f.lineEnd(end), ""}
}

// deleteItem is the splice removing list item i of block list s.
func (f *yamlFile) deleteItem(s *yaml.Node, i int) *splice {
	if s.Style&yaml.FlowStyle != 0 {
		return nil
	}
	ind, ok := f.startsLine(s)
	if !ok {
		return nil
	}
	it := s.Content[i]
	if !dashAt(f.line(it.Line), ind) || indentOf(f.line(it.Line)) != ind {
		return nil
	}
	end := f.blockEnd(it.Line, ind, false)
	return &splice{f.starts[it.Line-1], f.lineEnd(end), ""}
}

// replaceScalar is the splice writing s over the token of scalar node n.
func (f *yamlFile) replaceScalar(n *yaml.Node, s Scalar) *splice {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 || strings.Contains(n.Value, "\n") {
		return nil
	}
	off, ok := f.offset(n.Line, n.Column)
	if !ok {
		return nil
	}
	style := yaml.Style(0)
	if s.Class == ClassString {
		style = n.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
	}
	text, ok := renderYAMLScalar(s, style)
	if !ok {
		return nil
	}
	var end int
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end = quotedEnd(f.src, off, '"')
	case n.Style&yaml.SingleQuotedStyle != 0:
		end = quotedEnd(f.src, off, '\'')
	case n.Value == "":
		// An empty value (key: with nothing after it): insert.
		return &splice{off, off, " " + text}
	case bytes.HasPrefix(f.src[off:], []byte(n.Value)):
		end = off + len(n.Value)
	default:
		return nil
	}
	if end < 0 {
		return nil
	}
	return &splice{off, end, text}
}

// quotedEnd returns the offset after the closing quote of the quoted
// scalar starting at off, or -1 when it does not close on the same line.
func quotedEnd(src []byte, off int, q byte) int {
	if off >= len(src) || src[off] != q {
		return -1
	}
	for i := off + 1; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\n' || c == '\r':
			return -1
		case q == '"' && c == '\\':
			i++
		case c == q && q == '\'' && i+1 < len(src) && src[i+1] == '\'':
			i++
		case c == q:
			return i + 1
		}
	}
	return -1
}

// renderYAMLScalar is s as one line of YAML, in style when it can be.
func renderYAMLScalar(s Scalar, style yaml.Style) (string, bool) {
	for _, st := range []yaml.Style{style, yaml.DoubleQuotedStyle} {
		n := yamlScalarNode(s)
		if s.Class == ClassString {
			n.Style = st
		}
		out, err := yaml.Marshal(n)
		if err != nil {
			return "", false
		}
		text := strings.TrimSuffix(string(out), "\n")
		if !strings.Contains(text, "\n") {
			return text, true
		}
	}
	return "", false
}
