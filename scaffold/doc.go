// Package scaffold writes new change repositories (`cab init`) and new
// tickets (`cab new`): the starting points users edit.
//
// Scaffolding never overwrites: Init refuses a directory that already
// holds a cab.cue, and NewTicket picks an id no file uses and creates its
// file exclusively.
package scaffold
