package docedit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// maxJSONDepth bounds the nesting of a JSON document.
const maxJSONDepth = 512

// JSON reads and edits JSON files. It parses the file into a tree
// that remembers where every value, key and member lies in the bytes, so
// that an edit splices only the value it changes (a new member or item
// follows the indentation of its neighbours) and every other byte of the
// file stays as it was. Keys are unique: a file repeating a key is
// refused, as readers disagree about which one counts.
type JSON struct{}

type jsonKind uint8

const (
	jsonObject jsonKind = iota + 1
	jsonArray
	jsonString
	jsonNumber
	jsonBool
	jsonNull
)

// jsonNode is one value of a JSON document and its span src[start:end].
type jsonNode struct {
	kind       jsonKind
	start, end int
	str        string      // jsonString: the decoded string
	keys       []*jsonNode // jsonObject: the keys (strings), in order
	vals       []*jsonNode // jsonObject: the values; jsonArray: the items
}

type jsonParser struct {
	src []byte
	pos int
}

func parseJSON(src []byte) (*jsonNode, error) {
	p := &jsonParser{src: src}
	p.space()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(src) {
		return nil, p.errorf("unexpected %q after the document", src[p.pos])
	}
	return n, nil
}

func (p *jsonParser) errorf(format string, args ...any) error {
	line := 1 + bytes.Count(p.src[:min(p.pos, len(p.src))], []byte("\n"))
	return fmt.Errorf("parsing JSON at line %d (offset %d): %s", line, p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) space() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*jsonNode, error) {
	if depth > maxJSONDepth {
		return nil, p.errorf("nested more than %d levels", maxJSONDepth)
	}
	if p.pos >= len(p.src) {
		return nil, p.errorf("unexpected end of input")
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &jsonNode{kind: jsonString, start: start, end: p.pos, str: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		for p.pos < len(p.src) && strings.IndexByte("+-.eE0123456789", p.src[p.pos]) >= 0 {
			p.pos++
		}
		if !json.Valid(p.src[start:p.pos]) {
			return nil, p.errorf("invalid number %q", p.src[start:p.pos])
		}
		return &jsonNode{kind: jsonNumber, start: start, end: p.pos}, nil
	default:
		for _, lit := range []struct {
			text string
			kind jsonKind
		}{{"true", jsonBool}, {"false", jsonBool}, {"null", jsonNull}} {
			if bytes.HasPrefix(p.src[p.pos:], []byte(lit.text)) {
				p.pos += len(lit.text)
				return &jsonNode{kind: lit.kind, start: start, end: p.pos}, nil
			}
		}
		return nil, p.errorf("unexpected %q", c)
	}
}

func (p *jsonParser) string() (string, error) {
	start := p.pos
	p.pos++
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == '\\':
			p.pos += 2
		case c == '"':
			p.pos++
			var s string
			if err := json.Unmarshal(p.src[start:p.pos], &s); err != nil {
				return "", p.errorf("invalid string: %v", err)
			}
			return s, nil
		case c < 0x20:
			return "", p.errorf("control character in a string")
		default:
			p.pos++
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) object(depth int) (*jsonNode, error) {
	n := &jsonNode{kind: jsonObject, start: p.pos}
	p.pos++
	p.space()
	seen := map[string]bool{}
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		n.end = p.pos
		return n, nil
	}
	for {
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return nil, p.errorf("expected a key")
		}
		ks := p.pos
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		ke := p.pos
		if seen[k] {
			return nil, p.errorf("key %q appears twice: remove one", k)
		}
		seen[k] = true
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errorf("expected ':' after key %q", k)
		}
		p.pos++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, &jsonNode{kind: jsonString, start: ks, end: ke, str: k})
		n.vals = append(n.vals, v)
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			p.space()
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			p.pos++
			n.end = p.pos
			return n, nil
		}
		return nil, p.errorf("expected ',' or '}'")
	}
}

func (p *jsonParser) array(depth int) (*jsonNode, error) {
	n := &jsonNode{kind: jsonArray, start: p.pos}
	p.pos++
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		n.end = p.pos
		return n, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.vals = append(n.vals, v)
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			p.space()
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			p.pos++
			n.end = p.pos
			return n, nil
		}
		return nil, p.errorf("expected ',' or ']'")
	}
}

func (n *jsonNode) index(key string) int {
	for i, k := range n.keys {
		if k.str == key {
			return i
		}
	}
	return -1
}

