package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
)

// APIVersion is the version of tickets and configuration this package reads.
const APIVersion = "cab.dev/v1"

//go:embed *.cue
var files embed.FS

// Files returns the embedded schema files, by name, in name order.
func Files() []File {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	var out []File
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, File{Name: e.Name(), Source: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// File is one embedded schema file.
type File struct {
	Name   string
	Source []byte
}

// Schema is the compiled CUE schema within one cue.Context.
type Schema struct {
	ctx    *cue.Context
	root   cue.Value
	ticket cue.Value
	config cue.Value
}

// Compile builds the embedded schema in ctx. A nil ctx gets a new context.
func Compile(ctx *cue.Context) (*Schema, error) {
	if ctx == nil {
		ctx = cuecontext.New()
	}
	// One package of embedded files importing only builtin packages: an
	// instance built by hand, not cue/load, whose module, registry and
	// file-format support (protobuf, OCI) cab never needs and every cab
	// command would pay for at start-up.
	inst := build.NewContext().NewInstance("/cab/schema", nil)
	for _, f := range Files() {
		if err := inst.AddFile("/cab/schema/"+f.Name, f.Source); err != nil {
			return nil, fmt.Errorf("loading embedded schema: %w", err)
		}
	}
	if inst.Err != nil {
		return nil, fmt.Errorf("loading embedded schema: %w", inst.Err)
	}
	root := ctx.BuildInstance(inst)
	if err := inst.Err; err != nil {
		return nil, fmt.Errorf("building embedded schema: %w", err)
	}
	s := &Schema{
		ctx:    ctx,
		root:   root,
		ticket: root.LookupPath(cue.ParsePath("#Ticket")),
		config: root.LookupPath(cue.ParsePath("#Config")),
	}
	if !s.ticket.Exists() || !s.config.Exists() {
		return nil, fmt.Errorf("embedded schema lacks #Ticket or #Config")
	}
	return s, nil
}

// Context returns the cue.Context the schema was compiled in.
func (s *Schema) Context() *cue.Context { return s.ctx }
