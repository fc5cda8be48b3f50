// Package docedit edits one value of a YAML or JSON document and keeps
// every other byte of the file as it was: the reconciler's git target
// driver writes image references and other scalars into the files an
// environment repository deploys from, where a reformatted file would be
// a diff nobody asked for. It knows nothing of git.
//
// A Path (".spec.template.spec.containers[0].image") names a value; a
// Codec (YAML or JSON) parses a file into a Document to Lookup what a
// path names, and Edits it with an Op: Set a scalar (or a mapping or list
// of them, for structure the edit creates) or Delete a key or list item.
//
// Invariants:
//
//   - Edits keep the rest of the file byte for byte. A changed scalar is
//     rewritten in place (keeping its quotes), a new key or list item is
//     inserted after its siblings with their indentation, and the result
//     is parsed again and compared with the intended document; an edit
//     that does not read back as intended is an error, never written.
//     Only when the file's layout does not allow a splice (a new key in a
//     YAML flow mapping, a null to turn into a mapping) is a YAML file
//     re-encoded from the yaml.v3 node tree, which keeps comments and key
//     order but not blank lines or every indentation.
//   - Missing keys on the path are created as mappings; list items are
//     never invented (an index may only append at the list's length).
//   - Paths name values in the first document of a multi-document YAML
//     file. YAML anchors and aliases on the path are refused: editing a
//     shared value would change other places too.
//   - Input is bounded: paths have at most 64 steps and indexes at most
//     2^20, a YAML stream at most 10,000 documents, JSON at most 512
//     levels of nesting; a JSON object repeating a key is refused.
package docedit
