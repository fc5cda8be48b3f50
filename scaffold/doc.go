// Package scaffold writes new change repositories (`cab init`) and new
// tickets (`cab new`): the starting points users edit.
//
// Scaffolding never overwrites: Init refuses a directory that already
// holds a cab.cue, and NewTicket picks an id no file uses and creates its
// file exclusively. A new repository can take its own first rules change:
// cab.cue carries a governance block (placeholder members to fill in before
// the first commit), .gitignore keeps private signing keys out, and GitInit
// makes the directory a git repository (branch main) when it is not in one.
package scaffold