func (n *jsonNode) nodeKind() Kind {
	switch n.kind {
	case jsonObject:
		return KindMap
	case jsonArray:
		return KindSeq
	}
	return KindScalar
}

func (n *jsonNode) scalar(src []byte) Scalar {
	switch n.kind {
	case jsonString:
		return Scalar{ClassString, n.str}
	case jsonNumber:
		return Scalar{ClassNumber, string(src[n.start:n.end])}
	case jsonBool:
		return Scalar{ClassBool, string(src[n.start:n.end])}
	}
	return Scalar{Class: ClassNull}
}

// walk returns the node p names (nil when it does not exist).
func jsonWalk(n *jsonNode, p Path) (*jsonNode, error) {
	for i, s := range p {
		switch {
		case n.kind == jsonObject && !s.isIdx:
			k := n.index(s.key)
			if k < 0 {
				return nil, nil
			}
			n = n.vals[k]
		case n.kind == jsonArray && s.isIdx:
			if s.index >= len(n.vals) {
				return nil, nil
			}
			n = n.vals[s.index]
		case n.kind == jsonNull:
			return nil, nil
		default:
			want := "an object"
			if s.isIdx {
				want = "an array"
			}
			return nil, fmt.Errorf("%s holds a %s, not %s: cannot reach %s", p[:i], n.nodeKind(), want, p)
		}
	}
	return n, nil
}

// jsonDoc is a parsed JSON file.
type jsonDoc struct {
	src  []byte
	root *jsonNode
}

// Parse reads a JSON document.
func (JSON) Parse(src []byte) (Document, error) {
	root, err := parseJSON(src)
	if err != nil {
		return nil, err
	}
	return &jsonDoc{src: src, root: root}, nil
}

// Lookup returns what p names in the document.
func (d *jsonDoc) Lookup(p Path) (Found, error) {
	src := d.src
	n, err := jsonWalk(d.root, p)
	if err != nil || n == nil {
		return Found{}, err
	}
	switch n.kind {
	case jsonObject:
		return Found{Kind: KindMap, Len: len(n.vals)}, nil
	case jsonArray:
		return Found{Kind: KindSeq, Len: len(n.vals)}, nil
	}
	return Found{Kind: KindScalar, Scalar: n.scalar(src)}, nil
}

// jsonStyle is how the file lays out its containers.
type jsonStyle struct {
	unit string // one level of indentation ("" when the file is compact)
	nl   string
}

func detectJSONStyle(src []byte) jsonStyle {
	st := jsonStyle{nl: "\n"}
	if bytes.Contains(src, []byte("\r\n")) {
		st.nl = "\r\n"
	}
	if !bytes.Contains(src, []byte("\n")) {
		return st
	}
	st.unit = "  "
	for _, l := range bytes.Split(src, []byte("\n")) {
		ws := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
		if len(ws) > 0 && len(ws) < len(l) {
			if ws[0] == '\t' {
				st.unit = "\t"
			} else if len(ws) < len(st.unit) || st.unit == "  " {
				st.unit = string(ws)
			}
			break
		}
	}
	return st
}

// lineIndent is the whitespace that starts the line holding offset off.
func lineIndent(src []byte, off int) string {
	ls := bytes.LastIndexByte(src[:off], '\n') + 1
	i := ls
	for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
		i++
	}
	return string(src[ls:i])
}

// encode renders v as JSON; containers are laid out like the file's, at
// the indentation ind of the line v starts on.
func (st jsonStyle) encode(v *Value, ind string) string {
	if v.sc != nil {
		switch v.sc.Class {
		case ClassString:
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(v.sc.Text)
			return strings.TrimSuffix(b.String(), "\n")
		case ClassNull:
			return "null"
		}
		return v.sc.Text
	}
	open, close, n := "{", "}", len(v.keys)
	if v.isSeq {
		open, close, n = "[", "]", len(v.items)
	}
	if n == 0 {
		return open + close
	}
	var b strings.Builder
	b.WriteString(open)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		if st.unit != "" {
			b.WriteString(st.nl + ind + st.unit)
		}
		if v.isSeq {
			b.WriteString(st.encode(v.items[i], ind+st.unit))
			continue
		}
		b.WriteString(st.encode(ScalarValue(Scalar{ClassString, v.keys[i]}), ""))
		b.WriteString(":")
		if st.unit != "" {
			b.WriteString(" ")
		}
		b.WriteString(st.encode(v.vals[i], ind+st.unit))
	}
	if st.unit != "" {
		b.WriteString(st.nl + ind)
	}
	b.WriteString(close)
	return b.String()
}

