package schema

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/parser"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
)

// MaxConfigBytes is the largest cab.cue cab reads.
const MaxConfigBytes = 1 << 20

// ParsedConfig is a cab.cue that passed #Config.
type ParsedConfig struct {
	File   string
	Config model.Config
	// JSON is the canonical JSON export, the form policies see as input.repo.
	JSON []byte
	v    cue.Value
}

// Position returns the line and column in cab.cue where the value at path
// (a CUE path such as "freezes[0].timezone") is defined, or 1:1.
func (p *ParsedConfig) Position(path string) (line, col int) {
	pos := p.v.LookupPath(cue.ParsePath(path)).Pos()
	if !pos.IsValid() {
		return 1, 1
	}
	return pos.Line(), pos.Column()
}

// ParseConfig validates a repository's cab.cue against #Config. Unlike a
// ticket, configuration is code written by the repository's maintainers
// (and read from the base branch in a pull request): it may use
// references and the CUE standard library, but not other imports.
func (s *Schema) ParseConfig(file string, src []byte) (*ParsedConfig, diag.List) {
	if len(src) > MaxConfigBytes {
		return nil, diag.List{{File: file, Line: 1, Column: 1, Severity: diag.Error, Code: "config",
			Message: fmt.Sprintf("cab.cue is %d bytes, more than %d", len(src), MaxConfigBytes)}}
	}
	if d, ok := checkBytes(file, src); !ok {
		d.Code = "config"
		return nil, diag.List{d}
	}
	f, err := parser.ParseFile(file, src, parser.ParseComments)
	if err != nil {
		return nil, fromCUE(err, file, nil, "config", "fix the CUE syntax of cab.cue")
	}
	for spec := range f.ImportSpecs() {
		p := strings.Trim(spec.Path.Value, `"`)
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") || first == "tool" {
			pos := spec.Pos()
			return nil, diag.List{{File: file, Line: pos.Line(), Column: pos.Column(), Severity: diag.Error, Code: "config",
				Message: fmt.Sprintf("import %q is not allowed", p), Hint: "cab.cue may import only the CUE standard library"}}
		}
	}
	v := s.ctx.BuildFile(f)
	if err := v.Err(); err != nil {
		return nil, fromCUE(err, file, nil, "config", "")
	}
	u := s.config.Unify(v)
	if err := u.Validate(cue.Concrete(true), cue.All()); err != nil {
		return nil, fromCUE(err, file, nil, "config", "")
	}
	p := &ParsedConfig{File: file, v: v}
	if err := u.Decode(&p.Config); err != nil {
		return nil, fromCUE(err, file, nil, "config", "")
	}
	raw, err := u.MarshalJSON()
	if err != nil {
		return nil, fromCUE(err, file, nil, "config", "")
	}
	if p.JSON, err = Canonical(raw); err != nil {
		return nil, diag.List{{File: file, Severity: diag.Error, Code: "config", Message: err.Error()}}
	}
	if ds := append(p.crossRefs(), p.keyRefs()...); len(ds) > 0 {
		return nil, ds
	}
	return p, nil
}
