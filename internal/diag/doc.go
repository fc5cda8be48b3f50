// Package diag holds the diagnostics cab reports for user mistakes: a
// problem with a position (file:line:col), the field path it concerns, a
// message and a hint on how to fix it.
//
// Diagnostics are values, not errors: checks collect every problem and
// report them sorted and deduplicated. Errors are kept for internal and
// usage failures. FromCUE turns CUE evaluation errors into diagnostics,
// preferring a position inside the file the user is editing.
package diag