// Edit returns src with o applied, every byte outside the edited value
// kept.
func (JSON) Edit(src []byte, o Op) ([]byte, error) {
	root, err := parseJSON(src)
	if err != nil {
		return nil, err
	}
	st := detectJSONStyle(src)
	sp, err := jsonSplice(src, root, o, st)
	if err != nil || sp == nil {
		return src, err
	}
	out := sp.apply(src)
	if err := checkJSONEdit(src, out, o); err != nil {
		return nil, err
	}
	return out, nil
}

// jsonSplice computes the splice that makes o (nil: nothing to do).
func jsonSplice(src []byte, root *jsonNode, o Op, st jsonStyle) (*splice, error) {
	p := o.path
	if len(p) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	if o.del {
		parent, err := jsonWalk(root, p[:len(p)-1])
		if err != nil || parent == nil {
			return nil, err
		}
		s := p[len(p)-1]
		i := -1
		switch {
		case parent.kind == jsonObject && !s.isIdx:
			i = parent.index(s.key)
		case parent.kind == jsonArray && s.isIdx && s.index < len(parent.vals):
			i = s.index
		}
		if i < 0 {
			return nil, nil
		}
		return jsonRemove(parent, i), nil
	}
	n := root
	for i, s := range p {
		last := i == len(p)-1
		switch {
		case n.kind == jsonObject && !s.isIdx:
			k := n.index(s.key)
			if k >= 0 && !last {
				n = n.vals[k]
				continue
			}
			if k >= 0 {
				return jsonReplace(src, n.vals[k], p, o.val, st)
			}
			keys, ok := keysOf(p[i+1:])
			if !ok {
				return nil, fmt.Errorf("cannot create %s: %s does not exist, and cab creates objects, not array items", p, p[:i+1])
			}
			return jsonInsert(src, n, s.key, nest(keys, o.val), st), nil
		case n.kind == jsonArray && s.isIdx:
			switch {
			case s.index < len(n.vals) && last:
				return jsonReplace(src, n.vals[s.index], p, o.val, st)
			case s.index < len(n.vals):
				n = n.vals[s.index]
				continue
			case s.index == len(n.vals) && last:
				return jsonInsert(src, n, "", o.val, st), nil
			}
			return nil, fmt.Errorf("%s: index %d is out of range, the array has %d items (cab does not invent array items)", p, s.index, len(n.vals))
		case n.kind == jsonNull && !s.isIdx:
			keys, _ := keysOf(p[i:])
			if keys == nil {
				return nil, fmt.Errorf("cannot create %s: cab creates objects, not array items", p)
			}
			return &splice{n.start, n.end, st.encode(nest(keys, o.val), lineIndent(src, n.start))}, nil
		default:
			want := "an object"
			if s.isIdx {
				want = "an array"
			}
			return nil, fmt.Errorf("%s holds a %s, not %s: cannot set %s", p[:i], n.nodeKind(), want, p)
		}
	}
	return nil, fmt.Errorf("unreachable: %s", p)
}

func jsonReplace(src []byte, old *jsonNode, p Path, v *Value, st jsonStyle) (*splice, error) {
	if v.sc != nil {
		if old.kind == jsonObject || old.kind == jsonArray {
			return nil, MismatchKindError(p, old.nodeKind(), "a scalar")
		}
		if old.scalar(src).Equal(*v.sc) {
			return nil, nil
		}
	} else if old.kind != jsonNull {
		return nil, fmt.Errorf("%s already holds a %s", p, old.nodeKind())
	}
	return &splice{old.start, old.end, st.encode(v, lineIndent(src, old.start))}, nil
}

