// Package calendar resolves change freezes, written in wall-clock time of
// an IANA time zone, to absolute instants, and answers whether a change
// window overlaps them.
//
// Freeze starts are inclusive. Ends are exclusive unless the freeze says
// endInclusive, in which case the instant at end is still frozen. Wall
// times that fall into a daylight-saving gap are moved forward by the
// length of the gap, as Go's time.Date does; a wall time that occurs twice
// (the repeated hour in autumn) resolves to its earlier instant for a start
// and its later instant for an end, so a freeze never shrinks. The time zone
// database is embedded, so results do not depend on the host.
package calendar
