package schema

import (
	"cuelang.org/go/cue/parser"
)

// ExportData returns the canonical JSON of the ticket in src, as
// ParseTicket would export it, computed from the file's syntax alone,
// without evaluating it: about as costly as DecodeMerged, a small part
// of ParseTicket's cost.
//
// It is exact or it refuses: ok is true only when the bytes are provably
// those ParseTicket exports for src whenever ParseTicket accepts src.
// That holds because a ticket is plain data (checkData) and #Ticket adds
// no value to it (no defaults, no regular fields that data does not
// give; TestExportDataAgrees and FuzzExportData hold it to ParseTicket),
// so CUE's export of an accepted ticket is the export of its data. It
// refuses, among others, a file that is not plain data, a label given
// twice (CUE unifies the values), a quoted label not in Unicode NFC
// (CUE names the field by its NFC form), a file attribute, bytes literals,
// strings that are not valid UTF-8 and any number literal that is not
// written as CUE exports it (1_000, 0x10, 1e3, 007, -0). ok says nothing
// of validity: a refused or an accepted file may still fail the schema;
// only ParseTicket judges that.
func ExportData(file string, src []byte) (canonical []byte, ok bool) {
	if _, ok := checkBytes(file, src); !ok {
		return nil, false
	}
	// Without ParseTicket's options, which keep the comments and report
	// every error: neither changes the value of a file that parses.
	f, err := parser.ParseFile(file, src)
	if err != nil {
		return nil, false
	}
	if ds, _ := checkData(f); len(ds) > 0 {
		return nil, false
	}
	m, err := dataConv{}.fields(f.Decls)
	if err != nil {
		return nil, false
	}
	out, err := canonicalEncode(m)
	if err != nil {
		return nil, false
	}
	return out, true
}
