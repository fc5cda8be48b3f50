// Package controls maps cab's evidence to the change-management controls
// auditors test: SOC 2 CC8.1, ISO/IEC 27001:2022 Annex A 8.32 and the
// usual SOX IT general controls over program change. Table is the one
// place that says which evidence answers which objective and which
// exceptions break it; Assess applies it to the rows of cab log
// ([]audit.Change) and the verdict of cab verify; OSCAL writes the result
// as an OSCAL 1.1 assessment-results document.
//
// Invariants: every exception names the ticket it was found on; an
// objective is satisfied only when no exception in the period breaks it;
// the output is a pure function of its inputs (UUIDs are derived from the
// content, not random), so the same history gives the same document.
package controls