// jsonInsert adds key: v to object c (or v to array c when key is "").
func jsonInsert(src []byte, c *jsonNode, key string, v *Value, st jsonStyle) *splice {
	if len(c.vals) == 0 {
		sep := ":"
		if st.unit != "" {
			sep = ": "
		}
		ind := ""
		if st.unit != "" {
			ind = lineIndent(src, c.start) + st.unit
		}
		text := st.encode(v, ind)
		if c.kind == jsonObject {
			text = st.encode(ScalarValue(Scalar{ClassString, key}), "") + sep + text
		}
		if st.unit == "" {
			return &splice{c.start + 1, c.end - 1, text}
		}
		return &splice{c.start + 1, c.end - 1, st.nl + ind + text + st.nl + lineIndent(src, c.start)}
	}
	// Copy the layout of the first member: the whitespace before it, and
	// for objects what separates its key from its value.
	first := c.vals[0]
	firstStart := first.start
	if c.kind == jsonObject {
		firstStart = c.keys[0].start
	}
	lead := string(src[c.start+1 : firstStart])
	ind := lineIndent(src, firstStart)
	text := st.encode(v, ind)
	if c.kind == jsonObject {
		text = st.encode(ScalarValue(Scalar{ClassString, key}), "") + string(src[c.keys[0].end:first.start]) + text
	}
	last := c.vals[len(c.vals)-1]
	return &splice{last.end, last.end, "," + lead + text}
}

// jsonRemove removes member or item i of container c.
func jsonRemove(c *jsonNode, i int) *splice {
	start := func(j int) int {
		if c.kind == jsonObject {
			return c.keys[j].start
		}
		return c.vals[j].start
	}
	switch {
	case len(c.vals) == 1:
		return &splice{c.start + 1, c.end - 1, ""}
	case i == 0:
		return &splice{start(0), start(1), ""}
	}
	return &splice{c.vals[i-1].end, c.vals[i].end, ""}
}

// checkJSONEdit verifies that out is src with o applied and nothing else.
func checkJSONEdit(src, out []byte, o Op) error {
	if _, err := parseJSON(out); err != nil {
		return fmt.Errorf("edited JSON does not parse: %w", err)
	}
	var before, after any
	if err := decodeJSONNumbers(src, &before); err != nil {
		return err
	}
	if err := decodeJSONNumbers(out, &after); err != nil {
		return err
	}
	want, err := applyGeneric(before, o.path, o)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(normJSON(want), normJSON(after)) {
		return fmt.Errorf("edited JSON does not hold the edit of %s alone (internal error): please report it", o.path)
	}
	return nil
}

func decodeJSONNumbers(b []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	return nil
}

// normJSON makes numbers comparable by value.
func normJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normJSON(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normJSON(x)
		}
		return out
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f
		}
		return string(v)
	}
	return v
}

func genericOf(v *Value) any {
	switch {
	case v.sc != nil:
		switch v.sc.Class {
		case ClassString:
			return v.sc.Text
		case ClassNumber:
			return json.Number(v.sc.Text)
		case ClassBool:
			return v.sc.Text == "true"
		}
		return nil
	case v.isSeq:
		out := make([]any, len(v.items))
		for i, it := range v.items {
			out[i] = genericOf(it)
		}
		return out
	}
	out := make(map[string]any, len(v.keys))
	for i, k := range v.keys {
		out[k] = genericOf(v.vals[i])
	}
	return out
}

// applyGeneric applies o to a decoded document (the meaning of an edit,
// against which the spliced bytes are checked).
func applyGeneric(doc any, p Path, o Op) (any, error) {
	if len(p) == 0 {
		return genericOf(o.val), nil
	}
	s := p[0]
	switch d := doc.(type) {
	case map[string]any:
		if s.isIdx {
			return nil, fmt.Errorf("index into an object")
		}
		out := make(map[string]any, len(d)+1)
		for k, v := range d {
			out[k] = v
		}
		cur, ok := d[s.key]
		if o.del && len(p) == 1 {
			delete(out, s.key)
			return out, nil
		}
		if !ok {
			if o.del {
				return out, nil
			}
			cur = nil
		}
		v, err := applyGeneric(cur, p[1:], o)
		if err != nil {
			return nil, err
		}
		out[s.key] = v
		return out, nil
	case []any:
		if !s.isIdx || s.index > len(d) {
			return nil, fmt.Errorf("bad index")
		}
		out := append([]any(nil), d...)
		if o.del && len(p) == 1 {
			if s.index < len(d) {
				out = append(out[:s.index], out[s.index+1:]...)
			}
			return out, nil
		}
		if s.index == len(d) {
			out = append(out, nil)
		}
		v, err := applyGeneric(out[s.index], p[1:], o)
		if err != nil {
			return nil, err
		}
		out[s.index] = v
		return out, nil
	case nil:
		if o.del {
			return nil, nil
		}
		keys, ok := keysOf(p)
		if !ok {
			return nil, fmt.Errorf("cannot create an array item")
		}
		return genericOf(nest(keys, o.val)), nil
	}
	return nil, fmt.Errorf("cannot descend into a scalar")
}
